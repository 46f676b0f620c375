"""The Model API: layers stacked in a Sequential model.

A Sequential owns one C++ network (``fastmlp._core.Network32`` / ``Network64``), built from its
layers' configs. All of its parameters live in one contiguous buffer; each layer's weights are
writable NumPy views into it (no copies). The math runs on the model's engine (``_core.cpu_engine``
or ``cuda_engine``), training in C++'s one loop; Python is called only at epoch ends.

Here: the model (layers, build, weights, forward / predict, summary, device, saving). What it
does with data (fit, partial_fit, evaluate, loss, gradients, accuracy) it inherits from
fastmlp.training.Trainer, as Keras's models do; the layer stack is fastmlp._stack's, the
targets fastmlp._targets', data sources fastmlp.data's, MPI fastmlp.distributed's, the model's
side of saving (metadata, a model from a file, copy) fastmlp._saving's.
"""

from __future__ import annotations

import secrets

import numpy as np

from . import _building, _core, _cuda, _layer, _mixed, _saving, _stack, _targets
from . import data as _data
from . import distributed as _distributed
from . import io as _io
from . import optimizers as _optimizers
from . import quantize as _quantize
from . import tabular as _tabular
from . import training as _training
from ._arrays import InBatches
from ._targets import TargetSpec
from ._targets import split_rows as _split_rows  # noqa: F401 (fastmlp.cli and tests import it from here)
from ._validation import as_int, as_seed, as_verbose, positive_float, positive_int
from .losses import CLASSIFICATION_LOSSES, LOSSES  # noqa: F401 (fm.model.LOSSES as before)
from .training import (  # noqa: F401 (importable from here as before)
    DEFAULT_BATCH_SIZE,
    DivergenceError,
    History,
    OneClassValidationWarning,
    VanishingGradientWarning,
)

# What a first try gets (Keras's choice): Adam (learning rate 1e-3) on mini-batches of 32
# (fit's DEFAULT_BATCH_SIZE). The lecture's full-batch gradient descent: batch_size=None, "sgd".
DEFAULT_OPTIMIZER = "adam"


