"""Saving and loading models: the safetensors file format, written and read with NumPy.

    model.save("model.safetensors")          # or fastmlp.io.save(model, path)
    model = fm.load("model.safetensors")     # or fastmlp.io.load(path)

The file is a standard safetensors file (https://github.com/huggingface/safetensors):

    8 bytes       N, little-endian unsigned 64-bit: the length of the header
    N bytes       the header, UTF-8 JSON (padded with spaces to a multiple of 8 bytes):
                  {"layers.0.weight": {"dtype": "F32", "shape": [n_in, n_out], "data_offsets": [b, e]},
                   "layers.0.bias":   {"dtype": "F32", "shape": [n_out],       "data_offsets": [b, e]},
                   ...,
                   "__metadata__": {"fastmlp_format": "1", ...}}
    the rest      the tensors' bytes, little-endian, row-major; offsets are relative to
                  the first byte after the header; the tensors tile it without gaps

Tensor names use the layer's position in ``model.layers`` (a Dropout layer takes a
position but has no tensors). Weights are stored (n_in, n_out), exactly
``layer.weights`` (PyTorch's nn.Linear keeps the transpose). The metadata (all values
are strings, as safetensors requires):

    fastmlp_format   "1"                 the version of this layout
    fastmlp_version  "0.1.0"             the library that wrote the file
    dtype            "float32" | "float64"
    loss             "mse" | "binary_crossentropy" | "categorical_crossentropy"
    l2               the L2 lambda, a JSON number ("0.0001")
    layers           JSON list, one object per layer of model.layers:
                     {"type": "Dense", "n_in": 4, "n_out": 8, "activation": "relu", "alpha": null}
                     {"type": "Dropout", "rate": 0.5}
    seed             the model's seed, a JSON integer (optional)
    optimizer        the optimizer's get_config(), JSON (optional; its state, e.g. Adam's moments,
                     is not saved: a loaded model continues training with a fresh state)
    epochs_trained   JSON integer (optional): schedules and default shuffling continue from it

Loading never executes code: the header is parsed as JSON and checked field by
field before anything is allocated. A truncated, corrupted or hostile file raises
ValueError (never a crash, and never an allocation larger than the file).
Saving is atomic: the bytes go to a temporary file in the same folder, which is
flushed, fsync-ed and then renamed over the target, so an interrupted save leaves
the previous file intact.

Pickling a Sequential goes through ``to_bytes`` / ``from_bytes`` (the same bytes as
the file), so weights round-trip bit for bit.
"""
from __future__ import annotations

import json
import math
import numbers
import os
import stat
import tempfile

import numpy as np

__all__ = ["save", "load", "to_bytes", "from_bytes", "FORMAT_VERSION", "MAX_HEADER_BYTES"]

FORMAT_VERSION = "1"
#: Headers larger than this are refused before they are read (safetensors uses the same limit).
MAX_HEADER_BYTES = 100_000_000
#: Layer sizes above this are refused (a layer that wide would not fit in memory anyway).
_MAX_DIM = 2**31 - 1
#: JSON nesting deeper than this is refused (the format needs 3 levels, "layers" 2).
_MAX_DEPTH = 16

_DTYPES = {"float32": ("F32", np.dtype("<f4")), "float64": ("F64", np.dtype("<f8"))}
_CODES = {code: (name, dt) for name, (code, dt) in _DTYPES.items()}
_REQUIRED_META = ("fastmlp_format", "dtype", "loss", "layers")


# ----------------------------------------------------------------------------- writing

def _layer_entries(model) -> list:
    from .model import Dense

    entries = []
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Dense):
            alpha = getattr(layer, "alpha", None)
            if layer.activation not in _alpha_activations():
                alpha = None  # unused by this activation
            entry = {"type": "Dense", "n_in": int(layer.n_in), "n_out": int(layer.n_out),
                     "activation": str(layer.activation), "alpha": None if alpha is None else float(alpha)}
            init = getattr(layer, "init", None)
            if init is not None:
                entry["init"] = str(init)
            entries.append(entry)
        elif type(layer).__name__ == "Dropout":
            entries.append({"type": "Dropout", "rate": float(layer.rate)})
        else:
            raise TypeError(f"cannot save layers[{i}]: unsupported layer type {type(layer).__name__}")
    return entries


