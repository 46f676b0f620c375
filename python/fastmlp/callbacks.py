"""Callbacks for ``Sequential.fit(callbacks=[...])``, Keras-shaped.

The training loop runs in C++; Python is called once per epoch (never per batch), so a
callback costs nothing between epochs. Two of them are settings of that loop rather than
Python code: ``EarlyStopping`` (trainer.hpp's early stopping, restoring the best weights)
and ``ReduceLROnPlateau`` (the ``reduce_on_plateau`` schedule); both may also be given
as ``fit(early_stopping=...)`` / ``fit(schedule=...)``.

A callback is either a callable ``f(epoch, logs)`` (return False to stop) or a
``Callback`` with any of ``on_train_begin(logs)``, ``on_epoch_begin(epoch, logs)``,
``on_epoch_end(epoch, logs)``, ``on_train_end(logs)``; it sees the model as
``self.model`` and the fit's settings as ``self.params`` ({"epochs", "validation",
"metrics"}); setting ``self.model.stop_training = True`` stops after the epoch.
``logs`` holds the epoch's "loss", "lr" and, where they apply, "accuracy", "val_loss",
"val_accuracy". ``on_epoch_begin(e)`` for e >= 1 runs right after ``on_epoch_end(e - 1)``
(nothing happens in between), even when a rule of the C++ loop (early stopping, tol)
then ends training.
"""

from __future__ import annotations

import csv
import math
import os
import warnings

from . import _core
from . import distributed as _distributed
from . import io as _io
from ._validation import as_bool, as_int, as_real, as_verbose

__all__ = [
    "Callback",
    "LambdaCallback",
    "EarlyStopping",
    "ReduceLROnPlateau",
    "ModelCheckpoint",
    "CSVLogger",
    "ProgressBar",
]

_ES = _core.EarlyStoppingSpec()
METRICS = ("loss", "accuracy", "val_loss", "val_accuracy")


def _mode(monitor: str, mode: str) -> bool:
    """True when higher is better for ``monitor`` under ``mode`` ("auto", "min", "max")."""
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode == "auto":
        return "accuracy" in monitor
    return mode == "max"


class Callback:
    """Base class: override any of the hooks. ``model`` and ``params`` are set by fit()."""

    model = None
    params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None) -> None:
        pass

    def on_train_end(self, logs=None) -> None:
        pass

    def on_epoch_begin(self, epoch: int, logs=None) -> None:
        pass

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        pass


class LambdaCallback(Callback):
    """A Callback from functions: on_epoch_begin(epoch, logs), on_epoch_end(epoch, logs),
    on_train_begin(logs), on_train_end(logs); any may be None."""

    def __init__(self, on_epoch_begin=None, on_epoch_end=None, on_train_begin=None, on_train_end=None):
        for name, f in (
            ("on_epoch_begin", on_epoch_begin),
            ("on_epoch_end", on_epoch_end),
            ("on_train_begin", on_train_begin),
            ("on_train_end", on_train_end),
        ):
            if f is not None:
                if not callable(f):
                    raise TypeError(f"{name} must be callable, got {type(f).__name__}")
                setattr(self, name, f)


class EarlyStopping(Callback):
    """Stop when ``monitor`` has not improved by more than ``min_delta`` for ``patience`` epochs.

    monitor: "loss", "accuracy", "val_loss" or "val_accuracy" (the val_ ones need validation
    data; accuracies need a classification loss); None picks val_loss when validation data is
    given, else loss. mode: "auto" (max for accuracies, min otherwise), "min" or "max". With
    ``restore_best`` (Keras: ``restore_best_weights``) the model ends with the weights of the
    best epoch, however training stopped. Runs inside the C++ loop: a thin name over its
    early-stopping settings (trainer.hpp), where the defaults and ranges live.
    """

    def __init__(
        self,
        patience: int = _ES.patience,
        min_delta: float = _ES.min_delta,
        monitor: str | None = None,
        restore_best: bool = _ES.restore_best,
        mode: str = "auto",
        restore_best_weights: bool | None = None,
    ):
        if monitor is not None and monitor not in METRICS:
            raise ValueError(f"monitor must be one of {', '.join(METRICS)} or None, got {monitor!r}")
        _mode(monitor or "loss", mode)
        spec = _core.EarlyStoppingSpec()
        spec.enabled = True
        spec.patience = as_int(patience, "patience")
        spec.min_delta = as_real(min_delta, "min_delta")
        spec.restore_best = as_bool(restore_best, "restore_best")
        if restore_best_weights is not None:  # Keras's name for it
            spec.restore_best = as_bool(restore_best_weights, "restore_best_weights")
        _core.validate_early_stopping(spec)  # ValueError naming the parameter
        self._spec = spec
        self.monitor = monitor
        self.mode = mode

    patience = property(lambda self: self._spec.patience)
    min_delta = property(lambda self: self._spec.min_delta)
    restore_best = property(lambda self: self._spec.restore_best)

    def spec(self, has_validation: bool):
        """The C++ settings for a fit with or without validation data."""
        monitor = self.monitor or ("val_loss" if has_validation else "loss")
        if monitor.startswith("val_") and not has_validation:
            raise ValueError(f"EarlyStopping(monitor={monitor!r}) needs validation_data or validation_split")
        self._spec.monitor = monitor
        self._spec.maximize = _mode(monitor, self.mode)
        return self._spec

    def __repr__(self) -> str:
        return (
            f"EarlyStopping(patience={self.patience}, min_delta={self.min_delta}, monitor={self.monitor!r}, "
            f"mode={self.mode!r}, restore_best={self.restore_best})"
        )


