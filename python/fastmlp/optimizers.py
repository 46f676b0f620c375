"""Optimizers: how a gradient becomes a weight update. The math runs in C++
(fastmlp._core.SGD32/64, Adam32/64) on the model's one flat parameter buffer.

An optimizer object keeps its state (velocity, moments, step count) across fit
and partial_fit calls of the model it trains; ``reset()`` forgets it.
"""
from __future__ import annotations

import numpy as np

from . import _core
from ._validation import positive_float


class Optimizer:
    """Base class: holds hyperparameters; creates the C++ optimizer for a model's dtype."""

    _kind = ""

    def __init__(self, learning_rate: float):
        self._learning_rate = positive_float(learning_rate, "learning_rate")
        self._impl = None
        self._owner = None  # id of the C++ network the state belongs to

    @property
    def learning_rate(self) -> float:
        return self._learning_rate

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        self._learning_rate = positive_float(value, "learning_rate")
        if self._impl is not None:
            self._impl.learning_rate = self._learning_rate

    def reset(self) -> None:
        """Forget the state (velocity, moments, step count)."""
        if self._impl is not None:
            self._impl.reset()

    def _make(self, suffix: str):
        raise NotImplementedError

    def _bind(self, net):
        """The C++ optimizer for `net`; a new one (fresh state) if it last trained another model."""
        suffix = "32" if net.dtype == np.float32 else "64"
        if self._impl is None or self._owner != (id(net), suffix):
            self._impl = self._make(suffix)
            self._owner = (id(net), suffix)
        self._impl.learning_rate = self._learning_rate
        return self._impl

    def get_config(self) -> dict:
        return {"name": self._kind, "learning_rate": self._learning_rate}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_config().items() if k != "name")
        return f"{type(self).__name__}({args})"


class SGD(Optimizer):
    """Stochastic gradient descent, PyTorch's formulas.

        g = dJ/dw + weight_decay * w
        plain:     w <- w - lr * g
        momentum:  v <- momentum * v + g;  w <- w - lr * v   (Nesterov: w <- w - lr * (g + momentum * v))
    """

    _kind = "sgd"

    def __init__(self, learning_rate: float = 0.01, momentum: float = 0.0, nesterov: bool = False,
                 weight_decay: float = 0.0):
        super().__init__(learning_rate)
        self.momentum = positive_float(momentum, "momentum", allow_zero=True)
        if self.momentum >= 1:
            raise ValueError(f"momentum must be in [0, 1), got {momentum}")
        self.nesterov = bool(nesterov)
        if self.nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs momentum > 0")
        self.weight_decay = positive_float(weight_decay, "weight_decay", allow_zero=True)

    def _make(self, suffix):
        return getattr(_core, "SGD" + suffix)(self._learning_rate, self.momentum, self.nesterov, self.weight_decay)

    def get_config(self) -> dict:
        return {**super().get_config(), "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay}


class Adam(Optimizer):
    """Adam with bias correction, PyTorch's formulas (``decoupled=True`` is AdamW).

        g = dJ/dw (+ weight_decay * w unless decoupled; decoupled: w <- w * (1 - lr * weight_decay) first)
        m <- beta1 m + (1 - beta1) g;  v <- beta2 v + (1 - beta2) g^2;  t <- t + 1
        w <- w - lr * (m / (1 - beta1^t)) / (sqrt(v / (1 - beta2^t)) + epsilon)
    """

    _kind = "adam"

    def __init__(self, learning_rate: float = 0.001, beta1: float = 0.9, beta2: float = 0.999,
                 epsilon: float = 1e-8, weight_decay: float = 0.0, decoupled: bool = False):
        super().__init__(learning_rate)
        for name, v in (("beta1", beta1), ("beta2", beta2)):
            if positive_float(v, name, allow_zero=True) >= 1:
                raise ValueError(f"{name} must be in [0, 1), got {v}")
        self.beta1, self.beta2 = float(beta1), float(beta2)
        self.epsilon = positive_float(epsilon, "epsilon")
        self.weight_decay = positive_float(weight_decay, "weight_decay", allow_zero=True)
        self.decoupled = bool(decoupled)

    def _make(self, suffix):
        return getattr(_core, "Adam" + suffix)(self._learning_rate, self.beta1, self.beta2, self.epsilon,
                                               self.weight_decay, self.decoupled)

    def get_config(self) -> dict:
        return {**super().get_config(), "beta1": self.beta1, "beta2": self.beta2, "epsilon": self.epsilon,
                "weight_decay": self.weight_decay, "decoupled": self.decoupled}


def AdamW(learning_rate: float = 0.001, weight_decay: float = 0.01, **kwargs) -> Adam:
    """Adam with decoupled weight decay."""
    return Adam(learning_rate, weight_decay=weight_decay, decoupled=True, **kwargs)


def get(optimizer) -> Optimizer:
    """An Optimizer from an object or a name ("sgd", "adam", "adamw")."""
    if isinstance(optimizer, Optimizer):
        return optimizer
    if isinstance(optimizer, str):
        makers = {"sgd": SGD, "adam": Adam, "adamw": AdamW}
        if optimizer.lower() in makers:
            return makers[optimizer.lower()]()
        raise ValueError(f"optimizer must be one of {', '.join(makers)} or an Optimizer; got {optimizer!r}")
    raise TypeError(f"optimizer must be a string or an fm.SGD / fm.Adam object, got {type(optimizer).__name__}")
