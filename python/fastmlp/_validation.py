"""Turning user input into the arrays the C++ core maps without copying.

Every public entry point goes through here, so a bad argument raises a
ValueError / TypeError naming the argument and the shape seen, before any C++
code runs. Arrays that are already C-contiguous with the model's dtype pass
through untouched (no copy).
"""

from __future__ import annotations

import numbers

import numpy as np

from .losses import CLASSIFICATION_LOSSES

DTYPES = {"float32": np.dtype(np.float32), "float64": np.dtype(np.float64)}


def as_dtype(dtype) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError as e:
        raise TypeError(f"dtype must be 'float32' or 'float64', got {dtype!r}") from e
    if dt not in DTYPES.values():
        raise TypeError(f"dtype must be 'float32' or 'float64', got {dtype!r}")
    return dt


def _as_numeric_array(a, name: str) -> np.ndarray:
    if a is None:
        raise TypeError(f"{name} must be an array, got None")
    try:
        arr = np.asarray(a)
    except Exception as e:  # ragged lists and the like
        raise ValueError(f"{name} could not be converted to an array: {e}") from e
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise TypeError(f"{name} must hold numbers, got dtype {arr.dtype}")
    if np.iscomplexobj(arr):
        raise TypeError(f"{name} must hold real numbers, got dtype {arr.dtype}")
    return arr


def as_c_array(arr, dtype, name: str = "the array") -> np.ndarray:
    """arr as a C-contiguous array of `dtype` whose data are aligned to the element size (the core
    refuses misaligned views, e.g. float32 data one byte into a buffer); copies only when it must.

    The one rule for a cast that overflows: finite values beyond the largest magnitude of `dtype`
    (1e300 for float32, whose largest is 3.4e38) raise ValueError naming `name`, the dtype and that
    magnitude, instead of turning into infinity (and a later "contains NaN or infinity"). NumPy
    flags the overflow in the cast itself; only a cast that can overflow (not an array of `dtype` or of
    a narrower float, of integers or of bools) runs under np.errstate, which costs ~2 us a call."""
    dt = np.dtype(dtype)
    src = arr.dtype if isinstance(arr, np.ndarray) else None
    if src is not None and (src == dt or src.kind in "biu" or (src.kind == "f" and src.itemsize <= dt.itemsize)):
        out = np.ascontiguousarray(arr, dtype=dt)  # (10x cheaper than np.require with the same requirements)
    else:
        try:
            with np.errstate(over="raise"):
                out = np.ascontiguousarray(arr, dtype=dt)
        except FloatingPointError:
            raise ValueError(overflow_message(arr, name, dt)) from None
    return out if out.flags.aligned else out.copy()


def overflow_message(arr, name: str, dtype) -> str:
    """What as_c_array says when `arr` overflows `dtype`: the largest finite magnitude in it."""
    a = np.asarray(arr)
    a = np.abs(a[np.isfinite(a)]) if a.dtype.kind == "f" else np.abs(a.astype(np.float64))
    biggest = np.format_float_scientific(a.max(), precision=3, trim="-") if a.size else "infinity"
    dt = np.dtype(dtype)
    wider = " or use dtype='float64'" if dt.itemsize < 8 else ""
    return (
        f"{name} overflows {dt.name}: it holds values of magnitude up to {biggest}, and {dt.name} holds at most "
        f"{np.finfo(dt).max:.4g}; scale {name} (e.g. standardize it){wider}"
    )


def as_2d(X, name: str, dtype: np.dtype, n_features: int | None = None) -> np.ndarray:
    """X as a C-contiguous (m, d) array of `dtype`; copies only when it must."""
    arr = _as_numeric_array(X, name)
    if arr.ndim != 2:
        hint = (  # scikit-learn's words
            ": reshape your data either using array.reshape(-1, 1) if your data has a single feature "
            "or array.reshape(1, -1) if it contains a single sample"
            if arr.ndim == 1
            else ""
        )
        raise ValueError(f"{name} must be 2-D (samples, features), got {arr.ndim}-D with shape {arr.shape}{hint}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name} is empty: shape {arr.shape}")
    if n_features is not None and arr.shape[1] != n_features:
        raise ValueError(f"{name} has {arr.shape[1]} features but the model expects {n_features}: shape {arr.shape}")
    return as_c_array(arr, dtype, name)


def check_finite(arr: np.ndarray, name: str) -> None:
    # np.isfinite(...).all() would allocate a boolean copy; a sum is one pass, no copy.
    if arr.dtype.kind == "f" and not np.isfinite(np.add.reduce(arr, axis=None)):
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} contains NaN or infinity")


