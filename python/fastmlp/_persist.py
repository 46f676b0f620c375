"""What a Sequential keeps in a model file's metadata besides the network, and back.

The C++ core writes and checks the network's own entries (dtype, loss, l2, layers); this module
adds the Python-only training state and reads it back:

    seed             JSON integer: weight initialisation and the default shuffling
    optimizer        JSON object, the optimizer's get_config() (its state, e.g. Adam's moments, is
                     not saved: a loaded model continues training with a fresh state)
    epochs_trained   JSON integer: schedules and the default shuffling continue from it
"""

from __future__ import annotations

import json

from . import optimizers as _optimizers
from ._core import MAX_EPOCHS
from .layers import BatchNormalization, Dense, Dropout, LayerNormalization

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


def _json(meta: dict, key: str):
    text = meta[key]
    if len(text) > _MAX_CONFIG_CHARS:
        raise _bad(f"metadata {key!r} is longer than {_MAX_CONFIG_CHARS} characters")
    try:
        return json.loads(text, parse_constant=lambda name: _reject(key, name))
    except ValueError as e:
        if str(e).startswith("not a valid fastmlp"):
            raise
        raise _bad(f"metadata {key!r} is not valid JSON ({e})") from None


def _reject(key: str, name: str):
    raise _bad(f"metadata {key!r} holds the non-standard JSON number {name}")


def _optimizer(meta: dict):
    if "optimizer" not in meta:
        return None
    config = _json(meta, "optimizer")
    if not isinstance(config, dict) or not isinstance(config.get("name"), str):
        raise _bad("metadata 'optimizer' must be an object with a 'name'")
    kinds = {
        "sgd": _optimizers.SGD,
        "adam": _optimizers.Adam,
        "rmsprop": _optimizers.RMSprop,
        "adagrad": _optimizers.Adagrad,
    }
    if config["name"] not in kinds:
        raise _bad(f"unknown optimizer {config['name']!r} (expected one of {', '.join(kinds)})")
    kwargs = {k: v for k, v in config.items() if k != "name"}
    for key, value in kwargs.items():
        if not isinstance(value, (int, float, bool)):
            raise _bad("metadata 'optimizer' values must be numbers or booleans")
        if isinstance(value, int) and abs(value) > 2**53:  # JSON integers are unbounded; settings are floats
            raise _bad(f"metadata 'optimizer': {key} = {str(value)[:20]}... is too large a number")
    try:
        return kinds[config["name"]](**kwargs)
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
    """The layers from the "layers" entry (already checked by the C++ reader)."""
    layers = []
    for i, entry in enumerate(json.loads(meta["layers"])):
        try:
            if entry["type"] == "Dense":
                layers.append(
                    Dense(
                        entry["n_in"],
                        entry["n_out"],
                        entry["activation"],
                        init=entry.get("init"),
                        alpha=entry.get("alpha"),
                    )
                )
            elif entry["type"] in ("BatchNormalization", "LayerNormalization"):
                kind = BatchNormalization if entry["type"] == "BatchNormalization" else LayerNormalization
                layers.append(kind(**{k: v for k, v in entry.items() if k != "type"}))
            else:
                layers.append(Dropout(entry["rate"]))
        except (ValueError, TypeError) as e:
            raise _bad(f"layers[{i}]: {e}") from None
    return layers


def model_config(meta: dict) -> tuple:
    """(Sequential keyword arguments, epochs trained) from a model file's metadata. The seed is
    checked by the C++ reader; it and l2 are JSON numbers."""
    kwargs = {
        "layers": _layers(meta),
        "loss": meta["loss"],
        "dtype": meta["dtype"],
        "l2": float(json.loads(meta.get("l2", "0.0"))),
        "seed": int(json.loads(meta["seed"])) if "seed" in meta else None,
    }
    optimizer = _optimizer(meta)
    if optimizer is not None:
        kwargs["optimizer"] = optimizer
    return kwargs, _epochs(meta)