def _alpha_activations():
    try:
        from .layers import DEFAULT_ALPHA
    except ImportError:  # pragma: no cover - older layouts
        return ("leaky_relu", "elu")
    return tuple(DEFAULT_ALPHA)


def _tensors(model) -> list:
    """[(name, dtype code, array), ...] in file order; little-endian, C-contiguous (views when possible)."""
    from .model import Dense

    code, dt = _DTYPES[np.dtype(model.dtype).name]
    out = []
    for i, layer in enumerate(model.layers):
        if isinstance(layer, Dense):
            for suffix, arr in (("weight", layer.weights), ("bias", layer.bias)):
                a = np.ascontiguousarray(arr, dtype=dt)
                if not np.isfinite(a).all():
                    raise ValueError(f"cannot save: layers[{i}].{'weights' if suffix == 'weight' else 'bias'} "
                                     "contains NaN or infinity")
                out.append((f"layers.{i}.{suffix}", code, a))
    return out


def _header(model, tensors) -> bytes:
    from . import __version__

    meta = {
        "fastmlp_format": FORMAT_VERSION,
        "fastmlp_version": str(__version__),
        "dtype": np.dtype(model.dtype).name,
        "loss": str(model.loss_name),
        "l2": json.dumps(float(model.l2)),
        "layers": json.dumps(_layer_entries(model), separators=(",", ":")),
    }
    seed = getattr(model, "seed", None)
    if seed is not None:
        meta["seed"] = json.dumps(int(seed))
    optimizer = getattr(model, "optimizer", None)
    if optimizer is not None and hasattr(optimizer, "get_config"):
        meta["optimizer"] = json.dumps(optimizer.get_config(), separators=(",", ":"))
    epochs = getattr(model, "_epochs_seen", None)
    if epochs is not None:
        meta["epochs_trained"] = json.dumps(int(epochs))
    header = {"__metadata__": meta}
    offset = 0
    for name, code, arr in tensors:
        header[name] = {"dtype": code, "shape": list(arr.shape), "data_offsets": [offset, offset + arr.nbytes]}
        offset += arr.nbytes
    raw = json.dumps(header, separators=(",", ":")).encode("utf-8")
    return raw + b" " * (-len(raw) % 8)  # pad: tensor data starts 8-byte aligned


def _chunks(model):
    """The file's bytes, piece by piece (header length, header, each tensor)."""
    tensors = _tensors(model)
    header = _header(model, tensors)
    yield len(header).to_bytes(8, "little")
    yield header
    for _, _, arr in tensors:
        yield memoryview(arr).cast("B")


def to_bytes(model) -> bytes:
    """The model as the bytes of a safetensors file (what ``save`` writes)."""
    return b"".join(bytes(c) for c in _chunks(model))


def _write_chunk(f, chunk) -> None:
    f.write(chunk)


def _new_file_mode(path: str) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)  # keep an existing file's permissions
    except OSError:
        umask = os.umask(0)
        os.umask(umask)
        return 0o666 & ~umask


def save(model, path) -> None:
    """Write ``model`` to ``path`` as a safetensors file, atomically.

    The bytes go to a temporary file in the same folder which is flushed and
    fsync-ed, then renamed over ``path`` (``os.replace``): readers see either the
    old file or the complete new one, and a failed save leaves the old file intact.
    """
    chunks = _chunks(model)
    first = next(chunks)  # validation errors (NaN weights, unknown layers) surface before any file exists
    _atomic_write(path, [first, chunks])


def _atomic_write(path, pieces) -> None:
    """Write the chunks (bytes-likes, or iterables of them) to ``path`` via a fsync-ed temporary + os.replace."""
    path = os.fsdecode(os.fspath(path))  # str, bytes or PathLike
    folder = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix="." + os.path.basename(path) + ".", suffix=".tmp", dir=folder)
    try:
        with os.fdopen(fd, "wb") as f:
            for piece in pieces:
                if isinstance(piece, (bytes, bytearray, memoryview)):
                    _write_chunk(f, piece)
                else:
                    for chunk in piece:
                        _write_chunk(f, chunk)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, _new_file_mode(path))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:  # make the rename itself durable
        dfd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(dfd)
    except OSError:
        pass
    finally:
        os.close(dfd)


# ----------------------------------------------------------------------------- reading

def _bad(msg: str) -> ValueError:
    return ValueError(f"not a valid fastmlp model file: {msg}")


