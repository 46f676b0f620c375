"""Building the C++ test programs and examples as outside projects, with CMake, against the
installed fastmlp (its fastmlpConfig.cmake): the one way C++ is built in the tests."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import fastmlp as fm

ROOT = Path(__file__).resolve().parents[1]


def have_toolchain() -> bool:
    return shutil.which("cmake") is not None and shutil.which("c++") is not None


def cmeel_prefixes() -> list:
    """The prefixes where PyPI's cmeel packages put their headers (cmeel-eigen's Eigen, cmeel-simde's SIMDe):
    one per environment on the path (a venv over another gives two); none without cmeel."""
    try:
        done = subprocess.run([sys.executable, "-m", "cmeel", "cmake"], capture_output=True, text=True, check=True)
    except (subprocess.CalledProcessError, FileNotFoundError):
        return []
    return [p for p in done.stdout.strip().split(os.pathsep) if p]


def cmake_project(source: Path, build: Path) -> None:
    """Configure and build the CMake project in `source` into `build` (AssertionError on failure)."""
    args = [
        "cmake",
        "-S",
        str(source),
        "-B",
        str(build),
        f"-Dfastmlp_DIR={fm.cmake_dir()}",
        "-DCMAKE_BUILD_TYPE=Release",
    ]
    prefixes = cmeel_prefixes()
    if prefixes:  # Eigen from PyPI's cmeel-eigen, when that is where it lives
        args.append(f"-DCMAKE_PREFIX_PATH={';'.join(prefixes)}")
    done = subprocess.run(args, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
    jobs = str(os.cpu_count() or 2)
    done = subprocess.run(["cmake", "--build", str(build), "-j", jobs], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr
