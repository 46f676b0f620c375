"""What a Sequential keeps in a model file's metadata besides the network, and back.

The C++ core writes and checks the network's own entries (dtype, loss, l2, layers); this module
adds the Python-only training state and reads it back:

    seed             JSON integer: weight initialisation and the default shuffling
    optimizer        JSON object, the optimizer's get_config() (its state, e.g. Adam's moments, is
                     not saved: a loaded model continues training with a fresh state)
    epochs_trained   JSON integer: schedules and the default shuffling continue from it

and, when the model has them, what predict and fit need to see the data as the first fit did:

    classes          JSON object {"dtype": "<U6", "values": ["cat", "dog", "parrot"]}: the labels of a
                     classifier fitted on labels that are not class ids (model.classes_), sorted and
                     distinct. "dtype" is numpy's dtype.str, of kind bool, int, uint, float (16-64 bits),
                     str, bytes (values as Latin-1 text) or object (values str, bool, int or finite
                     float: numpy scalars in an object array load back as the equal Python scalar).
                     Loading rebuilds exactly that array; labels that would not load back equal, in the
                     same dtype, are refused at save.
    feature_names_in JSON list of str: a DataFrame's column names at the first fit (feature_names_in_)

and for a model of dtype "mixed_bfloat16" (fastmlp._mixed; the file's "dtype" is "float32"):

    dtype_policy     "mixed_bfloat16"
"""

from __future__ import annotations

import json
import math
import re

import numpy as np

from . import _mixed
from . import optimizers as _optimizers
from ._core import MAX_EPOCHS
from .layers import Layer

#: Longest optimizer config read (a real one is ~150 characters); longer is refused unparsed.
_MAX_CONFIG_CHARS = 4096


def _bad(msg: str) -> ValueError:
    return ValueError(f"not a valid fastmlp model file: {msg}")


def training_metadata(seed: int, optimizer, epochs_trained: int) -> dict:
    """The metadata entries for a model's training state."""
    return {
        "seed": json.dumps(int(seed)),
        "optimizer": json.dumps(optimizer.get_config(), separators=(",", ":")),
        "epochs_trained": json.dumps(int(epochs_trained)),
    }


def _json(meta: dict, key: str, limit: int | None = _MAX_CONFIG_CHARS):
    """The JSON value of ``meta[key]``; ``limit`` None for entries only the header size bounds."""
    text = meta[key]
    if limit is not None and len(text) > limit:
        raise _bad(f"metadata {key!r} is longer than {limit} characters")
    try:
        return json.loads(text, parse_constant=lambda name: _reject(key, name))
    except ValueError as e:
        if str(e).startswith("not a valid fastmlp"):
            raise
        raise _bad(f"metadata {key!r} is not valid JSON ({e})") from None
    except RecursionError:  # "[[[[..." : Python's parser recurses per level
        raise _bad(f"metadata {key!r} is nested too deeply") from None


def _reject(key: str, name: str):
    raise _bad(f"metadata {key!r} holds the non-standard JSON number {name}")


def _optimizer(meta: dict):
    if "optimizer" not in meta:
        return None
    config = _json(meta, "optimizer")
    if not isinstance(config, dict) or not isinstance(config.get("name"), str):
        raise _bad("metadata 'optimizer' must be an object with a 'name'")
    kinds = _optimizers.OPTIMIZERS
    if config["name"] not in kinds:
        raise _bad(f"unknown optimizer {config['name']!r} (expected one of {', '.join(kinds)})")
    kwargs = {k: v for k, v in config.items() if k != "name"}
    for key, value in kwargs.items():
        if not isinstance(value, (int, float, bool)):
            raise _bad("metadata 'optimizer' values must be numbers or booleans")
        if isinstance(value, int) and abs(value) > 2**53:  # JSON integers are unbounded; settings are floats
            raise _bad(f"metadata 'optimizer': {key} = {str(value)[:20]}... is too large a number")
    try:
        return _optimizers.Optimizer.from_config(config)
    except (ValueError, TypeError) as e:
        raise _bad(f"metadata 'optimizer': {e}") from None


def _epochs(meta: dict) -> int:
    if "epochs_trained" not in meta:
        return 0
    epochs = _json(meta, "epochs_trained")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or not 0 <= epochs <= MAX_EPOCHS:
        # MAX_EPOCHS (2**62, the core's bound) keeps epochs_trained + epoch from overflowing (F2)
        raise _bad(f"epochs_trained must be an integer in [0, 2**62], got {str(epochs)[:30]!r}")
    return epochs


def _layers(meta: dict) -> list:
    """The layers from the "layers" entry (already checked by the C++ reader), each made by the
    class its "type" names (fastmlp.layers.LAYERS)."""
    layers = []
    for i, entry in enumerate(json.loads(meta["layers"])):
        try:
            layers.append(Layer.from_file_entry(entry))
        except (ValueError, TypeError) as e:
            raise _bad(f"layers[{i}]: {e}") from None
    return layers


