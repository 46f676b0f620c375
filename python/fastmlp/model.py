"""The Model/Layer API: Dense layers stacked in a Sequential model.

A Sequential owns one C++ network (``fastmlp._core.Network32`` / ``Network64``).
All of its parameters live in one contiguous buffer; each Dense layer's
``weights`` and ``bias`` are writable NumPy views into it, so reading or setting
them never copies the network.

Layer l computes  z = a_prev @ W + b,  a = g(z)  (samples are rows, W is (n_in, n_out)).
"""
from __future__ import annotations

import secrets
import time

import numpy as np

from . import _core
from ._validation import as_2d, as_dtype, as_targets, positive_float, positive_int

ACTIVATIONS = ("linear", "sigmoid", "tanh", "relu", "softmax", "step")
LOSSES = ("binary_crossentropy", "categorical_crossentropy", "mse")


class Dense:
    """A fully connected layer  z = a_prev W + b,  a = g(z).

    ``n_in * n_out`` weights and ``n_out`` biases. ``activation`` is one of
    linear, sigmoid, tanh, relu, softmax, step (step: a = [z >= 0], gradient 0,
    for hand-set threshold units such as the lecture's logic gates).
    """

    def __init__(self, n_in: int, n_out: int, activation: str = "linear"):
        self.n_in = positive_int(n_in, "n_in")
        self.n_out = positive_int(n_out, "n_out")
        if not isinstance(activation, str) or activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {', '.join(ACTIVATIONS)}; got {activation!r}")
        self.activation = activation
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
        return f"Dense({self.n_in}, {self.n_out}, activation={self.activation!r})"


