"""fastmlp: small, fast multi-layer perceptrons. C++/Eigen core, Pythonic Model/Layer API.

    import fastmlp as fm
    model = fm.Sequential([fm.Dense(32, "relu"), fm.Dense(10, "softmax")], seed=0)
    model.fit(X, y, epochs=20)          # Adam 1e-3, mini-batches of 32
    model.predict(X)

``fm.onnx`` and ``fm.sklearn`` are imported on first use.
"""

import importlib as _importlib

from . import callbacks, layers, optimizers, schedules
from ._building import Input
from ._core import build_info as _core_build_info
from ._mixed import Bf16EmulationWarning
from ._version import __version__
from .callbacks import EarlyStopping
from .gradcheck import check_gradients
from .layers import *  # noqa: F403 (the layer kinds, Layer, LAYERS, ACTIVATIONS: layers.__all__, so a new kind is one file)
from .losses import LOSSES
from .model import DivergenceError, History, OneClassValidationWarning, Sequential, VanishingGradientWarning
from .optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RAdam, RMSprop
from .preprocessing import Normalization
from .tabular import ColumnEmbedding

_LAZY = ("onnx", "sklearn", "io", "plot")


def __getattr__(name):
    # fm.onnx, fm.sklearn: submodules with heavier imports (onnx, scikit-learn), loaded on first use.
    if name in _LAZY:
        return _importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'fastmlp' has no attribute {name!r}")


__all__ = [
    "Sequential",
    "Input",
    "Normalization",
    "ColumnEmbedding",
    "History",
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "RAdam",
    "Optimizer",
    "EarlyStopping",
    "callbacks",
    "optimizers",
    "OneClassValidationWarning",
    "schedules",
    "check_gradients",
    "build_info",
    "cuda_available",
    "cmake_dir",
    "set_num_threads",
    "get_num_threads",
    "save",
    "load",
    "DivergenceError",
    "VanishingGradientWarning",
    "Bf16EmulationWarning",
    "LOSSES",
    "__version__",
]
__all__ += layers.__all__


def set_num_threads(n: int) -> None:
    """Threads the C++ matrix products may use; this wins over the default, which is the CPUs this
    process may run on (at most 8), no more than OMP_NUM_THREADS (joblib's and Dask's workers set it) and
    threadpoolctl's limits (fastmlp's pool is registered there).
    Products under ~4 MFLOP (small batches) always run on one thread, so threads never slow them down.
    Results are bit-identical whatever the number of threads.

    ``n`` is an integer from 1 to max(64, 4 x the hardware threads) (TypeError, ValueError otherwise):
    more threads only cost memory and switches. Lowering it ends the pool's surplus threads."""
    import numbers

    from . import _core

    if isinstance(n, bool) or not isinstance(n, numbers.Integral):
        raise TypeError(f"n must be an integer, got {n!r}")
    n = int(n)
    top = _core.max_num_threads()
    if not 1 <= n <= top:
        raise ValueError(
            f"n (the number of threads) must be in [1, {top}] (max(64, 4 x the hardware threads)), got {n}"
        )
    _core.set_num_threads(n)


def get_num_threads() -> int:
    from . import _core

    return _core.get_num_threads()


def save(model, path) -> None:
    """Write ``model`` to ``path`` (same as ``model.save(path)``)."""
    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a fastmlp.Sequential, got {type(model).__name__}")
    model.save(path)


def load(path) -> Sequential:
    """Read a model written by ``model.save(path)`` (same as ``Sequential.load(path)``)."""
    return Sequential.load(path)


def cuda_available() -> bool:
    """Whether ``device="cuda"`` works here: fastmlp built with CUDA (``CMAKE_ARGS="-DFASTMLP_CUDA=ON"``),
    an NVIDIA driver and GPU, and cuBLAS (libcublas.so.13, e.g. ``pip install nvidia-cublas``)."""
    from . import _cuda

    return _cuda.available()


def build_info() -> dict:
    """How the C++ core was built and what runs here: SIMD level picked and levels built, GEMM kernel,
    the bf16 kernel of dtype="mixed_bfloat16" ("bf16": "avx512_bf16" or "emulated (<isa>)", and
    "cpu_avx512_bf16": whether this CPU has the instructions), Eigen version, CUDA on/off, threads."""
    info = dict(_core_build_info())
    info["version"] = __version__
    return info


def cmake_dir() -> str:
    """The folder holding fastmlpConfig.cmake, for find_package(fastmlp) from C++ projects."""
    import os

    # The installed package's folder; an editable install also lists the source folder.
    folders = [os.path.join(p, "lib", "cmake", "fastmlp") for p in __path__]  # noqa: F405 (the package's own)
    return next((f for f in folders if os.path.isfile(os.path.join(f, "fastmlpConfig.cmake"))), folders[0])


from ._threadpool import register as _register_threadpool  # noqa: E402

_register_threadpool()
