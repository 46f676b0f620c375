"""Session fixtures. (tests/ is on sys.path through pyproject's pytest `pythonpath`.)"""

import pytest

from cmake_projects import ROOT, cmake_project, have_toolchain


@pytest.fixture(scope="session")
def cpp_tests_build(tmp_path_factory):
    """tests/cpp (the ctest suite and serialize_tool) built once, against the installed package."""
    if not have_toolchain():
        pytest.skip("needs cmake and a C++ compiler")
    build = tmp_path_factory.mktemp("cpp_tests")
    cmake_project(ROOT / "tests" / "cpp", build)
    return build
