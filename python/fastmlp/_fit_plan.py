"""fit's first two steps (fastmlp.training): the plan and the commit.

1. plan: each function below checks and converts one group of fit's arguments (the validation split,
   data, options, callbacks, optimizer, validation, class weights) into a ``Plan``, and computes the model as
   this fit will leave it (its input size, a DataFrame's column names, the classes of its
   labels, the optimizer and learning rate) without recording it;
2. commit: the model takes that state, the one place fit changes the model before training;
   ``commit`` returns the function that takes it back (fastmlp.training undoes a commit when
   the loop refuses the call before its first step).

The third step, the run (the C++ loop, callbacks, progress), is fastmlp.training's.
"""

from __future__ import annotations

import operator

import numpy as np

from . import _building, _core
from . import data as _data
from . import distributed as _distributed
from . import optimizers as _optimizers
from . import schedules as _schedules
from . import tabular as _tabular
from ._targets import split_rows
from ._validation import as_bool, as_int, as_real, as_seed, positive_float
from .callbacks import Callback, EarlyStopping, ReduceLROnPlateau


class Plan:
    """Everything one fit needs, computed before the model changes. ``source`` is None for
    arrays (X, Y, W are then the training rows); a chunked source comes with empty X, Y."""

    def __init__(self, comm, sharded: bool):
        self.comm, self.sharded = comm, as_bool(sharded, "sharded")
        self.source = self.val_source = self.X_val = self.Y_val = None
        self.class_weight = self.class_counts = None


# --- 1. plan: each function checks and converts one group of arguments ---
def split(plan, validation_data, validation_split, stratify, split_seed) -> None:
    """Whether fit holds out rows of X, y (validation_split without validation_data, as Keras):
    its fraction (checked), stratify and seed; ``held_out`` draws the rows."""
    plan.split = plan.rows = None
    stratify = as_bool(stratify, "stratify", allow_none=True)
    if validation_data is not None or not validation_split:
        return
    fraction = positive_float(validation_split, "validation_split")
    if fraction >= 1:
        raise ValueError(f"validation_split must be in (0, 1), got {validation_split}")
    plan.split = (fraction, stratify, as_seed(split_seed))


def held_out(plan) -> tuple:
    """The rows (train, val) validation_split holds out, drawn once from the converted targets
    plan.Y (seeded; stratified by class for a classifier unless stratify=False)."""
    if plan.rows is None:
        fraction, stratify, seed = plan.split
        targets = plan.targets
        if stratify is None:
            stratify = targets.is_classifier
        if stratify and not targets.is_classifier:
            raise ValueError(f"stratify=True needs a classification loss; this model uses {targets.loss!r}")
        ids = targets.class_ids(plan.Y) if stratify else None
        plan.rows = split_rows(ids, plan.Y.shape[0], fraction, seed)
    return plan.rows


def data(plan, model, X, y, sample_weight, validation_split, counting: bool = False) -> None:
    """The training data: the source (this process's part of it; arrays are one in-memory
    chunk), the model's inputs and targets as this fit leaves them (input size, column names,
    label classes), and the arrays X, Y, W the loop takes. The first fit on a DataFrame learns
    its columns (vocabularies, medians, a first Normalization's statistics) from the training
    rows alone: with validation_split, not from the rows it holds out."""
    source = _distributed.shard(_data.as_source(X, y, sample_weight), plan.comm, plan.sharded)
    # before the first chunk is read for its width: a refused generator keeps every chunk (options first)
    _refuse_rereading(source, "X", plan.options.epochs + counting, plan.options.epochs, counting)
    in_memory = isinstance(source, _data.InMemory)
    if validation_split and not in_memory:
        raise ValueError(
            "validation_split needs arrays; with a data source pass validation_data (arrays or another source)"
        )
    plan.targets = model._targets().learn(source.y) if in_memory else model._targets()
    plan.Y = None

    def training_rows():  # called only when the columns are learned (a DataFrame, so len(X) rows)
        if plan.split is None:
            return None
        plan.Y = plan.targets.convert(source.y, len(source.X), "y")
        return held_out(plan)[0]

    plan.tabular = _tabular.plan(model, source.X if in_memory else None, training_rows)  # categorical columns
    if plan.tabular is not None:  # the DataFrame's columns as the ColumnEmbedding encodes them
        columns = plan.tabular.columns
        names = np.asarray(columns.core_names, dtype=object)
        plan.inputs = _tabular.TabularInputs(columns, model.dtype, columns.width, names)
    else:
        width = model.n_features_in if model.built else as_int(source.width(), "n_features")
        if width < 1:  # before the first layer is built for it ("n_in and n_out must be positive")
            shape = getattr(source.X, "shape", None) if in_memory else None
            raise ValueError(f"X is empty: shape {shape}" if shape is not None else "X has no features")
        if source.n_features is not None and source.n_features != width:
            raise ValueError(f"the source has {source.n_features} features but the model expects {width}")
        names = model.feature_names_in_
        if names is None and in_memory and (columns := _data.column_names(source.X)) is not None:
            names = np.asarray(columns, dtype=object)
        plan.inputs = _data.Inputs(model.dtype, width, names)
    width = plan.inputs.n_features
    if in_memory:
        plan.X = plan.inputs.convert(source.X, "X")
        if plan.Y is None:
            plan.Y = plan.targets.convert(source.y, plan.X.shape[0], "y")
        plan.W = plan.targets.weights(source.w, None, plan.Y)
        return
    if source.n_rows == 0:  # (a reader of your own that gives nothing is refused when it is read)
        raise ValueError(f"the data source ({type(source).__name__}) holds no rows: nothing to train on")
    plan.source = source
    plan.X = np.empty((0, width), model.dtype)
    plan.Y = np.empty((0, model.n_outputs), model.dtype)
    plan.W = plan.targets.weights(sample_weight, None, plan.Y)  # a source's weights come with its chunks


