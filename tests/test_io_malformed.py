"""Hostile model files: huge headers, malformed files (every one raises ValueError) and a fuzz run
that proves nothing crashes."""

import json
import os
import struct
import subprocess
import sys
import time

import numpy as np
import pytest

import fastmlp as fm
import fastmlp.io as fio
from helpers_io import BAD_FILES, _mutations, build, make_model, meta_edit, parts

# ----------------------------------------------------------------------------- hostile sizes


def _header_file(path, head: dict, body: str, data: bytes) -> int:
    text = (json.dumps(head, separators=(",", ":"))[:-1] + body + "}").encode()
    text += b" " * (-len(text) % 8)
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)
    return len(text)


def test_millions_of_metadata_keys_are_refused_early(tmp_path):
    head, data = parts()
    meta = json.dumps(head.pop("__metadata__"), separators=(",", ":"))[:-1]
    keys = "".join(f',"{i:x}":""' for i in range(1_000_000))
    n = _header_file(tmp_path / "m.safetensors", head, ',"__metadata__":' + meta + keys + "}", data)
    assert n > 10_000_000
    start = time.perf_counter()
    with pytest.raises(ValueError, match="__metadata__ has more than 4096 entries"):
        fm.load(tmp_path / "m.safetensors")
    assert time.perf_counter() - start < 2


def test_duplicate_tensor_names_among_many_are_found_fast(tmp_path):
    """200,000 tensors and one repeated name: a quadratic check would take minutes."""
    head, data = parts()
    body = "".join(f',"t{i}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}' for i in range(200_000))
    _header_file(
        tmp_path / "d.safetensors", head, body + ',"t7":{"dtype":"F32","shape":[0],"data_offsets":[0,0]}', data
    )
    start = time.perf_counter()
    with pytest.raises(ValueError, match='repeats the key "t7"'):
        fm.load(tmp_path / "d.safetensors")
    assert time.perf_counter() - start < 5


MEASURE_LOAD = r"""
import resource, sys, time
import fastmlp as fm
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
start = time.process_time()
try:
    fm.load(sys.argv[1])
except ValueError as e:
    print(str(e)[:80])
print((resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024, time.process_time() - start)
"""


