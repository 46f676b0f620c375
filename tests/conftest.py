"""Session fixtures. (tests/ is on sys.path through pyproject's pytest `pythonpath`.)"""

import os

import pytest

# scikit-learn's check_array_api_input (tests/test_sklearn.py) runs only when SciPy's array-API
# mode is on, which SciPy reads once, at its import: set before any test module imports it.
os.environ.setdefault("SCIPY_ARRAY_API", "1")

from cmake_projects import ROOT, cmake_project, have_toolchain
from skip_policy import (  # noqa: F401  CI's rule on skips: only GPU tests may skip (tests/skip_policy.py)
    pytest_collectreport,
    pytest_configure,
    pytest_runtest_logreport,
    pytest_sessionfinish,
    pytest_terminal_summary,
)


@pytest.fixture(scope="session")
def cpp_tests_build(tmp_path_factory):
    """tests/cpp (the ctest suite and serialize_tool) built once, against the installed package."""
    if not have_toolchain():
        pytest.skip("needs cmake and a C++ compiler")
    build = tmp_path_factory.mktemp("cpp_tests")
    cmake_project(ROOT / "tests" / "cpp", build)
    return build
