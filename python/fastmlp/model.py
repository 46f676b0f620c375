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
import secrets
import threading
import time
import warnings

import numpy as np

from . import _core, _cuda, _persist
from . import data as _data
from . import distributed as _distributed
from . import io as _io
from . import optimizers as _optimizers
from . import schedules as _schedules
from ._validation import (
    as_2d,
    as_c_array,
    as_dtype,
    as_int,
    as_real,
    as_seed,
    as_targets,
    check_finite,
    positive_float,
    positive_int,
)
from ._weights import balanced_class_weights, balanced_from_counts
from .callbacks import Callback, EarlyStopping, ProgressBar, ReduceLROnPlateau
from .layers import NORMALIZATIONS, Dense, Dropout, _Normalization

# The canonical loss names (the C++ core's; aliases such as "sparse_categorical_crossentropy",
# "mean_squared_error", "mean_absolute_error" are accepted too).
LOSSES = tuple(_core.LOSSES)
CLASSIFICATION_LOSSES = ("binary_crossentropy", "categorical_crossentropy")
# What a first try gets (Keras's choice): Adam (learning rate 1e-3) on mini-batches of 32.
# The lecture's full-batch gradient descent: fit(..., batch_size=None) with optimizer="sgd".
DEFAULT_OPTIMIZER = "adam"
DEFAULT_BATCH_SIZE = 32


class OneClassValidationWarning(UserWarning):
    """The validation set holds a single class: its accuracy says little."""


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

    def _repr_html_(self) -> str:
        """Jupyter: epochs, time, and the first / last / best value of each metric."""
        from ._html import history_html

        return history_html(self)


def _infer_loss(output_activation: str) -> str:
    return {"softmax": "categorical_crossentropy", "sigmoid": "binary_crossentropy"}.get(output_activation, "mse")


def _fold_dropout(layers: list):
    """The Dense layers in order, each one's dropout rate and normalization layer (a Dropout or
    a BatchNormalization / LayerNormalization belongs to the Dense before it, in the order Dense,
    normalization, Dropout). Nothing is changed on the layers: the caller binds them once the
    model is built, so a failed Sequential(...) leaves nothing behind."""
    dense, rates, norms = [], [], []
    for i, layer in enumerate(layers):
        if isinstance(layer, Dropout):
            if not dense or isinstance(layers[i - 1], Dropout):
                raise ValueError(f"layers[{i}]: a Dropout must follow a Dense layer (or its normalization)")
            if i == len(layers) - 1:
                raise ValueError(f"layers[{i}]: a Dropout cannot be the last layer")
            rates[-1] = layer.rate
        elif isinstance(layer, _Normalization):
            name = type(layer).__name__
            if not dense or not isinstance(layers[i - 1], Dense):
                raise ValueError(
                    f"layers[{i}]: a {name} must follow a Dense layer (Dense, {name}, Dropout; to scale the "
                    "inputs use a StandardScaler)"
                )
            if i == len(layers) - 1:
                raise ValueError(f"layers[{i}]: a {name} cannot be the last layer (the output is the loss's)")
            if layer._net is not None or getattr(layer, "_owner", None) is not None:
                raise ValueError(f"layers[{i}] already belongs to another model; create a new {name}")
            norms[-1] = layer
        elif isinstance(layer, Dense):
            if layer._net is not None or getattr(layer, "_owner", None) is not None:
                raise ValueError(f"layers[{i}] already belongs to another model; create a new Dense")
            dense.append(layer)
            rates.append(0.0)
            norms.append(None)
        else:
            raise TypeError(
                f"layers[{i}] must be a Dense, Dropout, BatchNormalization or LayerNormalization layer, "
                f"got {type(layer).__name__}"
            )
    return dense, rates, norms


def _norm_config(layer) -> dict:
    """The constructor arguments of a normalization layer."""
    return {"epsilon": layer.epsilon, **({"momentum": layer.momentum} if layer.kind == "batch" else {})}


def _column_names(X):
    """A DataFrame's column names as strings, or None for anything else."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "iloc"):
        return None
    return [str(c) for c in columns]


def _label_array(y):
    """y as a 1-D array when it holds labels that are not numbers (strings, categories,
    objects), else None (class ids, one-hot rows, 0/1 targets go to the core as they are)."""
    dtype = getattr(y, "dtype", None)
    if dtype is not None and str(dtype) == "category":  # pandas Categorical / Series
        arr = np.asarray(y, dtype=object)
    else:
        try:
            arr = np.asarray(y)
        except Exception:
            return None
    if arr.ndim != 1 or arr.dtype.kind not in "OUS":
        return None
    if arr.dtype.kind == "O":
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in arr[:1000]):
            return None  # object arrays of class ids stay ids
        if any(v is None or (isinstance(v, float) and v != v) for v in arr):
            raise ValueError("y holds missing labels (None or NaN)")
        arr = arr.astype(str) if all(isinstance(v, str) for v in arr) else arr
    return arr


def _split_rows(class_ids, n: int, split: float, seed: int):
    """Rows (train, val) for validation_split: round(n * split) validation rows drawn at random
    (seeded); with class_ids, each class gives its share (largest remainders), so the
    validation set keeps the class proportions. Both sorted (the data's order is kept)."""
    n_val = int(round(n * split))
    if n_val < 1 or n_val >= n:
        raise ValueError(
            f"validation_split={split} leaves {n_val} of {n} samples for validation; need at least 1 on each side"
        )
    rng = np.random.default_rng(seed)
    if class_ids is None:
        val = rng.permutation(n)[:n_val]
    else:
        classes, inverse, counts = np.unique(class_ids, return_inverse=True, return_counts=True)
        share = counts * n_val / n
        take = np.floor(share).astype(np.int64)
        order = np.argsort(-(share - take), kind="stable")  # largest remainders get the rest
        take[order[: n_val - take.sum()]] += 1
        take = np.minimum(take, counts - (counts > 1))  # never a class's last sample
        val = np.concatenate([rng.permutation(np.flatnonzero(inverse == c))[: take[c]] for c in range(len(classes))])
        if len(val) == 0:
            val = rng.permutation(n)[:n_val]
    mask = np.zeros(n, dtype=bool)
    mask[val] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)