def test_huge_header_costs_linear_time_and_a_few_times_its_size_in_memory(tmp_path):
    """~30 MB of header, 550,000 tensors (2.2 million keys), read in a fresh process."""
    head, data = parts()
    body = "".join(f',"{i:x}":{{"dtype":"F32","shape":[0],"data_offsets":[0,0]}}' for i in range(550_000))
    n = _header_file(tmp_path / "h.safetensors", head, body, data)
    out = subprocess.run(
        [sys.executable, "-c", MEASURE_LOAD, str(tmp_path / "h.safetensors")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and "unexpected tensors" in lines[0], out.stdout + out.stderr
    grown, seconds = int(lines[1].split()[0]), float(lines[1].split()[1])
    assert grown < 4 * n, f"loading a {n}-byte header took {grown} more bytes of memory"
    assert seconds < 10


# The C++ reader ignores the training state (optimizer, epochs trained): only Python rejects these.
PY_ONLY_BAD_FILES = {
    "unknown optimizer": (lambda: meta_edit(optimizer='{"name": "lion"}'), "unknown optimizer"),
    "optimizer bad value": (lambda: meta_edit(optimizer='{"name": "sgd", "momentum": 3}'), "momentum"),
    "optimizer bad key": (lambda: meta_edit(optimizer='{"name": "sgd", "exec": 1}'), "optimizer"),
    "optimizer not object": (lambda: meta_edit(optimizer="[1]"), "optimizer"),
    "optimizer string value": (lambda: meta_edit(optimizer='{"name": "sgd", "learning_rate": "1"}'), "numbers"),
    "bad epochs": (lambda: meta_edit(epochs_trained="-1"), "epochs_trained"),
    "optimizer huge integer": (
        lambda: meta_edit(optimizer='{"name": "sgd", "learning_rate": 1' + "0" * 400 + "}"),
        "optimizer.*learning_rate = 1000.* too large",
    ),
    "optimizer too long": (lambda: meta_edit(optimizer='{"name": "sgd"' + " " * 5000 + "}"), "longer than"),
    "epochs huge": (lambda: meta_edit(epochs_trained="9" * 30), "epochs_trained"),
    # F2: near 2**63, epochs_trained + epoch would overflow in the trainer; refused on load
    "epochs near 2**63": (lambda: meta_edit(epochs_trained=str(2**63 - 1)), r"epochs_trained.*2\*\*62"),
    "epochs just past the bound": (lambda: meta_edit(epochs_trained=str(2**62 + 1)), "epochs_trained"),
    "optimizer nested deeply": (lambda: meta_edit(optimizer="[" * 3000), "'optimizer' is nested too deeply"),
    # labels and column names (tests/test_labels_in_file.py): make_model has 3 classes and 4 inputs
    "classes not json": (lambda: meta_edit(classes="{"), "'classes' is not valid JSON"),
    "classes a plain list": (lambda: meta_edit(classes='["a", "b", "c"]'), "'classes': must be an object"),
    "classes extra field": (lambda: _classes_edit(note=1), "'classes': must be an object"),
    "classes unknown dtype": (lambda: _classes_edit(dtype="<c16", values=[1, 2, 3]), "'classes': dtype '<c16'"),
    "classes dtype not a dtype": (lambda: _classes_edit(dtype="os.system"), "'classes': dtype 'os.system'"),
    "classes structured dtype": (lambda: _classes_edit(dtype="i4,f4"), "'classes': dtype 'i4,f4'"),
    "classes too few": (lambda: _classes_edit(values=["a", "b"]), "'classes' lists 2 labels .* predicts 3 classes"),
    "classes on regression": (lambda: meta_edit(loss="mse", classes=_classes()), "takes no labels"),
    "classes wrong type": (lambda: _classes_edit(dtype="<i8"), "'classes': the label 'a' cannot be of dtype <i8"),
    "classes bool as int": (lambda: _classes_edit(dtype="<i8", values=[0, True, 2]), "True cannot be"),
    "classes null": (lambda: _classes_edit(dtype="|O", values=["a", None, "c"]), "None cannot be"),
    "classes nested value": (lambda: _classes_edit(dtype="|O", values=["a", ["b"], "c"]), r"\['b'\] cannot be"),
    "classes unsorted": (lambda: _classes_edit(values=["b", "a", "c"]), "sorted and distinct"),
    "classes repeated": (lambda: _classes_edit(values=["a", "a", "c"]), "sorted and distinct"),
    "classes mixed types": (lambda: _classes_edit(dtype="|O", values=[1, "a", "b"]), "sorted and distinct"),
    "classes too narrow": (lambda: _classes_edit(values=["a", "bb", "c"]), "'bb' is not exactly 'b'"),
    "classes trailing nul": (lambda: _classes_edit(dtype="<U2", values=["a", "b\x00", "c"]), "not exactly"),
    "classes inexact float32": (lambda: _classes_edit(dtype="<f4", values=[0.1, 1, 2]), "0.1 is not exactly"),
    "classes huge width": (lambda: _classes_edit(dtype="<U100000000"), "wider than the longest label"),
    "classes int out of range": (lambda: _classes_edit(dtype="|i1", values=[1, 2, 300]), "300 is out of range"),
    "classes float out of range": (lambda: _classes_edit(dtype="<f2", values=[1, 2, 10**6]), "out of range"),
    "classes huge int as float": (lambda: _classes_edit(dtype="<f8", values=[1, 2, 10**400]), "out of range"),
    "classes infinite": (lambda: meta_edit(classes='{"dtype": "<f8", "values": [1, 2, 1e999]}'), "not a finite"),
    "classes NaN": (lambda: meta_edit(classes='{"dtype": "<f8", "values": [1, 2, NaN]}'), "non-standard JSON number"),
    "classes bytes not latin-1": (lambda: _classes_edit(dtype="|S1", values=["a", "b", "\u20ac"]), "Latin-1"),
    "classes nested deeply": (lambda: meta_edit(classes="[" * 100_000), "'classes' is nested too deeply"),
    "feature names not json": (lambda: meta_edit(feature_names_in="["), "'feature_names_in' is not valid JSON"),
    "feature names not strings": (lambda: meta_edit(feature_names_in="[1, 2, 3, 4]"), "list of strings"),
    "feature names object": (lambda: meta_edit(feature_names_in='{"a": 1}'), "list of strings"),
    "feature names count": (lambda: meta_edit(feature_names_in='["a"]'), "lists 1 names for a model with 4 inputs"),
}


def _classes(**fields):
    return json.dumps({"dtype": "<U1", "values": ["a", "b", "c"], **fields})


def _classes_edit(**fields):
    return meta_edit(classes=_classes(**fields))


def test_epochs_trained_at_the_bound_loads(tmp_path):
    """F2 on the load path: 2**62 (the core's MAX_EPOCHS, the last epoch fit may start) loads;
    one more is refused (PY_ONLY_BAD_FILES), and fit itself stops there (test_engines.py)."""
    path = tmp_path / "m.safetensors"
    path.write_bytes(meta_edit(epochs_trained=str(2**62)))
    assert fm.load(path).epochs_trained == 2**62


@pytest.mark.parametrize("name", list(BAD_FILES) + list(PY_ONLY_BAD_FILES))
def test_malformed_file_raises_value_error(tmp_path, name):
    make, match = BAD_FILES.get(name) or PY_ONLY_BAD_FILES[name]
    raw = make()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=match):
        fm.load(path)
    with pytest.raises(ValueError, match=match):
        fm.Sequential.from_bytes(raw)


def test_header_length_over_limit_is_refused_before_reading(tmp_path):
    path = tmp_path / "huge.safetensors"
    with open(path, "wb") as f:  # a sparse file: the length field, then holes
        f.write(struct.pack("<Q", fio.MAX_HEADER_BYTES + 8))
        f.truncate(fio.MAX_HEADER_BYTES + 64)
    start = time.perf_counter()
    with pytest.raises(ValueError, match=f"exceeds the limit of {fio.MAX_HEADER_BYTES} bytes"):
        fm.load(path)
    assert time.perf_counter() - start < 1


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        fm.load(tmp_path / "nope.safetensors")


def test_loading_never_executes_code(tmp_path):
    # a pickle-looking payload is just bytes to us
    payload = b"\x80\x04cos\nsystem\n(S'touch pwned'\ntR."
    for raw in (payload, struct.pack("<Q", len(payload)) + payload):
        with pytest.raises(ValueError):
            fm.Sequential.from_bytes(raw)
    assert not os.path.exists("pwned")


# ----------------------------------------------------------------------------- fuzz


def test_fuzz_mutated_files_never_crash(tmp_path):
    rng = np.random.default_rng(12345)
    valids = [make_model("float32").to_bytes(), build([3, 4, 1], ["relu", "sigmoid"], None, "float64").to_bytes()]
    outcomes = {"loaded": 0, "ValueError": 0}
    start = time.perf_counter()
    for valid in valids:
        for raw in _mutations(valid, rng, 2000):
            try:
                model = fm.Sequential.from_bytes(raw)
            except ValueError as e:
                assert str(e), "empty error message"
                outcomes["ValueError"] += 1
            else:
                outcomes["loaded"] += 1
                out = model.forward(np.ones((2, model.n_features_in)))
                assert out.shape == (2, model.n_outputs)
    # a few through the file path too
    path = tmp_path / "fuzz.safetensors"
    for raw in _mutations(valids[0], rng, 300):
        path.write_bytes(raw)
        try:
            fm.load(path)
        except ValueError:
            pass
    assert outcomes["ValueError"] > 1000 and outcomes["loaded"] > 50, outcomes
    assert time.perf_counter() - start < 15
