"""CI's rule on skips (tests/skip_policy.py): with FASTMLP_REQUIRE_ALL_TESTS=1 a skip fails the run
unless the test is marked gpu; the tests still all run. Checked on a small test folder of its own."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parent

GPU_ONLY = """
import pytest

@pytest.mark.gpu
def test_gpu():
    pytest.skip("no CUDA device")

def test_runs():
    assert True
"""

MISSING_PACKAGE = """
import pytest

def test_needs_a_package():
    pytest.importorskip("a_package_that_is_not_there")

@pytest.mark.skipif(True, reason="a skip mark")
def test_marked():
    pass

@pytest.fixture
def fixture_that_skips():
    pytest.skip("skipped in a fixture")

def test_fixture(fixture_that_skips):
    pass

@pytest.mark.xfail(reason="expected", strict=True)
def test_xfail():
    assert False

def test_runs():
    assert True
"""

MODULE_SKIP = """
import pytest
pytest.importorskip("another_package_that_is_not_there")

def test_never_collected():
    pass
"""


def run(tmp_path, files: dict, required: bool):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "FASTMLP_REQUIRE_ALL_TESTS"}
    if required:
        env["FASTMLP_REQUIRE_ALL_TESTS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "skip_policy", "-p", "no:cacheprovider", "-q", str(tmp_path)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


@pytest.mark.parametrize("required", [False, True])
def test_a_gpu_test_may_skip(tmp_path, required):
    done = run(tmp_path, {"test_gpu_only.py": GPU_ONLY}, required)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed, 1 skipped" in done.stdout


def test_without_the_variable_skips_are_skips(tmp_path):
    done = run(tmp_path, {"test_missing.py": MISSING_PACKAGE, "test_module.py": MODULE_SKIP}, required=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "skipped outside the GPU tests" not in done.stdout


def test_any_other_skip_fails_the_run_and_is_named(tmp_path):
    done = run(
        tmp_path,
        {"test_missing.py": MISSING_PACKAGE, "test_module.py": MODULE_SKIP, "test_gpu_only.py": GPU_ONLY},
        required=True,
    )
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "skipped outside the GPU tests (FASTMLP_REQUIRE_ALL_TESTS=1: they must run)" in out
    section = out.split("skipped outside the GPU tests")[1]
    for line in (
        "test_missing.py::test_needs_a_package: could not import 'a_package_that_is_not_there'",
        "test_missing.py::test_marked: a skip mark",
        "test_missing.py::test_fixture: skipped in a fixture",
        "test_module.py: could not import 'another_package_that_is_not_there'",
    ):
        assert line in section, section
    assert "test_gpu" not in section and "test_xfail" not in section
    assert "2 passed" in out and "1 xfailed" in out  # every test still ran
