"""The Model API: Dense (and Dropout) layers stacked in a Sequential model.

A Sequential owns one C++ network (``fastmlp._core.Network32`` / ``Network64``).
All of its parameters live in one contiguous buffer; each Dense layer's
``weights`` and ``bias`` are writable NumPy views into it, so reading or setting
them never copies the network. The math runs on the model's engine (the one
place that knows the device: ``_core.cpu_engine(net)`` or ``cuda_engine(net)``);
training runs entirely in C++, in the one training loop for every engine; Python
is called only at epoch ends (callbacks, progress bar).

Layer l computes  z = a_prev @ W + b,  a = g(z)  (samples are rows, W is (n_in, n_out)).
"""
from __future__ import annotations

import numbers
import re
import secrets
import threading
import time
import warnings

import numpy as np

from . import _core
from . import _cuda
from . import _persist
from . import io as _io
from . import optimizers as _optimizers
from . import schedules as _schedules
from ._validation import as_2d, as_c_array, as_dtype, as_int, as_real, as_seed, as_targets, check_finite, positive_float, positive_int
from ._weights import balanced_class_weights
from .callbacks import EarlyStopping, ProgressBar
from .layers import Dense, Dropout

LOSSES = ("binary_crossentropy", "categorical_crossentropy", "mse")
DivergenceError = _core.DivergenceError
# Rule for the vanishing-gradient warning: in the last epoch, the first layer's mean
# ||dW|| is below this fraction of the last layer's.
VANISHING_RATIO = 1e-3


class VanishingGradientWarning(RuntimeWarning):
    """The early layers' gradients are tiny next to the last layer's: units may be saturated."""


class History:
    """What fit() recorded, one entry per epoch.

    ``history`` is a Keras-style dict with "loss", "lr" and, when they apply, "accuracy",
    "val_loss", "val_accuracy"; ``loss`` is history["loss"]. ``grad_norms`` (epochs x
    layers, mean ||dW_l|| over the epoch's batches) when fit(record_gradients=True).
    """

    def __init__(self, result: dict, seconds: float):
        logs = result["epochs"]
        self.history = {}
        for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
            values = [float(entry[key]) for entry in logs]
            if values and not all(np.isnan(values)):
                self.history[key] = values
        self.history.setdefault("loss", [])
        self.loss = self.history["loss"]
        self.epochs = len(logs)
        self.seconds = seconds
        self.best_epoch = result["best_epoch"] if result["best_epoch"] >= 0 else None
        self.stopped_early = bool(result["stopped_early"])
        norms = [entry["grad_norms"] for entry in logs]
        self.grad_norms = np.array(norms) if norms and norms[0] else None

    def __repr__(self) -> str:
        last = f", final loss {self.loss[-1]:.6g}" if self.loss else ""
        return f"History({self.epochs} epochs{last})"


def _infer_loss(output_activation: str) -> str:
    return {"softmax": "categorical_crossentropy", "sigmoid": "binary_crossentropy"}.get(output_activation, "mse")


def _fold_dropout(layers: list):
    """The Dense layers in order, and each one's dropout rate (a Dropout's rate belongs to the
    Dense before it). Nothing is changed on the layers: the caller sets the rates once the
    model is built, so a failed Sequential(...) leaves no rate behind."""
    dense, rates = [], []
    for i, layer in enumerate(layers):
        if isinstance(layer, Dropout):
            if not dense or isinstance(layers[i - 1], Dropout):
                raise ValueError(f"layers[{i}]: a Dropout must follow a Dense layer")
            if i == len(layers) - 1:
                raise ValueError(f"layers[{i}]: a Dropout cannot be the last layer")
            rates[-1] = layer.rate
        elif isinstance(layer, Dense):
            if layer._net is not None:
                raise ValueError(f"layers[{i}] already belongs to another model; create a new Dense")
            dense.append(layer)
            rates.append(0.0)
        else:
            raise TypeError(f"layers[{i}] must be a Dense or Dropout layer, got {type(layer).__name__}")
    return dense, rates


