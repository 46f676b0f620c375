"""Command line: python -m fastmlp <command> (also installed as ``fastmlp``).

    python -m fastmlp train data.csv --layers 64,32 --epochs 50 --out model.safetensors --plot loss.png
    python -m fastmlp evaluate model.safetensors test.csv [--confusion-matrix cm.png]
    python -m fastmlp predict model.safetensors new.csv [--proba] [--out predictions.csv]
    python -m fastmlp demo      train on scikit-learn's digits, print test accuracy, save a loss curve
    python -m fastmlp info      how the C++ core was built (``info model.safetensors``: the model)

Data files: .csv/.tsv/.txt (a header row is detected, or forced with --header yes|no;
the target is a column: ``--target NAME|INDEX``, default the last one) or .npz
(arrays ``X`` and ``y``, renamed with --x-key/--y-key); ``predict`` also reads a .npy of X.

Class labels (strings, or integers that are not 0..k-1) are mapped to ids 0..k-1 in
sorted order; ``train`` writes the label names, the task and the column names to
``<model stem>.labels.json`` next to the model file, and ``evaluate`` / ``predict`` /
``info`` read it from there (it records the model file's SHA-256, so a labels file
left over from another model is ignored with a warning). A model saved from Python
has no labels file: its classes are the ids 0..k-1.

Errors in the input (a missing file, an unknown column, a shape the model does not
take, text where numbers belong) print one line on stderr and exit with status 2;
a diverging training run exits with 1. Set FASTMLP_DEBUG=1 to see tracebacks.
"""
from __future__ import annotations

import argparse
import csv
import hashlib
import json
import math
import os
import sys

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
#: ``--task`` inference: integer-valued targets with at most this many distinct values are classes ...
MAX_INFERRED_CLASSES = 20
TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
LABELS_FORMAT = 1


class CLIError(Exception):
    """A mistake in the input: printed as ``fastmlp <command>: error: <message>``, exit status 2."""


# ============================================================================ argument types

