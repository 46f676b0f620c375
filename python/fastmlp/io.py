"""Model files: the safetensors format with fastmlp's metadata, read and written by the C++ core.

    model.save("model.safetensors")          # or fm.save(model, path)
    model = fm.load("model.safetensors")     # or fm.Sequential.load(path)

This module is the codec between files (or bytes) and a core network (``fastmlp._core.Network32``
/ ``Network64``) plus the header's ``__metadata__`` strings; the layout, every check on what is
read and the atomic write are implemented once, in ``cpp/src/io/`` (see
``cpp/include/fastmlp/serialize.hpp``). The file is a standard safetensors file
(https://github.com/huggingface/safetensors):

    8 bytes       N, little-endian unsigned 64-bit: the length of the header
    N bytes       the header, UTF-8 JSON (padded with spaces to a multiple of 8 bytes):
                  {"__metadata__": {"fastmlp_format": "1", ...},
                   "layers.0.weight": {"dtype": "F32", "shape": [n_in, n_out], "data_offsets": [b, e]},
                   "layers.0.bias":   {"dtype": "F32", "shape": [n_out],       "data_offsets": [b, e]}, ...}
    the rest      the tensors' bytes, little-endian, row-major; offsets are relative to
                  the first byte after the header; the tensors tile it without gaps

Tensor names use the layer's position in ``model.layers`` (a Dropout layer takes a position but
has no tensors). Weights are stored (n_in, n_out), exactly ``layer.weights`` (PyTorch's
nn.Linear keeps the transpose). The metadata (all values are strings, as safetensors requires):

    fastmlp_format   "1"                 the version of this layout
    fastmlp_version  the version of the library that wrote the file
    dtype            "float32" | "float64"
    loss             "mse" | "binary_crossentropy" | "categorical_crossentropy"
    l2               the L2 lambda, a JSON number ("0.0001")
    layers           JSON list, one object per layer of model.layers:
                     {"type": "Dense", "n_in": 4, "n_out": 8, "activation": "relu", "alpha": null}
                     {"type": "Dropout", "rate": 0.5}
    seed             the model's seed, a JSON integer (optional)
    ...              any other entries, passed through untouched (a Sequential keeps its
                     optimizer settings, epoch count, labels and column names there: see
                     fastmlp._persist)

Loading never executes code, and a truncated, corrupted or hostile file raises ValueError
(never a crash); time and memory stay linear in the file's size. Saving is atomic: the bytes
go to a temporary file in the same folder, which is fsync-ed and then renamed over the target
(a symlink's target), so an interrupted save leaves the previous file intact.
"""

from __future__ import annotations

import os

from . import _core

__all__ = ["read", "write", "decode", "encode", "write_atomic", "FORMAT_VERSION", "MAX_HEADER_BYTES"]

#: The layout version written into "fastmlp_format" and the only one read.
FORMAT_VERSION = _core.FORMAT_VERSION
#: Headers larger than this are refused before they are read (safetensors uses the same limit).
MAX_HEADER_BYTES = _core.MAX_HEADER_BYTES


def _path(path) -> str:
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"path must be a str, bytes or os.PathLike, got {type(path).__name__}")
    name = os.fsdecode(os.fspath(path))
    if "\0" in name:  # as open() says; C++ would see the name cut at the NUL
        raise ValueError(f"path must not contain a NUL character, got {name!r}")
    return name


def _metadata(metadata) -> dict:
    if metadata is None:
        return {}
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise TypeError("metadata must be a dict of str to str")
    return metadata


def _check_extension(path) -> None:
    """ValueError unless ``path`` ends in ".safetensors" (any case) or has no extension: a model
    file's name says its format, and the only one fastmlp writes is safetensors."""
    name = _path(path)
    ext = os.path.splitext(name)[1]
    if ext == "" or ext.lower() == ".safetensors":
        return
    if ext.lower() == ".onnx":
        raise ValueError(
            f"save writes the safetensors format, not ONNX ({name!r}); export ONNX with "
            "fm.onnx.export(model, path) or `python -m fastmlp export-onnx MODEL.safetensors OUT.onnx`"
        )
    raise ValueError(
        f"save writes the safetensors format only; {name!r} ends in {ext!r}, another format "
        f"(fastmlp neither writes nor reads it): name the file {os.path.splitext(name)[0] + '.safetensors'!r}"
    )


def write(path, net, metadata: dict | None = None) -> None:
    """Write the core network ``net`` and the extra ``metadata`` entries to ``path``, atomically."""
    _core.save_model(net, _path(path), _metadata(metadata))


def encode(net, metadata: dict | None = None) -> bytes:
    """The bytes ``write`` writes."""
    return _core.model_bytes(net, _metadata(metadata))


def read(path):
    """(core network in the file's dtype, metadata dict) of the model file at ``path``."""
    return _core.load_model(_path(path))


def decode(data):
    """(core network in the stored dtype, metadata dict) of a model file's bytes (any bytes-like)."""
    try:
        view = memoryview(data)
    except TypeError:
        raise TypeError(
            f"data must be bytes-like (bytes, bytearray, memoryview, ...), got {type(data).__name__}"
        ) from None
    if not view.c_contiguous:
        raise TypeError("data must be a contiguous bytes-like object (a strided view is not a file's bytes)")
    return _core.model_from_bytes(view.cast("B"))


def write_atomic(path, data: bytes) -> None:
    """Replace ``path`` by ``data`` as model files are written: a temporary file in the same folder,
    fsync, rename (a symlink's target is replaced); the old file survives any failure."""
    _core.write_file_atomic(_path(path), bytes(data))