def model_config(meta: dict) -> tuple:
    """(Sequential keyword arguments, epochs trained) from a model file's metadata. The seed is
    checked by the C++ reader; it and l2 are JSON numbers."""
    kwargs = {
        "layers": _layers(meta),
        "loss": meta["loss"],
        "dtype": _mixed.from_metadata(meta),  # "mixed_bfloat16" where "dtype_policy" says so
        "l2": float(json.loads(meta.get("l2", "0.0"))),
        "seed": int(json.loads(meta["seed"])) if "seed" in meta else None,
    }
    optimizer = _optimizer(meta)
    if optimizer is not None:
        kwargs["optimizer"] = optimizer
    return kwargs, _epochs(meta)


# --- labels and column names --------------------------------------------------------------------

#: The dtype kinds labels are stored in: bool, int, uint, float, str, bytes, object.
_LABEL_KINDS = "biufUSO"
#: The JSON types a label of each kind may have in the file (exact types: a bool is not an int).
_JSON_TYPES = {"b": (bool,), "i": (int,), "u": (int,), "f": (int, float), "U": (str,), "S": (str,)}
_JSON_TYPES["O"] = (str, bool, int, float)
#: How much wider than its longest label a str / bytes dtype may be: bounds what a file's few
#: characters can make the loader allocate (numpy keeps the width of the y it was given).
_MAX_EXTRA_WIDTH = 256


def label_metadata(label_classes, feature_names_in_) -> dict:
    """The metadata entries for a classifier's labels and a DataFrame's column names (no entry for
    one that is None). Labels that would not load back equal, in the same dtype, raise ValueError."""
    meta = {}
    if label_classes is not None:
        meta["classes"] = _classes_text(np.asarray(label_classes))
    if feature_names_in_ is not None:
        names = list(feature_names_in_)
        for name in names:
            if not isinstance(name, str):
                raise ValueError(f"cannot save feature_names_in_: {name!r} is not a str")
        meta["feature_names_in"] = json.dumps([str(name) for name in names], separators=(",", ":"))
    return meta


#: How many values past the model's count an entry may hold and still be parsed (so that a small
#: mismatch is reported with its exact count); more are refused unparsed.
_SPARE_VALUES = 64
#: A JSON string, escapes included (the unrolled form: no backtracking per character).
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"')


def _at_most(meta: dict, key: str, most: int, keys: int = 1) -> int | None:
    """None when the JSON text ``meta[key]`` (a list, or an object of ``keys`` > 1 keys, one a list)
    may hold up to ``most`` values (+ _SPARE_VALUES), else how many it holds, counted without
    parsing: Python's parser makes an object of each value, tens of bytes for a value of 2
    characters ("1,"), so an entry of many small values would take many times the file's size
    before anything compared the count with the model."""
    text, allowed = meta[key], most + _SPARE_VALUES + keys - 1  # commas: values - 1 + keys - 1
    if text.count(",") <= allowed:  # the fast answer for every real file: no scan
        return None
    separators = text.count(",") - sum(text.count(",", m.start(), m.end()) for m in _JSON_STRING.finditer(text))
    return separators - keys + 2 if separators > allowed else None


def label_state(meta: dict, n_classes: int, n_features: int) -> dict:
    """The inverse of label_metadata, checked against the model: {"label_classes": ...,
    "feature_names_in_": ...} (None where the file has no entry). ``n_classes``: how many labels
    the model's outputs stand for, 0 where fit takes none (regression, multi-label). An entry of
    far more values than the model has is refused before it is parsed (nothing larger than the
    file is allocated)."""
    classes = names = None
    model = f"predicts {n_classes} classes" if n_classes else "takes no labels (regression or multi-label)"
    if "classes" in meta and (many := _at_most(meta, "classes", n_classes, keys=2)) is not None:
        raise _bad(f"metadata 'classes' lists about {many} labels but the model {model}")
    if "feature_names_in" in meta and (many := _at_most(meta, "feature_names_in", n_features)) is not None:
        raise _bad(f"metadata 'feature_names_in' lists about {many} names for a model with {n_features} inputs")
    if "classes" in meta:
        try:
            classes = _classes_from_json(_json(meta, "classes", limit=None))
        except ValueError as e:
            if str(e).startswith("not a valid fastmlp"):
                raise
            raise _bad(f"metadata 'classes': {e}") from None
        if len(classes) != n_classes:
            raise _bad(f"metadata 'classes' lists {len(classes)} labels but the model {model}")
    if "feature_names_in" in meta:
        names = _json(meta, "feature_names_in", limit=None)
        if not isinstance(names, list) or not all(type(name) is str for name in names):
            raise _bad("metadata 'feature_names_in' must be a JSON list of strings")
        if len(names) != n_features:
            raise _bad(f"metadata 'feature_names_in' lists {len(names)} names for a model with {n_features} inputs")
        names = np.array(names, dtype=object)  # as fit keeps them
    return {"label_classes": classes, "feature_names_in_": names}


