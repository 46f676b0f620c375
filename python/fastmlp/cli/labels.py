"""Saving a model trained by ``train`` (its class labels and feature names in the model file, as
``Sequential`` keeps them: ``classes_``, ``feature_names_in_``), and reading a model with what the
CLI needs to know of it (``meta``: task, classes, feature names, scalers).

Earlier versions wrote a labels file next to the model (``<stem>.labels.json``: task, class
labels, column names, the standardization scaler and the model file's SHA-256). ``train`` writes
none any more (it removes the one of a model file it overwrites); ``load_model`` still reads it,
so old models predict as before."""

from __future__ import annotations

import hashlib
import json
import os

from .common import CLIError, warn
from .scaling import read_scalers

#: The labels file formats read: 1 (no scaler) and 2 (may hold a "scaler"). None is written.
READ_FORMATS = (1, 2)


def labels_path(model_path: str) -> str:
    """Where earlier versions kept the labels of ``model_path``: model.safetensors -> model.labels.json."""
    root, _ = os.path.splitext(model_path)
    return root + ".labels.json"


def _sha256(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_model(model, path: str, classes, features) -> None:
    """Write the model file with its class labels (``classes``: label values in id order, or None
    for regression) and feature names (or None), which ``fm.load`` gives back as ``classes_`` and
    ``feature_names_in_``. The labels file an earlier version wrote for a model at ``path`` is
    removed: it described the model this one replaces."""
    import numpy as np

    if classes is not None and model.is_classifier and classes != list(range(len(classes))):
        # what fit keeps from labels that are not class ids (the CLI trains on the ids)
        model._label_classes = np.asarray(classes)
    model.feature_names_in_ = None if features is None else list(features)
    model.save(path)
    old = labels_path(path)
    if os.path.isfile(old):
        os.remove(old)


def model_meta(model) -> dict:
    """What the CLI knows of a model without a labels file: all in the model file."""
    classify = model.is_classifier
    names = model.feature_names_in_
    return {
        "task": "classify" if classify else "regress",
        "classes": [_json_value(c) for c in model.classes_] if classify else None,
        "features": None if names is None else [str(n) for n in names],
        "target": None,
        "scalers": (None, None),  # the model standardizes inside (fm.Normalization), if at all
    }


def _json_value(v):
    """numpy scalars as Python ints, floats and strings (as a labels file had them)."""
    return v.item() if hasattr(v, "item") else v


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
    meta = read_labels(path, model)
    return model, (model_meta(model) if meta is None else meta)


def task_of(model, meta) -> str:
    return meta["task"]


def scalers_of(meta) -> tuple:
    """(features scaler, target scaler) of an old labels file; None where there is none (the model
    standardizes inside, was trained with --no-standardize, or is a model saved from Python)."""
    return meta["scalers"]


def classes_of(model, meta) -> list:
    if meta.get("classes") is not None:
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