class Sequential(_building.Building, _training.Trainer):
    """An MLP: layers applied in order, trained by backpropagation in C++.

    Parameters
    ----------
    layers : list of Layer, or None
        None: an empty model to fill with ``add`` (Keras's ``Sequential()``); an
        ``fm.Input(shape=(n,))`` may come first (it fixes the input size). Dense,
        BatchNormalization / LayerNormalization, Activation, Dropout and Residual blocks of them:
        the first a Dense (or an Embedding of integer codes), the last a Dense or an Activation
        (the output's); sizes must chain. A Normalization (fastmlp.preprocessing) may come first (it
        standardizes the inputs) and one with invert=True last (it maps a regression output back to
        the targets' units).
        A first ``Dense(units)`` leaves the input size open: the first ``fit`` (or ``build``) sets it.
    loss : str or None, default None
        "binary_crossentropy" (needs a sigmoid output), "categorical_crossentropy" (needs a
        softmax output; alias "sparse_categorical_crossentropy": y may be class ids, one-hot
        rows, or any labels such as strings), "mse", "mae", "huber" (delta 1), or None to infer
        it from the output activation. J is the mean over the batch (see ``loss()``).
    dtype : {"float32", "float64", "mixed_bfloat16"}, default "float32"
        The precision of the parameters and of every computation. "mixed_bfloat16" (Keras's
        policy): float32 parameters, optimizer state, activations and deltas, with the matrix
        products' operands rounded to bfloat16 and float32 sums (``model.dtype`` is then float32,
        ``model.dtype_policy`` "mixed_bfloat16"); CPU only. Fast where the CPU has AVX512_BF16;
        elsewhere emulated and slower than float32 (a Bf16EmulationWarning says so once).
    seed : int or None, default None
        Seeds weight initialisation, shuffling, validation splits and dropout (None: a random
        seed, kept in ``model.seed``).
    l2 : float, default 0.0
        lambda of the penalty (lambda / 2) * sum_l ||W_l||^2 on weights (not biases), added to
        J as is (not divided by the batch size or the sample weights).
    optimizer : str or Optimizer, default "adam"
        "adam" (learning rate 1e-3), "sgd" (learning rate 0.01), "rmsprop", "adagrad", "adamw",
        or an fm.SGD / fm.Adam / fm.RMSprop / fm.Adagrad object.
    device : {"cpu", "cuda"}, default "cpu"
        Where forward / loss / gradients / fit run (see ``to``).
    """

    def __init__(
        self,
        layers=None,
        loss: str | None = None,
        dtype="float32",
        seed: int | None = None,
        l2: float = 0.0,
        optimizer=DEFAULT_OPTIMIZER,
        device: str = "cpu",
    ):
        if _cuda.check_device(device) == "cuda":  # fail before the layers are bound to this model
            _mixed.check_device(dtype, "cuda")
            _cuda.require()
        layers, self._input_size = _building.split_input(layers)  # fm.Input(shape=(n,)) first: n columns
        self.loss_name = _building.output_loss(self, layers, loss)  # checked before the layers are
        self._dtype, self._dtype_policy = _mixed.policy(dtype)  # storage dtype; "mixed_bfloat16" or its name
        self._l2 = positive_float(l2, "l2", allow_zero=True)
        self.seed = secrets.randbits(63) if seed is None else as_seed(seed)
        self.optimizer = _optimizers.get(optimizer)
        self.layers, self.dense_layers = [], []
        self._epochs_seen = 0
        self._device, self._engine, self._net = None, None, None
        self._comm = None  # the communicator of the latest data-parallel fit (rank 0 alone saves)
        self._label_classes = None  # the labels of y when they are not class ids (strings, ...)
        self.feature_names_in_ = None  # a DataFrame's column names, from the first fit
        self.stop_training = False
        self._pending_device = _cuda.check_device(device)
        _building.set_layers(self, layers, loss)  # checked, claimed; built when the input size is known

    def build(self, n_features: int) -> Sequential:
        """Create the network for ``n_features`` inputs (Dense(units) as first layer); fit does it
        on its own. Returns self."""
        n_features = as_int(n_features, "n_features")
        if not self.layers:
            _building.require_built(self)
        if self._net is not None:
            if n_features != self.n_features_in:
                raise ValueError(f"this model is built for {self.n_features_in} features, got {n_features}")
            return self
        if not _building.ready(self.layers, self.loss_name):
            _building.require_built(self)  # RuntimeError: no output layer (suiting the loss) yet
        first = self.layers[0]
        before = [(layer, dict(vars(layer))) for _, layer in _layer.walk(self.layers)]
        try:
            first._set_n_in(n_features)
            deferred = []  # Dense(units) after a first layer whose outputs were unknown (an Embedding's)
            _layer.chain(self.layers, first.n_in, "layers", deferred)
            for layer, n_in in deferred:
                layer._set_n_in(n_in)
            _building.build(self, self._kept_weights)
        except BaseException:  # refused (e.g. by the C++ core): the layers' sizes unknown again
            for layer, attributes in before:
                vars(layer).clear()
                vars(layer).update(attributes)
            raise
        return self

    # --- settings that may be assigned: checked as the constructor checks them ---
    dtype = property(
        lambda self: self._dtype,
        doc="The parameters' numpy dtype (float32 for mixed_bfloat16); read-only: model.copy(dtype=...)",
    )
    dtype_policy = property(lambda self: self._dtype_policy, doc='"float32", "float64" or "mixed_bfloat16"; read-only')

    @property
    def seed(self) -> int:
        """The seed of the initial weights, the validation split and the default shuffling."""
        return self._seed

    @seed.setter
    def seed(self, value) -> None:
        self._seed = as_seed(value)

    @property
    def optimizer(self) -> _optimizers.Optimizer:
        """The optimizer fit uses; assign a name or an Optimizer as in the constructor (a fresh one
        starts without state), not while a fit of this model runs."""
        return self._optimizer

    @optimizer.setter
    def optimizer(self, value) -> None:
        optimizer = _optimizers.get(value)
        if optimizer is not self.__dict__.get("_optimizer"):  # (a fit called in a callback sets the same one)
            _building.require_idle(self, "setting the optimizer")
        self._optimizer = optimizer

    @property
    def built(self) -> bool:
        """Whether the network exists (its input size is known)."""
        return self._net is not None

    def _require_built(self):
        return self._net if self._net is not None else _building.require_built(self)

    # --- shape facts ---
    @property
    def n_features_in(self) -> int | None:
        return self.layers[0].n_in if self.layers else self._input_size

    @property
    def n_outputs(self) -> int | None:
        return self.dense_layers[-1].n_out if self.dense_layers else None  # None: Sequential() before add

    @property
    def num_params(self) -> int:
        """Total weights and biases: sum over Dense layers of n_in * n_out + n_out."""
        return int(self._require_built().num_params)

    @property
    def params(self) -> np.ndarray:
        """The one flat parameter buffer [W1, b1, W2, b2, ...], a writable view (read-only for a
        quantized model: its int8 kernels pack the weights once, and would not see a write)."""
        return _quantize.params_view(self, self._require_built().params)

    @property
    def is_classifier(self) -> bool:
        return self.loss_name in CLASSIFICATION_LOSSES

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
        return f"Sequential([{inner}], loss={self.loss_name!r}, dtype={self.dtype_policy!r})"

    # --- conversions (fastmlp.data.Inputs: X; fastmlp._targets.TargetSpec: y) ---
    def _X(self, X, name: str = "X") -> np.ndarray:
        # Fast path (single-sample latency): already exactly what the core maps without a copy.
        if _data.mappable(X, self.dtype) and X.ndim == 2 and X.shape[0] > 0 and X.shape[1] == self.n_features_in:
            return X
        self._require_built()
        return self._inputs().convert(X, name)

    def _inputs(self) -> _data.Inputs:
        return _tabular.inputs(self, names=self.feature_names_in_)  # a ColumnEmbedding's: encodes DataFrames

    def _targets(self) -> TargetSpec:
        return TargetSpec(self.loss_name, self.n_outputs, self.dtype, self._label_classes)

    def _Y(self, y, n_samples: int, name: str = "y") -> np.ndarray:
        return self._targets().convert(y, n_samples, name)

    @property
    def classes_(self) -> np.ndarray:
        """The classes predict() returns: the labels of the first fit (strings, categories, ...),
        else the class ids 0 .. n_classes - 1."""
        return self._targets().classes_()

    # --- the math ---
    def forward(self, X, comm=None, out=None, batch_size=None) -> np.ndarray:
        """The last layer's activations a_L (dropout off).

        Parameters
        ----------
        X : array-like of shape (m, n_features), or a data source (fastmlp.data)
            The samples, one per row (one sample: ``x.reshape(1, -1)``).
        comm : mpi4py communicator or None, default None
            Every process passing the same X: each computes its share of the rows and every
            process gets all of them (MPI Allgatherv).
        out : ndarray of shape (m, n_outputs) or None, default None
            Where to write the outputs (e.g. a memmap for a large source): C-contiguous, of
            the model's dtype; ValueError otherwise. None: a new array.
        batch_size : int or None, default None
            Rows that go through the network at once (Keras's predict batch_size): max(batch_size,
            64) rounded down to a multiple of 16, which bounds the memory of the activations (rows
            x units per layer); the outputs are the very numbers of one call
            (fastmlp._arrays.InBatches). None: all rows at once (a data source: a chunk at once).
            A positive integer; TypeError / ValueError naming batch_size otherwise.

        Returns
        -------
        ndarray of shape (m, n_outputs): ``out`` when given.
        """
        if batch_size is not None:  # (not a call more on the one-sample path)
            batch_size = positive_int(batch_size, "batch_size")
        if batch_size is None and out is None and comm is None and self._engine is not None:
            # One-sample latency: a numpy.ndarray of real numbers goes to the core in one call, as it
            # is when the core maps it (data.mappable), else after the cast _X would make (float64
            # rows for a float32 model); None back for anything else. The core checks the shape
            # (2-D, rows, features) and the values with the messages of _X.
            try:
                a = self._engine.forward_array(X)
            except ValueError:
                with np.errstate(over="ignore"):  # the cast above has warned of any overflow once
                    self._X(X)  # Python's checks: the same message, with scikit-learn's reshape hint
                raise
            if a is not None:
                return a
        if (source := _data.chunked(X)) is not None:
            chunks = self._chunks(source, targets=False)  # RuntimeError when the model is not built
            engine = self._engine_in(batch_size)
            return _data.forward_chunks(engine.forward, chunks, out, self.n_outputs, self.dtype, source)
        X = self._X(X)
        if out is not None:
            _data._check_out(out, (X.shape[0], self.n_outputs), self.dtype)
        a = _distributed.forward(self._engine_in(batch_size), X, comm, self.n_outputs)  # the engine's without comm
        if out is None:
            return a
        out[...] = a
        return out

    def trace(self, X, y=None) -> list:
        """Per Dense layer (z, a): z = a_prev W + b, a = g(z); with y also delta = dJ/dz: (z, a, delta)."""
        X = self._X(X)
        Y = None if y is None else self._Y(y, X.shape[0])
        return [tuple(t) for t in self._net.trace(X, Y)]

    def _engine_in(self, batch_size: int | None):
        """The engine, or (with a batch_size) the engine over that many rows at a time."""
        return self._engine if batch_size is None else InBatches(self._engine, batch_size, self.n_outputs)

    def _chunks(self, source, y=None, sample_weight=None, targets: bool = True):
        """The converted chunks of a source, in order, once (predict, evaluate); TypeError for a y or
        sample_weight beside it. ``targets=False`` (forward, predict): X alone is converted, a chunk's
        y (None from a reader of your own that has none) is not read."""
        self._require_built()
        convert = _data.converter(self._inputs(), self._targets() if targets else None)
        return _data.one_pass(source, convert, y, sample_weight)

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
        _mixed.check_device(self.dtype_policy, device)
        _quantize.require_float_device(self, device)
        if device != self._device:
            _building.require_idle(self, "to")
            self._engine = _cuda.engine(self._net) if device == "cuda" else _core.cpu_engine(self._net)
            self._device = device
        return self

    # --- predictions ---
    def predict_proba(self, X, comm=None, batch_size=None, verbose=0) -> np.ndarray:
        """Class probabilities: softmax rows (m, k); for one sigmoid output (m, 2) = [1 - p, p].

        Parameters
        ----------
        X : array-like of shape (m, n_features), or a data source (fastmlp.data)
            The samples, one per row (one sample: ``x.reshape(1, -1)``).
        comm : mpi4py communicator or None, default None
            Every process passing the same X: each computes its share (see ``forward``).
        batch_size : int or None, default None
            Rows at once (bounded memory; at least 64, see ``forward``), the same numbers.
        verbose : {0, 1, 2, "auto"} or bool, default 0
            Keras's argument, checked and accepted; predict shows nothing at any level (one call
            into C++, or one per batch: no progress worth a bar).
        """
        as_verbose(verbose)
        if not self.is_classifier:
            raise TypeError(f"predict_proba needs a classification loss; this model uses {self.loss_name!r}")
        return _targets.probabilities(self.loss_name, self.forward(X, comm, batch_size=batch_size))

    def predict(self, X, comm=None, batch_size=None, verbose=0) -> np.ndarray:
        """Class labels by arg-max (softmax) or threshold 0.5 (sigmoid), shape (m,) (``classes_``);
        for regression the outputs a ((m,) if one output, else (m, n_outputs)).

        Parameters
        ----------
        X : array-like of shape (m, n_features), or a data source (fastmlp.data)
            The samples, one per row (one sample: ``x.reshape(1, -1)``).
        comm : mpi4py communicator or None, default None
            Every process passing the same X: each computes its share (see ``forward``).
        batch_size : int or None, default None
            Rows at once (Keras's argument; at least 64, see ``forward``): bounded memory, the
            same predictions. None: all rows in one call.
        verbose : {0, 1, 2, "auto"} or bool, default 0
            Keras's argument, checked (ValueError naming verbose otherwise) and accepted; predict
            shows nothing at any level (one call into C++, or one per batch: no progress worth
            a bar).
        """
        as_verbose(verbose)
        return _targets.predictions(self.loss_name, self._label_classes, self.forward(X, comm, batch_size=batch_size))

    # --- Keras-shaped conveniences ---
    def __call__(self, X) -> np.ndarray:
        """The output activations, as ``forward(X)`` (Keras's ``model(X)``)."""
        return self.forward(X)

    def __len__(self) -> int:
        """The number of layers (model.layers: a Residual block counts once)."""
        return len(self.layers)

    def _weight_views(self) -> list:
        self._require_built()
        # (view, name) of every array get_weights() lists, in Keras's order: each layer's own
        return [(v, f"{key} of layers[{i}]") for i, layer in enumerate(self.layers) for v, key in layer.weight_views()]

    def get_weights(self) -> list:
        """[W1, b1, W2, b2, ...] per Dense layer (and gamma, beta, moving mean and variance of a
        normalization layer where it stands), copies (Keras's order)."""
        return [view.copy() for view, _ in self._weight_views()]

    def set_weights(self, weights) -> None:
        """Set every array from a list as get_weights() returns (checked first: a wrong list
        changes nothing)."""
        if _quantize.is_quantized(self):
            raise ValueError("set_weights: the weights of a quantized (int8) model are read-only")
        for view, arr in _stack.checked_weights(self._weight_views(), weights, self.dtype):
            view[...] = arr

    def quantize(self, mode: str = "int8") -> None:
        """Quantize the model for inference, in place (Keras 3's ``model.quantize("int8")``):
        every Dense layer gets int8 weights with one scale per output column, and quantizes its
        inputs per row at each call (dynamic quantization); the other layers run in float32 around
        them. The model then predicts, evaluates, saves, loads and exports to ONNX, but cannot be
        trained or run on CUDA. fastmlp.quantize has the arithmetic.

        Parameters
        ----------
        mode : str, default "int8"
            The only mode: "int8". Anything else, a model quantized already or a float64 model
            raise ValueError; a model on CUDA NotImplementedError (nothing changes then).
        """
        _quantize.quantize(self, mode)

    def summary(self, print_fn=print) -> str | None:
        """Print a table of the layers (type, output shape, parameter count, activation) and the
        totals, and return None, as Keras's ``summary()`` (a REPL or notebook shows it once).

        ``print_fn`` is called with the whole table (e.g. ``logger.info``); ``print_fn=None``
        prints nothing and returns the table as a string instead."""
        text = _stack.summary(self)
        if print_fn is None:
            return text
        print_fn(text)
        return None

    # --- persistence: fastmlp.io is the file format, _persist what a Sequential keeps in it ---
    def save(self, path) -> None:
        """Write the model to ``path`` in the safetensors format (fastmlp.io), atomically: the
        old file survives a failed save.

        After a data-parallel fit only rank 0 writes (the weights are the same on every rank).
        Labels that a model file cannot hold exactly (e.g. Decimal objects) raise ValueError;
        a model that is not built yet raises RuntimeError.

        Parameters
        ----------
        path : str or os.PathLike
            Ends in ".safetensors" (or has no extension): the only format ``save`` writes, so
            that a file's name says what it holds. Any other extension raises ValueError and
            writes nothing: ".keras", ".h5", ".pt", ... are other libraries' formats, which
            fastmlp neither writes nor reads; for ONNX use ``fm.onnx.export(model, "m.onnx")``
            (or ``python -m fastmlp export-onnx m.safetensors m.onnx``).
        """
        _io._check_extension(path)
        self._require_built()
        if not _distributed.is_root(self._comm):
            return
        _io.write(path, self._net, _saving.metadata(self))

    def to_bytes(self) -> bytes:
        """The bytes ``save`` writes (pickling uses them too)."""
        return _io.encode(self._require_built(), _saving.metadata(self))

    @classmethod
    def load(cls, path) -> Sequential:
        """The model ``save`` (or C++ ``save_network``) wrote to ``path``. Nothing in the file is
        executed; anything but a valid model file raises ValueError."""
        return _saving.from_file(cls, *_io.read(path))

    @classmethod
    def from_bytes(cls, data) -> Sequential:
        """The model in ``data``, the bytes of a model file (``to_bytes``)."""
        return _saving.from_file(cls, *_io.decode(data))

    def __reduce__(self):
        # Everything is in the file's bytes; pickles of older versions carry _saving.extra_state()
        # as a third item, which __setstate__ still applies.
        return (Sequential.from_bytes, (self.to_bytes(),))

    def __setstate__(self, state: dict) -> None:
        # _saving.extra_state(): the labels and column names (from a file, a copy or an old pickle)
        self._label_classes = state.get("label_classes")
        self.feature_names_in_ = state.get("feature_names_in_")

    def copy(self, dtype=None) -> Sequential:
        """An independent model with the same layers, weights, optimizer settings (fresh state) and
        epoch count (cast to ``dtype`` if given: "float32", "float64" or "mixed_bfloat16")."""
        return _saving.copy(self, Sequential, dtype)

    def _repr_html_(self) -> str:
        """Jupyter: the layers (shapes, activations, parameter counts) and the settings."""
        from ._html import model_html

        return model_html(self)
