"""The commands: train, evaluate, predict, demo, info. Each takes the parsed arguments and returns
the exit status. ``train`` on a data set in shards is shards.py's; what it standardizes, and the
warnings about it, scaling.py's."""

from __future__ import annotations

import csv
import io
import json
import math
import os
import sys

from .common import (
    EXIT_OK,
    EXIT_USAGE,
    CLIError,
    check_model_fits,
    check_writable,
    need_matplotlib,
    progress_callbacks,
    warn,
)
from .data import check_features, is_number, load_data
from .frame import model_columns, numeric_part, tabular_layers
from .labels import _json_value, classes_of, encode_labels, load_model, save_model, scalers_of, task_of
from .scaling import Scaler, adapt_target, set_target_units, standardization_layers
from .shards import shard_source, train_on_shards

#: ``--task`` inference: integer-valued targets with at most this many distinct values are classes ...
MAX_INFERRED_CLASSES = 20


def infer_task(y) -> str:
    import numpy as np

    if y.ndim == 2:
        return "regress"
    if y.dtype.kind == "U":
        return "classify"
    if y.dtype.kind in "iu":
        k = len(np.unique(y))
        if k <= 2 or (k <= MAX_INFERRED_CLASSES and 2 * k <= len(y)):
            return "classify"
    return "regress"


def _training_targets(model, ids, k: int):
    """Class ids as the model's loss takes them: ids (softmax + cross-entropy, one sigmoid), else one-hot rows."""
    import numpy as np

    if model.loss_name == "categorical_crossentropy" or model.n_outputs == 1:
        return ids
    return np.eye(k)[ids]


def _predict_ids(model, X):
    a = model.forward(X)
    if a.shape[1] == 1:
        return (a[:, 0] >= 0.5).astype("int64")
    return a.argmax(axis=1)


def _probabilities(model, X):
    import numpy as np

    a = np.asarray(model.forward(X), dtype=np.float64)
    if a.shape[1] == 1:
        return np.hstack([1 - a, a])
    return a


def _fmt(v) -> str:
    return f"{v:.6g}" if isinstance(v, float) else str(v)


# ============================================================================ train


def _world():
    """MPI.COMM_WORLD when this process runs under mpiexec with more than one process, else None."""
    launched = any(os.environ.get(v, "1") != "1" for v in ("PMI_SIZE", "OMPI_COMM_WORLD_SIZE", "PMIX_SIZE"))
    if not launched:
        return None
    try:
        from mpi4py import MPI
    except ImportError as e:
        raise CLIError("running under mpiexec needs mpi4py: pip install 'fastmlp[mpi]'") from e
    return MPI.COMM_WORLD if MPI.COMM_WORLD.Get_size() > 1 else None


def _optimizer(args):
    """The optimizer --optimizer names (the optimizer registry), with --learning-rate and --momentum."""
    import fastmlp as fm

    if args.momentum is not None and args.optimizer != "sgd":
        raise CLIError("--momentum applies to --optimizer sgd")
    settings = {"learning_rate": args.learning_rate, "momentum": args.momentum}
    return fm.optimizers.create(args.optimizer, **{k: v for k, v in settings.items() if v is not None})


