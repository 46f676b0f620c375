"""The optional CUDA device: fm.cuda_available() and what Sequential(device="cuda") uses.

The compiled core has the CUDA backend when it was built with
``CMAKE_ARGS="-DFASTMLP_CUDA=ON"``; it links the CUDA runtime statically and loads
cuBLAS (libcublas.so.13) at first use, so such a build imports everywhere and only
``device="cuda"`` needs a GPU, its driver and cuBLAS. cuBLAS is found through the
dynamic loader, the ``FASTMLP_CUBLAS`` environment variable (a path), or PyPI's
``nvidia-cublas`` package (``pip install nvidia-cublas``), which this module preloads.
"""

from __future__ import annotations

import ctypes
import glob
import os
import sys

from . import _core

DEVICES = ("cpu", "cuda")
_preloaded = False


def _preload_cublas() -> None:
    """Load libcublas.so.13 from an nvidia-cublas wheel, if one is installed, so dlopen finds it by name."""
    global _preloaded
    if _preloaded or os.environ.get("FASTMLP_CUBLAS"):
        return
    _preloaded = True
    for base in sys.path:
        for pattern in ("nvidia/cu13/lib/libcublas.so.13", "nvidia/cublas/lib/libcublas.so.13"):
            for path in glob.glob(os.path.join(base or ".", pattern)):
                try:
                    ctypes.CDLL(path, mode=getattr(os, "RTLD_GLOBAL", 0))
                    return
                except OSError:
                    continue


def built() -> bool:
    """Whether this build of fastmlp has the CUDA backend."""
    return bool(_core.cuda_built())


def available() -> bool:
    """Whether device="cuda" works here: a CUDA build, a driver, a GPU and cuBLAS."""
    if not built():
        return False
    _preload_cublas()
    return bool(_core.cuda_available())


def unavailable_reason() -> str:
    if not built():
        return 'fastmlp was built without CUDA (rebuild with CMAKE_ARGS="-DFASTMLP_CUDA=ON")'
    _preload_cublas()
    return str(_core.cuda_unavailable_reason())


def check_device(device) -> str:
    if not isinstance(device, str) or device.split(":")[0] not in DEVICES:
        raise ValueError(f"device must be 'cpu' or 'cuda', got {device!r}")
    if device not in DEVICES and device != "cuda:0":
        raise ValueError(f"only device 'cuda' (device 0) is supported, got {device!r}")
    return device.split(":")[0]


def require() -> None:
    """RuntimeError("CUDA is not available: <why>") unless device="cuda" works here."""
    if not available():
        raise RuntimeError(f"CUDA is not available: {unavailable_reason()}")


def engine(net):
    """The CUDA engine of the C++ network `net`; RuntimeError when there is none."""
    require()
    return _core.cuda_engine(net)