def options(plan, model, epochs, batch_size, tol, shuffle, record_gradients) -> None:
    """The options as the C++ loop takes them; their ranges are checked there, once."""
    options = _core.FitOptions()
    options.epochs = as_int(epochs, "epochs")
    if batch_size is not None:
        options.batch_size = as_int(batch_size, "batch_size")
    options.tol = as_real(tol, "tol")
    options.shuffle = as_bool(shuffle, "shuffle")
    options.epoch_offset = model.epochs_trained
    options.record_grad_norms = as_bool(record_gradients, "record_gradients")
    plan.options = options


def callbacks(plan, callbacks, callback, early_stopping, schedule):
    """Python callbacks and functions f(epoch, logs); the loop's own rules (EarlyStopping,
    ReduceLROnPlateau) become options. Returns the early stopping to use."""
    plan.py_callbacks, plan.functions = [], []
    for i, cb in enumerate(list(callbacks) if callbacks is not None else []):
        if isinstance(cb, EarlyStopping):
            if early_stopping is not None:
                raise ValueError("two early stoppings: give EarlyStopping either in callbacks or as early_stopping")
            early_stopping = cb
        elif isinstance(cb, ReduceLROnPlateau):
            if schedule is not None:
                raise ValueError("ReduceLROnPlateau in callbacks sets the schedule; do not pass schedule= too")
            schedule = cb.schedule
        elif isinstance(cb, Callback):
            plan.py_callbacks.append(cb)
        elif callable(cb):
            plan.functions.append(cb)
        else:
            raise TypeError(
                f"callbacks[{i}] must be an fm.callbacks.Callback or a callable f(epoch, logs), got {type(cb).__name__}"
            )
    if callback is not None:
        if not callable(callback):
            raise TypeError("callback must be callable as callback(epoch, logs)")
        plan.functions.append(callback)
    plan.schedule = _schedules.get(schedule)
    plan.options.schedule = plan.schedule._spec
    return early_stopping


def optimizer(plan, model, optimizer, learning_rate) -> None:
    """The optimizer to train with (``optimizer`` replaces the model's) and its new learning rate."""
    plan.optimizer = _optimizers.get(optimizer) if optimizer is not None else model.optimizer
    plan.learning_rate = None
    if learning_rate is not None:
        spec = plan.optimizer._copy_spec()
        spec.learning_rate = as_real(learning_rate, "learning_rate")
        _core.validate_optimizer(spec, float32=model.dtype == np.float32)
        plan.learning_rate = spec.learning_rate


def validation(plan, validation_data) -> None:
    """The validation set: a source (this process's share), arrays, or rows held out of X, y."""
    if isinstance(validation_data, _data.Source):
        width = validation_data.n_features  # when the source knows it and its rows: checked before training
        if width is not None and width != plan.inputs.n_features:
            raise ValueError(f"validation_data has {width} features but the model expects {plan.inputs.n_features}")
        if validation_data.n_rows == 0:
            raise ValueError(f"validation_data ({type(validation_data).__name__}) holds no rows")
        plan.val_source = _distributed.shard_validation(validation_data, plan.comm)
        _refuse_rereading(plan.val_source, "validation_data", plan.options.epochs, plan.options.epochs, False)
    elif validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) not in (2, 3):
            raise TypeError(
                "validation_data must be a tuple (X_val, y_val) or (X_val, y_val, sample_weight_val), or a data source"
            )
        X_val, y_val, w_val = (*validation_data, None)[:3]
        plan.X_val = plan.inputs.convert(X_val, "X_val")
        plan.Y_val = plan.targets.convert(y_val, plan.X_val.shape[0], "y_val")
        if w_val is not None:  # Keras's weighted validation: one chunk, whose weights the loop's evaluation uses
            try:  # checked now, not at the first epoch's end
                plan.targets.weights(w_val, None, plan.Y_val)
            except ValueError as e:
                raise ValueError(f"validation_data's sample weights: {e}") from None
            # the converted rows (converted once more without a copy); a DataFrame as it is (its columns)
            rows = X_val if _data.column_names(X_val) is not None else plan.X_val
            source = _data.ArraySource(rows, y_val, w_val, chunk_rows=plan.X_val.shape[0], name="validation_data")
            plan.X_val = plan.Y_val = None
            plan.val_source = _distributed.shard_validation(source, plan.comm)
    elif plan.split is not None:
        train, val = held_out(plan)
        plan.X, plan.X_val, plan.Y, plan.Y_val = plan.X[train], plan.X[val], plan.Y[train], plan.Y[val]
        plan.W = None if plan.W is None else plan.W[train]