def as_targets(y, name: str, loss: str, n_outputs: int, n_samples: int, dtype: np.dtype) -> np.ndarray:
    """Targets in the form the core takes: int32 class ids (m,) or dense rows (m, k) of `dtype`."""
    arr = _as_numeric_array(y, name)
    if arr.ndim == 0 or arr.ndim > 2:
        raise ValueError(f"{name} must be 1-D or 2-D, got shape {arr.shape}")
    if arr.shape[0] != n_samples:
        raise ValueError(f"{name} has {arr.shape[0]} samples but X has {n_samples}: {name} shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: shape {arr.shape}")
    check_finite(arr, name)
    if loss == "categorical_crossentropy" and arr.ndim == 1:
        check_class_ids(arr, name)
        lo, hi = arr.min(), arr.max()
        if lo < 0 or hi >= n_outputs:
            raise ValueError(
                f"{name} holds class ids in [{lo}, {hi}] but the model has {n_outputs} classes [0, {n_outputs})"
            )
        return as_c_array(arr, np.int32, name)
    if arr.ndim == 1:
        if n_outputs != 1:
            raise ValueError(
                f"{name} has shape {arr.shape}: 1-D targets need a model with 1 output, "
                f"this one has {n_outputs}; pass shape ({n_samples}, {n_outputs})"
            )
        arr = arr.reshape(n_samples, 1)
    if arr.shape[1] != n_outputs:
        raise ValueError(
            f"{name} has {arr.shape[1]} columns but the model has {n_outputs} outputs: {name} shape {arr.shape}"
        )
    if loss in CLASSIFICATION_LOSSES and (arr.min() < 0 or arr.max() > 1):
        raise ValueError(f"{name} must lie in [0, 1] for {loss}, found values in [{arr.min()}, {arr.max()}]")
    return as_c_array(arr, dtype, name)


def check_class_ids(arr: np.ndarray, name: str) -> None:
    """The one rule for class ids (targets of a softmax model, fastmlp.plot's confusion matrix):
    integers, or bools, or floats holding integers (2.0 is class 2). TypeError naming ``name`` for
    any other dtype, ValueError for a float that is not a whole number (0.5, NaN, infinity)."""
    if arr.dtype.kind == "f":
        if not (np.isfinite(arr).all() and np.all(arr == np.round(arr))):
            raise ValueError(f"{name} must hold integer class ids, got non-integral values")
    elif arr.dtype.kind not in "iub":
        raise TypeError(f"{name} must hold integer class ids, got dtype {arr.dtype}")


def positive_int(value, name: str, allow_none: bool = False):
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value < 1:
        raise ValueError(f"{name} must be >= 1, got {value}")
    if value > 2**62:
        raise ValueError(f"{name} must be at most 2**62, got {value}")
    return int(value)


def as_seed(value, name: str = "seed") -> int:
    """A seed: any integer, folded into [0, 2**64) (the C++ generator's range)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer or None, got {value!r}")
    return int(value) & (2**64 - 1)


def positive_float(value, name: str, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a number, got {value!r}")
    v = float(value)
    if not np.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be a finite number {'>=' if allow_zero else '>'} 0, got {value}")
    return v


# Type conversions for values whose ranges the C++ core checks (one place for each rule):
# these only turn a Python value into the C++ type, or raise TypeError naming the argument.
def as_real(value, name: str, error: type = TypeError) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise error(f"{name} must be a number, got {value!r}")
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name} is too large: {value}") from None


def as_int(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if not -(2**63) <= value < 2**63:
        raise ValueError(f"{name} is out of range: {value}")
    return value


def as_bool(value, name: str, allow_none: bool = False):
    """The one rule for an option documented as a bool: True or False (numpy.bool_ too), or None
    where the option allows it (``allow_none``). Anything else (1, "yes", shuffle="batch") is a
    TypeError naming the option: its truthiness is not taken for an answer."""
    if value is None and allow_none:
        return None
    if not isinstance(value, (bool, np.bool_)):
        also = ", or None" if allow_none else ""
        raise TypeError(f"{name} must be True or False{also}, got {value!r}")
    return bool(value)


VERBOSE_AUTO = 1  # Keras's verbose="auto": 1 (a progress bar where there is one)


def as_verbose(value, name: str = "verbose") -> int:
    """The one rule for Keras's ``verbose``: 0, 1 or 2, a bool (False 0, True 1) or "auto" (1, as
    in Keras); ValueError naming ``name`` otherwise."""
    if type(value) is int and 0 <= value <= 2:  # the common case first: predict's one-sample path calls this
        return value
    if isinstance(value, str) and value == "auto":
        return VERBOSE_AUTO
    if isinstance(value, (bool, np.bool_)):
        return int(value)
    if isinstance(value, numbers.Integral) and 0 <= value <= 2:
        return int(value)
    raise ValueError(f"{name} must be 0, 1 or 2 (or a bool, or 'auto': {VERBOSE_AUTO}), got {value!r}")
