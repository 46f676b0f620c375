"""``dtype="mixed_bfloat16"`` (Keras's policy name): float32 parameters, optimizer state, activations
and deltas; the matrix products round their operands to bfloat16 and sum in float32 (the C++ core's
fastmlp/gemm_bf16.hpp; docs/math.md says what is rounded where).

A Sequential keeps its policy in ``model.dtype_policy`` ("float32", "float64" or "mixed_bfloat16")
and its storage dtype in ``model.dtype`` (float32 for mixed_bfloat16, as Keras's ``layer.dtype``);
the model file keeps the policy in a "dtype_policy" metadata entry, written only for mixed_bfloat16
(float32 and float64 files are as before), beside "dtype": "float32".

Where the vdpbf16ps kernel does not run (a CPU without AVX512_BF16; by default any but AMD's: the
C++ core's gemm_bf16.hpp says why) the products run on the emulated path (operands rounded, then the
float32 kernel), which is slower than float32: the first mixed_bfloat16 model of a process says so
(Bf16EmulationWarning), giving the core's reason (build_info()["bf16_why"]) and what runs instead.
"""

from __future__ import annotations

import os
import sys
import warnings

import numpy as np

from . import _core
from ._validation import as_dtype

MIXED_BFLOAT16 = "mixed_bfloat16"


class Bf16EmulationWarning(UserWarning):
    """dtype="mixed_bfloat16" where the vdpbf16ps kernel does not run (no AVX512_BF16; by default any
    CPU but AMD's): the products are emulated (correct, but slower than float32)."""


def policy(dtype) -> tuple:
    """(the storage dtype, the policy name) of a Sequential's ``dtype`` argument."""
    if isinstance(dtype, str) and dtype == MIXED_BFLOAT16:
        return np.dtype(np.float32), MIXED_BFLOAT16
    try:
        dt = as_dtype(dtype)
    except TypeError:
        raise TypeError(f"dtype must be 'float32', 'float64' or 'mixed_bfloat16', got {dtype!r}") from None
    return dt, dt.name


def check_device(dtype, device: str) -> None:
    """NotImplementedError for a mixed_bfloat16 model on "cuda" (before anything changes)."""
    if device == "cuda" and isinstance(dtype, str) and dtype == MIXED_BFLOAT16:
        raise NotImplementedError(
            "dtype='mixed_bfloat16' runs on the CPU only: the CUDA engine has no bf16 products yet; "
            "use device='cpu', or dtype='float32' on 'cuda'"
        )


def apply(net, dtype_policy: str) -> None:
    """Switch the C++ network's products to bf16 operands for a mixed_bfloat16 model."""
    if dtype_policy == MIXED_BFLOAT16:
        net.mixed_bfloat16 = True
        _warn_once()


def metadata(dtype_policy: str) -> dict:
    """The model file's entry for the policy (none for float32 / float64: their files are unchanged)."""
    return {"dtype_policy": MIXED_BFLOAT16} if dtype_policy == MIXED_BFLOAT16 else {}


def from_metadata(meta: dict) -> str:
    """The ``dtype`` argument of a model read from a file. The C++ reader checked the entry (it must
    say "mixed_bfloat16", on a float32 file) and runs the products of a float32 load mixed."""
    return MIXED_BFLOAT16 if "dtype_policy" in meta else meta["dtype"]


_warned = False


def _warn_once() -> None:
    global _warned
    kernel = _core.build_info()["bf16"]
    if _warned or not kernel.startswith("emulated"):
        return
    _warned = True
    isa, why = kernel[len("emulated (") : -1], _core.build_info()["bf16_why"]
    warnings.warn(
        f"dtype='mixed_bfloat16': {why}, so the products are emulated: their operands are rounded "
        f"to bfloat16 and multiplied by the float32 kernel ({isa}). The numbers are those of bf16 "
        "products, but training is SLOWER than dtype='float32' here (the rounding is an extra pass "
        "over both operands of every product: 8-14% fewer samples/s than float32 on the bench net, "
        "batch 128-2048, on an AMD EPYC Zen 3 core; docs/performance.md). Use dtype='float32' for "
        "speed on this CPU. (Shown once per process.)",
        Bf16EmulationWarning,
        stacklevel=_user_level(),
    )


def _user_level() -> int:
    """warnings.warn's stacklevel of the first caller outside this package (the user's line)."""
    package, frame, level = os.path.dirname(__file__), sys._getframe(1), 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level
