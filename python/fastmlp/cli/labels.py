"""The labels file next to a model (``<stem>.labels.json``: task, class labels, column names, the
standardization scaler and the model file's SHA-256), and reading a model with it."""

from __future__ import annotations

import hashlib
import json
import os

from ..io import write_atomic
from .common import CLIError, warn
from .scaling import read_scalers

#: Written: 2 (it may hold a "scaler": a reader that ignored it would predict from unscaled data,
#: so older versions refuse the file). Read: 1 (no scaler) and 2.
LABELS_FORMAT = 2
READ_FORMATS = (1, 2)


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
    write_atomic(path, (json.dumps(obj, indent=2) + "\n").encode("utf-8"))


def save_model(model, path: str, meta: dict) -> str:
    """Write the model file, then its labels file (with the model file's hash). Returns the labels path."""
    model.save(path)
    meta = {"fastmlp_labels": LABELS_FORMAT, "model_sha256": _sha256(path), **meta}
    lpath = labels_path(path)
    _write_json_atomic(lpath, meta)
    return lpath


def read_labels(model_path: str, model):
    """The labels file of ``model_path`` as a dict, or None when there is none (or it belongs to another model)."""
    lpath = labels_path(model_path)
    if not os.path.exists(lpath):
        return None
    try:
        with open(lpath, encoding="utf-8") as f:
            meta = json.load(f)
    except (OSError, ValueError) as e:
        raise CLIError(f"{lpath} (the labels of {model_path}) is not valid JSON: {e}; delete it or retrain") from None
    if not isinstance(meta, dict) or meta.get("fastmlp_labels") not in READ_FORMATS:
        raise CLIError(
            f"{lpath} is not a fastmlp labels file (format {' or '.join(map(str, READ_FORMATS))}); delete it or retrain"
        )
    if meta.get("model_sha256") != _sha256(model_path):
        warn(
            f"ignoring {lpath}: it was written for a different version of {model_path}; "
            "classes are shown as ids 0..k-1 and no standardization is applied"
        )
        return None
    task, classes = meta.get("task"), meta.get("classes")
    if task not in ("classify", "regress"):
        raise CLIError(f"{lpath}: 'task' must be 'classify' or 'regress', got {task!r}")
    if task == "classify":
        k = 2 if model.n_outputs == 1 else model.n_outputs
        if (
            not isinstance(classes, list)
            or len(classes) != k
            or not all(isinstance(c, (str, int, float)) and not isinstance(c, bool) for c in classes)
            or len({json.dumps(c) for c in classes}) != k
        ):
            raise CLIError(
                f"{lpath}: 'classes' must list {k} distinct labels for this model's {model.n_outputs} outputs"
            )
    features, target = meta.get("features"), meta.get("target")
    if features is not None and (not isinstance(features, list) or not all(isinstance(n, str) for n in features)):
        raise CLIError(f"{lpath}: 'features' must be a list of column names")
    if target is not None and not isinstance(target, str):
        raise CLIError(f"{lpath}: 'target' must be a column name")
    meta["scalers"] = read_scalers(meta.get("scaler"), model, lpath)
    if meta["scalers"][1] is not None and task != "regress":
        raise CLIError(f"{lpath}: a target scaler needs task 'regress'; delete it or retrain")
    return meta


def load_model(path: str):
    import fastmlp as fm

    if not os.path.exists(path):
        raise CLIError(f"{path}: no such model file")
    if os.path.isdir(path):
        raise CLIError(f"{path} is a folder, not a model file")
    try:
        model = fm.load(path)
    except ValueError as e:  # not a fastmlp model file (or a damaged one)
        raise CLIError(f"{path}: {e}") from None
    return model, read_labels(path, model)


def task_of(model, meta) -> str:
    if meta:
        return meta["task"]
    return "classify" if model.is_classifier else "regress"


def scalers_of(meta) -> tuple:
    """(features scaler, target scaler) of a model read with load_model; None where there is none
    (a model saved from Python, trained with --no-standardize, or by a version before scaling)."""
    return meta["scalers"] if meta else (None, None)


def classes_of(model, meta) -> list:
    if meta and meta.get("classes") is not None:
        return list(meta["classes"])
    return list(range(2 if model.n_outputs == 1 else model.n_outputs))


def encode_labels(y, classes: list, source: str):
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
        raise CLIError(
            f"{source}: labels {shown} are not among the model's classes "
            f"({', '.join(repr(c) for c in classes[:20])}{', ...' if len(classes) > 20 else ''})"
        )
    return np.array([index[k] for k in keys], dtype=np.int64)