def _classes_text(classes: np.ndarray) -> str:
    try:
        _label_dtype(classes.dtype.str)
        if classes.ndim != 1:
            raise ValueError(f"classes_ must be 1-D, got shape {classes.shape}")
        if classes.dtype.kind == "S":
            values = [v.decode("latin-1") for v in classes.tolist()]
        else:
            values = [_plain(v) for v in classes.tolist()]  # Python scalars (object arrays: any object)
        text = json.dumps({"dtype": classes.dtype.str, "values": values}, separators=(",", ":"))
        back = _classes_from_json(json.loads(text))  # the loader is the one judge of what is faithful
    except ValueError as e:
        raise ValueError(f"cannot save classes_ {_short(classes)}: {e}") from None
    for saved, loaded in zip(classes.tolist(), back.tolist()):
        if not saved == loaded:
            raise ValueError(f"cannot save the label {saved!r}: it would load back as {loaded!r}")
    return text


def _plain(label):
    """A label as JSON holds it: str, bool, int or float (a numpy scalar becomes its Python equal);
    anything else (Decimal, dates, tuples, bytes in an object array, ...) is refused."""
    if type(label) in (str, np.str_):
        return str(label)
    if type(label) in (bool, np.bool_):
        return bool(label)
    if type(label) is int or isinstance(label, np.integer):
        return int(label)
    if type(label) is float or isinstance(label, np.floating):
        return float(label)
    raise ValueError(
        f"the label {label!r} is a {type(label).__name__}; a model file stores str, bytes, bool, int and "
        "float labels (convert y, e.g. to str, before fit)"
    )


def _label_dtype(text) -> np.dtype:
    try:
        dtype = np.dtype(text) if isinstance(text, str) else None
    except (TypeError, ValueError, OverflowError):
        dtype = None
    if (
        dtype is None
        or dtype.kind not in _LABEL_KINDS
        or (dtype.kind == "f" and dtype.itemsize > 8)  # long double: JSON numbers are 64-bit floats
        or (dtype.kind in "US" and dtype.itemsize == 0)
    ):
        raise ValueError(
            f"dtype {str(text)[:40]!r} is not one labels are stored in "
            "(bool, int, uint, float16/32/64, str, bytes or object)"
        )
    return dtype


def _classes_from_json(obj) -> np.ndarray:
    """The classes array from the "classes" entry's JSON value; ValueError (with the reason) when
    it is not exactly an array of sorted, distinct labels of the stated dtype."""
    if not (isinstance(obj, dict) and set(obj) == {"dtype", "values"} and isinstance(obj["values"], list)):
        raise ValueError('must be an object {"dtype": "<U5", "values": [...]}')
    dtype, values = _label_dtype(obj["dtype"]), obj["values"]
    for v in values:
        if type(v) not in _JSON_TYPES[dtype.kind]:
            raise ValueError(f"the label {_short(v)} cannot be of dtype {dtype.str}")
        if type(v) is float and not math.isfinite(v):  # 1e999 parses as inf
            raise ValueError(f"the label {v!r} is not a finite number")
    if dtype.kind in "iu":  # checked here: numpy's own out-of-range errors vary between versions
        info = np.iinfo(dtype)
        for v in values:
            if not info.min <= v <= info.max:
                raise ValueError(f"the label {_short(v)} is out of range for {dtype.str}")
    if dtype.kind == "f":
        largest = float(np.finfo(dtype).max)
        for v in values:
            if not (abs(v) <= largest if type(v) is float else -largest <= v <= largest):  # ints: exact
                raise ValueError(f"the label {_short(v)} is out of range for {dtype.str}")
    if dtype.kind == "S":
        try:
            values = [v.encode("latin-1") for v in values]
        except UnicodeEncodeError:
            raise ValueError("bytes labels must be Latin-1 text (one character per byte)") from None
    if dtype.kind in "US":
        width = dtype.itemsize // np.dtype(dtype.kind + "1").itemsize
        longest = max((len(v) for v in values), default=0)
        if width > longest + _MAX_EXTRA_WIDTH:
            raise ValueError(
                f"dtype {dtype.str} is more than {_MAX_EXTRA_WIDTH} characters wider than the longest label ({longest})"
            )
    classes = np.array(values, dtype=dtype)
    for v, got in zip(values, classes.tolist()):
        if not got == v:  # a too narrow width, trailing NULs, a float not exact in float32, ...
            raise ValueError(f"the label {_short(v)} is not exactly {_short(got)} as {dtype.str}")
    try:
        increasing = bool(np.all(classes[:-1] < classes[1:]))
    except TypeError:  # e.g. str and int in an object array
        increasing = False
    if not increasing:
        raise ValueError("labels must be sorted and distinct (as numpy.unique gives them)")
    return classes


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