class ReduceLROnPlateau(Callback):
    """Multiply the learning rate by ``factor`` when ``monitor`` ("loss" or "val_loss") has not
    improved by more than ``min_delta`` for ``patience`` epochs, not below ``min_lr``.
    The C++ loop's ``reduce_on_plateau`` schedule (fm.schedules.ReduceOnPlateau) under Keras's name."""

    def __init__(
        self,
        monitor: str = "val_loss",
        factor: float | None = None,
        patience: int | None = None,
        min_delta: float | None = None,
        min_lr: float | None = None,
    ):
        from .schedules import ReduceOnPlateau

        values = {
            k: v
            for k, v in (("factor", factor), ("patience", patience), ("min_delta", min_delta), ("min_lr", min_lr))
            if v is not None
        }
        self.schedule = ReduceOnPlateau(monitor=monitor, **values)

    def __repr__(self) -> str:
        return repr(self.schedule).replace("ReduceOnPlateau", "ReduceLROnPlateau", 1)


class _Monitor(Callback):
    """Tracks the best value of a logged metric."""

    def __init__(self, monitor: str, mode: str):
        if not isinstance(monitor, str) or monitor not in METRICS:
            raise ValueError(f"monitor must be one of {', '.join(METRICS)}, got {monitor!r}")
        self.monitor = monitor
        self.mode = mode
        self._maximize = _mode(monitor, mode)
        self.best = None

    def on_train_begin(self, logs=None) -> None:
        if self.monitor.startswith("val_") and not self.params.get("validation"):
            raise ValueError(
                f"{type(self).__name__}(monitor={self.monitor!r}) needs validation_data or validation_split"
            )
        if self.monitor not in self.params.get("metrics", METRICS):
            raise ValueError(
                f"{type(self).__name__}(monitor={self.monitor!r}): this model does not log it "
                f"(it logs {', '.join(self.params.get('metrics', ()))})"
            )

    def _improved(self, logs: dict) -> bool:
        value = logs.get(self.monitor)
        if value is None or math.isnan(value):
            return False
        if self.best is None or (value > self.best if self._maximize else value < self.best):
            self.best = value
            return True
        return False