class Sequential:
    """An MLP: layers applied in order, trained by backpropagation in C++.

    Parameters
    ----------
    layers : list of Dense (and Dropout) layers; consecutive Dense sizes must chain.
    loss : "binary_crossentropy" (needs a sigmoid output), "categorical_crossentropy"
        (needs a softmax output), "mse", or None to infer it from the output activation.
        J is the mean over the batch (see ``loss()``).
    dtype : "float32" (default) or "float64".
    seed : int or None; seeds weight initialisation, shuffling and dropout.
    l2 : lambda of the penalty (lambda / 2) * sum_l ||W_l||^2 on weights (not biases),
        added to J as is (not divided by the batch size or the sample weights).
    optimizer : "sgd" (default, learning rate 0.01), "adam", or an fm.SGD / fm.Adam object.
    device : "cpu" (default) or "cuda": where forward / loss / gradients / fit run (see ``to``).
    """

    def __init__(self, layers, loss: str | None = None, dtype="float32", seed: int | None = None, l2: float = 0.0,
                 optimizer="sgd", device: str = "cpu"):
        layers = list(layers)
        if not layers:
            raise ValueError("layers must hold at least one Dense layer, got an empty list")
        if _cuda.check_device(device) == "cuda":  # fail before the layers are bound to this model
            _cuda.require()
        dense, rates = _fold_dropout(layers)
        for i in range(1, len(dense)):
            if dense[i].n_in != dense[i - 1].n_out:
                raise ValueError(f"Dense layer {i} takes {dense[i].n_in} inputs but Dense layer {i - 1} gives "
                                 f"{dense[i - 1].n_out} outputs")
        if loss is None:
            loss = _infer_loss(dense[-1].activation)
        if not isinstance(loss, str) or loss not in LOSSES:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)}; got {loss!r}")
        self.dtype = as_dtype(dtype)
        l2 = positive_float(l2, "l2", allow_zero=True)
        self.seed = secrets.randbits(63) if seed is None else as_seed(seed)
        self.optimizer = _optimizers.get(optimizer)
        core = _core.Network32 if self.dtype == np.float32 else _core.Network64
        self._net = core([d._spec.with_dropout(rate) for d, rate in zip(dense, rates)], loss, l2)
        self._net.init_params(self.seed)
        self.layers = layers
        self.dense_layers = dense
        for i, (layer, rate) in enumerate(zip(dense, rates)):
            layer._net, layer._index, layer.dropout = self._net, i, rate
        self.loss_name = loss
        self._epochs_seen = 0
        self._device, self._engine = None, None
        self.to(device)

    # --- shape facts ---
    @property
    def n_features_in(self) -> int:
        return self.dense_layers[0].n_in

    @property
    def n_outputs(self) -> int:
        return self.dense_layers[-1].n_out

    @property
    def num_params(self) -> int:
        """Total weights and biases: sum over Dense layers of n_in * n_out + n_out."""
        return int(self._net.num_params)

    @property
    def params(self) -> np.ndarray:
        """The one flat parameter buffer [W1, b1, W2, b2, ...], a writable view."""
        return self._net.params

    @property
    def is_classifier(self) -> bool:
        return self.loss_name != "mse"

    @property
    def epochs_trained(self) -> int:
        """Epochs trained so far (schedules and the default shuffling seed continue from here)."""
        return self._epochs_seen

    @epochs_trained.setter
    def epochs_trained(self, value: int) -> None:
        self._epochs_seen = positive_int(value, "epochs_trained") if value else 0

    @property
    def l2(self) -> float:
        """lambda of the L2 penalty (lambda / 2) sum ||W||^2; settable."""
        return float(self._net.l2)

    @l2.setter
    def l2(self, value: float) -> None:
        self._net.l2 = positive_float(value, "l2", allow_zero=True)

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential([{inner}], loss={self.loss_name!r}, dtype={self.dtype.name!r})"

    # --- conversions ---
    def _X(self, X, name: str = "X") -> np.ndarray:
        # Fast path (single-sample latency): already exactly what the core maps without a copy.
        if (type(X) is np.ndarray and X.dtype == self.dtype and X.ndim == 2 and X.flags.c_contiguous
                and X.flags.aligned and X.shape[0] > 0 and X.shape[1] == self.n_features_in):
            return X
        return as_2d(X, name, self.dtype, self.n_features_in)

    def _Y(self, y, n_samples: int, name: str = "y") -> np.ndarray:
        return as_targets(y, name, self.loss_name, self.n_outputs, n_samples, self.dtype)

    def _class_ids(self, Y: np.ndarray) -> np.ndarray:
        if Y.ndim == 1:
            return Y
        if Y.shape[1] == 1:
            return (Y[:, 0] >= 0.5).astype(np.int64)
        if self.loss_name == "categorical_crossentropy":
            return Y.argmax(axis=1)
        raise ValueError("class_weight needs single-label targets; this y has several sigmoid outputs")

    def _weights(self, sample_weight, class_weight, Y: np.ndarray):
        """Per-sample weights (sample_weight times class_weight), or None."""
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            if w.shape != (Y.shape[0],):
                raise ValueError(f"sample_weight must have shape ({Y.shape[0]},), got {w.shape}")
            check_finite(w, "sample_weight")
            if (w < 0).any():
                raise ValueError("sample_weight must be >= 0")
        if class_weight is not None:
            if not self.is_classifier:
                raise ValueError("class_weight needs a classification loss; this model uses 'mse'")
            ids = self._class_ids(Y)
            n_classes = 2 if self.n_outputs == 1 else self.n_outputs
            if isinstance(class_weight, str):
                if class_weight != "balanced":
                    raise ValueError(f"class_weight must be a dict or 'balanced', got {class_weight!r}")
                table = balanced_class_weights(ids, n_classes)
            elif isinstance(class_weight, dict):
                table = np.ones(n_classes)
                for c, cw in class_weight.items():
                    if isinstance(c, bool) or not isinstance(c, numbers.Integral):
                        raise TypeError(f"class_weight keys must be integer class ids, got {c!r}")
                    if not (0 <= int(c) < n_classes):
                        raise ValueError(f"class_weight has class {c!r} outside [0, {n_classes})")
                    table[int(c)] = positive_float(cw, f"class_weight[{c!r}]", allow_zero=True)
            else:
                raise TypeError(f"class_weight must be a dict or 'balanced', got {type(class_weight).__name__}")
            cw = table[ids]
            w = cw if w is None else w * cw
        if w is None:
            return None
        if not w.sum() > 0:
            raise ValueError("sample weights sum to 0: no sample would count")
        return as_c_array(w, self.dtype)  # C-contiguous and aligned, as the core maps it

    # --- the math ---
    def forward(self, X) -> np.ndarray:
        """The last layer's activations a_L, shape (m, n_outputs) (dropout off)."""
        return self._engine.forward(self._X(X))

    def loss(self, X, y, sample_weight=None) -> float:
        """J = (weighted) mean over the batch of the loss + (l2 / 2) sum ||W||^2.

        binary_crossentropy: mean over samples and outputs of -(y ln p + (1-y) ln(1-p));
        categorical_crossentropy: mean over samples of -sum_k y_k ln p_k;
        mse: mean over samples and outputs of (a - y)^2.
        With sample weights w_i the mean is sum_i w_i l_i / sum_i w_i.
        """
        X = self._X(X)
        Y = self._Y(y, X.shape[0])
        return self._engine.objective(X, Y, self._weights(sample_weight, None, Y))

    def gradients(self, X, y, sample_weight=None) -> list:
        """Backprop: [(dJ/dW, dJ/db), ...] per Dense layer, copies with the shapes of weights and bias."""
        X = self._X(X)
        Y = self._Y(y, X.shape[0])
        self._engine.gradients(X, Y, self._weights(sample_weight, None, Y))  # into the host gradient buffer
        return [(self._net.grad_weight(i).copy(), self._net.grad_bias(i).copy())
                for i in range(len(self.dense_layers))]

    def trace(self, X, y=None) -> list:
        """Per Dense layer (z, a): z = a_prev W + b, a = g(z); with y also delta = dJ/dz: (z, a, delta)."""
        X = self._X(X)
        Y = None if y is None else self._Y(y, X.shape[0])
        return [tuple(t) for t in self._net.trace(X, Y)]

    def fit(self, X, y, epochs: int = 100, batch_size: int | None = None, learning_rate: float | None = None,
            tol: float = 0.0, shuffle: bool = True, seed: int | None = None, verbose: bool = False,
            callback=None, optimizer=None, schedule=None, validation_data=None, validation_split: float = 0.0,
            early_stopping: EarlyStopping | None = None, sample_weight=None, class_weight=None,
            record_gradients: bool = False) -> History:
        """Train by mini-batch gradient descent in C++, continuing from the current weights.

        batch_size=None uses the whole data set per step (the lecture's gradient descent).
        Each epoch is one pass over the data, in a seeded random order when ``shuffle``.
        learning_rate, when given, sets the optimizer's learning rate. ``optimizer``
        replaces the model's (state is kept across fit calls with the same optimizer).
        Stops after ``epochs`` epochs, when the epoch loss changes by less than ``tol``
        (|J_k - J_(k-1)| < tol; tol=0 never stops early), by ``early_stopping``, or when
        ``callback(epoch, logs)`` returns False. Ctrl-C stops at the next mini-batch
        boundary and raises KeyboardInterrupt; the model keeps the weights of the last step.
        ``validation_split`` holds out the last fraction of X, y (before shuffling).
        ``verbose`` shows a tqdm progress bar. Returns a History.
        """
        X = self._X(X)
        Y = self._Y(y, X.shape[0])
        # The options as the C++ loop takes them; their ranges are checked there, once.
        options = _core.FitOptions()
        options.epochs = as_int(epochs, "epochs")
        if batch_size is not None:
            options.batch_size = as_int(batch_size, "batch_size")
        options.tol = as_real(tol, "tol")
        options.shuffle = bool(shuffle)
        options.epoch_offset = self._epochs_seen
        options.schedule = _schedules.get(schedule)._spec
        options.record_grad_norms = bool(record_gradients)
        # Check everything before changing the model: a rejected call leaves it as it was.
        new_optimizer = _optimizers.get(optimizer) if optimizer is not None else None
        if learning_rate is not None:
            spec = (new_optimizer or self.optimizer)._copy_spec()
            spec.learning_rate = as_real(learning_rate, "learning_rate")
            _core.validate_optimizer(spec, float32=self.dtype == np.float32)
            learning_rate = spec.learning_rate
        W = self._weights(sample_weight, None, Y)  # checked against all of y; class weights come after the split

        X_val = Y_val = None
        if validation_data is not None:
            if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                raise TypeError("validation_data must be a tuple (X_val, y_val)")
            X_val = self._X(validation_data[0], "X_val")
            Y_val = self._Y(validation_data[1], X_val.shape[0], "y_val")
        elif validation_split:
            split = positive_float(validation_split, "validation_split")
            if split >= 1:
                raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
            n_val = int(round(X.shape[0] * split))
            if n_val < 1 or n_val >= X.shape[0]:
                raise ValueError(f"validation_split={validation_split} leaves {n_val} of {X.shape[0]} samples "
                                 "for validation; need at least 1 on each side")
            n_train = X.shape[0] - n_val
            X, X_val, Y, Y_val = X[:n_train], X[n_train:], Y[:n_train], Y[n_train:]  # views, no copies
            W = None if W is None else W[:n_train]
        if class_weight is not None:  # "balanced" counts the classes of the training part only
            W = self._weights(W, class_weight, Y)
        if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
            raise TypeError("early_stopping must be an fm.EarlyStopping")
        if early_stopping is not None:
            options.early_stopping = early_stopping.spec(X_val is not None)
        options.seed = as_seed(self.seed + self._epochs_seen if seed is None else seed)  # default: a new order per call
        _core.validate_fit_options(options)
        if callback is not None and not callable(callback):
            raise TypeError("callback must be callable as callback(epoch, logs)")
        if new_optimizer is not None:
            self.optimizer = new_optimizer
        if learning_rate is not None:
            self.optimizer.learning_rate = learning_rate

        bar = ProgressBar(epochs) if verbose else None

        def on_epoch(raw: dict):
            # Only the keys that apply: accuracy for classifiers, val_* when validating.
            logs = {k: v for k, v in raw.items() if k not in ("epoch", "grad_norms") and v == v}
            if bar is not None:
                bar.update(logs)
            if callback is not None:
                # Only False stops (as in Keras); any other return value is ignored.
                answer = callback(int(raw["epoch"]), logs)
                return False if answer is False or answer is np.False_ else None
            return None

        start = time.perf_counter()
        try:
            result = self._engine.fit(self.optimizer._bind(self._engine), X, Y, W, X_val, Y_val, options,
                                      on_epoch if (bar or callback) else None,
                                      threading.current_thread() is threading.main_thread())
        except DivergenceError as e:
            # The epochs completed before the diverging one still count (schedules, default seeds).
            self._epochs_seen += e.epoch
            raise
        finally:
            if bar is not None:
                bar.close()
        self._epochs_seen += len(result["epochs"])
        if result["interrupted"]:
            raise KeyboardInterrupt("fit() interrupted; the model keeps the weights of the last completed step")
        history = History(result, time.perf_counter() - start)
        if history.grad_norms is not None and len(self.dense_layers) > 1:
            first, last = history.grad_norms[-1, 0], history.grad_norms[-1, -1]
            if last > 0 and first < VANISHING_RATIO * last:
                warnings.warn(f"vanishing gradients: in the last epoch the first layer's mean ||dW|| ({first:.3g}) is "
                              f"below {VANISHING_RATIO:g} x the last layer's ({last:.3g}); units may be saturated",
                              VanishingGradientWarning, stacklevel=2)
        return history

    # --- the device: the one place that chooses it ---
    @property
    def device(self) -> str:
        """Where forward / loss / gradients / fit run: "cpu" or "cuda"."""
        return self._device

    def to(self, device: str) -> "Sequential":
        """Run on ``device`` ("cpu" or "cuda") from now on; returns self.

        The host parameter buffer stays the truth: ``params`` and the layers' ``weights`` /
        ``bias`` views may be read and set as usual. On "cuda" the engine copies them to the
        GPU before a call when they changed since its last copy, and back after each fit.
        ``trace`` runs on the CPU. The optimizer state on a new device starts fresh and
        stays there. RuntimeError when CUDA is not available.
        """
        device = _cuda.check_device(device)
        if device != self._device:
            self._engine = _cuda.engine(self._net) if device == "cuda" else _core.cpu_engine(self._net)
            self._device = device
        return self

    def partial_fit(self, X, y, **kwargs) -> History:
        """One epoch over X, y (fit with epochs=1), keeping the weights and the optimizer state."""
        if "epochs" in kwargs:
            raise TypeError("partial_fit runs exactly one epoch; use fit(epochs=...) for more")
        return self.fit(X, y, epochs=1, **kwargs)

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
            return float(np.mean(pred == truth))
        truth = (Y >= 0.5).astype(np.int64)
        truth = truth[:, 0] if truth.shape[1] == 1 else truth
        return float(np.mean(pred == truth)) if truth.ndim == 1 else float(np.mean((pred == truth).all(axis=1)))

    # --- persistence: fastmlp.io is the file format, _persist what a Sequential keeps in it ---
    def save(self, path) -> None:
        """Write the model to ``path`` (safetensors format, atomic: the old file survives a failed save)."""
        _io.write(path, self._net, _persist.training_metadata(self.seed, self.optimizer, self._epochs_seen))

    def to_bytes(self) -> bytes:
        """The bytes ``save`` writes (pickling uses them too)."""
        return _io.encode(self._net, _persist.training_metadata(self.seed, self.optimizer, self._epochs_seen))

    @classmethod
    def load(cls, path) -> "Sequential":
        """The model ``save`` (or C++ ``save_network``) wrote to ``path``. Nothing in the file is
        executed; anything but a valid model file raises ValueError."""
        return cls._from_file(*_io.read(path))

    @classmethod
    def from_bytes(cls, data) -> "Sequential":
        """The model in ``data``, the bytes of a model file (``to_bytes``)."""
        return cls._from_file(*_io.decode(data))

    @classmethod
    def _from_file(cls, net, metadata: dict) -> "Sequential":
        kwargs, epochs = _persist.model_config(metadata)
        model = cls(**kwargs)
        model.params[...] = net.params  # the same dtype: a bitwise copy
        model._epochs_seen = epochs
        return model

    def __reduce__(self):
        return (Sequential.from_bytes, (self.to_bytes(),))

    def copy(self, dtype=None) -> "Sequential":
        """An independent model with the same layers, weights, optimizer settings (fresh state) and
        epoch count (cast to ``dtype`` if given)."""
        layers = []
        for layer in self.layers:
            if isinstance(layer, Dropout):
                layers.append(Dropout(layer.rate))
            else:
                layers.append(Dense(layer.n_in, layer.n_out, layer.activation, init=layer.init, alpha=layer.alpha))
        optimizer = type(self.optimizer)(**{k: v for k, v in self.optimizer.get_config().items() if k != "name"})
        clone = Sequential(layers, loss=self.loss_name, dtype=self.dtype if dtype is None else dtype, seed=self.seed,
                           l2=self.l2, optimizer=optimizer)
        clone.params[...] = self.params
        clone._epochs_seen = self._epochs_seen  # schedules and default shuffling continue alike
        return clone.to(self.device)
