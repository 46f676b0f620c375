"""One version, written in pyproject.toml: the installed metadata, fastmlp.__version__, the C++ core,
model files and the installed CMake package all report it."""

import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

import fastmlp as fm
from cmake_projects import ROOT, cmeel_prefixes, have_toolchain


def pyproject_version() -> str:
    text = (ROOT / "pyproject.toml").read_text()
    table = text.split("\n[project]\n", 1)[1].split("\n[", 1)[0]
    return re.search(r'^version = "([^"]+)"$', table, re.M).group(1)


def test_everything_reports_the_pyproject_version(tmp_path):
    version = pyproject_version()
    assert metadata.version("fastmlp") == version
    assert fm.__version__ == version
    assert fm._core.VERSION == version  # FASTMLP_VERSION, from CMake
    assert fm.build_info()["version"] == version
    model = fm.Sequential([fm.Dense(2, 1)], seed=0)
    model.save(tmp_path / "m.safetensors")
    assert fm.io.read(tmp_path / "m.safetensors")[1]["fastmlp_version"] == version  # written by the C++ core
    config = (Path(fm.cmake_dir()) / "fastmlpConfigVersion.cmake").read_text()
    assert f'set(PACKAGE_VERSION "{version}")' in config


def test_version_is_written_once():
    version = pyproject_version()
    sources = [
        ROOT / "CMakeLists.txt",
        *(ROOT / "cmake").iterdir(),
        *(ROOT / "cpp").rglob("*.[ch]pp"),
        *(ROOT / "python").rglob("*.py"),
    ]
    assert [str(p.relative_to(ROOT)) for p in sources if version in p.read_text()] == []


@pytest.mark.skipif(not have_toolchain(), reason="needs cmake and a C++ compiler")
def test_plain_cmake_reads_the_version_from_pyproject(tmp_path):
    """Configured without scikit-build-core (a C++-only build), CMake parses pyproject.toml."""
    args = [
        "cmake",
        "-S",
        str(ROOT),
        "-B",
        str(tmp_path),
        "-DFASTMLP_PYTHON=OFF",
        f"-DPython_EXECUTABLE={sys.executable}",
    ]
    prefixes = cmeel_prefixes()
    if prefixes:
        args.append(f"-DCMAKE_PREFIX_PATH={';'.join(prefixes)}")
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"fastmlp: version {pyproject_version()}\n" in done.stdout
    config = (tmp_path / "fastmlpConfigVersion.cmake").read_text()
    assert f'set(PACKAGE_VERSION "{pyproject_version()}")' in config