class ModelCheckpoint(_Monitor):
    """Save the model to ``filepath`` after an epoch: with ``save_best_only`` (default) only when
    ``monitor`` improved (mode as in EarlyStopping). Saves are atomic (fm.save writes a temporary
    file in the same folder and renames it), so the file always holds a complete model and a failed
    save leaves the one before. ``filepath`` may contain ``{epoch}`` (counted from 1, as Keras) and
    the logged metrics, e.g. "model-{epoch:03d}.safetensors" or "runs/{epoch:03d}/model.safetensors".
    On device="cuda" the weights are copied to the host before each save.

    Missing folders: as Keras's ModelCheckpoint, each save first creates the folders of its path
    that do not exist (``os.makedirs``; rank 0 alone after a data-parallel fit), at the save, not
    before: a template may name a folder per epoch, and a fit refused before its first epoch leaves
    no folder behind. A path that cannot be a folder (a file in the way, no permission) fails at the
    first save with the error ``model.save`` raises outside fit (NotADirectoryError, PermissionError,
    ...). ``model.save`` itself creates no folders (FileNotFoundError). A file name ``model.save``
    refuses (".keras", ".h5", ".onnx": it writes safetensors only) fails when the fit begins, before
    any epoch trains.

    verbose: 0 (False) silent; 1, 2, True or "auto" a line per save (Keras documents 0 or 1 and prints
    for any verbose > 0, so code written for it runs here)."""

    def __init__(
        self,
        filepath,
        monitor: str = "val_loss",
        mode: str = "auto",
        save_best_only: bool = True,
        verbose: int | bool = 0,
    ):
        super().__init__(monitor, mode)
        self.filepath = os.fspath(filepath)
        self.save_best_only = as_bool(save_best_only, "save_best_only")
        self.verbose = min(as_verbose(verbose, "verbose"), 1)
        self.saved = []  # the paths written, in order

    def on_train_begin(self, logs=None) -> None:
        if self.save_best_only:
            super().on_train_begin(logs)
        names = [*getattr(self, "params", {}).get("metrics", ()), "lr"]
        unknown = _Unknown(epoch=1, **dict.fromkeys(names, 0.0))
        try:  # a template that cannot be formatted fails now, before the first epoch trains, not after it
            example = self.filepath.format_map(unknown)
        except (IndexError, ValueError) as e:
            raise ValueError(
                f"ModelCheckpoint: filepath {self.filepath!r} cannot be formatted ({type(e).__name__}: {e}); it may "
                f"use {{epoch}} (an integer) and the logged values {', '.join(names)} (floats)"
            ) from None
        try:  # a name save refuses (".keras", ".onnx") fails before any epoch trains, naming the template
            _io._check_extension(example)
        except ValueError:
            ext = os.path.splitext(example)[1]
            raise ValueError(
                f"ModelCheckpoint: filepath {self.filepath!r} gives file names ending in {ext!r} (e.g. {example!r}), "
                "and save writes the safetensors format only: end the template in '.safetensors' (or give no "
                "extension)"
            ) from None
        if unknown.missing:  # another callback may log them (as Keras allows); else the first save fails
            warnings.warn(
                f"ModelCheckpoint: filepath {self.filepath!r} names {', '.join(sorted(unknown.missing))}, which this "
                f"fit does not log (it logs {{epoch}} and {', '.join(names)}); the save fails unless another "
                "callback adds them to the logs",
                stacklevel=2,
            )

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        if self.save_best_only and not self._improved(logs):
            return
        try:
            path = self.filepath.format(epoch=epoch + 1, **logs)
        except KeyError as e:
            raise ValueError(
                f"ModelCheckpoint: filepath {self.filepath!r} names {e}, which the logs of epoch {epoch + 1} lack "
                f"(they hold epoch, {', '.join(logs)})"
            ) from None
        _io._check_extension(path)  # a name save refuses makes no folder first
        if _distributed.is_root(getattr(self.model, "_comm", None)):
            _make_parents(path)
        self.model.save(path)
        self.saved.append(path)
        if self.verbose:
            print(f"epoch {epoch + 1}: saved the model to {path}")


def _make_parents(path: str) -> None:
    """Create the missing folders above ``path`` (Keras's ModelCheckpoint does, at each save). An
    existing one is left as it is, even a file in the way: the save then raises what it raises
    outside fit."""
    folder = os.path.dirname(path)
    if folder and not os.path.exists(folder):
        os.makedirs(folder, exist_ok=True)


class _Unknown(dict):
    """A template's values, 0.0 for a name it lacks (kept in `missing`)."""

    def __init__(self, **values):
        super().__init__(**values)
        self.missing = set()

    def __missing__(self, key):
        self.missing.add(key)
        return 0.0


class CSVLogger(Callback):
    """Write one row per epoch (epoch and every logged value) to ``filename``; ``append``
    continues an existing file."""

    def __init__(self, filename, separator: str = ",", append: bool = False):
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = as_bool(append, "append")
        self._file = None
        self._writer = None

    def on_train_begin(self, logs=None) -> None:
        # Opened to append, which creates the file (or fails) now but empties nothing: a fit that another
        # callback's on_train_begin refuses leaves an existing log as it was. append=False empties it at
        # the first row.
        self._file = open(self.filename, "a", newline="")
        # a pipe or /dev/stdout cannot seek: nothing to continue there, nothing to empty
        seekable = self._file.seekable()
        self._header_written = self.append and seekable and self._file.tell() > 0
        self._truncate = not self.append and seekable
        self._writer = None

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        logs = logs or {}
        if self._writer is None:
            if self._truncate:
                self._file.truncate(0)  # (writes in append mode go to the end: now the start)
            self._writer = csv.DictWriter(self._file, fieldnames=["epoch", *logs], delimiter=self.separator)
            if not self._header_written:
                self._writer.writeheader()
        self._writer.writerow({"epoch": epoch, **logs})
        self._file.flush()

    def on_train_end(self, logs=None) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None