def _header_length(first8: bytes, size: int) -> int:
    if size < 8 or len(first8) < 8:
        raise _bad(f"it has {size} bytes, fewer than the 8-byte header length")
    n = int.from_bytes(first8[:8], "little")
    if n > size - 8:
        raise _bad(f"the header length {n} is larger than the {size - 8} bytes after it (truncated file?)")
    if n > MAX_HEADER_BYTES:
        raise _bad(f"the header length {n} exceeds the limit of {MAX_HEADER_BYTES} bytes")
    if n < 2:
        raise _bad(f"the header length {n} is too small for a JSON object")
    return n


def _no_duplicates(pairs):
    d = {}
    for k, v in pairs:
        if k in d:
            raise _bad(f"the header repeats the key {k!r}")
        d[k] = v
    return d


def _reject_constant(name):
    raise _bad(f"the header holds the non-standard JSON number {name}")


def _json(text, what: str):
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_reject_constant)
    except ValueError as e:
        if str(e).startswith("not a valid fastmlp"):
            raise
        raise _bad(f"{what} is not valid JSON ({e})") from None
    except RecursionError:
        raise _bad(f"{what} nests too deeply") from None


def _depth(obj, limit: int, what: str, level: int = 1) -> None:
    if level > limit:
        raise _bad(f"{what} nests deeper than {limit} levels")
    if isinstance(obj, dict):
        for v in obj.values():
            _depth(v, limit, what, level + 1)
    elif isinstance(obj, list):
        for v in obj:
            _depth(v, limit, what, level + 1)


def _is_int(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _parse_header(raw: bytes, data_size: int):
    """Check the header against the data size. Returns (metadata dict, {name: (code, shape, begin, end)})."""
    try:
        text = bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        raise _bad("the header is not UTF-8 text") from None
    if not text.lstrip().startswith("{"):
        raise _bad("the header is not a JSON object")
    header = _json(text, "the header")
    if not isinstance(header, dict):
        raise _bad("the header is not a JSON object")
    _depth(header, _MAX_DEPTH, "the header")
    meta = header.pop("__metadata__", None)
    if meta is None:
        raise _bad("the header has no __metadata__ (not written by fastmlp?)")
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise _bad("__metadata__ must map strings to strings")
    tensors = {}
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise _bad(f"tensor {name!r} must be an object with exactly dtype, shape and data_offsets")
        code, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
        if code not in _CODES:
            raise _bad(f"tensor {name!r} has dtype {code!r}; fastmlp files hold F32 or F64")
        if not isinstance(shape, list) or len(shape) > 8 or not all(_is_int(s) and s >= 0 for s in shape):
            raise _bad(f"tensor {name!r} has an invalid shape {shape!r}")
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(_is_int(o) for o in offsets)
                or not 0 <= offsets[0] <= offsets[1] <= data_size):
            raise _bad(f"tensor {name!r} has data_offsets {offsets!r} outside the {data_size} data bytes")
        nbytes = math.prod(shape) * _CODES[code][1].itemsize  # Python ints: no overflow
        if offsets[1] - offsets[0] != nbytes:
            raise _bad(f"tensor {name!r} of shape {shape} and dtype {code} needs {nbytes} bytes, "
                       f"its data_offsets {offsets} span {offsets[1] - offsets[0]}")
        tensors[name] = (code, tuple(shape), offsets[0], offsets[1])
    # The tensors must tile the data exactly: no overlap, no gap, nothing after.
    end = 0
    for name, (_, _, b, e) in sorted(tensors.items(), key=lambda kv: (kv[1][2], kv[1][3])):
        if b != end:
            what = "overlaps the previous tensor" if b < end else f"leaves a gap of {b - end} bytes before it"
            raise _bad(f"tensor {name!r} at data_offsets [{b}, {e}] {what}")
        end = e
    if end != data_size:
        raise _bad(f"the tensors cover {end} of the {data_size} data bytes")
    return meta, tensors


def _meta_json(meta: dict, key: str):
    value = _json(meta[key], f"metadata {key!r}")
    _depth(value, 4, f"metadata {key!r}")
    return value


