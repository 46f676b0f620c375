"""The parameter checks and input helpers that fastmlp.sklearn's estimators share: scikit-learn's
and fastmlp's activation names, the check of a numeric parameter, sparse input densified within
MAX_DENSE_BYTES, and scikit-learn's validate_data whatever its version."""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import as_bool
from .layers import ACTIVATIONS

try:  # scikit-learn >= 1.6
    from sklearn.utils.validation import validate_data as _validate_data
except ImportError:  # pragma: no cover - older scikit-learn

    def _validate_data(estimator, *args, **kwargs):
        return estimator._validate_data(*args, **kwargs)


_ACTIVATION_ALIASES = {"identity": "linear", "logistic": "sigmoid"}  # scikit-learn's names
# Hidden-layer activations: scikit-learn's names, then fastmlp's (fm.ACTIVATIONS, the C++ core's
# list) but those that make no hidden layer: softmax and exp (outputs), step (zero gradient).
_HIDDEN_ACTIVATIONS = (*_ACTIVATION_ALIASES, *(g for g in ACTIVATIONS if g not in ("softmax", "exp", "step")))
MAX_DENSE_BYTES = 2**31  # sparse input is densified up to this size


def _densify(X, name: str = "X"):
    """Sparse X as a dense array (once per call), within MAX_DENSE_BYTES."""
    if not hasattr(X, "toarray"):
        return X
    nbytes = X.shape[0] * X.shape[1] * X.dtype.itemsize
    if nbytes > MAX_DENSE_BYTES:
        raise ValueError(
            f"{name} is sparse with shape {X.shape}: densified it would take {nbytes / 2**30:.1f} GiB, "
            f"more than fastmlp's limit of {MAX_DENSE_BYTES / 2**30:.0f} GiB (MAX_DENSE_BYTES)"
        )
    return X.toarray()


try:  # scikit-learn's own class (since 1.2, the oldest this package takes), so that code catching it catches ours
    from sklearn.utils._param_validation import InvalidParameterError
except ImportError:  # a later scikit-learn that moved it: the same kind of exception

    class InvalidParameterError(ValueError, TypeError):
        """A refused constructor parameter: a ValueError and a TypeError, as scikit-learn's."""


def _check_bool(value, name):
    """The bool rule (fastmlp._validation.as_bool) in scikit-learn's words and exception."""
    try:
        as_bool(value, name)
    except TypeError:
        raise InvalidParameterError(f"The '{name}' parameter must be an instance of 'bool'; got {value!r}.") from None


def _check_number(value, name, lo=None, hi=None, lo_closed=True, hi_closed=True, integer=False):
    kind = numbers.Integral if integer else numbers.Real
    if isinstance(value, bool) or not isinstance(value, kind):
        raise ValueError(f"The '{name}' parameter must be {'an int' if integer else 'a float'}; got {value!r}.")
    bad = (lo is not None and (value < lo or (value == lo and not lo_closed))) or (
        hi is not None and (value > hi or (value == hi and not hi_closed))
    )
    if bad or (not integer and np.isnan(value)):
        lb = "[" if lo_closed else "("
        rb = "]" if hi_closed else ")"
        raise ValueError(
            f"The '{name}' parameter must be in the range {lb}{lo if lo is not None else '-inf'}, "
            f"{hi if hi is not None else 'inf'}{rb}; got {value!r}."
        )
    return value


def _no_partial_fit():
    raise AttributeError("partial_fit is only available for stochastic optimizers. lbfgs is not stochastic.")