def class_weights(plan, class_weight) -> None:
    """class_weight into the sample weights of the training rows ("balanced" counts the classes
    of the training part only); on a source, into each chunk's (after one counting pass)."""
    if class_weight is None:
        return
    if plan.source is None:
        plan.W = plan.targets.weights(plan.W, class_weight, plan.Y)
        return
    plan.class_weight = class_weight
    if isinstance(class_weight, str):
        plan.class_counts = _count_classes(plan, class_weight)


def _count_classes(plan, class_weight) -> np.ndarray:
    """class_weight="balanced" over a whole source: one pass counting the classes."""
    counts = np.zeros(plan.targets.n_classes, dtype=np.int64)
    for _, Y, _, _ in _data.Prefetcher(plan.source, _data.converter(plan.inputs, plan.targets), 0, False):
        counts += np.bincount(plan.targets.class_ids(Y), minlength=len(counts))
    if class_weight != "balanced":
        raise ValueError(f"class_weight must be a dict or 'balanced', got {class_weight!r}")
    return counts


def finish(plan, model, early_stopping, seed) -> None:
    """Early stopping and the shuffling seed into the options, then the loop's checks of them."""
    if early_stopping is not None and not isinstance(early_stopping, EarlyStopping):
        raise TypeError("early_stopping must be an fm.EarlyStopping")
    plan.early_stopping = early_stopping
    options = plan.options
    if early_stopping is not None:
        options.early_stopping = early_stopping.spec(plan.X_val is not None or plan.val_source is not None)
    options.seed = as_seed(model.seed + model.epochs_trained if seed is None else seed)  # default: a new order per call
    _core.validate_fit_options(options)
    if plan.sharded and plan.comm is None:
        raise ValueError("sharded=True needs comm (an mpi4py communicator)")


def _refuse_rereading(source, what: str, passes: int, epochs: int, counting: bool) -> None:
    """A one-shot iterator (a generator, ``iter(chunks)``) can be read once: refused before training
    where fit would read it again (a second epoch, the counting pass of class_weight="balanced",
    validation in each of several epochs), instead of failing after the first pass had trained.
    (X: in ``data``, before its first chunk is read; validation_data: in ``validation``.)"""
    if isinstance(source, _data.IterableSource) and source.one_shot and passes > 1:
        raise ValueError(
            f"{what} is a one-shot iterator (a generator?), which can be read only once, but this fit "
            f"reads it {passes} times (epochs={epochs}{', class_weight' if counting else ''}): "
            "pass a function that returns a new iterator, e.g. lambda: my_chunks()"
        )


# --- 2. commit ---
# What a commit sets on the model: the network (with its engine and device: build), then the state.
_BUILT = ("_net", "_engine", "_device")
_COMMITTED = _BUILT + (
    "layers",
    "dense_layers",
    "feature_names_in_",
    "_label_classes",
    "optimizer",
    "_comm",
    "stop_training",
)
_committed_state = operator.attrgetter(*_COMMITTED)


def commit(model, plan):
    """Record on the model what this fit planned (the one place fit changes it before training);
    returns the function that takes it back (the model's attributes that the commit sets, its
    layers when the commit built them, and the optimizers' learning rate and state)."""
    before = _committed_state(model)
    objects = [model.optimizer, plan.optimizer] + ([] if model.built else model.layers)
    saved = [(obj, dict(vars(obj))) for obj in objects]

    def undo():
        for name, value in zip(_COMMITTED, before):
            setattr(model, name, value)
        for obj, state in saved:
            vars(obj).clear()
            vars(obj).update(state)

    if plan.tabular is not None:
        layers = _tabular.commit(model, plan.tabular)  # the ColumnEmbedding's vocabularies
        if layers is not None:  # and its place in front of the model
            _building.set_layers(model, layers, model._loss)
    if not model.built:
        model.build(plan.inputs.n_features)
    if model.feature_names_in_ is None:
        model.feature_names_in_ = plan.inputs.names
    model._label_classes = plan.targets.classes
    model.optimizer = plan.optimizer
    if plan.learning_rate is not None:
        model.optimizer.learning_rate = plan.learning_rate
    if plan.comm is not None:
        model._comm = plan.comm  # rank 0 alone saves
    model.stop_training = False
    return undo