def _assign(view: np.ndarray, value, name: str) -> None:
    arr = np.asarray(value, dtype=view.dtype)
    if arr.shape != view.shape:
        raise ValueError(f"{name} must have shape {view.shape}, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    view[...] = arr


class History:
    """What fit() recorded: ``loss`` holds the training loss J of each epoch."""

    def __init__(self, loss, seconds: float):
        self.loss = [float(v) for v in loss]
        self.epochs = len(self.loss)
        self.seconds = seconds

    @property
    def history(self) -> dict:
        """Keras-style dict view."""
        return {"loss": self.loss}

    def __repr__(self) -> str:
        last = f", final loss {self.loss[-1]:.6g}" if self.loss else ""
        return f"History({self.epochs} epochs{last})"


def _infer_loss(output_activation: str) -> str:
    return {"softmax": "categorical_crossentropy", "sigmoid": "binary_crossentropy"}.get(output_activation, "mse")


class Sequential:
    """An MLP: Dense layers applied in order, trained by backpropagation in C++.

    Parameters
    ----------
    layers : list of Dense, consecutive sizes must chain.
    loss : "binary_crossentropy" (needs a sigmoid output), "categorical_crossentropy"
        (needs a softmax output), "mse", or None to infer from the output activation.
        J is the mean over the batch (see ``loss()``).
    dtype : "float32" (default) or "float64".
    seed : int or None; seeds weight initialisation (Glorot-uniform, He-uniform
        for relu layers; zero biases) and the default shuffling of fit().
    l2 : lambda of the penalty (lambda / 2) * sum_l ||W_l||^2 on weights (not biases),
        added to J as is (not divided by the batch size).
    """

    def __init__(self, layers, loss: str | None = None, dtype="float32", seed: int | None = None, l2: float = 0.0):
        layers = list(layers)
        if not layers:
            raise ValueError("layers must hold at least one Dense layer, got an empty list")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Dense):
                raise TypeError(f"layers[{i}] must be a Dense layer, got {type(layer).__name__}")
            if layer._net is not None:
                raise ValueError(f"layers[{i}] already belongs to another model; create a new Dense")
        for i in range(1, len(layers)):
            if layers[i].n_in != layers[i - 1].n_out:
                raise ValueError(f"layers[{i}] takes {layers[i].n_in} inputs but layers[{i - 1}] gives "
                                 f"{layers[i - 1].n_out} outputs")
        if loss is None:
            loss = _infer_loss(layers[-1].activation)
        if not isinstance(loss, str) or loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}")
        self.dtype = as_dtype(dtype)
        self.l2 = positive_float(l2, "l2", allow_zero=True)
        self.seed = secrets.randbits(63) if seed is None else int(seed)
        core = _core.Network32 if self.dtype == np.float32 else _core.Network64
        sizes = [layers[0].n_in] + [layer.n_out for layer in layers]
        self._net = core(sizes, [layer.activation for layer in layers], loss, self.l2)
        self._net.init_params(self.seed)
        self.layers = layers
        for i, layer in enumerate(layers):
            layer._net, layer._index = self._net, i
        self.loss_name = loss
        self._epochs_seen = 0

    # --- shape facts ---
    @property
    def n_features_in(self) -> int:
        return self.layers[0].n_in

    @property
    def n_outputs(self) -> int:
        return self.layers[-1].n_out

    @property
    def num_params(self) -> int:
        """Total weights and biases: sum over layers of n_in * n_out + n_out."""
        return int(self._net.num_params)

    @property
    def params(self) -> np.ndarray:
        """The one flat parameter buffer [W1, b1, W2, b2, ...], a writable view."""
        return self._net.params

    @property
    def is_classifier(self) -> bool:
        return self.loss_name != "mse"

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential([{inner}], loss={self.loss_name!r}, dtype={self.dtype.name!r})"

    # --- conversions ---
    def _X(self, X, name: str = "X") -> np.ndarray:
        return as_2d(X, name, self.dtype, self.n_features_in)

    def _Y(self, y, n_samples: int, name: str = "y") -> np.ndarray:
        return as_targets(y, name, self.loss_name, self.n_outputs, n_samples, self.dtype)

    # --- the math ---
    def forward(self, X) -> np.ndarray:
        """The last layer's activations a_L, shape (m, n_outputs)."""
        return self._net.forward(self._X(X))

    def loss(self, X, y) -> float:
        """J = mean over the batch of the loss + (l2 / 2) sum ||W||^2.

        binary_crossentropy: mean over samples and outputs of -(y ln p + (1-y) ln(1-p));
        categorical_crossentropy: mean over samples of -sum_k y_k ln p_k;
        mse: mean over samples and outputs of (a - y)^2.
        """
        X = self._X(X)
        return self._net.objective(X, self._Y(y, X.shape[0]))

    def gradients(self, X, y) -> list:
        """Backprop: [(dJ/dW, dJ/db), ...] per layer, copies with the shapes of weights and bias."""
        X = self._X(X)
        self._net.gradients(X, self._Y(y, X.shape[0]))
        return [(self._net.grad_weight(i).copy(), self._net.grad_bias(i).copy()) for i in range(len(self.layers))]

    def trace(self, X) -> list:
        """Per layer (z, a): z = a_prev W + b and a = g(z), for looking inside the network."""
        return [tuple(za) for za in self._net.trace(self._X(X))]

    def fit(self, X, y, epochs: int = 100, batch_size: int | None = None, learning_rate: float = 0.1,
            tol: float = 0.0, shuffle: bool = True, seed: int | None = None, verbose: bool = False,
            callback=None) -> History:
        """Train by mini-batch gradient descent, w <- w - learning_rate * dJ/dw, in C++.

        batch_size=None uses the whole data set per step (the lecture's gradient
        descent). Each epoch is one pass over the data, in a seeded random order
        when ``shuffle``. Stops after ``epochs`` epochs or when the epoch loss
        changes by less than ``tol`` (|J_k - J_(k-1)| < tol; tol=0 never stops
        early). ``callback(epoch, loss)`` runs after each epoch; returning False
        stops training. ``verbose`` prints one line per epoch.
        Returns a History whose ``loss`` holds each epoch's mean mini-batch loss.
        """
        X = self._X(X)
        Y = self._Y(y, X.shape[0])
        epochs = positive_int(epochs, "epochs")
        batch_size = positive_int(batch_size, "batch_size", allow_none=True)
        learning_rate = positive_float(learning_rate, "learning_rate")
        tol = positive_float(tol, "tol", allow_zero=True)
        if seed is None:
            seed = self.seed + self._epochs_seen  # reproducible, yet a new order on each fit call
        start = time.perf_counter()

        def on_epoch(epoch: int, loss: float):
            if verbose:
                print(f"epoch {epoch + 1}/{epochs}  loss {loss:.6f}  ({time.perf_counter() - start:.2f}s)", flush=True)
            if callback is not None:
                return callback(epoch, loss)
            return None

        needs_python = verbose or callback is not None
        losses = self._net.fit(X, Y, epochs, batch_size or 0, learning_rate, tol, bool(shuffle), int(seed),
                               on_epoch if needs_python else None)
        self._epochs_seen += len(losses)
        return History(losses, time.perf_counter() - start)

    # --- predictions ---
    def predict_proba(self, X) -> np.ndarray:
        """Class probabilities: softmax rows (m, k); for one sigmoid output (m, 2) = [1 - p, p]."""
        if not self.is_classifier:
            raise TypeError("predict_proba needs a classification loss; this model uses 'mse'")
        p = self.forward(X)
        if self.loss_name == "binary_crossentropy" and p.shape[1] == 1:
            return np.hstack([1 - p, p])
        return p

    def predict(self, X) -> np.ndarray:
        """Class ids by arg-max (softmax) or threshold 0.5 (sigmoid); outputs a for mse ((m,) if one output)."""
        a = self.forward(X)
        if self.loss_name == "categorical_crossentropy":
            return a.argmax(axis=1)
        if self.loss_name == "binary_crossentropy":
            labels = (a >= 0.5).astype(np.int64)
            return labels[:, 0] if labels.shape[1] == 1 else labels
        return a[:, 0] if a.shape[1] == 1 else a

    def accuracy(self, X, y) -> float:
        """Fraction of samples whose predicted class equals y (ids, one-hot rows or 0/1)."""
        if not self.is_classifier:
            raise TypeError("accuracy needs a classification loss; this model uses 'mse'")
        X = self._X(X)
        Y = self._Y(y, X.shape[0])
        pred = self.predict(X)
        if self.loss_name == "categorical_crossentropy":
            truth = Y if Y.ndim == 1 else Y.argmax(axis=1)
        else:
            truth = (Y >= 0.5).astype(np.int64)
            truth = truth[:, 0] if truth.shape[1] == 1 else truth
        return float(np.mean(pred == truth))

    def copy(self, dtype=None) -> "Sequential":
        """An independent model with the same layers and weights (cast to ``dtype`` if given)."""
        clone = Sequential([Dense(layer.n_in, layer.n_out, layer.activation) for layer in self.layers],
                           loss=self.loss_name, dtype=self.dtype if dtype is None else dtype, seed=self.seed,
                           l2=self.l2)
        clone.params[...] = self.params
        return clone
