"""Reading data files: CSV/TSV/TXT (header detection, the target column), .npz and .npy."""

from __future__ import annotations

import csv
import math
import os

from . import frame
from .common import CLIError

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")


class Data:
    """Features X (float64, (m, d)), targets y (raw values or None) and where they came from."""

    def __init__(self, X, y, source: str, feature_names=None, target_name=None, note: str = ""):
        self.X, self.y, self.source = X, y, source
        self.feature_names, self.target_name = feature_names, target_name
        self.note = note  # how the feature columns were picked, for shape errors
        self.target_index = None  # CSV: the target's column
        self.target_label = None  # how to name the targets in messages


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def looks_like_header(first: list, rest: list) -> bool:
    """A first row is a header when all of its cells are text, or when one of its cells
    is text in a column whose other cells are numbers. Empty cells prove nothing."""
    text = [bool(c) and not is_number(c) for c in first]
    if not any(text):
        return False
    if all(text):
        return True
    sample = rest[:200]
    return any(t and sample and all(is_number(r[j]) for r in sample) for j, t in enumerate(text))


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
            raise CLIError(
                f"{path}: line {line} has {len(cells)} fields but line {lines[0]} has {width} "
                f"(delimiter {delimiter!r}; see --delimiter)"
            )
    if header_mode == "yes" or (header_mode == "auto" and looks_like_header(rows[0], rows[1:])):
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
            raise CLIError(
                f"{path}: the column name {spec!r} appears {header.count(spec)} times; use its index with --target"
            )
        return header.index(spec)
    try:
        i = int(spec)
    except ValueError:
        if header is None:
            raise CLIError(
                f"{path} has no header row, so --target must be a column index "
                f"(0..{ncols - 1}, or -1 for the last column), got {spec!r}"
            ) from None
        shown = ", ".join(repr(h) for h in header[:20]) + (", ..." if len(header) > 20 else "")
        raise CLIError(f"{path} has no column named {spec!r}; its columns are {shown}") from None
    if not -ncols <= i < ncols:
        raise CLIError(
            f"--target {i} is out of range: {path} has {ncols} columns "
            f"(indices 0..{ncols - 1}, or -1..-{ncols} from the end)"
        )
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
                    raise CLIError(
                        f"{path}: line {lines[i]}, {_column_label(header, j)} is empty; "
                        "features must all be numbers (fill in or drop missing values)"
                    )
                if not is_number(value):
                    raise CLIError(
                        f"{path}: line {lines[i]}, {_column_label(header, j)}: {value!r} is not a "
                        "number; features must be numeric (encode text columns as numbers, or pick "
                        "the target with --target)"
                    )
                if not math.isfinite(float(value)):
                    raise CLIError(
                        f"{path}: line {lines[i]}, {_column_label(header, j)}: {value!r} is not a finite number"
                    )
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


def _refuse_mixed_columns(rows: list, lines: list, cols: list, header: list, path: str) -> None:
    """A feature column with both numbers and text is refused (most likely a typo, which would make
    every number of it a category): CLIError naming its first text cell."""
    for j in cols:
        text = [i for i, r in enumerate(rows) if r[j] and not is_number(r[j])]
        if text and any(r[j] and is_number(r[j]) for r in rows):
            i = text[0]
            raise CLIError(
                f"{path}: line {lines[i]}, {_column_label(header, j)}: {rows[i][j]!r} is not a number, but other "
                "cells of the column are: a feature column holds numbers (empty cells: missing values) or "
                "text (categories), not both"
            )


def _features(rows, lines, cols, header, path: str, delimiter: str, role: str, columns):
    """The feature columns: a float64 array (numbers only, as always), or a DataFrame (frame.py)
    for a model with learned columns, or for train on a CSV with a header and text or empty cells."""
    if columns is not None:
        return frame.read_frame(path, delimiter, header, cols, len(rows), columns)
    try:
        return _parse_features(rows, lines, cols, header, path)
    except CLIError as e:
        if role != "train" or header is None or not any(not r[j] or not is_number(r[j]) for r in rows for j in cols):
            raise
        if not frame.have_pandas():
            raise CLIError(f"{e}; or {frame.PANDAS_HINT}") from None
    _refuse_mixed_columns(rows, lines, cols, header, path)
    return frame.read_frame(path, delimiter, header, cols, len(rows))


