"""Training: what a Sequential does with data (fit, partial_fit, evaluate, loss, accuracy), in
``Trainer``, the base class that Sequential inherits (as Keras's models inherit their Trainer).

fit runs in three steps, so that a call that fails changes nothing:
  1. plan: every argument is checked and converted (data, targets, options, callbacks,
     optimizer, validation, class weights) and the model as this fit will leave it is
     computed (its input size, a DataFrame's column names, the classes of its labels, the
     optimizer and learning rate), not recorded;
  2. commit: the model takes that state (the one place fit changes the model before training);
     these two steps are fastmlp._fit_plan's;
  3. run: the C++ loop trains; Python is called at epoch ends (callbacks, progress bar) and, for a
     progress bar on screen, at most every 0.1 s within an epoch.
When the loop refuses the call before its first step (its own checks: NaN in X or X_val,
reduce_on_plateau on val_loss without validation data, ...) or the processes of a
data-parallel fit disagree, the commit is undone. Once training ran, the model keeps what it
did: its weights (those of the last completed step) and, after Ctrl-C or a DivergenceError,
the count of the epochs completed.
"""

from __future__ import annotations

import threading
import time
import warnings

import numpy as np

from . import _building, _core, _fit_plan
from . import data as _data
from . import distributed as _distributed
from . import quantize as _quantize
from ._validation import as_bool, as_verbose, positive_int
from ._weights import balanced_from_counts
from .callbacks import EarlyStopping, ProgressBar, metrics_line

DivergenceError = _core.DivergenceError
# Rule for the vanishing-gradient warning: in the last epoch, the first layer's mean
# ||dW|| is below this fraction of the last layer's.
VANISHING_RATIO = 1e-3
DEFAULT_BATCH_SIZE = 32  # with Adam, the model's default optimizer: Keras's first try


class OneClassValidationWarning(UserWarning):
    """The validation set holds a single class: its accuracy says little."""


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


class _Run:
    """Whether the C++ loop began training: it returned, an epoch ended, it was handed a chunk (with
    comm: it asked for one, as every process then agrees), or it diverged. Until then a failure (a
    first chunk that cannot be read or converted) puts the model back as it was."""

    def __init__(self, comm=None):
        self.returned, self.epochs_ended, self.diverged, self.prefetchers = False, 0, False, ()
        self.comm = comm

    @property
    def began(self) -> bool:
        if self.comm is None:
            chunks_read = any(p.chunks_given for p in self.prefetchers)
        else:  # a process whose own first chunk was fine cannot tell that another's was not
            chunks_read = any(p.epochs_started for p in self.prefetchers)
        return self.returned or self.epochs_ended > 0 or self.diverged or chunks_read