def _finite_number(v, what: str, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or not lo <= v <= hi:
        raise _bad(f"{what} must be a number in [{lo}, {hi}], got {v!r}")
    return float(v)


def _architecture(meta: dict, tensors: dict):
    """Validated (dtype name, loss, l2, seed, layer entries) from the metadata, matched against the tensors."""
    missing = [k for k in _REQUIRED_META if k not in meta]
    if missing:
        raise _bad(f"__metadata__ lacks {', '.join(missing)} (not written by fastmlp?)")
    if meta["fastmlp_format"] != FORMAT_VERSION:
        raise _bad(f"unsupported fastmlp_format {meta['fastmlp_format']!r}; this fastmlp reads format "
                   f"{FORMAT_VERSION!r} (a newer fastmlp wrote it?)")
    dtype = meta["dtype"]
    if dtype not in _DTYPES:
        raise _bad(f"dtype {dtype!r} must be 'float32' or 'float64'")
    loss = meta["loss"]
    from .model import LOSSES

    if loss not in LOSSES:
        raise _bad(f"unknown loss {loss!r} (expected one of {', '.join(LOSSES)})")
    l2 = _finite_number(_meta_json(meta, "l2"), "l2", 0.0, math.inf) if "l2" in meta else 0.0
    seed = None
    if "seed" in meta:
        seed = _meta_json(meta, "seed")
        if not _is_int(seed) or not 0 <= seed < 2**64:
            raise _bad(f"seed must be an integer in [0, 2**64), got {seed!r}")
    layers = _meta_json(meta, "layers")
    if not isinstance(layers, list) or not layers:
        raise _bad("metadata 'layers' must be a non-empty JSON list")
    code = _DTYPES[dtype][0]
    expected = set()
    n_dense = 0
    for i, entry in enumerate(layers):
        if not isinstance(entry, dict) or "type" not in entry:
            raise _bad(f"layers[{i}] must be an object with a 'type'")
        kind = entry["type"]
        if kind == "Dense":
            n_dense += 1
            extra = set(entry) - {"type", "n_in", "n_out", "activation", "alpha", "init"}
            if extra:
                raise _bad(f"layers[{i}] has unknown fields {sorted(extra)}")
            for key in ("n_in", "n_out"):
                v = entry.get(key)
                if not _is_int(v) or not 1 <= v <= _MAX_DIM:
                    raise _bad(f"layers[{i}].{key} must be an integer in [1, {_MAX_DIM}], got {v!r}")
            if not isinstance(entry.get("activation"), str):
                raise _bad(f"layers[{i}].activation must be a string, got {entry.get('activation')!r}")
            alpha = entry.get("alpha")
            if alpha is not None:
                _finite_number(alpha, f"layers[{i}].alpha", -math.inf, math.inf)
            if entry.get("init") is not None and not isinstance(entry["init"], str):
                raise _bad(f"layers[{i}].init must be a string, got {entry['init']!r}")
            for suffix, shape in (("weight", (entry["n_in"], entry["n_out"])), ("bias", (entry["n_out"],))):
                name = f"layers.{i}.{suffix}"
                expected.add(name)
                if name not in tensors:
                    raise _bad(f"tensor {name!r} is missing")
                t_code, t_shape = tensors[name][:2]
                if t_code != code:
                    raise _bad(f"tensor {name!r} has dtype {t_code} but the model's dtype is {dtype} ({code})")
                if t_shape != shape:
                    raise _bad(f"tensor {name!r} has shape {list(t_shape)}, layers[{i}] needs {list(shape)}")
        elif kind == "Dropout":
            if set(entry) - {"type", "rate"}:
                raise _bad(f"layers[{i}] has unknown fields {sorted(set(entry) - {'type', 'rate'})}")
            _finite_number(entry.get("rate"), f"layers[{i}].rate", 0.0, 1.0)
        else:
            raise _bad(f"layers[{i}] has unknown type {kind!r} (expected 'Dense' or 'Dropout')")
    if n_dense == 0:
        raise _bad("the model has no Dense layer")
    unexpected = sorted(set(tensors) - expected)
    if unexpected:
        raise _bad(f"unexpected tensors {unexpected[:5]}")
    return dtype, loss, l2, seed, layers


def _training_state(meta: dict):
    """(optimizer or None, epochs trained): what fit() continues from. Not read by the C++ loader."""
    optimizer = None
    if "optimizer" in meta:
        config = _meta_json(meta, "optimizer")
        if not isinstance(config, dict) or not isinstance(config.get("name"), str):
            raise _bad("metadata 'optimizer' must be an object with a 'name'")
        from . import optimizers as _optimizers

        kinds = {cls._kind: cls for cls in (getattr(_optimizers, "SGD", None), getattr(_optimizers, "Adam", None),
                                                     getattr(_optimizers, "RMSprop", None), getattr(_optimizers, "Adagrad", None))
                 if cls is not None}
        kwargs = {k: v for k, v in config.items() if k != "name"}
        if config["name"] not in kinds:
            raise _bad(f"unknown optimizer {config['name']!r}")
        if not all(isinstance(v, (int, float, bool)) for v in kwargs.values()):
            raise _bad("metadata 'optimizer' values must be numbers or booleans")
        try:
            optimizer = kinds[config["name"]](**kwargs)
        except (ValueError, TypeError) as e:
            raise _bad(f"metadata 'optimizer': {e}") from None
    epochs = 0
    if "epochs_trained" in meta:
        epochs = _meta_json(meta, "epochs_trained")
        if not _is_int(epochs) or not 0 <= epochs < 2**63:
            raise _bad(f"epochs_trained must be a non-negative integer, got {epochs!r}")
    return optimizer, epochs


def _build(meta: dict, tensors: dict, data) -> "Sequential":  # noqa: F821
    from . import model as _model

    dtype, loss, l2, seed, entries = _architecture(meta, tensors)
    optimizer, epochs_trained = _training_state(meta)
    layers = []
    for i, entry in enumerate(entries):
        try:
            if entry["type"] == "Dense":
                kwargs = {}
                if entry.get("alpha") is not None:
                    kwargs["alpha"] = entry["alpha"]
                if entry.get("init") is not None:
                    kwargs["init"] = entry["init"]
                layers.append(_model.Dense(entry["n_in"], entry["n_out"], entry["activation"], **kwargs))
            else:
                dropout = getattr(_model, "Dropout", None)
                if dropout is None:
                    raise ValueError("this version of fastmlp has no Dropout layer")
                layers.append(dropout(entry["rate"]))
        except (ValueError, TypeError) as e:
            raise _bad(f"layers[{i}]: {e}") from None
    # Check every tensor before building: the model is only allocated for a valid file.
    arrays = {}
    for name, (code, shape, b, e) in tensors.items():
        arr = np.frombuffer(data, dtype=_CODES[code][1], count=(e - b) // _CODES[code][1].itemsize, offset=b)
        if not np.isfinite(arr).all():
            raise _bad(f"tensor {name!r} contains NaN or infinity")
        arrays[name] = arr.reshape(shape)
    kwargs = {} if optimizer is None else {"optimizer": optimizer}
    try:
        model = _model.Sequential(layers, loss=loss, dtype=dtype, seed=seed, l2=l2, **kwargs)
    except (ValueError, TypeError) as e:
        raise _bad(str(e)) from None
    if hasattr(model, "_epochs_seen"):
        model._epochs_seen = epochs_trained
    for i, layer in enumerate(model.layers):
        if isinstance(layer, _model.Dense):
            layer.weights[...] = arrays[f"layers.{i}.weight"]
            layer.bias[...] = arrays[f"layers.{i}.bias"]
    return model


def from_bytes(data) -> "Sequential":  # noqa: F821
    """The model stored in ``data`` (bytes of a safetensors file, as ``to_bytes`` makes)."""
    view = memoryview(data).cast("B")
    n = _header_length(bytes(view[:8]), len(view))
    meta, tensors = _parse_header(view[8:8 + n], len(view) - 8 - n)
    return _build(meta, tensors, view[8 + n:])


_from_bytes = from_bytes  # the name pickles refer to (Sequential.__reduce__)


def _read_exact(f, n: int, what: str) -> bytes:
    data = f.read(n)
    if len(data) != n:
        raise _bad(f"the file ended while reading {what} ({len(data)} of {n} bytes; truncated?)")
    return data


def load(path) -> "Sequential":  # noqa: F821
    """Read a model written by ``save`` (or by the C++ ``save_network``).

    Raises ValueError for anything that is not a valid fastmlp file; nothing in
    the file is executed, and at most the file's own size is read into memory.
    """
    with open(os.fspath(path), "rb") as f:
        size = os.fstat(f.fileno()).st_size
        n = _header_length(f.read(8), size)
        meta, tensors = _parse_header(_read_exact(f, n, "the header"), size - 8 - n)
        data = _read_exact(f, size - 8 - n, "the tensor data")
    return _build(meta, tensors, data)