def train(args) -> int:
    import numpy as np

    import fastmlp as fm
    from fastmlp.layers import dense_stack
    from fastmlp.model import _split_rows

    _optimizer(args)  # a bad combination of options fails before the data is read
    source = shard_source(args.data, args)
    if source is not None:
        check_writable(args.out, "--out", args.data)
        return train_on_shards(args, source, _optimizer(args))

    comm = _world()  # under mpiexec: every process trains (data-parallel); rank 0 alone prints and writes
    quiet = (lambda *a, **k: None,) * 2
    say, note = (print, warn) if comm is None or comm.Get_rank() == 0 else quiet
    check_writable(args.out, "--out", args.data)
    if args.out is not None:
        fm.io._check_extension(args.out)  # a .onnx or .csv name: said before training, not after
    check_writable(args.plot, "--plot", args.data)
    if args.plot:
        need_matplotlib("--plot", args.plot)

    data = load_data(args.data, args, "train")
    X, y = data.X, data.y
    tabular = hasattr(X, "iloc")  # a DataFrame: the CSV has text columns or empty cells (frame.py)
    task = args.task or infer_task(y)
    inferred = args.task is None
    m = X.shape[0]

    hidden = args.layers
    classes = None
    if task == "classify":
        if y.ndim != 1:
            raise CLIError(
                f"{data.source}: classification needs one label per sample, the targets have shape {y.shape}"
            )
        values, ids = np.unique(y, return_inverse=True)
        classes = [_json_value(v) for v in values]
        k = len(classes)
        if k < 2:
            raise CLIError(
                f"{data.source}: the target has only one class ({classes[0]!r}); classification needs at least 2"
            )
        out_act = args.output_activation or ("softmax" if k > 2 else "sigmoid")
        if out_act not in ("softmax", "sigmoid"):
            raise CLIError(
                f"--output-activation {out_act} does not give class probabilities; "
                "use softmax or sigmoid for --task classify (or --task regress)"
            )
        n_out = 1 if (out_act == "sigmoid" and k == 2) else k
        loss = args.loss
    else:
        if y.dtype.kind == "U":
            bad = next(v for v in y.tolist() if not is_number(v))
            raise CLIError(
                f"{data.source}: the target holds text ({bad!r}); regression needs numbers (or use --task classify)"
            )
        y = y.astype(np.float64)
        out_act = args.output_activation or "linear"
        n_out = 1 if y.ndim == 1 else y.shape[1]
        loss = args.loss or "mse"

    check_model_fits([X.shape[1], *hidden, n_out], args.dtype)
    # standardization lives in the model (fm.Normalization, adapted below on the training rows):
    # it takes raw features and, for a standardized target, gives values in its units
    first, last = standardization_layers(args, task, out_act)
    if tabular:
        layers = first + tabular_layers(hidden, n_out, args.activation, out_act) + last
    else:
        layers = first + dense_stack(X.shape[1], hidden, n_out, args.activation, out_act) + last
    optimizer = _optimizer(args)
    model = fm.Sequential(layers, loss=loss, dtype=args.dtype, seed=args.seed, l2=args.l2, optimizer=optimizer)
    Y = _training_targets(model, ids, k) if task == "classify" else y

    # --validation-split holds out exactly the rows fit(validation_split=...) would (seeded,
    # stratified for classifiers: one splitter for the API and the CLI). It comes before the
    # standardization, which sees the training rows only.
    train_rows = val_rows = None
    if args.validation_split:
        train_rows, val_rows = _split_rows(
            ids if task == "classify" and model.is_classifier else None, m, args.validation_split, args.seed
        )
    seen = slice(None) if train_rows is None else train_rows
    if tabular:  # the first Normalization learns the numeric columns at the fit, the rows below
        numbers, numeric_names = numeric_part(X.iloc[seen])
        x_norm = fm.Normalization().adapt(numbers)
    else:
        x_norm = (first[0] if first else fm.Normalization()).adapt(X[seen])
    n_train = m if train_rows is None else len(train_rows)
    early = None
    if args.early_stopping is not None:
        early = fm.EarlyStopping(patience=args.early_stopping)

    if data.target_label is not None:
        what = data.target_label
    elif data.target_name is not None:
        what = f"target {data.target_name!r}"
    else:
        what = f"target column {data.target_index}"
    kinds = ""
    if tabular:
        from fastmlp.tabular import is_categorical

        n_text = sum(map(is_categorical, X.dtypes))
        kinds = f" ({n_text} categorical, {int(X.isna().to_numpy().sum())} empty cells)"
    say(f"data: {data.source}: {m} samples, {X.shape[1]} features{kinds}, {what}")
    if task == "classify":
        shown = ", ".join(str(c) for c in classes[:10]) + (", ..." if k > 10 else "")
        say(f"task: classification, {k} classes ({shown})" + ("  [inferred; --task to override]" if inferred else ""))
    else:
        say(
            f"task: regression, {n_out} output{'s' if n_out > 1 else ''}"
            + ("  [inferred; --task to override]" if inferred else "")
        )
    size = f"{model.num_params} parameters" if model.built else "sized by the columns at the fit"
    say(f"model: {model}  ({size}, {type(optimizer).__name__} learning rate {optimizer.learning_rate:g})")
    if val_rows is not None:
        say(f"training on {n_train} samples, validating on {len(val_rows)}")
    names = numeric_names if tabular else data.feature_names
    y_norm = adapt_target(args, task, out_act, x_norm, y[seen], say, note, names, n_train)
    # the fit's loss is on the standardized target (the last layer is the identity until after it)
    Y_fit = Scaler.of(y_norm).transform(Y) if last else Y
    X_train, Y_train, validation = X, Y_fit, None
    if val_rows is not None:
        rows = X.iloc if tabular else X
        X_train, Y_train = rows[train_rows], Y_fit[train_rows]
        validation = (rows[val_rows], Y_fit[val_rows])
    history = model.fit(
        X_train,
        Y_train,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        callbacks=progress_callbacks(args, comm is None or comm.Get_rank() == 0),
        validation_data=validation,
        early_stopping=early,
        comm=comm,
    )
    best = history.best_epoch
    restored = early is not None and best is not None and best != history.epochs - 1
    at = best if restored else history.epochs - 1  # the epoch whose weights the model has
    logs = {key: values[at] for key, values in history.history.items() if key != "lr" and len(values) > at}
    summary = "  ".join(f"{key} {value:.4f}" for key, value in logs.items())
    notes = (", stopped early" if history.stopped_early else "") + (
        f"; kept the weights of epoch {best + 1}" if restored else ""
    )
    set_target_units(last, y_norm)
    on = "  (losses on the standardized target)" if last else ""
    say(f"trained {history.epochs} epochs in {history.seconds:.2f}s{notes}: {summary}{on}")
    if tabular:
        say(f"model: {model}  ({model.num_params} parameters)")

    if comm is not None and comm.Get_rank() != 0:
        return EXIT_OK  # the weights are the same on every process: rank 0 writes them
    names = model.feature_names_in_ if tabular else data.feature_names  # tabular: the fit's, indicators too
    save_model(model, args.out, classes if task == "classify" else None, names)
    say(f"model saved to {args.out}")
    if args.plot:
        from fastmlp.plot import plot_decision_boundary, plot_loss

        plot_loss(history, args.plot, title=f"fastmlp on {os.path.basename(data.source)}")
        say(f"loss curves saved to {args.plot}")
        if task == "classify" and X.shape[1] == 2 and not tabular:
            root, ext = os.path.splitext(args.plot)
            bpath = f"{root}_boundary{ext or '.png'}"
            names = data.feature_names or ["x[0]", "x[1]"]
            plot_decision_boundary(
                model,
                X,  # the model standardizes inside: the plane of the raw features
                ids,
                bpath,
                labels=classes,
                feature_names=names,
                title=f"decision boundary on {os.path.basename(data.source)}",
            )
            say(f"decision boundary saved to {bpath}")
    return EXIT_OK


