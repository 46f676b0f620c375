"""Layers: Dense (z = a_prev W + b, a = g(z)), Dropout, BatchNormalization and LayerNormalization."""

from __future__ import annotations

import numpy as np

from . import _core
from ._validation import as_int, as_real

ACTIVATIONS = tuple(_core.ACTIVATIONS)
# The activations that take an alpha, with its default (from the C++ LayerSpec).
DEFAULT_ALPHA = {g: _core.LayerSpec(1, 1, g).alpha for g in ACTIVATIONS if _core.LayerSpec(1, 1, g).alpha != 0}


class Dense:
    """A fully connected layer  z = a_prev W + b,  a = g(z);  n_in * n_out weights and n_out biases.

    ``Dense(n_in, n_out, activation)`` as in the lecture, or Keras's ``Dense(units, activation=...)``
    (also ``Dense(units, "relu")``): the input size then comes from the layer before, or, for
    the first layer, from ``input_dim`` or the data of the model's first fit.

    activation: linear, sigmoid, tanh, relu, leaky_relu (a = z if z > 0 else alpha z,
      alpha=0.01), elu (a = z if z > 0 else alpha (e^z - 1), alpha=1), softplus
      (a = ln(1 + e^z)), softmax, or step (a = [z >= 0], gradient 0: a threshold unit
      for hand-set networks such as the lecture's logic gates).
    init: glorot_uniform / glorot_normal / he_uniform / he_normal; None = He-uniform for
      relu, leaky_relu and elu layers, Glorot-uniform otherwise.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int | str | None = None,
        activation: str = "linear",
        init: str | None = None,
        alpha: float | None = None,
        *,
        input_dim: int | None = None,
    ):
        if isinstance(n_out, str):  # Keras: Dense(units, "relu")
            if activation != "linear":
                raise TypeError("activation given twice: Dense(units, activation) or Dense(n_in, n_out, activation)")
            activation, n_out = n_out, None
        if n_out is None:  # Keras: Dense(units); the input size comes later
            n_in, n_out = input_dim, n_in
        elif input_dim is not None:
            raise TypeError("input_dim goes with Dense(units, ...); Dense(n_in, n_out) already has the input size")
        if not isinstance(activation, str):
            raise TypeError(f"activation must be a string, got {activation!r}")
        if init is not None and not isinstance(init, str):
            raise TypeError(f"init must be a string or None, got {init!r}")
        # The C++ LayerSpec checks the values (ValueError naming them) and knows the defaults.
        self._deferred = n_in is None  # the input size is set when the model is built
        self._spec = _core.LayerSpec(
            1 if n_in is None else as_int(n_in, "n_in"),
            as_int(n_out, "n_out"),
            activation,
            None if alpha is None else as_real(alpha, "alpha", ValueError),
            0.0,
            init or "default",
        )
        self.dropout = 0.0  # set by a following Dropout layer
        self._net = None  # set by Sequential
        self._index = -1

    n_in = property(
        lambda self: None if self._deferred else self._spec.n_in,
        doc="inputs; None until known (Dense(units) as a first layer, before the first fit)",
    )
    n_out = property(lambda self: self._spec.n_out)
    units = n_out

    def _set_n_in(self, n_in: int) -> None:
        s = self._spec
        self._spec = _core.LayerSpec(as_int(n_in, "n_in"), s.n_out, s.activation, s.alpha, 0.0, s.init)
        self._deferred = False

    activation = property(lambda self: self._spec.activation)
    alpha = property(lambda self: self._spec.alpha)
    init = property(
        lambda self: None if self._spec.init == "default" else self._spec.init,
        doc="None: He-uniform for relu-like layers, Glorot-uniform otherwise",
    )

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
    def num_params(self) -> int | None:
        return None if self.n_in is None else self.n_in * self.n_out + self.n_out

    def __repr__(self) -> str:
        extra = f", alpha={self.alpha}" if self.activation in DEFAULT_ALPHA else ""
        extra += f", init={self.init!r}" if self.init else ""
        if self.n_in is None:
            return f"Dense({self.n_out}, activation={self.activation!r}{extra})"
        return f"Dense({self.n_in}, {self.n_out}, activation={self.activation!r}{extra})"


class Dropout:
    """Inverted dropout on the previous layer's output, during training only:
    each unit is zeroed with probability ``rate`` and the rest scaled by 1 / (1 - rate),
    so inference needs no rescaling."""

    def __init__(self, rate: float):
        self.rate = (
            _core.LayerSpec(1, 1).with_dropout(as_real(rate, "rate", ValueError)).dropout
        )  # [0, 1), checked in C++

    num_params = 0

    def __repr__(self) -> str:
        return f"Dropout({self.rate})"


class _Normalization:
    """y = gamma * x_hat + beta of the previous Dense layer's output a (before its Dropout), with
    learned gamma (initially 1) and beta (0), one per unit. Formulas in network.hpp."""

    kind = ""
    _keys = ("gamma", "beta")

    def __init__(self, epsilon: float, momentum: float | None = None):
        # checked in C++ (ValueError naming the value): epsilon > 0, momentum in [0, 1)
        spec = _core.LayerSpec(1, 1).with_norm(
            self.kind,
            as_real(epsilon, "epsilon", ValueError),
            None if momentum is None else as_real(momentum, "momentum", ValueError),
        )
        self.epsilon, self._momentum = spec.norm_epsilon, spec.norm_momentum
        self._net, self._index, self.units = None, -1, None  # set by Sequential

    def _views(self) -> tuple:
        if self._net is None:
            raise RuntimeError(f"this {type(self).__name__} has no parameters until it is part of a built model")
        return self._net.norm_params(self._index)

    gamma = property(lambda self: self._views()[0], doc="gamma (n,): a writable view into the parameter buffer")
    beta = property(lambda self: self._views()[1], doc="beta (n,): a writable view into the parameter buffer")

    @property
    def num_params(self) -> int | None:  # trainable: gamma and beta
        return None if self.units is None else 2 * self.units

    def _weights(self) -> list:
        return list(self._views())


class BatchNormalization(_Normalization):
    """Batch normalization of the previous Dense layer's output (Keras's rule and defaults):
    in training x_hat = (a - mu_B) / sqrt(var_B + epsilon) with the batch's mean and (biased)
    variance per unit, and the running statistics updated as
    ``running = momentum * running + (1 - momentum) * batch``; in inference (predict, evaluate,
    validation) the running statistics. Not with data parallelism (comm=) yet: it would need the
    batch statistics synchronized across processes."""

    kind = "batch"
    _keys = ("gamma", "beta", "moving_mean", "moving_variance")

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3):
        super().__init__(epsilon, momentum)

    momentum = property(lambda self: self._momentum)
    moving_mean = property(lambda self: self._views()[2], doc="the running mean (n,): a writable view")
    moving_variance = property(lambda self: self._views()[3], doc="the running variance (n,): a writable view")

    def __repr__(self) -> str:
        return f"BatchNormalization(momentum={self.momentum:g}, epsilon={self.epsilon:g})"


class LayerNormalization(_Normalization):
    """Layer normalization of the previous Dense layer's output: each row over its units,
    x_hat = (a_i - mean(a_i)) / sqrt(var(a_i) + epsilon), the same in training and inference."""

    kind = "layer"

    def __init__(self, epsilon: float = 1e-3):
        super().__init__(epsilon)

    def __repr__(self) -> str:
        return f"LayerNormalization(epsilon={self.epsilon:g})"


NORMALIZATIONS = {"batch": BatchNormalization, "layer": LayerNormalization}


def _assign(view: np.ndarray, value, name: str) -> None:
    arr = np.asarray(value, dtype=view.dtype)
    if arr.shape != view.shape:
        raise ValueError(f"{name} must have shape {view.shape}, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    view[...] = arr