def _positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _float_arg(ok, what: str):
    """An argparse type: a float for which ok(v) holds, else an error saying `what` was expected."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not ok(v):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return v

    return parse


_positive_float = _float_arg(lambda v: math.isfinite(v) and v > 0, "a finite number > 0")
_nonnegative_float = _float_arg(lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")
_fraction = _float_arg(lambda v: 0 < v < 1, "a number in (0, 1)")


def _layer_sizes(text: str) -> list:
    """"64,32" -> [64, 32]; "" or "none" -> [] (no hidden layer)."""
    if text.strip().lower() in ("", "none"):
        return []
    sizes = []
    for part in text.split(","):
        try:
            n = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated layer sizes like 64,32, got {text!r}") from None
        if n < 1:
            raise argparse.ArgumentTypeError(f"layer sizes must be >= 1, got {n} in {text!r}")
        sizes.append(n)
    return sizes


def _batch_size(text: str):
    if text.strip().lower() == "full":
        return None
    return _positive_int(text)


# ============================================================================ reading data

class Data:
    """Features X (float64, (m, d)), targets y (raw values or None) and where they came from."""

    def __init__(self, X, y, source: str, feature_names=None, target_name=None, note: str = ""):
        self.X, self.y, self.source = X, y, source
        self.feature_names, self.target_name = feature_names, target_name
        self.note = note  # how the feature columns were picked, for shape errors
        self.target_index = None  # CSV: the target's column
        self.target_label = None  # how to name the targets in messages


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _looks_like_header(first: list, rest: list) -> bool:
    """A first row is a header when all of its cells are text, or when one of its cells
    is text in a column whose other cells are numbers. Empty cells prove nothing."""
    text = [bool(c) and not _is_number(c) for c in first]
    if not any(text):
        return False
    if all(text):
        return True
    sample = rest[:200]
    return any(t and sample and all(_is_number(r[j]) for r in sample) for j, t in enumerate(text))


def _guess_delimiter(path: str) -> str:
    """Tab for .tsv; otherwise ',' unless the first line has no comma but semicolons or tabs."""
    if path.lower().endswith(".tsv"):
        return "\t"
    try:
        with open(path, encoding="utf-8-sig", errors="replace") as f:
            first = f.readline()
    except OSError:
        return ","
    if "," not in first:
        for d in (";", "\t"):
            if d in first:
                return d
    return ","


def _read_text_table(path: str, delimiter, header_mode: str):
    """(header or None, rows as lists of stripped strings, the line number of each row)."""
    if delimiter is None:
        delimiter = _guess_delimiter(path)
    rows, lines = [], []
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            reader = csv.reader(f, delimiter=delimiter)
            for row in reader:
                cells = [c.strip() for c in row]
                if any(cells):
                    rows.append(cells)
                    lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise CLIError(f"{path}: not a UTF-8 text file") from None
    except csv.Error as e:
        raise CLIError(f"{path}: not a valid CSV file ({e})") from None
    if not rows:
        raise CLIError(f"{path}: the file holds no data")
    width = len(rows[0])
    for cells, line in zip(rows, lines):
        if len(cells) != width:
            raise CLIError(f"{path}: line {line} has {len(cells)} fields but line {lines[0]} has {width} "
                           f"(delimiter {delimiter!r}; see --delimiter)")
    if header_mode == "yes" or (header_mode == "auto" and _looks_like_header(rows[0], rows[1:])):
        header, rows, lines = rows[0], rows[1:], lines[1:]
        if not rows:
            raise CLIError(f"{path}: the file has a header row but no data rows")
    else:
        header = None
    return header, rows, lines


def _column_index(spec: str, header, ncols: int, path: str) -> int:
    """The column ``spec`` names: a header name, else an index (negative counts from the end)."""
    if header is not None and spec in header:
        if header.count(spec) > 1:
            raise CLIError(f"{path}: the column name {spec!r} appears {header.count(spec)} times; "
                           "use its index with --target")
        return header.index(spec)
    try:
        i = int(spec)
    except ValueError:
        if header is None:
            raise CLIError(f"{path} has no header row, so --target must be a column index "
                           f"(0..{ncols - 1}, or -1 for the last column), got {spec!r}") from None
        shown = ", ".join(repr(h) for h in header[:20]) + (", ..." if len(header) > 20 else "")
        raise CLIError(f"{path} has no column named {spec!r}; its columns are {shown}") from None
    if not -ncols <= i < ncols:
        raise CLIError(f"--target {i} is out of range: {path} has {ncols} columns "
                       f"(indices 0..{ncols - 1}, or -1..-{ncols} from the end)")
    return i % ncols


def _column_label(header, j: int) -> str:
    return f"column {j} ({header[j]!r})" if header is not None else f"column {j}"


def _parse_features(rows, lines, cols, header, path):
    import numpy as np

    if not cols:
        return np.empty((len(rows), 0))
    cells = np.array([[r[j] for j in cols] for r in rows], dtype=str)
    try:
        X = cells.astype(np.float64)
    except ValueError:
        X = None
    if X is None or not np.isfinite(X).all():
        for i, r in enumerate(rows):  # find the first bad cell, for the message
            for j in cols:
                value = r[j]
                if not value:
                    raise CLIError(f"{path}: line {lines[i]}, {_column_label(header, j)} is empty; "
                                   "features must all be numbers (fill in or drop missing values)")
                if not _is_number(value):
                    raise CLIError(f"{path}: line {lines[i]}, {_column_label(header, j)}: {value!r} is not a "
                                   "number; features must be numeric (encode text columns as numbers, or pick "
                                   "the target with --target)")
                if not math.isfinite(float(value)):
                    raise CLIError(f"{path}: line {lines[i]}, {_column_label(header, j)}: {value!r} is not a "
                                   "finite number")
    return X


def _target_values(values: list):
    """A text column as numbers when every cell is one (int64 when all are whole), else as strings."""
    import numpy as np

    arr = np.array(values, dtype=str)
    try:
        num = arr.astype(np.float64)
    except ValueError:
        return arr
    if not np.isfinite(num).all():
        bad = values[int(np.flatnonzero(~np.isfinite(num))[0])]
        raise CLIError(f"the target column holds {bad!r}, which is not a finite number")
    if np.all(num == np.round(num)) and np.all(np.abs(num) < 2**53):
        return num.astype(np.int64)
    return num


def _load_text(path: str, args, role: str, meta) -> Data:
    header, rows, lines = _read_text_table(path, getattr(args, "delimiter", None), getattr(args, "header", "auto"))
    ncols = len(rows[0])
    spec = getattr(args, "target", None)
    target = None
    if spec is not None:
        target = _column_index(spec, header, ncols, path)
    elif role in ("train", "evaluate"):
        known = meta.get("target") if meta else None
        target = header.index(known) if (known is not None and header is not None and known in header) else ncols - 1
    elif meta and header is not None and meta.get("target") in header:  # predict: drop the known target column
        target = header.index(meta["target"])

    known_features = meta.get("features") if meta else None
    if (role != "train" and known_features and header is not None and all(n in header for n in known_features)
            and len(set(known_features)) == len(known_features)):
        cols = [header.index(n) for n in known_features]  # by name: any column order, extra columns ignored
        note = f"the columns named as in training ({len(cols)})"
    else:
        cols = [j for j in range(ncols) if j != target]
        note = f"{ncols} columns" + (f" minus the target {_column_label(header, target)}" if target is not None else "")
    if role == "train" and not cols:
        raise CLIError(f"{path} has only the target column; there are no feature columns")
    X = _parse_features(rows, lines, cols, header, path)
    y = None
    if target is not None and role != "predict":
        empty = [lines[i] for i, r in enumerate(rows) if not r[target]]
        if empty:
            raise CLIError(f"{path}: line {empty[0]}, target {_column_label(header, target)} is empty")
        try:
            y = _target_values([r[target] for r in rows])
        except CLIError as e:
            raise CLIError(f"{path}: {e}") from None
    names = [header[j] for j in cols] if header is not None else None
    tname = header[target] if (header is not None and target is not None) else None
    data = Data(X, y, path, names, tname, note)
    data.target_index = target
    return data


def _load_npz(path: str, args, role: str) -> Data:
    import zipfile

    import numpy as np

    if getattr(args, "target", None) is not None:
        raise CLIError(f"--target applies to CSV files; for {path} name the arrays with --x-key / --y-key")
    try:
        with np.load(path, allow_pickle=False) as npz:
            keys = list(npz.keys())
            x_key, y_key = args.x_key, getattr(args, "y_key", "y")
            if x_key not in keys:
                raise CLIError(f"{path} has no array {x_key!r} (it holds {', '.join(map(repr, keys)) or 'nothing'}); "
                               "name the features with --x-key")
            X = npz[x_key]
            y = None
            if role != "predict":
                if y_key not in keys:
                    raise CLIError(f"{path} has no array {y_key!r} (it holds {', '.join(map(repr, keys))}); "
                                   "name the targets with --y-key")
                y = npz[y_key]
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise CLIError(f"{path}: not a valid .npz file ({e})") from None
    except ValueError as e:  # object arrays need pickle, which is never enabled
        raise CLIError(f"{path}: cannot read the arrays without pickle ({e}); save plain numeric or "
                       "string arrays") from None
    X = _check_X(X, f"{x_key!r} in {path}")
    if y is not None:
        y = _check_y(y, f"{y_key!r} in {path}", X.shape[0])
    data = Data(X, y, path, note=f"{x_key!r} of shape {X.shape}")
    data.target_label = f"targets {y_key!r}"
    return data


def _load_npy(path: str) -> Data:
    import numpy as np

    try:
        X = np.load(path, allow_pickle=False)
    except ValueError as e:
        raise CLIError(f"{path}: not a plain .npy array ({e})") from None
    X = _check_X(X, path)
    return Data(X, None, path, note=f"shape {X.shape}")


def _check_X(X, what: str):
    import numpy as np

    if X.dtype.kind not in "biuf":
        raise CLIError(f"{what} must hold numbers, it has dtype {X.dtype}")
    if X.ndim != 2:
        raise CLIError(f"{what} must be 2-D (samples, features), it has shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise CLIError(f"{what} is empty: shape {X.shape}")
    X = X.astype(np.float64)
    if not np.isfinite(X).all():
        row = int(np.flatnonzero(~np.isfinite(X).all(axis=1))[0])
        raise CLIError(f"{what} holds NaN or infinity (first in row {row})")
    return X


def _check_y(y, what: str, m: int):
    import numpy as np

    if y.dtype.kind == "S":
        y = np.char.decode(y, "utf-8")
    if y.dtype.kind not in "biufU":
        raise CLIError(f"{what} must hold numbers or strings, it has dtype {y.dtype}")
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if y.ndim not in (1, 2) or y.shape[0] != m:
        raise CLIError(f"{what} must have shape ({m},) or ({m}, k) to match X's {m} rows, it has shape {y.shape}")
    if y.dtype.kind == "b":
        y = y.astype(np.int64)
    if y.dtype.kind == "f":
        if not np.isfinite(y).all():
            raise CLIError(f"{what} holds NaN or infinity")
        if y.ndim == 1 and np.all(y == np.round(y)) and np.all(np.abs(y) < 2**53):
            y = y.astype(np.int64)
    return y


def _load_data(path: str, args, role: str, meta=None) -> Data:
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CLIError(f"{path} is a folder, not a data file")
    low = path.lower()
    if low.endswith(TEXT_SUFFIXES):
        return _load_text(path, args, role, meta)
    if low.endswith(".npz"):
        return _load_npz(path, args, role)
    if low.endswith(".npy") and role == "predict":
        return _load_npy(path)
    kinds = ".csv, .tsv, .txt or .npz" + (" (or .npy of X)" if role == "predict" else "")
    raise CLIError(f"{path}: unknown data file type {os.path.splitext(path)[1] or '(no extension)'!r}; use {kinds}")


def _check_features(model, data: Data) -> None:
    d, have = model.n_features_in, data.X.shape[1]
    if have != d:
        hint = ""
        if data.y is None and have == d + 1:
            hint = "; if one column is the target, name it with --target"
        raise CLIError(f"the model expects {d} features but {data.source} has {have} ({data.note}){hint}")


# ============================================================================ labels file

def labels_path(model_path: str) -> str:
    """Where ``train`` keeps the labels of ``model_path``: model.safetensors -> model.labels.json."""
    root, _ = os.path.splitext(model_path)
    return root + ".labels.json"


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_json_atomic(path: str, obj) -> None:
    """The same atomic write as the model file (temporary file, fsync, rename)."""
    from fastmlp.io import _atomic_write

    _atomic_write(path, [(json.dumps(obj, indent=2) + "\n").encode("utf-8")])


def _save_model(model, path: str, meta: dict) -> str:
    """Write the model file, then its labels file (with the model file's hash). Returns the labels path."""
    model.save(path)
    meta = {"fastmlp_labels": LABELS_FORMAT, "model_sha256": _sha256(path), **meta}
    lpath = labels_path(path)
    _write_json_atomic(lpath, meta)
    return lpath


def _read_meta(model_path: str, model):
    """The labels file of ``model_path`` as a dict, or None when there is none (or it belongs to another model)."""
    lpath = labels_path(model_path)
    if not os.path.exists(lpath):
        return None
    try:
        with open(lpath, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        raise CLIError(f"{lpath} (the labels of {model_path}) is not valid JSON: {e}; delete it or retrain") from None
    if not isinstance(meta, dict) or meta.get("fastmlp_labels") != LABELS_FORMAT:
        raise CLIError(f"{lpath} is not a fastmlp labels file (format {LABELS_FORMAT}); delete it or retrain")
    if meta.get("model_sha256") != _sha256(model_path):
        _warn(f"ignoring {lpath}: it was written for a different version of {model_path}; "
              "classes are shown as ids 0..k-1")
        return None
    task, classes = meta.get("task"), meta.get("classes")
    if task not in ("classify", "regress"):
        raise CLIError(f"{lpath}: 'task' must be 'classify' or 'regress', got {task!r}")
    if task == "classify":
        k = 2 if model.n_outputs == 1 else model.n_outputs
        if (not isinstance(classes, list) or len(classes) != k
                or not all(isinstance(c, (str, int, float)) and not isinstance(c, bool) for c in classes)
                or len({json.dumps(c) for c in classes}) != k):
            raise CLIError(f"{lpath}: 'classes' must list {k} distinct labels for this model's {model.n_outputs} "
                           "outputs")
    features, target = meta.get("features"), meta.get("target")
    if features is not None and (not isinstance(features, list) or not all(isinstance(n, str) for n in features)):
        raise CLIError(f"{lpath}: 'features' must be a list of column names")
    if target is not None and not isinstance(target, str):
        raise CLIError(f"{lpath}: 'target' must be a column name")
    return meta


# ============================================================================ helpers

def _warn(msg: str) -> None:
    print(f"fastmlp: warning: {msg}", file=sys.stderr)


def _check_writable(path, option: str) -> None:
    if path is None:
        return
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise CLIError(f"{option} {path}: the folder {folder} does not exist")
    if os.path.isdir(path):
        raise CLIError(f"{option} {path} is a folder; give a file name")


def _need_matplotlib(option: str) -> None:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise CLIError(f"{option} needs matplotlib: pip install 'fastmlp[demo]'") from None


def _load_model(path: str):
    import fastmlp as fm

    if not os.path.exists(path):
        raise CLIError(f"{path}: no such model file")
    if os.path.isdir(path):
        raise CLIError(f"{path} is a folder, not a model file")
    try:
        model = fm.load(path)
    except ValueError as e:  # not a fastmlp model file (or a damaged one)
        raise CLIError(f"{path}: {e}") from None
    return model, _read_meta(path, model)


def _task_of(model, meta) -> str:
    if meta:
        return meta["task"]
    return "classify" if model.is_classifier else "regress"


def _classes_of(model, meta) -> list:
    if meta and meta.get("classes") is not None:
        return list(meta["classes"])
    return list(range(2 if model.n_outputs == 1 else model.n_outputs))


def _infer_task(y) -> str:
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


def _encode_labels(y, classes: list, source: str):
    """Class ids 0..k-1 of the labels y, given the class list (label values in id order)."""
    import numpy as np

    if y.ndim != 1:
        raise CLIError(f"{source}: classification needs one label per sample, the targets have shape {y.shape}")
    if all(isinstance(c, str) for c in classes):
        keys = [str(v) for v in y.tolist()]
    elif y.dtype.kind == "U":
        keys = []
        for v in y.tolist():  # numbers written as text
            try:
                f = float(v)
                keys.append(int(f) if f == int(f) else f)
            except (ValueError, OverflowError):
                keys.append(v)
    else:
        keys = y.tolist()
    index = {}
    for i, c in enumerate(classes):
        index[c] = i
    unknown = sorted({repr(k) for k in keys if k not in index})
    if unknown:
        shown = ", ".join(unknown[:10]) + (", ..." if len(unknown) > 10 else "")
        raise CLIError(f"{source}: labels {shown} are not among the model's classes "
                       f"({', '.join(repr(c) for c in classes[:20])}{', ...' if len(classes) > 20 else ''})")
    return np.array([index[k] for k in keys], dtype=np.int64)


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


def _json_value(v):
    """Label values as JSON keeps them: numpy scalars to Python ints/floats/strings."""
    if hasattr(v, "item"):
        v = v.item()
    return v


# ============================================================================ train

def _train(args) -> int:
    import numpy as np

    import fastmlp as fm

    _check_writable(args.out, "--out")
    _check_writable(args.plot, "--plot")
    if args.plot:
        _need_matplotlib("--plot")
    if args.momentum is not None and args.optimizer != "sgd":
        raise CLIError("--momentum applies to --optimizer sgd")

    data = _load_data(args.data, args, "train")
    X, y = data.X, data.y
    task = args.task or _infer_task(y)
    inferred = args.task is None
    m = X.shape[0]

    hidden = args.layers
    classes = None
    if task == "classify":
        if y.ndim != 1:
            raise CLIError(f"{data.source}: classification needs one label per sample, the targets have shape "
                           f"{y.shape}")
        values, ids = np.unique(y, return_inverse=True)
        classes = [_json_value(v) for v in values]
        k = len(classes)
        if k < 2:
            raise CLIError(f"{data.source}: the target has only one class ({classes[0]!r}); "
                           "classification needs at least 2")
        out_act = args.output_activation or ("softmax" if k > 2 else "sigmoid")
        if out_act not in ("softmax", "sigmoid"):
            raise CLIError(f"--output-activation {out_act} does not give class probabilities; "
                           "use softmax or sigmoid for --task classify (or --task regress)")
        n_out = 1 if (out_act == "sigmoid" and k == 2) else k
        loss = args.loss
    else:
        if y.dtype.kind == "U":
            bad = next(v for v in y.tolist() if not _is_number(v))
            raise CLIError(f"{data.source}: the target holds text ({bad!r}); regression needs numbers "
                           "(or use --task classify)")
        y = y.astype(np.float64)
        out_act = args.output_activation or "linear"
        n_out = 1 if y.ndim == 1 else y.shape[1]
        loss = args.loss or "mse"

    sizes = [X.shape[1], *hidden, n_out]
    layers = [fm.Dense(a, b, args.activation) for a, b in zip(sizes[:-2], sizes[1:-1])]
    layers.append(fm.Dense(sizes[-2], sizes[-1], out_act))
    opt_kwargs = {}
    if args.learning_rate is not None:
        opt_kwargs["learning_rate"] = args.learning_rate
    if args.optimizer == "sgd":
        optimizer = fm.SGD(momentum=args.momentum or 0.0, **opt_kwargs)
    else:
        optimizer = fm.Adam(**opt_kwargs)
    model = fm.Sequential(layers, loss=loss, dtype=args.dtype, seed=args.seed, l2=args.l2, optimizer=optimizer)
    Y = _training_targets(model, ids, k) if task == "classify" else y

    # Hold out a seeded random part for validation (the file may be sorted by class).
    validation = None
    X_train, Y_train = X, Y
    if args.validation_split:
        n_val = int(round(m * args.validation_split))
        if not 1 <= n_val < m:
            raise CLIError(f"--validation-split {args.validation_split} leaves {n_val} of {m} samples for "
                           "validation; need at least 1 on each side")
        order = np.random.default_rng(args.seed).permutation(m)
        val, tr = order[:n_val], order[n_val:]
        X_train, Y_train, validation = X[tr], Y[tr], (X[val], Y[val])
    early = None
    if args.early_stopping is not None:
        early = fm.EarlyStopping(patience=args.early_stopping)

    if data.target_label is not None:
        what = data.target_label
    elif data.target_name is not None:
        what = f"target {data.target_name!r}"
    else:
        what = f"target column {data.target_index}"
    print(f"data: {data.source}: {m} samples, {X.shape[1]} features, {what}")
    if task == "classify":
        shown = ", ".join(str(c) for c in classes[:10]) + (", ..." if k > 10 else "")
        print(f"task: classification, {k} classes ({shown})" + ("  [inferred; --task to override]" if inferred else ""))
    else:
        print(f"task: regression, {n_out} output{'s' if n_out > 1 else ''}"
              + ("  [inferred; --task to override]" if inferred else ""))
    print(f"model: {model}  ({model.num_params} parameters, {type(optimizer).__name__} "
          f"learning rate {optimizer.learning_rate:g})")
    if validation is not None:
        print(f"training on {len(X_train)} samples, validating on {len(validation[0])}")

    history = model.fit(X_train, Y_train, epochs=args.epochs, batch_size=args.batch_size, seed=args.seed,
                        verbose=not args.no_progress, validation_data=validation, early_stopping=early)
    best = history.best_epoch
    restored = early is not None and best is not None and best != history.epochs - 1
    at = best if restored else history.epochs - 1  # the epoch whose weights the model has
    logs = {key: values[at] for key, values in history.history.items() if key != "lr" and len(values) > at}
    summary = "  ".join(f"{key} {value:.4f}" for key, value in logs.items())
    notes = (", stopped early" if history.stopped_early else "") + (f"; kept the weights of epoch {best + 1}"
                                                                     if restored else "")
    print(f"trained {history.epochs} epochs in {history.seconds:.2f}s{notes}: {summary}")

    meta = {"task": task, "classes": classes, "target": data.target_name, "features": data.feature_names}
    lpath = _save_model(model, args.out, meta)
    print(f"model saved to {args.out} (labels: {lpath})")
    if args.plot:
        from fastmlp.plot import plot_decision_boundary, plot_loss

        plot_loss(history, args.plot, title=f"fastmlp on {os.path.basename(data.source)}")
        print(f"loss curves saved to {args.plot}")
        if task == "classify" and X.shape[1] == 2:
            root, ext = os.path.splitext(args.plot)
            bpath = f"{root}_boundary{ext or '.png'}"
            plot_decision_boundary(model, X, ids, bpath, labels=classes, feature_names=data.feature_names,
                                   title=f"decision boundary on {os.path.basename(data.source)}")
            print(f"decision boundary saved to {bpath}")
    return EXIT_OK


# ============================================================================ evaluate

def _evaluate(args) -> int:
    import numpy as np

    _check_writable(args.confusion_matrix, "--confusion-matrix")
    model, meta = _load_model(args.model)
    task = _task_of(model, meta)
    if args.confusion_matrix:
        if task != "classify":
            raise CLIError("--confusion-matrix needs a classifier; this model does regression")
        _need_matplotlib("--confusion-matrix")
    data = _load_data(args.data, args, "evaluate", meta)
    _check_features(model, data)
    X, y = data.X, data.y
    results = {"samples": int(X.shape[0])}
    if task == "classify":
        classes = _classes_of(model, meta)
        ids = _encode_labels(y, classes, data.source)
        pred = _predict_ids(model, X)
        results["loss"] = float(model.loss(X, _training_targets(model, ids, len(classes))))
        results["accuracy"] = float(np.mean(pred == ids))
        if args.confusion_matrix:
            from fastmlp.plot import plot_confusion_matrix

            plot_confusion_matrix(ids, pred, args.confusion_matrix, labels=classes,
                                  title=f"{os.path.basename(data.source)}")
    else:
        if y.dtype.kind == "U":
            raise CLIError(f"{data.source}: the target holds text; this model does regression")
        y = y.astype(np.float64)
        Y = y.reshape(len(y), -1)
        if Y.shape[1] != model.n_outputs:
            raise CLIError(f"the model has {model.n_outputs} outputs but the targets in {data.source} have "
                           f"{Y.shape[1]} columns")
        out = np.asarray(model.forward(X), dtype=np.float64)
        results["loss"] = float(model.loss(X, y))
        results["mse"] = float(np.mean((out - Y) ** 2))
        ss_res = ((out - Y) ** 2).sum(axis=0)
        ss_tot = ((Y - Y.mean(axis=0)) ** 2).sum(axis=0)
        with np.errstate(divide="ignore", invalid="ignore"):
            r2 = np.where(ss_tot > 0, 1 - ss_res / ss_tot, np.nan)
        results["r2"] = float(np.mean(r2))  # averaged over outputs, as scikit-learn's r2_score
    if args.json:
        print(json.dumps({k: (None if isinstance(v, float) and not math.isfinite(v) else v)
                          for k, v in results.items()}))
    else:
        for key, value in results.items():
            print(f"{key:<9} {_fmt(value)}")
        if args.confusion_matrix:
            print(f"confusion matrix saved to {args.confusion_matrix}")
    return EXIT_OK


# ============================================================================ predict

def _predict(args) -> int:
    import numpy as np

    model, meta = _load_model(args.model)
    task = _task_of(model, meta)
    out = args.out
    if out is not None and not out.lower().endswith((".csv", ".tsv", ".txt", ".npy")):
        raise CLIError(f"--out {out}: write predictions to a .csv, .tsv or .npy file")
    _check_writable(out, "--out")
    if args.proba and task != "classify":
        raise CLIError("--proba needs a classifier; this model does regression")
    data = _load_data(args.data, args, "predict", meta)
    _check_features(model, data)
    X = data.X
    if task == "classify":
        classes = _classes_of(model, meta)
        if args.proba:
            result = _probabilities(model, X)
            columns = [f"p_{c}" for c in classes]
        else:
            ids = _predict_ids(model, X)
            result = np.array(classes)[ids]
            columns = ["prediction"]
    else:
        result = np.asarray(model.forward(X))
        columns = ["prediction"] if result.shape[1] == 1 else [f"prediction_{j}" for j in range(result.shape[1])]
        if result.shape[1] == 1:
            result = result[:, 0]
    if out is not None and out.lower().endswith(".npy"):
        np.save(out, result, allow_pickle=False)
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
    f = sys.stdout if path is None else open(path, "w", newline="", encoding="utf-8")
    try:
        writer = csv.writer(f, delimiter=delimiter, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows([cell(v) for v in row] for row in rows)
    finally:
        if path is not None:
            f.close()
        else:
            f.flush()


# ============================================================================ demo, info

def _demo(args) -> int:
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        print("the demo needs scikit-learn and matplotlib: pip install 'fastmlp[demo]'", file=sys.stderr)
        return EXIT_USAGE
    import fastmlp as fm
    from fastmlp.plot import plot_loss

    X, y = load_digits(return_X_y=True)
    X = X / 16.0  # pixels 0..16 -> 0..1
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
    model = fm.Sequential([fm.Dense(64, 128, "relu"), fm.Dense(128, 10, "softmax")], seed=args.seed)
    print(f"digits: {len(X_train)} train / {len(X_test)} test samples, 64 features, 10 classes")
    print(f"model: {model}  ({model.num_params} parameters)")

    def progress(epoch, logs):
        print(f"epoch {epoch + 1:3d}/{args.epochs}  loss {logs['loss']:.4f}  train accuracy {logs['accuracy']:.4f}  "
              f"test accuracy {logs['val_accuracy']:.4f}", flush=True)

    # The held-out test set is evaluated after each epoch, in C++, as "validation" data.
    history = model.fit(X_train, y_train, epochs=args.epochs, batch_size=args.batch_size,
                        learning_rate=args.learning_rate, validation_data=(X_test, y_test), callback=progress)
    acc = model.accuracy(X_test, y_test)
    print(f"test accuracy: {acc:.4f}  ({history.epochs} epochs in {history.seconds:.2f}s)")
    path = plot_loss(history, args.plot, title="fastmlp on digits", val_label="test loss",
                     extra={"test accuracy": history.history["val_accuracy"]})
    print(f"loss curve saved to {path}")
    return EXIT_OK


def _info(args) -> int:
    import fastmlp as fm

    if args.model is None:
        print(json.dumps(fm.build_info(), indent=2))
        return EXIT_OK
    model, meta = _load_model(args.model)
    task = _task_of(model, meta)
    print(f"model: {model}")
    print(f"parameters: {model.num_params}, inputs: {model.n_features_in}, outputs: {model.n_outputs}, "
          f"epochs trained: {model.epochs_trained}")
    if task == "classify":
        print(f"task: classification, classes: {', '.join(str(c) for c in _classes_of(model, meta))}")
    else:
        print("task: regression")
    if meta and meta.get("features"):
        print(f"features: {', '.join(meta['features'])}")
    if meta and meta.get("target"):
        print(f"target: {meta['target']}")
    return EXIT_OK


# ============================================================================ parser

def _add_data_options(p, role: str) -> None:
    p.add_argument("--target", metavar="COL",
                   help="CSV: the target column, by header name or index (negative from the end); "
                        + {"train": "default: the last column",
                           "evaluate": "default: the training target's name if the header has it, else the last column",
                           "predict": "this column is ignored (the training target's name is dropped "
                                      "automatically when the header has it)"}[role])
    p.add_argument("--header", choices=("auto", "yes", "no"), default="auto",
                   help="CSV: whether the first row holds column names (default: detect)")
    p.add_argument("--delimiter", default=None, metavar="CHAR",
                   help="CSV: the field separator (default: tab for .tsv, else ',' or what the first line "
                        "uses: ';' or tab)")
    p.add_argument("--x-key", default="X", metavar="KEY", help=".npz: the features array (default X)")
    if role != "predict":
        p.add_argument("--y-key", default="y", metavar="KEY", help=".npz: the targets array (default y)")


def build_parser() -> argparse.ArgumentParser:
    import fastmlp as fm

    parser = argparse.ArgumentParser(
        prog="fastmlp", description="fastmlp: small, fast multi-layer perceptrons",
        epilog="examples:\n"
               "  python -m fastmlp train iris.csv --target species --layers 16 --epochs 200 --plot loss.png\n"
               "  python -m fastmlp evaluate model.safetensors test.csv --confusion-matrix cm.png\n"
               "  python -m fastmlp predict model.safetensors new.csv --out predictions.csv\n"
               "  python -m fastmlp demo",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"fastmlp {fm.__version__}")
    parser.add_argument("--cmake-dir", action=_PrintAndExit, text=fm.cmake_dir,
                        help="print the folder of fastmlpConfig.cmake (for -Dfastmlp_DIR=...) and exit")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    train = sub.add_parser("train", help="train a model on a .csv or .npz file and save it",
                           description="Train an MLP on a data file and save it (safetensors) with its labels file.")
    train.add_argument("data", help="training data: .csv/.tsv (features and a target column) or .npz (X, y)")
    _add_data_options(train, "train")
    train.add_argument("--task", choices=("classify", "regress"), default=None,
                       help="default: classify when the target is text, or integers with few distinct values "
                            f"(at most {MAX_INFERRED_CLASSES}, and at most half the number of samples); else regress")
    train.add_argument("--layers", type=_layer_sizes, default=[64], metavar="N,N,...",
                       help="hidden layer sizes, e.g. 64,32; 'none' for no hidden layer (default 64)")
    train.add_argument("--activation", choices=fm.ACTIVATIONS, default="relu", metavar="NAME",
                       help=f"hidden layers: {', '.join(fm.ACTIVATIONS)} (default relu)")
    train.add_argument("--output-activation", choices=fm.ACTIVATIONS, default=None, metavar="NAME",
                       help="default: softmax for >2 classes, sigmoid for 2, linear for regression")
    train.add_argument("--loss", choices=fm.LOSSES, default=None, metavar="NAME",
                       help=f"{', '.join(fm.LOSSES)}; default: the cross-entropy of the output activation "
                            "for classes, mse for regression")
    train.add_argument("--optimizer", choices=("sgd", "adam"), default="adam", help="default adam")
    train.add_argument("--learning-rate", type=_positive_float, default=None, metavar="LR",
                       help="default: the optimizer's (sgd 0.01, adam 0.001)")
    train.add_argument("--momentum", type=_nonnegative_float, default=None, metavar="BETA",
                       help="sgd momentum (default 0)")
    train.add_argument("--l2", type=_nonnegative_float, default=0.0, metavar="LAMBDA",
                       help="L2 penalty lambda on the weights (default 0)")
    train.add_argument("--epochs", type=_positive_int, default=100, metavar="N", help="default 100")
    train.add_argument("--batch-size", type=_batch_size, default=32, metavar="N|full",
                       help="mini-batch size, or 'full' for full-batch gradient descent (default 32)")
    train.add_argument("--validation-split", type=_fraction, default=0.0, metavar="FRACTION",
                       help="hold out this fraction (a seeded random subset) to report val_loss on")
    train.add_argument("--early-stopping", type=_positive_int, default=None, metavar="PATIENCE",
                       help="stop when val_loss (or loss, without validation) has not improved for PATIENCE "
                            "epochs; keeps the best weights")
    train.add_argument("--seed", type=int, default=0, metavar="N",
                       help="seeds the weights, the shuffling and the validation split (default 0)")
    train.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    train.add_argument("--out", default="model.safetensors", metavar="PATH",
                       help="model file (default model.safetensors); labels go to <stem>.labels.json")
    train.add_argument("--plot", default=None, metavar="PNG",
                       help="save the loss curves; with 2 features and classes also <stem>_boundary.png")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")
    train.set_defaults(func=_train)

    ev = sub.add_parser("evaluate", help="print the loss and accuracy (or MSE and R^2) of a model on data",
                        description="Evaluate a saved model: loss and accuracy for classifiers, MSE and R^2 "
                                    "for regression.")
    ev.add_argument("model", help="model file written by train (or model.save)")
    ev.add_argument("data", help=".csv/.tsv or .npz with features and targets")
    _add_data_options(ev, "evaluate")
    ev.add_argument("--confusion-matrix", default=None, metavar="PNG", help="classifiers: save a confusion matrix")
    ev.add_argument("--json", action="store_true", help="print the results as one JSON object")
    ev.set_defaults(func=_evaluate)

    pr = sub.add_parser("predict", help="write a model's predictions for data to .csv or .npy",
                        description="Predict with a saved model: class labels (or probabilities) or values.")
    pr.add_argument("model", help="model file written by train (or model.save)")
    pr.add_argument("data", help=".csv/.tsv of features (a target column is dropped), .npz (X) or .npy")
    _add_data_options(pr, "predict")
    pr.add_argument("--out", default=None, metavar="PATH", help=".csv, .tsv or .npy (default: CSV on stdout)")
    pr.add_argument("--proba", action="store_true", help="classifiers: class probabilities instead of labels")
    pr.set_defaults(func=_predict)

    demo = sub.add_parser("demo", help="train on the digits data set, print accuracy, save a loss curve")
    demo.add_argument("--epochs", type=int, default=100)
    demo.add_argument("--batch-size", type=int, default=16)
    demo.add_argument("--learning-rate", type=float, default=0.1)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--plot", default="fastmlp_demo_loss.png", help="where to save the loss curve (PNG)")
    demo.set_defaults(func=_demo)

    info = sub.add_parser("info", help="print how the C++ core was built, or describe a model file")
    info.add_argument("model", nargs="?", default=None, help="a model file to describe")
    info.set_defaults(func=_info)
    return parser


class _PrintAndExit(argparse.Action):
    """Like action="version": print text() and exit, whatever else is on the command line."""

    def __init__(self, option_strings, dest, text, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)
        self.text = text

    def __call__(self, parser, namespace, values, option_string=None):
        print(self.text())
        parser.exit()


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if os.environ.get("FASTMLP_DEBUG"):
        return args.func(args)
    import fastmlp as fm

    prog = f"fastmlp {args.command}"
    try:
        return args.func(args)
    except BrokenPipeError:  # e.g. `fastmlp predict ... | head`: the reader left; say nothing more
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return EXIT_FAILED
    except CLIError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
    except FileNotFoundError as e:
        print(f"{prog}: error: {e.filename or e}: no such file", file=sys.stderr)
    except fm.DivergenceError as e:
        msg = str(e) if "diverged" in str(e) else f"training diverged: {e}"
        hint = "" if "learning rate" in msg else "; try a smaller --learning-rate"
        print(f"{prog}: error: {msg}{hint}", file=sys.stderr)
        return EXIT_FAILED
    except (ValueError, TypeError, OSError, ImportError) as e:  # the library's messages name the problem
        print(f"{prog}: error: {e}", file=sys.stderr)
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