def _load_text(path: str, args, role: str, meta, columns=None) -> Data:
    delimiter = getattr(args, "delimiter", None) or _guess_delimiter(path)
    header, rows, lines = _read_text_table(path, delimiter, getattr(args, "header", "auto"))
    ncols = len(rows[0])
    spec = getattr(args, "target", None)
    target = None
    if spec is not None:
        target = _column_index(spec, header, ncols, path)
    elif role in ("train", "evaluate"):
        known = meta.get("target") if meta else None
        features = meta.get("features") if meta else None
        others = [j for j, n in enumerate(header or []) if features and n not in features]
        if known is not None and header is not None and known in header:
            target = header.index(known)
        elif role == "evaluate" and known is None and len(others) == 1:  # the one column not a feature
            target = others[0]
        else:
            target = ncols - 1
    elif meta and header is not None and meta.get("target") in header:  # predict: drop the known target column
        target = header.index(meta["target"])

    known_features = meta.get("features") if meta else None
    if role != "train" and known_features and header is not None and columns is None:
        # A header that lacks a training column cannot be matched by name; taking its columns by position
        # would feed one feature's values as another's (fm.load(model).predict(df) refuses it too). A
        # model with learned columns finds its raw columns by name in frame.read_frame.
        missing = [n for n in known_features if n not in header]
        if missing:

            def names(ns):
                return ", ".join(repr(n) for n in ns[:10]) + (", ..." if len(ns) > 10 else "")

            raise CLIError(
                f"{path}: the header has no column{'s' if len(missing) > 1 else ''} named {names(missing)}; "
                f"the model was trained on {names(known_features)}; "
                "name the columns as in training (any order), or give the rows without a header row"
            )
    if (
        role != "train"
        and known_features
        and header is not None
        and all(n in header for n in known_features)
        and len(set(known_features)) == len(known_features)
    ):
        cols = [header.index(n) for n in known_features]  # by name: any column order, extra columns ignored
        note = f"the columns named as in training ({len(cols)})"
    else:
        cols = [j for j in range(ncols) if j != target]
        note = f"{ncols} columns" + (f" minus the target {_column_label(header, target)}" if target is not None else "")
    if role == "train" and not cols:
        raise CLIError(f"{path} has only the target column; there are no feature columns")
    X = _features(rows, lines, cols, header, path, delimiter, role, columns)
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
                raise CLIError(
                    f"{path} has no array {x_key!r} (it holds {', '.join(map(repr, keys)) or 'nothing'}); "
                    "name the features with --x-key"
                )
            X = npz[x_key]
            y = None
            if role != "predict":
                if y_key not in keys:
                    raise CLIError(
                        f"{path} has no array {y_key!r} (it holds {', '.join(map(repr, keys))}); "
                        "name the targets with --y-key"
                    )
                y = npz[y_key]
    except (zipfile.BadZipFile, EOFError, OSError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise CLIError(f"{path}: not a valid .npz file ({e})") from None
    except ValueError as e:  # object arrays need pickle, which is never enabled
        raise CLIError(
            f"{path}: cannot read the arrays without pickle ({e}); save plain numeric or string arrays"
        ) from None
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


def load_data(path: str, args, role: str, meta=None, columns=None) -> Data:
    """The data at ``path``; ``columns``: the model's learned columns (frame.model_columns), whose
    CSV features are read as a DataFrame."""
    if not os.path.exists(path):
        raise CLIError(f"{path}: no such file")
    if os.path.isdir(path):
        raise CLIError(f"{path} is a folder, not a data file")
    low = path.lower()
    if low.endswith(TEXT_SUFFIXES):
        return _load_text(path, args, role, meta, columns)
    if low.endswith(".npz"):
        return _load_npz(path, args, role)
    if low.endswith(".npy") and role == "predict":
        return _load_npy(path)
    kinds = ".csv, .tsv, .txt or .npz" + (" (or .npy of X)" if role == "predict" else "")
    raise CLIError(f"{path}: unknown data file type {os.path.splitext(path)[1] or '(no extension)'!r}; use {kinds}")


def check_features(model, data: Data) -> None:
    if hasattr(data.X, "iloc"):
        return  # a DataFrame: the model checks its columns by name
    d, have = model.n_features_in, data.X.shape[1]
    if have != d:
        hint = ""
        if data.y is None and have == d + 1:
            hint = "; if one column is the target, name it with --target"
        raise CLIError(f"the model expects {d} features but {data.source} has {have} ({data.note}){hint}")
