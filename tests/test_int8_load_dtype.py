"""A quantized (int8) model computes in float32 (int8 x float32 products), so it has no float64 form:
- the C++ loaders asked for double (load_network<double>, load_model<double>) refuse it at load, with
  std::invalid_argument saying to load it as float; they used to load it, and the first forward threw;
- a file that says dtype float64 and holds an int8 layer (fastmlp never writes one) is not a valid model
  file; fm.load and the C API used to load it, and only its predictions failed."""

import json
import struct
import subprocess

import numpy as np
import pytest

import fastmlp as fm


def _quantized(path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 4)).astype(np.float32)
    model = fm.Sequential([fm.Dense(4, 5, "relu"), fm.Dense(5, 2, "softmax")], seed=0)
    model.fit(X, (X[:, 0] > 0).astype(int), epochs=2, verbose=0)
    model.quantize("int8")
    model.save(path)
    return path


def _as_float64_file(src, dst):
    """src's tensors rewritten: every float32 tensor as float64, the int8 weights as they are, dtype float64."""
    raw = src.read_bytes()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8 : 8 + n])
    header["__metadata__"]["dtype"] = "float64"
    data, out = raw[8 + n :], b""
    for name, info in sorted(
        ((k, v) for k, v in header.items() if k != "__metadata__"), key=lambda kv: kv[1]["data_offsets"]
    ):
        b, e = info["data_offsets"]
        chunk = data[b:e]
        if info["dtype"] == "F32":
            chunk, info["dtype"] = np.frombuffer(chunk, "<f4").astype("<f8").tobytes(), "F64"
        info["data_offsets"] = [len(out), len(out) + len(chunk)]
        out += chunk
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    dst.write_bytes(struct.pack("<Q", len(text)) + text + out)
    return dst


def test_cpp_loads_an_int8_model_as_float_only(cpp_tests_build, tmp_path):
    path = _quantized(tmp_path / "q.safetensors")
    tool = str(cpp_tests_build / "serialize_tool")
    as_float = subprocess.run([tool, "check", "float", str(path)], capture_output=True, text=True, check=True).stdout
    assert as_float.strip() == "OK"
    as_double = subprocess.run([tool, "check", "double", str(path)], capture_output=True, text=True, check=True).stdout
    assert as_double.startswith("ERR ") and "quantized" in as_double and "load it as float" in as_double


def test_a_float64_file_with_an_int8_layer_is_not_a_model_file(tmp_path):
    path = _as_float64_file(_quantized(tmp_path / "q.safetensors"), tmp_path / "q64.safetensors")
    with pytest.raises(ValueError, match=r"not a valid fastmlp model file: layers\[0\] is quantized \(int8\)"):
        fm.load(path)