class Trainer:
    """What a Sequential does with data, as Keras's Trainer: fit, partial_fit, evaluate, loss and its
    gradients, accuracy (the model, its layers and its math are fastmlp.model's)."""

    @property
    def epochs_trained(self) -> int:
        """Epochs trained so far (schedules and the default shuffling seed continue from here)."""
        return self._epochs_seen

    @epochs_trained.setter
    def epochs_trained(self, value: int) -> None:
        self._epochs_seen = positive_int(value, "epochs_trained") if value else 0

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
        verbose: int | bool = 0,
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

        Each epoch is one pass over the data. Ctrl-C stops at the next mini-batch boundary and
        raises KeyboardInterrupt; the model keeps the weights of the last step. A call that is
        refused (bad argument, NaN in X, ...) changes nothing.

        Parameters
        ----------
        X : array-like of shape (m, n_features), DataFrame, or a data source (fastmlp.data)
            The training samples, one per row; a DataFrame's column names are remembered and
            checked by later calls. A source (``fm.data.from_npy``, an iterable of (X, y)
            chunks, ...) brings its own targets and sample weights: y=None, sample_weight=None. A
            one-shot iterator (a generator) is read once: for more passes (epochs > 1,
            class_weight="balanced") pass a function that returns a new one.
        y : array-like or None, default None
            The targets: class ids, one-hot rows or labels of any kind (strings, categories:
            ``classes_``) for classification; values (m,) or (m, n_outputs) for regression.
        epochs : int, default 100
            The number of passes over the data.
        batch_size : int or None, default 32
            Rows per step; None uses the whole data set per step (the lecture's full-batch
            gradient descent, with optimizer="sgd").
        learning_rate : float or None, default None
            Sets the optimizer's learning rate (None: keep it).
        tol : float, default 0.0
            Stop when the epoch loss changes by less than tol (|J_k - J_(k-1)| < tol); 0 never
            stops early.
        shuffle : bool, default True
            Visit the rows (a source's chunks) in a seeded random order each epoch. Every option
            documented as a bool here takes True or False (numpy.bool_ too) and nothing else
            (TypeError naming it: shuffle="batch" is not taken for True).
        seed : int or None, default None
            Seeds the shuffling and the validation split (None: the model's seed, plus the
            epochs trained so far for the shuffling, so each call gets a new order).
        verbose : {0, 1, 2, "auto"} or bool, default 0
            Keras's contract: 0 (False) silent; 1 (True, "auto") a progress bar over the epochs and, at
            each epoch's end, a line with every metric (val ones included); 2 that line alone,
            one per epoch. Only rank 0 of a data-parallel fit shows progress.
        callback : callable or None, default None
            One function ``f(epoch, logs)`` called at each epoch's end; returning False stops.
        optimizer : str, Optimizer or None, default None
            Replaces the model's optimizer (state is kept across fit calls with the same one).
        schedule : str, schedule object or None, default None
            The learning-rate schedule (fastmlp.schedules); None: constant.
        validation_data : tuple (X_val, y_val[, sample_weight_val]), a data source, or None, default None
            Evaluated at each epoch's end (val_loss, val_accuracy). With Keras's third entry,
            val_loss is the weighted mean (sum_i w_i l_i / sum_i w_i, as ``evaluate`` with
            sample_weight); val_accuracy counts every row once (Keras's unweighted metrics).
        validation_split : float, default 0.0
            Holds out that fraction of X, y (arrays only), chosen at random (seeded by ``seed``
            or the model's seed: the same rows every call); a warning says when a validation
            set holds a single class. The first fit on a DataFrame learns its columns (a
            ColumnEmbedding's vocabularies and medians, a first Normalization's statistics)
            from the other rows, the ones it trains on.
        early_stopping : EarlyStopping or None, default None
            Stops when the monitored metric stops improving (or give it in ``callbacks``).
        sample_weight : array-like of shape (m,) or None, default None
            Per-row weights: J = sum_i w_i l_i / sum_i w_i.
        class_weight : dict, "balanced" or None, default None
            Per-class weights, multiplied into the sample weights ("balanced": n / (k n_c)).
        record_gradients : bool, default False
            Record each epoch's mean ||dW_l|| per layer in ``History.grad_norms`` (and warn
            about vanishing gradients).
        callbacks : list or None, default None
            fm.callbacks.Callback objects (EarlyStopping, ModelCheckpoint, CSVLogger,
            LambdaCallback, ReduceLROnPlateau, ProgressBar, your own) and functions
            ``f(epoch, logs)`` that return False to stop.
        stratify : bool or None, default None
            Whether validation_split keeps each class's proportion (None: for classification).
        comm : mpi4py communicator or None, default None
            Trains data-parallel over its processes under ``mpiexec`` (e.g. MPI.COMM_WORLD):
            every process calls fit with the same model (same seed), options and, unless
            ``sharded``, the same data; see fastmlp.distributed for what the result equals. Only
            rank 0 shows progress and saves.
        sharded : bool, default False
            With comm and a chunked source: each process reads its own share of it
            (``Source.shard``: every N-th shard file from its rank on); a validation source is
            split between the processes likewise.

        Returns
        -------
        History
        """
        if self._net is None and not _building.ready(self.layers, self.loss_name):
            _building.require_built(self)  # RuntimeError: no layers, or no output layer yet (add)
        _quantize.require_trainable(self, "fit")
        comm = None if comm is None else _distributed.check_comm(comm)
        run, undo = _Run(comm), None
        try:
            # With comm, a bad argument on any process is an error on every process (never a hang).
            with _distributed.together(comm):
                plan = _fit_plan.Plan(comm, sharded)
                split_seed = self.seed if seed is None else seed
                _fit_plan.split(plan, validation_data, validation_split, stratify, split_seed)
                _fit_plan.options(plan, self, epochs, batch_size, tol, shuffle, record_gradients)
                _fit_plan.data(plan, self, X, y, sample_weight, validation_split, isinstance(class_weight, str))
                verbose = ProgressBar(verbose=verbose).verbose  # 0, 1 or 2 (ValueError otherwise)
                early_stopping = _fit_plan.callbacks(plan, callbacks, callback, early_stopping, schedule)
                _fit_plan.optimizer(plan, self, optimizer, learning_rate)
                _fit_plan.validation(plan, validation_data)
                _warn_if_one_class(plan)
                _fit_plan.class_weights(plan, class_weight)
                _fit_plan.finish(plan, self, early_stopping, seed)
                undo = _fit_plan.commit(self, plan)
            collective = _agree(self, plan)
            running = self.__dict__.setdefault("_fits_running", [])  # _building.require_idle reads it
            running.append(run)
            try:
                history = _run(self, plan, verbose if _distributed.is_root(comm) else 0, collective, run)
            finally:
                running.remove(run)
        except BaseException:
            if undo is not None and not run.began:
                undo()  # refused before the first step: the model as it was
            raise
        _warn_if_vanishing(history, len(self.dense_layers))
        return history

    def partial_fit(self, X, y, **kwargs) -> History:
        """One epoch over X, y (fit with epochs=1), keeping the weights and the optimizer state.

        Parameters
        ----------
        X : array-like of shape (m, n_features), DataFrame, or a data source
            As for ``fit``.
        y : array-like or None
            As for ``fit``.
        **kwargs
            Any other argument of ``fit`` but epochs.
        """
        if "epochs" in kwargs:
            raise TypeError("partial_fit runs exactly one epoch; use fit(epochs=...) for more")
        return self.fit(X, y, epochs=1, **kwargs)

    def evaluate(self, X, y=None, sample_weight=None, return_dict: bool = False, comm=None, batch_size=None, verbose=0):
        """The loss J (with the L2 term) and, for classifiers, the accuracy on X, y, as Keras:
        ``loss`` alone for regression, ``[loss, accuracy]`` for classification, or a dict
        {"loss": ..., "accuracy": ...} with ``return_dict=True``.

        Parameters
        ----------
        X : array-like of shape (m, n_features), or a data source (fastmlp.data)
            The samples, one per row.
        y : array-like or None, default None
            Their targets, as for ``fit`` (None for a source, which brings its own).
        sample_weight : array-like of shape (m,) or None, default None
            Per-row weights of the loss (sum_i w_i l_i / sum_i w_i).
        return_dict : bool, default False
            Return {"loss": ..., "accuracy": ...} instead of a number or a list.
        comm : mpi4py communicator or None, default None
            Every process passing the same X, y: each computes its share.
        batch_size : int or None, default None
            Rows that go through the network at once (Keras's argument; max(batch_size, 64) rounded
            down to a multiple of 16, as ``forward``'s), which bounds the memory of the activations;
            None: all rows in one call (a data source: a
            chunk at once). The accuracy is the one of a single call, the loss the mean of the
            batches' (weighted) means: the single call's up to float rounding. A positive integer;
            TypeError / ValueError naming batch_size otherwise.
        verbose : {0, 1, 2, "auto"} or bool, default 0
            0 (False) silent (fastmlp's default; Keras's is "auto"); 1, 2, True or "auto" print
            the result once, as a line of fit's progress does (``loss 0.0612  accuracy 0.9800``;
            rank 0 alone with comm). ValueError naming verbose otherwise.
        """
        verbose = as_verbose(verbose)
        batch_size = positive_int(batch_size, "batch_size", allow_none=True)
        return_dict = as_bool(return_dict, "return_dict")
        if (source := _data.chunked(X)) is not None:  # loss and accuracy in one pass over the chunks
            out = _source_metrics(self, source, y, sample_weight, batch_size, accuracy=self.is_classifier)
        else:
            out = {"loss": _mean_loss(self, X, y, sample_weight, comm, batch_size)}
            if self.is_classifier:
                out["accuracy"] = _accuracy(self, X, y, comm, batch_size)
        if verbose and _distributed.is_root(comm):
            print(metrics_line(out), flush=True)
        if return_dict:
            return out
        return out["loss"] if len(out) == 1 else list(out.values())

    def loss(self, X, y=None, sample_weight=None, comm=None) -> float:
        """J = (weighted) mean over the batch of the loss + (l2 / 2) sum ||W||^2.

        binary_crossentropy: mean over samples and outputs of -(y ln p + (1-y) ln(1-p));
        categorical_crossentropy: mean over samples of -sum_k y_k ln p_k;
        mse: mean over samples and outputs of (a - y)^2.
        With sample weights w_i the mean is sum_i w_i l_i / sum_i w_i.
        With ``comm`` (every process passing the same X, y) each process computes its share.
        """
        return _mean_loss(self, X, y, sample_weight, comm)

    def gradients(self, X, y, sample_weight=None) -> list:
        """Backprop: [(dJ/dW, dJ/db), ...] per Dense layer, copies with the shapes of weights and bias."""
        _quantize.require_trainable(self, "gradients")
        X = self._X(X)
        Y = self._Y(y, X.shape[0])
        self._engine.gradients(X, Y, self._targets().weights(sample_weight, None, Y))  # into the host gradient buffer
        return [(self._net.grad_weight(i).copy(), self._net.grad_bias(i).copy()) for i in range(len(self.dense_layers))]

    def accuracy(self, X, y=None, comm=None) -> float:
        """Fraction of samples whose predicted class equals y (ids, one-hot rows or 0/1). X may be
        a data source (fastmlp.data; y=None)."""
        return _accuracy(self, X, y, comm)


# --- 1. and 2., plan and commit, are fastmlp._fit_plan's; a warning about the plan is raised here,
# called from fit (stacklevel 3: fit's caller)
def _warn_if_one_class(plan) -> None:
    if plan.Y_val is None or not plan.targets.is_classifier:
        return
    ids = np.unique(plan.targets.class_ids(plan.Y_val))
    if len(ids) == 1:
        classes = plan.targets.classes
        label = ids[0].item() if classes is None else classes[ids[0]]
        warnings.warn(
            f"the validation set holds a single class ({label!r}): its accuracy says little; "
            "use a larger validation_split or stratified validation data",
            OneClassValidationWarning,
            stacklevel=3,  # the caller of fit
        )


# --- 3. run ---
def _agree(model, plan):
    """Data parallelism, once every process passed its own checks: the same model, options and
    data shapes everywhere (ValueError on every process otherwise). The collective the loop takes
    (None without comm)."""
    if plan.comm is None:
        return None
    return _distributed.agree_to_fit(
        model, plan.comm, bool(plan.sharded), plan.X, plan.Y, plan.W, plan.X_val, plan.options,
        plan.schedule, plan.early_stopping, plan.source,
    )  # fmt: skip


def _run(model, plan, verbose: int, collective, run) -> History:
    """The callbacks' begin, the C++ loop, the callbacks' end; the epochs trained are counted."""
    _begin_callbacks(model, plan)
    bar = ProgressBar(plan.options.epochs, verbose=verbose) if verbose else None
    final_logs = {}
    on_epoch = _epoch_hook(model, plan, bar, final_logs, run) if bar or plan.functions or plan.py_callbacks else None
    start = time.perf_counter()
    try:
        result = _loop(model, plan, on_epoch, collective, run, _progress_hook(plan, bar))
        model._epochs_seen += len(result["epochs"])  # counted before on_train_end, which may raise
    finally:
        if bar is not None:
            bar.close()
        for cb in plan.py_callbacks:
            cb.on_train_end(final_logs)
    if result["interrupted"]:
        raise KeyboardInterrupt("fit() interrupted; the model keeps the weights of the last completed step")
    return History(result, time.perf_counter() - start)


def _progress_hook(plan, bar):
    """What the loop calls during an epoch (at most every 0.1 s): every bar on screen moves within
    the epoch. None (the loop then reads no clock) when no bar is shown."""
    bars = [b for b in (bar, *plan.py_callbacks) if isinstance(b, ProgressBar) and b.verbose == 1]
    if not bars:
        return None

    def on_progress(done: int, total: int) -> None:
        for b in bars:
            b.on_batch_progress(done, total)

    return on_progress


def _loop(model, plan, on_epoch, collective, run, progress=None) -> dict:
    """The C++ training loop on the model's engine, with prefetch threads for chunked sources."""
    options = plan.options
    # the prefetch threads start with the first epoch (start_epoch) and are stopped in `finally`
    chunks = None if plan.source is None else _prefetcher(plan, plan.source, _chunk_class_weight(plan), options.shuffle)
    val_chunks = None if plan.val_source is None else _prefetcher(plan, plan.val_source, None, False)
    run.prefetchers = [p for p in (chunks, val_chunks) if p is not None]
    engine = model._engine
    try:
        result = engine.fit(
            model.optimizer._bind(engine), plan.X, plan.Y, plan.W, plan.X_val, plan.Y_val, options, on_epoch,
            threading.current_thread() is threading.main_thread(), collective, chunks, val_chunks, progress,
        )  # fmt: skip
        run.returned = True
        return result
    except DivergenceError as e:
        # The epochs completed before the diverging one still count (schedules, default seeds).
        run.diverged = True
        model._epochs_seen += e.epoch
        if not np.isfinite(model._net.params).all():  # no finite weights to go back to: say so
            error = DivergenceError(
                f"training diverged in epoch {e.epoch} (counted from 0): the weights held NaN or infinity "
                "before this fit (set through params or the layers' views?), so they were left as they "
                "were; set finite weights (model.set_weights, or a new model) and fit again"
            )
            error.epoch = e.epoch
            raise error from None
        raise
    except KeyboardInterrupt:
        if chunks is None:  # raised in a callback (Ctrl-C then, or its own): its epochs ran
            model._epochs_seen += run.epochs_ended
            raise
        # Ctrl-C while the loop waited for a chunk (a reader that blocks): the epochs completed still count
        model._epochs_seen += max(chunks.epochs_started - 1, 0)
        raise KeyboardInterrupt(
            "fit() interrupted while waiting for the data source; the model keeps the weights of the last "
            "completed step"
        ) from None
    except BaseException:
        # a callback raised at the end of an epoch: the epochs that ended trained the model, so they
        # count (schedules and default shuffling seeds continue after them), as for Ctrl-C
        model._epochs_seen += run.epochs_ended
        raise
    finally:
        for prefetcher in run.prefetchers:
            prefetcher.close()


def _chunk_class_weight(plan):
    """The class weights each chunk of a source gets: "balanced" from the counts of every
    process's chunks (sharded: each counted its own), a dict as it is."""
    if plan.class_counts is None:
        return plan.class_weight
    counts = plan.class_counts
    if plan.comm is not None and plan.sharded:
        counts = _distributed.total(counts, plan.comm)
    return {c: float(v) for c, v in enumerate(balanced_from_counts(counts))}


def _begin_callbacks(model, plan) -> None:
    if not plan.py_callbacks:
        return
    has_val = plan.X_val is not None or plan.val_source is not None  # arrays, or a data source
    metrics = ["loss"] + (["accuracy"] if model.is_classifier else [])
    metrics += [f"val_{m}" for m in metrics] if has_val else []
    params = {"epochs": plan.options.epochs, "validation": has_val, "metrics": metrics}
    for cb in plan.py_callbacks:
        cb.set_model(model)
        cb.set_params(params)
    for cb in plan.py_callbacks:
        cb.on_train_begin({})
    for cb in plan.py_callbacks:
        cb.on_epoch_begin(0, {})


def _epoch_hook(model, plan, bar, final_logs: dict, run):
    """What the loop calls at each epoch's end: progress bar, functions, callbacks. It returns
    False to stop (a function returned False, or a callback set model.stop_training)."""
    epochs = plan.options.epochs

    def on_epoch(raw: dict):
        run.epochs_ended += 1
        # Only the keys that apply: accuracy for classifiers, val_* when validating.
        logs = {k: v for k, v in raw.items() if k not in ("epoch", "grad_norms") and v == v}
        epoch = int(raw["epoch"])
        final_logs.clear()
        final_logs.update(logs)
        if bar is not None:
            bar.update(logs)
        go_on = True
        for f in plan.functions:
            # Only False stops (as in Keras); any other return value is ignored.
            answer = f(epoch, logs)
            go_on = go_on and not (answer is False or answer is np.False_)
        for cb in plan.py_callbacks:
            cb.on_epoch_end(epoch, logs)
        go_on = go_on and not model.stop_training
        if go_on and epoch + 1 < epochs:
            for cb in plan.py_callbacks:
                cb.on_epoch_begin(epoch + 1, {})
        return None if go_on else False

    return on_epoch


def _warn_if_vanishing(history: History, n_layers: int) -> None:
    if history.grad_norms is None or n_layers < 2:
        return
    first, last = history.grad_norms[-1, 0], history.grad_norms[-1, -1]
    if last > 0 and first < VANISHING_RATIO * last:
        warnings.warn(
            f"vanishing gradients: in the last epoch the first layer's mean ||dW|| ({first:.3g}) is "
            f"below {VANISHING_RATIO:g} x the last layer's ({last:.3g}); units may be saturated",
            VanishingGradientWarning,
            stacklevel=3,  # the caller of fit
        )


def _prefetcher(plan, source, class_weight, shuffle: bool, prefetch: int = 2):
    convert = _data.converter(plan.inputs, plan.targets, class_weight)
    return _data.Prefetcher(source, convert, plan.options.seed, shuffle, prefetch, getattr(source, "mix", 1))


def _mean_loss(model, X, y, sample_weight, comm, batch_size=None) -> float:
    """Trainer.loss: J over arrays (each process its share with comm) or over a source's chunks;
    with a batch_size, over that many rows at a time (Sequential._engine_in)."""
    if (source := _data.chunked(X)) is not None:
        return _source_metrics(model, source, y, sample_weight, batch_size)["loss"]
    X = model._X(X)
    Y = model._Y(y, X.shape[0])
    W = model._targets().weights(sample_weight, None, Y)
    return _distributed.objective(model._engine_in(batch_size), X, Y, W, comm)  # the engine's alone without comm


def _accuracy(model, X, y, comm, batch_size=None) -> float:
    """Trainer.accuracy: the fraction of rows whose predicted class is right."""
    model._targets().require_classifier("accuracy")
    if (source := _data.chunked(X)) is not None:
        return _source_metrics(model, source, y, None, batch_size, loss=False, accuracy=True)["accuracy"]
    X = model._X(X)
    Y = model._Y(y, X.shape[0])
    return correct_share(model.loss_name, model.forward(X, comm, batch_size=batch_size), Y)


def _source_metrics(model, source, y, sample_weight, batch_size, loss=True, accuracy=False) -> dict:
    """The loss (the chunks' losses weighted by their rows or sample weights) and the accuracy over
    a source's chunks, in one pass (a reader is read once). ValueError when it holds no rows."""
    weight = weighted_loss = rows = right = 0.0
    for Xc, Yc, Wc, _ in model._chunks(source, y, sample_weight):
        engine = model._engine_in(batch_size)
        rows += len(Xc)
        w = len(Xc) if Wc is None else float(Wc.sum())
        if loss and w > 0:  # (a chunk whose weights are all 0 adds nothing; alone the core would refuse it)
            weight, weighted_loss = weight + w, weighted_loss + w * engine.objective(Xc, Yc, Wc)
        if accuracy:
            right += len(Xc) * correct_share(model.loss_name, engine.forward(Xc), Yc)
    if rows == 0:
        raise ValueError(f"the data source ({type(source).__name__}) holds no rows: nothing to evaluate")
    if loss and weight == 0:
        raise ValueError("sample weights sum to 0 over the data source: no sample would count")
    out = {"loss": weighted_loss / weight} if loss else {}
    if accuracy:
        out["accuracy"] = right / rows
    return out


def correct_share(loss: str, a, Y) -> float:
    """The fraction of rows whose predicted class (from outputs a) matches Y."""
    if loss == "categorical_crossentropy":
        pred = a.argmax(axis=1)
    else:
        pred = (a >= 0.5).astype(np.int64)
        pred = pred[:, 0] if pred.shape[1] == 1 else pred
    if loss == "categorical_crossentropy":
        truth = Y if Y.ndim == 1 else Y.argmax(axis=1)
        return float(np.mean(pred == truth))
    truth = (Y >= 0.5).astype(np.int64)
    truth = truth[:, 0] if truth.shape[1] == 1 else truth
    return float(np.mean(pred == truth)) if truth.ndim == 1 else float(np.mean((pred == truth).all(axis=1)))