class _WriteAboveBar:
    """sys.stdout while a bar is shown: whole lines go out through tqdm.write, which clears the bar,
    writes the line and draws the bar again, so a callback's print() does not garble it."""

    def __init__(self, stream, tqdm):
        self.stream, self.tqdm, self.pending = stream, tqdm, ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.tqdm.write(line, file=self.stream)
        return len(text)

    def flush(self) -> None:
        if self.pending:
            self.tqdm.write(self.pending, file=self.stream)
            self.pending = ""
        self.stream.flush()

    def __getattr__(self, name):  # isatty, encoding, fileno ...: the real stream's
        return getattr(self.stream, name)


def metrics_line(logs: dict, keys=("loss", "accuracy")) -> str:
    """``loss 0.4121  accuracy 0.8600``: the values of ``keys`` in ``logs`` (fit's epoch lines,
    evaluate's verbose line)."""
    return "  ".join(f"{k} {logs[k]:.4f}" if "accuracy" in k else f"{k} {logs[k]:.4g}" for k in keys if k in logs)


def epoch_line(epoch: int, epochs, logs: dict, width: int = 80) -> str:
    """``epoch 3/10  loss 0.4121  accuracy 0.8600  val_loss 0.5012  val_accuracy 0.8000``: every
    metric of the epoch; where that is wider than ``width`` the val_ ones go on a second line."""
    total = f"/{epochs}" if epochs else ""
    head = f"epoch {epoch + 1}{total}"
    train, val = metrics_line(logs), metrics_line(logs, ("val_loss", "val_accuracy"))
    line = "  ".join(p for p in (head, train, val) if p)
    if len(line) <= width or not val:
        return line
    return f"{head}  {train}\n{' ' * len(head)}  {val}"


class ProgressBar(Callback):
    """Keras's ``verbose``: 1 (or True) a tqdm bar over the epochs, and at the end of each epoch a line
    with every metric (val ones included, readable at 80 columns) written above it; 2 that line alone,
    one per epoch; 0 nothing. While the bar is shown, what callbacks print goes through tqdm.write, so
    it does not garble the bar.

    The bar advances within each epoch too: fit hands ``on_batch_progress`` to the C++ loop, which
    calls it at most every 0.1 s (never per batch: that would cost the GIL in the hot loop).
    fit(verbose=...) makes one, or pass it as a callback (``callbacks=[ProgressBar(verbose=2)]``:
    its epochs come from the fit)."""

    def __init__(self, epochs: int | None = None, verbose=1):
        verbose = as_verbose(verbose)
        self.verbose, self.epochs, self.bar, self._stdout, self._done = int(verbose), epochs, None, None, 0
        if epochs is not None:
            self._start(epochs)

    def _start(self, epochs) -> None:
        import shutil
        import sys

        self.epochs, self._done = epochs, 0
        self.width = shutil.get_terminal_size((80, 24)).columns
        if self.verbose == 1:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=epochs, unit="epoch", dynamic_ncols=True)
            self._stdout = sys.stdout
            sys.stdout = _WriteAboveBar(sys.stdout, tqdm)

    def on_train_begin(self, logs=None) -> None:
        self._start(self.params.get("epochs"))

    def on_epoch_end(self, epoch: int, logs=None) -> None:
        self.update(logs or {}, epoch)

    def on_train_end(self, logs=None) -> None:
        self.close()

    def update(self, logs: dict, epoch: int | None = None) -> None:
        epoch = self._done if epoch is None else epoch
        self._done = epoch + 1
        logs = {k: v for k, v in logs.items() if k in METRICS and v == v}
        if self.verbose == 0:
            return
        line = epoch_line(epoch, self.epochs, logs, self.width)
        if self.bar is None:
            print(line, flush=True)
            return
        self.bar.write(line, file=self._stdout)
        self.bar.set_postfix({"loss": f"{logs['loss']:.4g}"} if "loss" in logs else {}, refresh=False)
        self._move_to(self._done)

    def on_batch_progress(self, done: int, total: int) -> None:
        """The loop's report during an epoch (at most every 0.1 s): ``done`` of the epoch's ``total``
        batches (total 0: not known ahead, a chunked source). The bar moves to the epoch's share."""
        if self.bar is None or total <= 0:
            return
        self._move_to(round(self._done + min(done / total, 0.99), 2))  # 2.47/10: the bar shows epochs

    def _move_to(self, n) -> None:
        self.bar.n = n
        self.bar.update(0)  # tqdm's rate and its redraw interval follow n (its own bookkeeping)

    def close(self) -> None:
        import sys

        if self._stdout is not None:
            sys.stdout.flush()
            if isinstance(sys.stdout, _WriteAboveBar):
                sys.stdout = self._stdout
            self._stdout = None
        if self.bar is not None:
            self.bar.close()
            self.bar = None