# ============================================================================ evaluate


def evaluate(args) -> int:
    import numpy as np

    check_writable(args.confusion_matrix, "--confusion-matrix", args.model, args.data)
    model, meta = load_model(args.model)
    task = task_of(model, meta)
    if args.confusion_matrix:
        if task != "classify":
            raise CLIError("--confusion-matrix needs a classifier; this model does regression")
        need_matplotlib("--confusion-matrix", args.confusion_matrix)
    data = load_data(args.data, args, "evaluate", meta, model_columns(model))
    check_features(model, data)
    x_scaler, y_scaler = scalers_of(meta)
    X, y = data.X, data.y
    if x_scaler is not None:
        X = x_scaler.transform(X)  # the scaling train fitted, as the model was trained
    results = {"samples": int(X.shape[0])}
    if task == "classify":
        classes = classes_of(model, meta)
        ids = encode_labels(y, classes, data.source)
        pred = _predict_ids(model, X)
        results["loss"] = float(model.loss(X, _training_targets(model, ids, len(classes))))
        results["accuracy"] = float(np.mean(pred == ids))
        if args.confusion_matrix:
            from fastmlp.plot import plot_confusion_matrix

            plot_confusion_matrix(
                ids, pred, args.confusion_matrix, labels=classes, title=f"{os.path.basename(data.source)}"
            )
    else:
        if y.dtype.kind == "U":
            raise CLIError(f"{data.source}: the target holds text; this model does regression")
        y = y.astype(np.float64)
        Y = y.reshape(len(y), -1)
        if Y.shape[1] != model.n_outputs:
            raise CLIError(
                f"the model has {model.n_outputs} outputs but the targets in {data.source} have {Y.shape[1]} columns"
            )
        out = np.asarray(model.forward(X), dtype=np.float64)
        # the loss is the training objective (on the standardized target, like train's val_loss);
        # MSE and R^2 are in the target's own units
        results["loss"] = float(model.loss(X, y if y_scaler is None else y_scaler.transform(y)))
        if y_scaler is not None:
            out = y_scaler.inverse(out)
        results["mse"] = float(np.mean((out - Y) ** 2))
        ss_res = ((out - Y) ** 2).sum(axis=0)
        ss_tot = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(ss_tot > 0, 1 - ss_res / ss_tot, np.nan)
        results["r2"] = float(np.mean(r2))  # averaged over outputs, as scikit-learn's r2_score
    if args.json:
        print(
            json.dumps({k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in results.items()})
        )
    else:
        for key, value in results.items():
            print(f"{key:<9} {_fmt(value)}")
        if args.confusion_matrix:
            print(f"confusion matrix saved to {args.confusion_matrix}")
    return EXIT_OK


