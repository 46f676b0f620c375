"""Layers: Dense (z = a_prev W + b, a = g(z)) and Dropout."""
from __future__ import annotations

import numbers

import numpy as np

from ._validation import positive_int

ACTIVATIONS = ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax", "step")
INITS = ("glorot_uniform", "glorot_normal", "he_uniform", "he_normal")
DEFAULT_ALPHA = {"leaky_relu": 0.01, "elu": 1.0}


class Dense:
    """A fully connected layer  z = a_prev W + b,  a = g(z);  n_in * n_out weights and n_out biases.

    activation: linear, sigmoid, tanh, relu, leaky_relu (a = z if z > 0 else alpha z,
      alpha=0.01), elu (a = z if z > 0 else alpha (e^z - 1), alpha=1), softplus
      (a = ln(1 + e^z)), softmax, or step (a = [z >= 0], gradient 0: a threshold unit
      for hand-set networks such as the lecture's logic gates).
    init: glorot_uniform / glorot_normal / he_uniform / he_normal; None = He-uniform for
      relu, leaky_relu and elu layers, Glorot-uniform otherwise.
    """

    def __init__(self, n_in: int, n_out: int, activation: str = "linear", init: str | None = None,
                 alpha: float | None = None):
        self.n_in = positive_int(n_in, "n_in")
        self.n_out = positive_int(n_out, "n_out")
        if not isinstance(activation, str) or activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}")
        self.activation = activation
        if init is not None and init not in INITS:
            raise ValueError(f"init must be one of {', '.join(INITS)} or None; got {init!r}")
        self.init = init
        if alpha is None:
            alpha = DEFAULT_ALPHA.get(activation, 0.0)
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not np.isfinite(alpha) or alpha < 0:
            raise ValueError(f"alpha must be a finite number >= 0, got {alpha!r}")
        self.alpha = float(alpha)
        self.dropout = 0.0  # set by a following Dropout layer
        self._net = None  # set by Sequential
        self._index = -1

    def _bound(self):
        if self._net is None:
            raise RuntimeError("this Dense layer has no parameters until it is part of a Sequential model")
        return self._net

    @property
    def weights(self) -> np.ndarray:
        """W, shape (n_in, n_out): a writable view into the model's parameter buffer."""
        return self._bound().weight(self._index)

    @weights.setter
    def weights(self, value) -> None:
        _assign(self.weights, value, "weights")

    @property
    def bias(self) -> np.ndarray:
        """b, shape (n_out,): a writable view into the model's parameter buffer."""
        return self._bound().bias(self._index)

    @bias.setter
    def bias(self, value) -> None:
        _assign(self.bias, value, "bias")

    @property
    def num_params(self) -> int:
        return self.n_in * self.n_out + self.n_out

    def __repr__(self) -> str:
        extra = f", alpha={self.alpha}" if self.activation in DEFAULT_ALPHA else ""
        extra += f", init={self.init!r}" if self.init else ""
        return f"Dense({self.n_in}, {self.n_out}, activation={self.activation!r}{extra})"


class Dropout:
    """Inverted dropout on the previous layer's output, during training only:
    each unit is zeroed with probability ``rate`` and the rest scaled by 1 / (1 - rate),
    so inference needs no rescaling."""

    def __init__(self, rate: float):
        if isinstance(rate, bool) or not isinstance(rate, numbers.Real) or not (0 <= rate < 1):
            raise ValueError(f"rate must be a number in [0, 1), got {rate!r}")
        self.rate = float(rate)

    num_params = 0

    def __repr__(self) -> str:
        return f"Dropout({self.rate})"


def _assign(view: np.ndarray, value, name: str) -> None:
    arr = np.asarray(value, dtype=view.dtype)
    if arr.shape != view.shape:
        raise ValueError(f"{name} must have shape {view.shape}, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    view[...] = arr