class Sequential:
    """An MLP: layers applied in order, trained by backpropagation in C++.

    Parameters
    ----------
    layers : list of Dense (and Dropout) layers; consecutive Dense sizes must chain.
    loss : "binary_crossentropy" (needs a sigmoid output), "categorical_crossentropy"
        (needs a softmax output; alias "sparse_categorical_crossentropy": y may be class ids,
        one-hot rows, or any labels such as strings), "mse", "mae", "huber" (delta 1), or None
        to infer it from the output activation. J is the mean over the batch (see ``loss()``).
    dtype : "float32" (default) or "float64".
    seed : int or None; seeds weight initialisation, shuffling, validation splits and dropout.
    l2 : lambda of the penalty (lambda / 2) * sum_l ||W_l||^2 on weights (not biases),
        added to J as is (not divided by the batch size or the sample weights).
    optimizer : "adam" (default, learning rate 1e-3), "sgd" (learning rate 0.01), "rmsprop",
        "adagrad", "adamw", or an fm.SGD / fm.Adam / fm.RMSprop / fm.Adagrad object.
    device : "cpu" (default) or "cuda": where forward / loss / gradients / fit run (see ``to``).

    The first Dense layer may leave its input size open (``Dense(units)``): the model is then
    built by its first ``fit`` (or ``build(n_features)``).
    """

    def __init__(
        self,
        layers,
        loss: str | None = None,
        dtype="float32",
        seed: int | None = None,
        l2: float = 0.0,
        optimizer=DEFAULT_OPTIMIZER,
        device: str = "cpu",
    ):
        layers = list(layers)
        if not layers:
            raise ValueError("layers must hold at least one Dense layer, got an empty list")
        if _cuda.check_device(device) == "cuda":  # fail before the layers are bound to this model
            _cuda.require()
        dense, rates, norms = _fold_dropout(layers)
        for i in range(1, len(dense)):
            if dense[i].n_in is None:
                dense[i]._set_n_in(dense[i - 1].n_out)
            elif dense[i].n_in != dense[i - 1].n_out:
                raise ValueError(
                    f"Dense layer {i} takes {dense[i].n_in} inputs but Dense layer {i - 1} gives "
                    f"{dense[i - 1].n_out} outputs"
                )
        if loss is None:
            loss = _infer_loss(dense[-1].activation)
        if not isinstance(loss, str):
            raise TypeError(f"loss must be a string, got {type(loss).__name__}")
        try:
            loss = _core.loss_name(loss)
        except ValueError:
            raise ValueError(f"loss must be one of {', '.join(LOSSES)} (or an alias); got {loss!r}") from None
        self.dtype = as_dtype(dtype)
        self._l2 = positive_float(l2, "l2", allow_zero=True)
        self.seed = secrets.randbits(63) if seed is None else as_seed(seed)
        self.optimizer = _optimizers.get(optimizer)
        self.layers = layers
        self.dense_layers = dense
        self._rates = rates
        self._norms = norms
        self.loss_name = loss
        self._epochs_seen = 0
        self._device, self._engine, self._net = None, None, None
        self._comm = None  # the communicator of the latest data-parallel fit (rank 0 alone saves)
        self._label_classes = None  # the labels of y when they are not class ids (strings, ...)
        self.feature_names_in_ = None  # a DataFrame's column names, from the first fit
        self.stop_training = False
        for layer in dense + [n for n in norms if n is not None]:
            layer._owner = self  # claimed now, bound to the network when it is built
        self._pending_device = _cuda.check_device(device)
        if dense[0].n_in is not None:
            self._build()

    def build(self, n_features: int) -> Sequential:
        """Create the network for ``n_features`` inputs (Dense(units) as first layer); fit does it
        on its own. Returns self."""
        n_features = as_int(n_features, "n_features")
        if self._net is not None:
            if n_features != self.n_features_in:
                raise ValueError(f"this model is built for {self.n_features_in} features, got {n_features}")
            return self
        self.dense_layers[0]._set_n_in(n_features)
        self._build()
        return self

    def _build(self) -> None:
        dense, rates, norms = self.dense_layers, self._rates, self._norms
        core = _core.Network32 if self.dtype == np.float32 else _core.Network64
        specs = [d._spec.with_dropout(rate) for d, rate in zip(dense, rates)]
        specs = [s if n is None else s.with_norm(n.kind, n.epsilon, n._momentum) for s, n in zip(specs, norms)]
        net = core(specs, self.loss_name, self._l2)
        net.init_params(self.seed)
        self._net = net
        for i, (layer, rate, norm) in enumerate(zip(dense, rates, norms)):
            layer._net, layer._index, layer.dropout = net, i, rate
            if norm is not None:
                norm._net, norm._index, norm.units = net, i, layer.n_out
        self.to(self._pending_device)

    @property
    def built(self) -> bool:
        """Whether the network exists (its input size is known)."""
        return self._net is not None

    def _require_built(self):
        if self._net is None:
            raise RuntimeError(
                "this model is not built yet: its first Dense layer has no input size; call "
                "fit(X, y) or build(n_features) first, or give Dense(units, input_dim=...)"
            )
        return self._net

    # --- shape facts ---
    @property
    def n_features_in(self) -> int | None:
        return self.dense_layers[0].n_in

    @property
    def n_outputs(self) -> int:
        return self.dense_layers[-1].n_out

    @property
    def num_params(self) -> int:
        """Total weights and biases: sum over Dense layers of n_in * n_out + n_out."""
        return int(self._require_built().num_params)

    @property
    def params(self) -> np.ndarray:
        """The one flat parameter buffer [W1, b1, W2, b2, ...], a writable view."""
        return self._require_built().params

    @property
    def is_classifier(self) -> bool:
        return self.loss_name in CLASSIFICATION_LOSSES

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
        return float(self._net.l2) if self._net is not None else self._l2

    @l2.setter
    def l2(self, value: float) -> None:
        self._l2 = positive_float(value, "l2", allow_zero=True)
        if self._net is not None:
            self._net.l2 = self._l2

    def __repr__(self) -> str:
        inner = ", ".join(repr(layer) for layer in self.layers)
        return f"Sequential([{inner}], loss={self.loss_name!r}, dtype={self.dtype.name!r})"

    # --- conversions ---
    def _X(self, X, name: str = "X") -> np.ndarray:
        # Fast path (single-sample latency): already exactly what the core maps without a copy.
        if self._mappable(X) and X.ndim == 2 and X.shape[0] > 0 and X.shape[1] == self.n_features_in:
            return X
        self._require_built()
        self._check_columns(X, name)
        return as_2d(X, name, self.dtype, self.n_features_in)

    def _mappable(self, X) -> bool:
        """An ndarray the core maps as it is: the model's dtype, C-contiguous and aligned (and writeable)."""
        return type(X) is np.ndarray and X.dtype is self.dtype and X.flags.carray

    def _check_columns(self, X, name: str) -> None:
        """A DataFrame's columns must be those of the first fit, in the same order."""
        columns = _column_names(X)
        if columns is None or self.feature_names_in_ is None:
            return
        if list(columns) != list(self.feature_names_in_):
            expected, got = list(self.feature_names_in_), list(columns)
            missing = [c for c in expected if c not in got]
            extra = [c for c in got if c not in expected]
            detail = f"missing {missing}, unexpected {extra}" if missing or extra else "same names in another order"
            raise ValueError(
                f"{name} has columns {got} but the model was fitted on {expected} ({detail}); "
                f"select them as X[{expected!r}]"
            )

    def _Y(self, y, n_samples: int, name: str = "y") -> np.ndarray:
        if self._label_classes is not None and self.is_classifier:
            y = self._encode(y, name)
        return as_targets(y, name, self.loss_name, self.n_outputs, n_samples, self.dtype)

    def _n_labels(self) -> int:
        """How many labels a classifier takes: two for one sigmoid output, one per output otherwise
        (multi-label sigmoid outputs and regression: none)."""
        if self.loss_name == "binary_crossentropy":
            return 2 if self.n_outputs == 1 else 0
        return self.n_outputs if self.is_classifier else 0

    def _learn_labels(self, y) -> None:
        """String / categorical / object labels of a classifier: remember the classes (sorted),
        so that y is encoded as class ids and predict() returns the labels."""
        if not self.is_classifier or self._label_classes is not None:
            return
        arr = _label_array(y)
        if arr is None:
            return
        classes = np.unique(arr)
        n_classes = self._n_labels()
        if n_classes == 0:
            raise ValueError(
                f"labels (strings, categories) need one output for binary_crossentropy; this model has {self.n_outputs}"
            )
        if len(classes) > n_classes:
            raise ValueError(
                f"y holds {len(classes)} classes {list(classes)[:10]} but the model has {n_classes} "
                f"(make the output layer Dense(..., {len(classes)}, 'softmax'))"
            )
        if len(classes) < n_classes:
            raise ValueError(
                f"y holds {len(classes)} classes {list(classes)} but the model predicts {n_classes}: "
                "every class must appear in the first fit's labels"
            )
        self._label_classes = classes

    def _encode(self, y, name: str):
        arr = _label_array(y)
        if arr is None:  # already class ids / one-hot rows
            return y
        ids = np.searchsorted(self._label_classes, arr)
        ids = np.clip(ids, 0, len(self._label_classes) - 1)
        unknown = self._label_classes[ids] != arr
        if unknown.any():
            raise ValueError(
                f"{name} holds labels the model does not know: {sorted(set(arr[unknown].tolist()))[:10]} "
                f"(its classes: {list(self._label_classes)})"
            )
        return ids.astype(np.int32) if self.loss_name == "categorical_crossentropy" else ids.astype(self.dtype)

    @property
    def classes_(self) -> np.ndarray:
        """The classes predict() returns: the labels of the first fit (strings, categories, ...),
        else the class ids 0 .. n_classes - 1."""
        if not self.is_classifier:
            raise AttributeError(f"classes_ exists for classification losses only; this model uses {self.loss_name!r}")
        if self._label_classes is not None:
            return self._label_classes
        return np.arange(2 if self.n_outputs == 1 else self.n_outputs)

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
                raise ValueError(f"class_weight needs a classification loss; this model uses {self.loss_name!r}")
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
    def forward(self, X, comm=None, out=None) -> np.ndarray:
        """The last layer's activations a_L, shape (m, n_outputs) (dropout off).

        With ``comm`` (every process passing the same X) each process computes its share of the
        rows and every process gets all of them (MPI Allgatherv). X may be a data source
        (fastmlp.data): chunk by chunk into ``out`` (e.g. a memmap) or a new array."""
        if comm is None and self._engine is not None and self._mappable(X):
            # Batch-1 latency: an array the core maps as it is goes straight there (~0.3 us of Python);
            # the core checks its shape (2-D, rows, features) and values with the messages of _X.
            return self._engine.forward(X)
        if isinstance(X, _data.Source):
            return self._forward_source(X, out)
        X = self._X(X)
        if comm is None or _distributed.check_comm(comm).Get_size() == 1:
            return self._engine.forward(X)
        start, stop, counts = _distributed.share(X.shape[0], comm)
        mine = self._engine.forward(X[start:stop]) if stop > start else np.empty((0, self.n_outputs), self.dtype)
        out = np.empty((X.shape[0], self.n_outputs), self.dtype)
        comm.Allgatherv(mine, [out, [c * self.n_outputs for c in counts]])
        return out

    def loss(self, X, y=None, sample_weight=None, comm=None) -> float:
        """J = (weighted) mean over the batch of the loss + (l2 / 2) sum ||W||^2.

        binary_crossentropy: mean over samples and outputs of -(y ln p + (1-y) ln(1-p));
        categorical_crossentropy: mean over samples of -sum_k y_k ln p_k;
        mse: mean over samples and outputs of (a - y)^2.
        With sample weights w_i the mean is sum_i w_i l_i / sum_i w_i.
        With ``comm`` (every process passing the same X, y) each process computes its share.
        """
        if isinstance(X, _data.Source):  # the weighted mean over the chunks
            sums = np.zeros(2)
            for Xc, Yc, Wc, _ in self._stream(X):
                w = len(Xc) if Wc is None else float(Wc.sum())
                sums += [w, w * self._engine.objective(Xc, Yc, Wc)]
            return float(sums[1] / sums[0])
        X = self._X(X)
        Y = self._Y(y, X.shape[0])
        W = self._weights(sample_weight, None, Y)
        if comm is None or _distributed.check_comm(comm).Get_size() == 1:
            return self._engine.objective(X, Y, W)
        start, stop, _ = _distributed.share(X.shape[0], comm)
        w = (stop - start if W is None else float(W[start:stop].sum())) if stop > start else 0.0
        J = self._engine.objective(X[start:stop], Y[start:stop], None if W is None else W[start:stop]) if w else 0.0
        total = comm.allreduce(np.array([w, w * J]))
        return float(total[1] / total[0])

    def gradients(self, X, y, sample_weight=None) -> list:
        """Backprop: [(dJ/dW, dJ/db), ...] per Dense layer, copies with the shapes of weights and bias."""
        X = self._X(X)
        Y = self._Y(y, X.shape[0])
        self._engine.gradients(X, Y, self._weights(sample_weight, None, Y))  # into the host gradient buffer
        return [(self._net.grad_weight(i).copy(), self._net.grad_bias(i).copy()) for i in range(len(self.dense_layers))]

    def trace(self, X, y=None) -> list:
        """Per Dense layer (z, a): z = a_prev W + b, a = g(z); with y also delta = dJ/dz: (z, a, delta)."""
        X = self._X(X)
        Y = None if y is None else self._Y(y, X.shape[0])
        return [tuple(t) for t in self._net.trace(X, Y)]

    def fit(
        self,
        X,
        y=None,
        epochs: int = 100,
        batch_size: int | None = DEFAULT_BATCH_SIZE,
        learning_rate: float | None = None,
        tol: float = 0.0,
        shuffle: bool = True,
        seed: int | None = None,
        verbose: bool = False,
        callback=None,
        optimizer=None,
        schedule=None,
        validation_data=None,
        validation_split: float = 0.0,
        early_stopping: EarlyStopping | None = None,
        sample_weight=None,
        class_weight=None,
        record_gradients: bool = False,
        callbacks=None,
        stratify: bool | None = None,
        comm=None,
        sharded: bool = False,
    ) -> History:
        """Train by mini-batch gradient descent in C++, continuing from the current weights.

        batch_size: 32 by default; None uses the whole data set per step (the lecture's
        full-batch gradient descent, with optimizer="sgd").
        Each epoch is one pass over the data, in a seeded random order when ``shuffle``.
        learning_rate, when given, sets the optimizer's learning rate. ``optimizer``
        replaces the model's (state is kept across fit calls with the same optimizer).
        Stops after ``epochs`` epochs, when the epoch loss changes by less than ``tol``
        (|J_k - J_(k-1)| < tol; tol=0 never stops early), by ``early_stopping``, or when
        a callback says so. Ctrl-C stops at the next mini-batch
        boundary and raises KeyboardInterrupt; the model keeps the weights of the last step.
        ``callbacks``: a list of fm.callbacks.Callback objects (EarlyStopping, ModelCheckpoint,
        CSVLogger, LambdaCallback, ReduceLROnPlateau, your own) and callables
        ``f(epoch, logs)`` that return False to stop; ``callback`` is one such callable.
        ``validation_split`` holds out that fraction of X, y, chosen at random (seeded by
        ``seed`` or the model's seed: the same rows every call) and, for classification
        (``stratify`` None or True), in each class's proportion. A warning says when a
        validation set holds a single class.
        y may hold labels of any kind for classification (strings, categories): ``classes_``.
        A DataFrame's column names are remembered and checked by later calls.
        ``verbose`` shows a tqdm progress bar. Returns a History.

        ``comm`` (an mpi4py communicator, e.g. MPI.COMM_WORLD) trains data-parallel over its
        processes, under ``mpiexec``: every process calls fit with the same model (same seed),
        options and, unless ``sharded``, the same data; see fastmlp.distributed for what the
        result equals. Only rank 0 shows progress and saves. With a chunked source and
        ``sharded=True`` each process reads its own share of it (``Source.shard``: every N-th shard
        file from its rank on); a validation source is split between the processes likewise.
        """
        if comm is not None:
            comm = _distributed.check_comm(comm)
        # With comm, a bad argument on any process is an error on every process (never a hang).
        with _distributed.together(comm):
            source = None
            if isinstance(X, _data.Source) or (y is None and not hasattr(X, "shape")):  # chunks (fastmlp.data)
                source, X, Y = self._source_placeholders(X, y, comm, sharded, validation_split)
            else:
                columns = _column_names(X)
                if self._net is None:
                    self.build(np.shape(X)[1] if np.ndim(X) == 2 else as_2d(X, "X", self.dtype).shape[1])
                if columns is not None and self.feature_names_in_ is None:
                    self.feature_names_in_ = np.asarray(columns, dtype=object)
                self._learn_labels(y)
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
            # callbacks: the loop's own rules (EarlyStopping, ReduceLROnPlateau) become options.
            py_callbacks, functions = [], []
            for i, cb in enumerate(list(callbacks) if callbacks is not None else []):
                if isinstance(cb, EarlyStopping):
                    if early_stopping is not None:
                        raise ValueError(
                            "two early stoppings: give EarlyStopping either in callbacks or as early_stopping"
                        )
                    early_stopping = cb
                elif isinstance(cb, ReduceLROnPlateau):
                    if schedule is not None:
                        raise ValueError("ReduceLROnPlateau in callbacks sets the schedule; do not pass schedule= too")
                    schedule = cb.schedule
                elif isinstance(cb, Callback):
                    py_callbacks.append(cb)
                elif callable(cb):
                    functions.append(cb)
                else:
                    raise TypeError(
                        f"callbacks[{i}] must be an fm.callbacks.Callback or a callable f(epoch, logs), "
                        f"got {type(cb).__name__}"
                    )
            if callback is not None:
                if not callable(callback):
                    raise TypeError("callback must be callable as callback(epoch, logs)")
                functions.append(callback)
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

            X_val = Y_val = val_source = None
            if isinstance(validation_data, _data.Source):
                val_source = validation_data
                if comm is not None and (val_source.chunk_count() or 0) >= comm.Get_size():
                    # each process evaluates its share and the loop sums (a source it cannot split:
                    # every process evaluates all of it, which gives the same means)
                    val_source = val_source.shard(comm.Get_rank(), comm.Get_size())
            elif validation_data is not None:
                if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
                    raise TypeError("validation_data must be a tuple (X_val, y_val)")
                X_val = self._X(validation_data[0], "X_val")
                Y_val = self._Y(validation_data[1], X_val.shape[0], "y_val")
            elif validation_split:
                split = positive_float(validation_split, "validation_split")
                if split >= 1:
                    raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
                if stratify is None:
                    stratify = self.is_classifier
                if stratify and not self.is_classifier:
                    raise ValueError(f"stratify=True needs a classification loss; this model uses {self.loss_name!r}")
                train, val = _split_rows(
                    self._class_ids(Y) if stratify else None,
                    X.shape[0],
                    split,
                    self.seed if seed is None else as_seed(seed),
                )
                X, X_val, Y, Y_val = X[train], X[val], Y[train], Y[val]
                W = None if W is None else W[train]
            if Y_val is not None and self.is_classifier:
                ids = np.unique(self._class_ids(Y_val))
                if len(ids) == 1:
                    label = ids[0].item() if self._label_classes is None else self._label_classes[ids[0]]
                    warnings.warn(
                        f"the validation set holds a single class ({label!r}): its accuracy says little; "
                        "use a larger validation_split or stratified validation data",
                        OneClassValidationWarning,
                        stacklevel=2,
                    )
            class_counts = None  # "balanced" on a source: one counting pass first
            if class_weight is not None and source is not None:
                class_counts = self._source_class_counts(source, class_weight)
            elif class_weight is not None:  # "balanced" counts the classes of the training part only
                W = self._weights(W, class_weight, Y)
            if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
                raise TypeError("early_stopping must be an fm.EarlyStopping")
            if early_stopping is not None:
                options.early_stopping = early_stopping.spec(X_val is not None or val_source is not None)
            options.seed = as_seed(
                self.seed + self._epochs_seen if seed is None else seed
            )  # default: a new order per call
            _core.validate_fit_options(options)
            if sharded and comm is None:
                raise ValueError("sharded=True needs comm (an mpi4py communicator)")
        collective = None
        if comm is not None:  # after the local checks passed everywhere: the same model, options, shapes?
            collective = self._agree_to_fit(
                comm, bool(sharded), X, Y, W, X_val, options, schedule, early_stopping, source
            )
            verbose = verbose and _distributed.is_root(comm)
        if class_counts is not None:  # sharded: every process counted its own chunks
            if comm is not None and sharded:
                class_counts = comm.allreduce(class_counts)
            class_weight = {c: float(v) for c, v in enumerate(balanced_from_counts(class_counts))}
        if new_optimizer is not None:
            self.optimizer = new_optimizer
        if learning_rate is not None:
            self.optimizer.learning_rate = learning_rate

        metrics = ["loss"] + (["accuracy"] if self.is_classifier else [])
        metrics += [f"val_{m}" for m in metrics] if X_val is not None else []
        params = {"epochs": options.epochs, "validation": X_val is not None, "metrics": metrics}
        for cb in py_callbacks:
            cb.set_model(self)
            cb.set_params(params)
        self.stop_training = False
        for cb in py_callbacks:
            cb.on_train_begin({})
        for cb in py_callbacks:
            cb.on_epoch_begin(0, {})
        bar = ProgressBar(epochs) if verbose else None

        def on_epoch(raw: dict):
            # Only the keys that apply: accuracy for classifiers, val_* when validating.
            logs = {k: v for k, v in raw.items() if k not in ("epoch", "grad_norms") and v == v}
            epoch = int(raw["epoch"])
            final_logs.clear()
            final_logs.update(logs)
            if bar is not None:
                bar.update(logs)
            go_on = True
            for f in functions:
                # Only False stops (as in Keras); any other return value is ignored.
                answer = f(epoch, logs)
                go_on = go_on and not (answer is False or answer is np.False_)
            for cb in py_callbacks:
                cb.on_epoch_end(epoch, logs)
            go_on = go_on and not self.stop_training
            if go_on and epoch + 1 < options.epochs:
                for cb in py_callbacks:
                    cb.on_epoch_begin(epoch + 1, {})
            return None if go_on else False

        start = time.perf_counter()
        final_logs = {}
        # the prefetch threads start with the first epoch (start_epoch) and are stopped in `finally`
        chunks = None if source is None else self._prefetcher(source, options, class_weight, options.shuffle)
        val_chunks = None if val_source is None else self._prefetcher(val_source, options, None, False)
        try:
            result = self._engine.fit(
                self.optimizer._bind(self._engine),
                X,
                Y,
                W,
                X_val,
                Y_val,
                options,
                on_epoch if (bar or functions or py_callbacks) else None,
                threading.current_thread() is threading.main_thread(),
                collective,
                chunks,
                val_chunks,
            )
        except DivergenceError as e:
            # The epochs completed before the diverging one still count (schedules, default seeds).
            self._epochs_seen += e.epoch
            raise
        finally:
            for prefetcher in (chunks, val_chunks):
                if prefetcher is not None:
                    prefetcher.close()
            if bar is not None:
                bar.close()
            for cb in py_callbacks:
                cb.on_train_end(final_logs)
        self._epochs_seen += len(result["epochs"])
        if result["interrupted"]:
            raise KeyboardInterrupt("fit() interrupted; the model keeps the weights of the last completed step")
        history = History(result, time.perf_counter() - start)
        if history.grad_norms is not None and len(self.dense_layers) > 1:
            first, last = history.grad_norms[-1, 0], history.grad_norms[-1, -1]
            if last > 0 and first < VANISHING_RATIO * last:
                warnings.warn(
                    f"vanishing gradients: in the last epoch the first layer's mean ||dW|| ({first:.3g}) is "
                    f"below {VANISHING_RATIO:g} x the last layer's ({last:.3g}); units may be saturated",
                    VanishingGradientWarning,
                    stacklevel=2,
                )
        return history

    # --- chunked data (fastmlp.data) ---
    def _source_placeholders(self, X, y, comm, sharded, validation_split):
        """fit on a source: the source (with comm and sharded, this process's share of its chunks),
        and the empty arrays the core takes in place of X, Y."""
        if y is not None:
            raise TypeError("with a data source (fastmlp.data), the targets come from the source: pass y=None")
        if validation_split:
            raise ValueError(
                "validation_split needs arrays; with a data source pass validation_data (arrays or another source)"
            )
        source = _data.as_source(X)
        if comm is not None and sharded:
            source = source.shard(comm.Get_rank(), comm.Get_size())
        if self._net is None:
            width = source.n_features or (source.first_width() if hasattr(source, "first_width") else None)
            self.build(as_int(width, "n_features"))
        if source.n_features is not None and source.n_features != self.n_features_in:
            raise ValueError(f"the source has {source.n_features} features but the model expects {self.n_features_in}")
        empty = np.empty((0, self.n_features_in), self.dtype)
        return source, empty, np.empty((0, self.n_outputs), self.dtype)

    def _convert_chunk(self, class_weight=None):
        def convert(X, y, w, name):
            X = self._X(X, "X")
            Y = self._Y(y, X.shape[0], "y")
            return X, Y, self._weights(w, class_weight, Y), name

        return convert

    def _prefetcher(self, source, options, class_weight, shuffle: bool, prefetch: int = 2):
        return _data.Prefetcher(
            source, self._convert_chunk(class_weight), options.seed, shuffle, prefetch, getattr(source, "mix", 1)
        )

    def _source_class_counts(self, source, class_weight):
        """class_weight="balanced" over a whole source: one pass counting the classes (None for a dict)."""
        if not isinstance(class_weight, str):
            return None
        n_classes = 2 if self.n_outputs == 1 else self.n_outputs
        counts = np.zeros(n_classes, dtype=np.int64)
        for _, Y, _, _ in _data.Prefetcher(source, self._convert_chunk(), 0, False):
            counts += np.bincount(self._class_ids(Y), minlength=n_classes)
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be a dict or 'balanced', got {class_weight!r}")
        return counts

    def _forward_source(self, source, out=None) -> np.ndarray:
        parts, row = [], 0
        for X, *_ in self._stream(source):
            a = self._engine.forward(X)
            if out is not None:
                if row + len(a) > len(out):
                    raise ValueError(f"out has {len(out)} rows; the source has more")
                out[row : row + len(a)] = a
            else:
                parts.append(a)
            row += len(a)
        return out[:row] if out is not None else np.concatenate(parts)

    def _stream(self, source):
        """The converted chunks of a source, in order (predict, evaluate)."""
        return iter(_data.Prefetcher(_data.as_source(source), self._convert_chunk(), 0, False))

    def _agree_to_fit(self, comm, sharded: bool, X, Y, W, X_val, options, schedule, early_stopping, source=None):
        """Data parallelism: every process must bring the same model, options and data shapes
        (and, unless sharded, the same rows): ValueError on every process otherwise. Returns the
        collective for the C++ loop; remembers comm (rank 0 alone saves). With a source, the rows
        per process are known chunk by chunk (the loop exchanges them)."""
        D = _distributed
        es = None if early_stopping is None else repr(early_stopping)
        what = {
            "model": D.digest(repr(self), self.l2, self.optimizer.get_config(), self._epochs_seen, self.params),
            "options": D.digest(
                options.epochs,
                options.batch_size,
                options.tol,
                options.shuffle,
                options.seed,
                repr(_schedules.get(schedule)),
                es,
                options.record_grad_norms,
                X_val is None,
            ),
            "sharded": sharded,
            "features": X.shape[1],
            "targets": (Y.dtype.str, Y.shape[1:]),
            "sample weights": W is None,
        }
        if source is not None:
            what["source"] = type(source).__name__
            if not sharded:
                what["rows"] = (source.n_rows, source.chunk_count())
        elif not sharded:  # the same rows: their count and a sample of them
            what["rows"] = X.shape[0]
            what["data"] = D.digest(X[:2], X[-2:], Y[:2], Y[-2:])
        D.agree(comm, what)
        self._comm = comm
        return D.collective(comm, 1 if source is not None else X.shape[0], sharded)

    # --- the device: the one place that chooses it ---
    @property
    def device(self) -> str:
        """Where forward / loss / gradients / fit run: "cpu" or "cuda"."""
        return self._device

    def to(self, device: str) -> Sequential:
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
    def predict_proba(self, X, comm=None) -> np.ndarray:
        """Class probabilities: softmax rows (m, k); for one sigmoid output (m, 2) = [1 - p, p]."""
        if not self.is_classifier:
            raise TypeError(f"predict_proba needs a classification loss; this model uses {self.loss_name!r}")
        p = self.forward(X, comm)
        if self.loss_name == "binary_crossentropy" and p.shape[1] == 1:
            return np.hstack([1 - p, p])
        return p

    def predict(self, X, comm=None) -> np.ndarray:
        """Class ids by arg-max (softmax) or threshold 0.5 (sigmoid); outputs a for mse ((m,) if one output)."""
        a = self.forward(X, comm)
        if self.loss_name == "categorical_crossentropy":
            ids = a.argmax(axis=1)
            return ids if self._label_classes is None else self._label_classes[ids]
        if self.loss_name == "binary_crossentropy":
            labels = (a >= 0.5).astype(np.int64)
            labels = labels[:, 0] if labels.shape[1] == 1 else labels
            return labels if self._label_classes is None else self._label_classes[labels]
        return a[:, 0] if a.shape[1] == 1 else a

    def accuracy(self, X, y=None, comm=None) -> float:
        """Fraction of samples whose predicted class equals y (ids, one-hot rows or 0/1). X may be
        a data source (fastmlp.data; y=None)."""
        if not self.is_classifier:
            raise TypeError(f"accuracy needs a classification loss; this model uses {self.loss_name!r}")
        if isinstance(X, _data.Source):
            hits = np.zeros(2)
            for Xc, Yc, _, _ in self._stream(X):
                hits += [len(Xc) * self._correct_share(self._engine.forward(Xc), Yc), len(Xc)]
            return float(hits[0] / hits[1])
        X = self._X(X)
        Y = self._Y(y, X.shape[0])
        return self._correct_share(self.forward(X, comm), Y)

    def _correct_share(self, a, Y) -> float:
        """The fraction of rows whose predicted class (from outputs a) matches Y."""
        if self.loss_name == "categorical_crossentropy":
            pred = a.argmax(axis=1)
        else:
            pred = (a >= 0.5).astype(np.int64)
            pred = pred[:, 0] if pred.shape[1] == 1 else pred
        if self.loss_name == "categorical_crossentropy":
            truth = Y if Y.ndim == 1 else Y.argmax(axis=1)
            return float(np.mean(pred == truth))
        truth = (Y >= 0.5).astype(np.int64)
        truth = truth[:, 0] if truth.shape[1] == 1 else truth
        return float(np.mean(pred == truth)) if truth.ndim == 1 else float(np.mean((pred == truth).all(axis=1)))

    # --- Keras-shaped conveniences ---
    def __call__(self, X) -> np.ndarray:
        """The output activations, as ``forward(X)`` (Keras's ``model(X)``)."""
        return self.forward(X)

    def __len__(self) -> int:
        """The number of layers (Dense and Dropout)."""
        return len(self.layers)

    def evaluate(self, X, y=None, sample_weight=None, return_dict: bool = False, comm=None):
        """The loss J (with the L2 term) and, for classifiers, the accuracy on X, y, as Keras:
        ``loss`` alone for regression, ``[loss, accuracy]`` for classification, or a dict
        {"loss": ..., "accuracy": ...} with ``return_dict=True``."""
        out = {"loss": self.loss(X, y, sample_weight=sample_weight, comm=comm)}
        if self.is_classifier:
            out["accuracy"] = self.accuracy(X, y, comm=comm)
        if return_dict:
            return out
        return out["loss"] if len(out) == 1 else list(out.values())

    def _weight_views(self) -> list:
        """(view, name) of every array get_weights() lists, in Keras's order: W, b per Dense layer;
        gamma, beta (, moving_mean, moving_variance) per normalization layer."""
        self._require_built()
        out = []
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Dense):
                out += [(layer.weights, f"W of layers[{i}]"), (layer.bias, f"b of layers[{i}]")]
            elif isinstance(layer, _Normalization):
                out += [(v, f"{k} of layers[{i}]") for v, k in zip(layer._weights(), layer._keys)]
        return out

    def get_weights(self) -> list:
        """[W1, b1, W2, b2, ...] per Dense layer (and gamma, beta, moving mean and variance of a
        normalization layer where it stands), copies (Keras's order)."""
        return [view.copy() for view, _ in self._weight_views()]

    def set_weights(self, weights) -> None:
        """Set every array from a list as get_weights() returns (checked first: a wrong list
        changes nothing)."""
        views = self._weight_views()
        weights = list(weights)
        if len(weights) != len(views):
            raise ValueError(
                f"weights must hold {len(views)} arrays (as get_weights() returns them), got {len(weights)}"
            )
        arrays = []
        for i, (view, name) in enumerate(views):
            arr = np.asarray(weights[i], dtype=self.dtype)
            if arr.shape != view.shape:
                raise ValueError(f"weights[{i}] ({name}) must have shape {view.shape}, got {arr.shape}")
            if not np.isfinite(arr).all():
                raise ValueError(f"weights[{i}] ({name}) contains NaN or infinity")
            if name.startswith("moving_variance") and (arr < 0).any():
                raise ValueError(f"weights[{i}] ({name}) holds a negative variance")
            arrays.append((view, arr))
        for view, arr in arrays:
            view[...] = arr

    def summary(self, print_fn=print) -> str:
        """A table of the layers: type, output shape, parameter count, activation; the totals.
        Printed with ``print_fn`` (None: not printed) and returned."""
        rows = [("Layer (type)", "Output shape", "Param #", "Activation")]
        for i, layer in enumerate(self.layers):
            if isinstance(layer, Dropout):
                prev = rows[-1][1]
                rows.append((f"dropout_{i} (Dropout {layer.rate:g})", prev, "0", ""))
            elif isinstance(layer, _Normalization):
                n = layer.num_params
                rows.append((f"norm_{i} ({type(layer).__name__})", rows[-1][1], "?" if n is None else f"{n:,}", ""))
            else:
                n = layer.num_params
                rows.append(
                    (f"dense_{i} (Dense)", f"(None, {layer.n_out})", "?" if n is None else f"{n:,}", layer.activation)
                )
        widths = [max(len(r[c]) for r in rows) for c in range(4)]
        line = "-" * (sum(widths) + 6)
        fmt = "  ".join("{:<%d}" % w for w in widths)
        total = sum(getattr(layer, "num_params", 0) or 0 for layer in self.layers)
        inputs = "?" if self.n_features_in is None else self.n_features_in
        text = "\n".join(
            [
                f'Model: "sequential" (inputs: {inputs}, loss: {self.loss_name}, dtype: {self.dtype.name}, '
                f"optimizer: {type(self.optimizer).__name__})",
                line,
                fmt.format(*rows[0]),
                line.replace("-", "="),
            ]
            + [fmt.format(*r) for r in rows[1:]]
            + [
                line.replace("-", "="),
                f"Total params: {total:,}" + ("" if self.built else " (not built: first layer's input unknown)"),
                line,
            ]
        )
        if print_fn is not None:
            print_fn(text)
        return text

    # --- persistence: fastmlp.io is the file format, _persist what a Sequential keeps in it ---
    def save(self, path) -> None:
        """Write the model to ``path`` (safetensors format, atomic: the old file survives a failed save).
        After a data-parallel fit only rank 0 writes (the weights are the same on every rank).
        Labels that a model file cannot hold exactly (e.g. Decimal objects) raise ValueError."""
        if not _distributed.is_root(self._comm):
            return
        _io.write(path, self._net, self._metadata())

    def to_bytes(self) -> bytes:
        """The bytes ``save`` writes (pickling uses them too)."""
        return _io.encode(self._net, self._metadata())

    def _metadata(self) -> dict:
        """What the file holds besides the network: the one definition for save, bytes and pickle."""
        return {
            **_persist.training_metadata(self.seed, self.optimizer, self._epochs_seen),
            **_persist.label_metadata(**self._extra_state()),
        }

    @classmethod
    def load(cls, path) -> Sequential:
        """The model ``save`` (or C++ ``save_network``) wrote to ``path``. Nothing in the file is
        executed; anything but a valid model file raises ValueError."""
        return cls._from_file(*_io.read(path))

    @classmethod
    def from_bytes(cls, data) -> Sequential:
        """The model in ``data``, the bytes of a model file (``to_bytes``)."""
        return cls._from_file(*_io.decode(data))

    @classmethod
    def _from_file(cls, net, metadata: dict) -> Sequential:
        kwargs, epochs = _persist.model_config(metadata)
        model = cls(**kwargs)
        model.params[...] = net.params  # the same dtype: a bitwise copy
        model._net.state[...] = net.state  # batch normalization's running statistics
        model._epochs_seen = epochs
        model.__setstate__(_persist.label_state(metadata, model._n_labels(), model.n_features_in))
        return model

    def __reduce__(self):
        # Everything is in the file's bytes; pickles of older versions carry _extra_state() as a
        # third item, which __setstate__ still applies.
        return (Sequential.from_bytes, (self.to_bytes(),))

    def _extra_state(self) -> dict:
        """The labels and column names (in the file through _persist.label_metadata; copy() passes
        them on as they are)."""
        return {"label_classes": self._label_classes, "feature_names_in_": self.feature_names_in_}

    def __setstate__(self, state: dict) -> None:
        self._label_classes = state.get("label_classes")
        self.feature_names_in_ = state.get("feature_names_in_")

    def copy(self, dtype=None) -> Sequential:
        """An independent model with the same layers, weights, optimizer settings (fresh state) and
        epoch count (cast to ``dtype`` if given)."""
        self._require_built()
        layers = []
        for layer in self.layers:
            if isinstance(layer, Dropout):
                layers.append(Dropout(layer.rate))
            elif isinstance(layer, _Normalization):
                layers.append(NORMALIZATIONS[layer.kind](**_norm_config(layer)))
            else:
                layers.append(Dense(layer.n_in, layer.n_out, layer.activation, init=layer.init, alpha=layer.alpha))
        optimizer = type(self.optimizer)(**{k: v for k, v in self.optimizer.get_config().items() if k != "name"})
        clone = Sequential(
            layers,
            loss=self.loss_name,
            dtype=self.dtype if dtype is None else dtype,
            seed=self.seed,
            l2=self.l2,
            optimizer=optimizer,
        )
        clone.params[...] = self.params
        clone._net.state[...] = self._net.state
        clone._epochs_seen = self._epochs_seen  # schedules and default shuffling continue alike
        clone.__setstate__(self._extra_state())
        return clone.to(self.device)

    def _repr_html_(self) -> str:
        """Jupyter: the layers (shapes, activations, parameter counts) and the settings."""
        from ._html import model_html

        return model_html(self)