# ============================================================================ predict


def predict(args) -> int:
    import numpy as np

    model, meta = load_model(args.model)
    task = task_of(model, meta)
    out = args.out
    if out is not None and not out.lower().endswith((".csv", ".tsv", ".txt", ".npy")):
        raise CLIError(f"--out {out}: write predictions to a .csv, .tsv or .npy file")
    check_writable(out, "--out", args.data)
    if args.proba and task != "classify":
        raise CLIError("--proba needs a classifier; this model does regression")
    data = load_data(args.data, args, "predict", meta, model_columns(model))
    check_features(model, data)
    x_scaler, y_scaler = scalers_of(meta)
    X = data.X if x_scaler is None else x_scaler.transform(data.X)
    if task == "classify":
        classes = classes_of(model, meta)
        if args.proba:
            result = _probabilities(model, X)
            columns = [f"p_{c}" for c in classes]
        else:
            ids = _predict_ids(model, X)
            result = np.array(classes)[ids]
            columns = ["prediction"]
    else:
        result = np.asarray(model.forward(X))
        if y_scaler is not None:  # back to the target's units, in the model's precision
            result = y_scaler.inverse(result).astype(result.dtype)
        columns = ["prediction"] if result.shape[1] == 1 else [f"prediction_{j}" for j in range(result.shape[1])]
        if result.shape[1] == 1:
            result = result[:, 0]
    if out is not None and out.lower().endswith(".npy"):
        buffer = io.BytesIO()
        np.save(buffer, result, allow_pickle=False)
        _write_output(out, buffer.getvalue())
    else:
        _write_table(out, result, columns, model.dtype)
    if out is not None:
        print(f"{len(X)} predictions written to {out}")
    return EXIT_OK


