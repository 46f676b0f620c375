"""fastmlp._core: the C++ core, in the fastest build this CPU runs.

The wheel carries the core compiled for several x86-64 levels (v4 = AVX-512,
v3 = AVX2/FMA, v2 = SSE4.2); this module imports the best one the CPU supports
and re-exports it. FASTMLP_ARCH=v3 (for example) in the environment forces a level.
"""
import importlib
import os

from . import _cpu
from ._levels import LEVELS


def _pick():
    ids = [lvl.replace("x86-64-", "") for lvl in LEVELS]
    forced = os.environ.get("FASTMLP_ARCH")
    if forced:
        forced = forced.replace("x86-64-", "")
        if forced not in ids:
            raise ImportError(f"FASTMLP_ARCH={forced!r}: this build has {', '.join(ids)}")
        if not _cpu.supports(forced):
            raise ImportError(f"FASTMLP_ARCH={forced!r}: this CPU does not run that level")
        return forced
    for i in reversed(ids):  # LEVELS is lowest first
        if _cpu.supports(i):
            return i
    raise ImportError(f"this CPU runs none of the builds in this package ({', '.join(ids)})")


LEVEL = _pick()
_impl = importlib.import_module(f"{__package__}._core_{LEVEL}")
globals().update({k: v for k, v in vars(_impl).items() if not k.startswith("__")})
