"""The CUDA backend where no GPU is needed: its sources compile with nvcc (so the code
cannot rot on machines without a GPU, CI included), and asking for the device without
one fails with a clear error while the CPU path is unaffected."""

import shutil
import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

import fastmlp as fm
from cmake_projects import cmeel_prefixes

ROOT = Path(__file__).resolve().parents[1]
CUDA_DIR = ROOT / "cpp" / "cuda"


def _eigen_include() -> str:
    for candidate in ("/usr/include/eigen3", "/usr/local/include/eigen3"):
        if Path(candidate, "Eigen", "Core").is_file():
            return candidate
    for prefix in cmeel_prefixes():
        if Path(prefix, "include", "eigen3", "Eigen", "Core").is_file():
            return str(Path(prefix, "include", "eigen3"))
    pytest.skip("needs Eigen headers (pip install cmeel-eigen)")


@pytest.mark.gpu
@pytest.mark.skipif(shutil.which("nvcc") is None, reason="needs nvcc (the CUDA toolkit) on PATH")
def test_cuda_sources_compile(tmp_path):
    """Every cpp/cuda/*.cu with nvcc (one architecture) and every cpp/cuda/*.cpp with the host compiler."""
    cxx = shutil.which("g++") or shutil.which("c++")
    if cxx is None:
        pytest.skip("needs a C++ compiler")
    includes = ["-I", str(ROOT / "cpp" / "include"), "-I", str(CUDA_DIR), "-I", _eigen_include()]
    jobs = []
    for src in sorted(CUDA_DIR.glob("*.cu")):
        jobs.append(
            [
                "nvcc",
                "-std=c++17",
                "-O2",
                "-arch=sm_90",
                "-Xcompiler",
                "-fPIC",
                *includes,
                "-c",
                str(src),
                "-o",
                str(tmp_path / (src.stem + ".cu.o")),
            ]
        )
    for src in sorted(CUDA_DIR.glob("*.cpp")):
        jobs.append(
            [
                cxx,
                "-std=c++17",
                "-O1",
                "-fPIC",
                "-Wall",
                "-DEIGEN_MAX_ALIGN_BYTES=64",
                *includes,
                "-c",
                str(src),
                "-o",
                str(tmp_path / (src.stem + ".o")),
            ]
        )
    assert len(jobs) >= 4, "expected kernels.cu, backend.cu, cublas_loader.cpp and device_network.cpp"

    def run(cmd):
        return cmd, subprocess.run(cmd, capture_output=True, text=True)

    with ThreadPoolExecutor(max_workers=4) as pool:
        for cmd, done in pool.map(run, jobs):
            assert done.returncode == 0, " ".join(cmd) + "\n" + done.stdout + done.stderr


def test_build_info_reports_cuda_as_built():
    # The installed CMake package says how the core was built: FASTMLP_WITH_CUDA is part of the
    # fastmlp::fastmlp interface exactly when FASTMLP_CUDA was on.
    targets = (Path(fm.cmake_dir()) / "fastmlpTargets.cmake").read_text()
    built_with_cuda = "FASTMLP_WITH_CUDA" in targets
    assert fm.build_info()["cuda"] is built_with_cuda
    if not built_with_cuda:
        assert fm.cuda_available() is False


@pytest.mark.gpu  # its skip is the other way round: where a GPU is
@pytest.mark.skipif(fm.cuda_available(), reason="CUDA is available here")
def test_device_cuda_without_cuda_is_a_clear_error():
    layers = [fm.Dense(3, 2, "softmax")]
    with pytest.raises(
        RuntimeError, match="CUDA is not available: (fastmlp was built without CUDA|no CUDA device|cuBLAS)"
    ):
        fm.Sequential(layers, device="cuda")
    model = fm.Sequential([fm.Dense(3, 2, "softmax")], seed=0)
    with pytest.raises(RuntimeError, match="CUDA is not available"):
        model.to("cuda")
    assert model.device == "cpu"  # still usable on the CPU
    X = np.ones((4, 3), dtype=np.float32)
    assert model.forward(X).shape == (4, 2)


def test_device_argument_is_checked():
    with pytest.raises(ValueError, match="device must be 'cpu' or 'cuda'"):
        fm.Sequential([fm.Dense(3, 2, "softmax")], device="tpu")
    model = fm.Sequential([fm.Dense(3, 2, "softmax")], device="cpu")
    assert model.to("cpu") is model and model.device == "cpu"