def _write_table(path, result, columns, dtype) -> None:
    import numpy as np

    digits = 9 if np.dtype(dtype) == np.float32 else 17

    def cell(v):
        if isinstance(v, float):
            return f"{v:.{digits}g}"
        return str(v)

    rows = result.reshape(len(result), -1).tolist()
    delimiter = "\t" if path is not None and path.lower().endswith(".tsv") else ","
    f = sys.stdout if path is None else io.StringIO(newline="")
    writer = csv.writer(f, delimiter=delimiter, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows([cell(v) for v in row] for row in rows)
    if path is None:
        f.flush()
    else:
        _write_output(path, f.getvalue().encode("utf-8"))


def _write_output(path: str, data: bytes) -> None:
    """``data`` into the file ``path`` in one atomic replace, as a model file is saved: an existing file
    survives any failure (a full disk, Ctrl-C). A path that exists and is no regular file (a FIFO,
    /dev/stdout) is written as it is."""
    if os.path.exists(path) and not os.path.isfile(path):
        with open(path, "wb") as f:
            f.write(data)
        return
    from fastmlp.io import write_atomic

    write_atomic(path, data)


# ============================================================================ demo, info


#: The demo's epochs: with fit's defaults (Adam, learning rate 1e-3, batches of 32) digits reaches
#: its test accuracy (>= 97%, tests/test_cli.py) well before this, and the curve shows it settle.
DEMO_EPOCHS = 50


def demo(args) -> int:
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        print("the demo needs scikit-learn and matplotlib: pip install 'fastmlp[demo]'", file=sys.stderr)
        return EXIT_USAGE
    import fastmlp as fm
    from fastmlp.plot import plot_loss

    check_writable(args.plot, "--plot")  # said before training, as train does
    need_matplotlib("--plot", args.plot)
    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixels 0..16 -> 0..1
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    model = fm.Sequential([fm.Dense(64, 128, "relu"), fm.Dense(128, 10, "softmax")], seed=args.seed)
    print(f"digits: {len(X_train)} train / {len(X_test)} test samples, 64 features, 10 classes")
    print(f"model: {model}  ({model.num_params} parameters)")
    rate = args.learning_rate if args.learning_rate is not None else model.optimizer.learning_rate
    print(f"optimizer: {type(model.optimizer).__name__}, learning rate {rate:g}, batch size {args.batch_size}")

    def progress(epoch, logs):
        print(
            f"epoch {epoch + 1:3d}/{args.epochs}  loss {logs['loss']:.4f}  train accuracy {logs['accuracy']:.4f}  "
            f"test accuracy {logs['val_accuracy']:.4f}",
            flush=True,
        )

    # The held-out test set is evaluated after each epoch, in C++, as "validation" data.
    history = model.fit(
        X_train,
        y_train,
        epochs=args.epochs,
        batch_size=args.batch_size,
        learning_rate=args.learning_rate,  # None: the optimizer's own default
        validation_data=(X_test, y_test),
        callback=progress,
    )
    acc = model.accuracy(X_test, y_test)
    print(f"test accuracy: {acc:.4f}  ({history.epochs} epochs in {history.seconds:.2f}s)")
    path = plot_loss(
        history,
        args.plot,
        title="fastmlp on digits",
        val_label="test loss",
        extra={"test accuracy": history.history["val_accuracy"]},
    )
    print(f"loss curve saved to {path}")
    return EXIT_OK


def info(args) -> int:
    import fastmlp as fm

    if args.model is None:
        print(json.dumps(fm.build_info(), indent=2))
        return EXIT_OK
    model, meta = load_model(args.model)
    task = task_of(model, meta)
    print(f"model: {model}")
    print(
        f"parameters: {model.num_params}, inputs: {model.n_features_in}, outputs: {model.n_outputs}, "
        f"epochs trained: {model.epochs_trained}"
    )
    if task == "classify":
        print(f"task: classification, classes: {', '.join(str(c) for c in classes_of(model, meta))}")
    else:
        print("task: regression")
    if meta and meta.get("features"):
        print(f"features: {', '.join(meta['features'])}")
    if meta and meta.get("target"):
        print(f"target: {meta['target']}")
    x_scaler, y_scaler = scalers_of(meta)
    done = (["features"] if x_scaler is not None else []) + (["target"] if y_scaler is not None else [])
    if done:  # an old model: its labels file holds the scaler
        print(f"standardized: {' and '.join(done)} (evaluate and predict apply it)")
        return EXIT_OK
    norms = [layer for layer in model.layers if isinstance(layer, fm.Normalization)]
    done = ["target" if layer.invert else "features" for layer in norms]
    print(f"standardized: {' and '.join(done)} (Normalization layers in the model)" if done else "standardized: no")
    return EXIT_OK
