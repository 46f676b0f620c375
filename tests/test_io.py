"""Model files (safetensors format): round trips, standard compliance, atomic saves, pickling,
and hostile files (every malformed file raises ValueError; a fuzz run proves nothing crashes)."""

import hashlib
import json
import os
import pickle
import re
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import fastmlp as fm
import fastmlp.io as fio

FIXTURES = Path(__file__).with_name("fixtures")


def make_model(dtype="float32", seed=0):
    layers = [fm.Dense(4, 6, "tanh"), fm.Dense(6, 5, "relu"), fm.Dense(5, 3, "softmax")]
    return fm.Sequential(layers, dtype=dtype, seed=seed, l2=1e-3, optimizer="sgd")


ARCHS = [
    ([4, 3], ["linear"], "mse"),
    ([4, 7, 1], ["sigmoid", "sigmoid"], None),
    ([4, 8, 6, 3], ["relu", "tanh", "softmax"], None),
    ([4, 5, 2], ["step", "linear"], "mse"),
    ([4, 5, 3], ["tanh", "softmax"], "mse"),
    ([4, 3, 2], ["relu", "sigmoid"], "binary_crossentropy"),
]


def build(sizes, acts, loss, dtype, seed=3, l2=0.0):
    return fm.Sequential(
        [fm.Dense(a, b, g) for a, b, g in zip(sizes[:-1], sizes[1:], acts)],
        loss=loss,
        dtype=dtype,
        seed=seed,
        l2=l2,
        optimizer="sgd",
    )


def assert_same_model(a, b):
    assert type(a) is type(b)
    assert repr(a) == repr(b)
    assert a.loss_name == b.loss_name and a.dtype == b.dtype and a.l2 == b.l2
    assert len(a.layers) == len(b.layers)
    for la, lb in zip(a.layers, b.layers):
        assert type(la) is type(lb)
        if isinstance(la, fm.Dense):
            assert (la.n_in, la.n_out, la.activation) == (lb.n_in, lb.n_out, lb.activation)
            assert getattr(la, "alpha", None) == getattr(lb, "alpha", None)
            assert la.weights.dtype == lb.weights.dtype
            assert la.weights.tobytes() == lb.weights.tobytes()  # bitwise
            assert la.bias.tobytes() == lb.bias.tobytes()
        else:
            assert la.rate == lb.rate
    assert a.params.tobytes() == b.params.tobytes()
    if hasattr(a, "optimizer"):
        assert type(a.optimizer) is type(b.optimizer)
        assert a.optimizer.get_config() == b.optimizer.get_config()
    assert getattr(a, "_epochs_seen", 0) == getattr(b, "_epochs_seen", 0)


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    model.params[...] = rng.normal(size=model.params.shape)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("arch", ARCHS, ids=lambda a: "-".join(a[1]))
def test_save_load_round_trip(tmp_path, arch, dtype):
    model = build(*arch, dtype=dtype, l2=0.25)
    randomize(model, 1)
    path = tmp_path / "model.safetensors"
    model.save(path)
    loaded = fm.load(path)
    assert_same_model(model, loaded)
    assert loaded.seed == model.seed
    X = np.random.default_rng(2).normal(size=(17, model.n_features_in))
    np.testing.assert_array_equal(model.forward(X), loaded.forward(X))
    np.testing.assert_array_equal(model.predict(X), loaded.predict(X))
    # bytes and file agree
    assert path.read_bytes() == model.to_bytes()


def test_load_is_exposed_on_the_package(tmp_path):
    model = make_model()
    model.save(str(tmp_path / "m.safetensors"))
    assert_same_model(model, fm.load(str(tmp_path / "m.safetensors")))


def test_file_is_standard_safetensors(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    from safetensors import safe_open

    model = make_model("float64")
    randomize(model)
    path = tmp_path / "m.safetensors"
    model.save(path)
    tensors = st.load_file(str(path))
    assert sorted(tensors) == sorted(f"layers.{i}.{s}" for i in range(3) for s in ("weight", "bias"))
    for i, layer in enumerate(model.layers):
        assert tensors[f"layers.{i}.weight"].dtype == np.float64
        assert tensors[f"layers.{i}.weight"].shape == (layer.n_in, layer.n_out)
        np.testing.assert_array_equal(tensors[f"layers.{i}.weight"], layer.weights)
        np.testing.assert_array_equal(tensors[f"layers.{i}.bias"], layer.bias)
    with safe_open(str(path), "np") as f:
        meta = f.metadata()
    assert meta["fastmlp_format"] == "1"
    assert meta["fastmlp_version"] == fm.__version__
    assert meta["dtype"] == "float64" and meta["loss"] == "categorical_crossentropy"
    assert json.loads(meta["l2"]) == model.l2
    layers = json.loads(meta["layers"])
    assert [(e["type"], e["n_in"], e["n_out"], e["activation"]) for e in layers] == [
        ("Dense", 4, 6, "tanh"),
        ("Dense", 6, 5, "relu"),
        ("Dense", 5, 3, "softmax"),
    ]
    # the layout itself: 8-byte length, JSON header padded to 8 bytes, then the data
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    assert n % 8 == 0 and raw[8] == ord("{")
    assert len(raw) == 8 + n + 8 * model.num_params


def test_reads_files_written_by_the_safetensors_library(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    model = make_model("float32")
    randomize(model, 5)
    model.save(tmp_path / "ours.safetensors")
    from safetensors import safe_open

    with safe_open(str(tmp_path / "ours.safetensors"), "np") as f:
        meta = f.metadata()
    tensors = {f"layers.{i}.weight": np.array(layer.weights) for i, layer in enumerate(model.layers)}
    tensors.update({f"layers.{i}.bias": np.array(layer.bias) for i, layer in enumerate(model.layers)})
    st.save_file(tensors, str(tmp_path / "theirs.safetensors"), metadata=meta)  # their ordering, their padding
    assert_same_model(model, fm.load(tmp_path / "theirs.safetensors"))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pickle_round_trip_is_bitwise(dtype):
    model = make_model(dtype)
    randomize(model, 7)
    assert vars(fm.Sequential)["__reduce__"](model)[0] == fm.Sequential.from_bytes
    for proto in range(2, pickle.HIGHEST_PROTOCOL + 1):
        clone = pickle.loads(pickle.dumps(model, protocol=proto))
        assert_same_model(model, clone)
        assert clone.seed == model.seed
        clone.params[...] = 0  # independent buffers
        assert np.any(model.params != 0)


def test_training_state_round_trips(tmp_path):
    layers = [fm.Dense(4, 6, "relu"), fm.Dense(6, 3, "softmax")]
    model = fm.Sequential(layers, seed=5, optimizer=fm.Adam(learning_rate=0.01, beta2=0.99))
    X = np.random.default_rng(0).normal(size=(30, 4))
    y = np.arange(30) % 3
    model.fit(X, y, epochs=3, batch_size=10)
    model.save(tmp_path / "t.safetensors")
    loaded = fm.load(tmp_path / "t.safetensors")
    assert_same_model(model, loaded)
    assert loaded.optimizer.get_config() == {**fm.Adam(0.01, beta2=0.99).get_config()}
    assert loaded._epochs_seen == 3
    # training continues the same way (the optimizer state itself is not saved: compare with a reset one)
    model.optimizer.reset()
    model.fit(X, y, epochs=2, batch_size=10)
    loaded.fit(X, y, epochs=2, batch_size=10)
    np.testing.assert_array_equal(model.params, loaded.params)


def test_from_bytes_takes_any_bytes_like():
    model = make_model()
    raw = model.to_bytes()
    for data in (raw, bytearray(raw), memoryview(raw), np.frombuffer(raw, dtype=np.uint8)):
        assert_same_model(model, fm.Sequential.from_bytes(data))
    with pytest.raises(TypeError):
        fm.Sequential.from_bytes(memoryview(raw)[::2])  # not contiguous


def test_round_trip_with_dropout_alpha_init(tmp_path):
    layers = [
        fm.Dense(4, 8, "leaky_relu", alpha=0.2),
        fm.Dropout(0.3),
        fm.Dense(8, 6, "elu", alpha=0.7, init="glorot_normal"),
        fm.Dropout(0.1),
        fm.Dense(6, 2, "softmax"),
    ]
    model = fm.Sequential(layers, dtype="float64", seed=4, optimizer="sgd")
    randomize(model, 2)
    model.save(tmp_path / "d.safetensors")
    loaded = fm.load(tmp_path / "d.safetensors")
    assert_same_model(model, loaded)
    raw = (tmp_path / "d.safetensors").read_bytes()
    header = json.loads(raw[8 : 8 + struct.unpack("<Q", raw[:8])[0]])
    assert sorted(k for k in header if k != "__metadata__") == sorted(
        f"layers.{i}.{s}" for i in (0, 2, 4) for s in ("weight", "bias")
    )
    X = np.random.default_rng(0).normal(size=(9, 4))
    np.testing.assert_array_equal(model.forward(X), loaded.forward(X))


# ----------------------------------------------------------------------------- compatibility, interop


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_files_written_by_release_0_1_0_still_load(dtype):
    """tests/fixtures/v0.1.0_*.safetensors were written by fastmlp 0.1.0 (its Python writer)."""
    expected = json.loads((FIXTURES / "v0.1.0_expected.json").read_text())[dtype]
    model = fm.load(FIXTURES / f"v0.1.0_{dtype}.safetensors")
    assert repr(model) == expected["repr"]
    assert model.dtype == np.dtype(dtype) and model.l2 == expected["l2"] and model.seed == expected["seed"]
    assert hashlib.sha256(model.params.tobytes()).hexdigest() == expected["params_sha256"]  # bit for bit
    config = model.optimizer.get_config()  # 0.1.0 had no gradient clipping: the new keys hold "off"
    assert {k: v for k, v in config.items() if k in expected["optimizer"]} == expected["optimizer"]
    assert all(config[k] == 0.0 for k in set(config) - set(expected["optimizer"])), config
    assert model.epochs_trained == expected["epochs_trained"]
    # the weights are bit for bit; the outputs to rounding (the GEMM kernel depends on the CPU and build)
    np.testing.assert_allclose(
        model.forward(np.array(expected["X"])),
        np.array(expected["forward"], dtype=dtype),
        rtol=1e-5 if dtype == "float32" else 1e-13,
    )


# Files written by earlier fastmlps: release 0.1.0 (its Python writer) and main as of 2026-12-06, the
# last C++ writer before cpp/src/serialize.cpp became cpp/src/io/ (tests/fixtures/make_main_fixture.py:
# BatchNormalization, LayerNormalization, Dropout, string labels, column names). Each file: its
# expected values (the JSON file, and the entry in it).
OLD_FILES = {
    "v0.1.0_float32": ("v0.1.0_expected.json", "float32"),
    "v0.1.0_float64": ("v0.1.0_expected.json", "float64"),
    "main_2026-12-06": ("main_2026-12-06_expected.json", None),
}


def _tensors_of(raw):
    """(header, data, {name: array}) of a safetensors file's bytes, read with json and NumPy alone."""
    (n,) = struct.unpack("<Q", raw[:8])
    header, data = json.loads(raw[8 : 8 + n]), raw[8 + n :]
    codes = {"F32": "<f4", "F64": "<f8"}
    arrays = {
        name: np.frombuffer(data[t["data_offsets"][0] : t["data_offsets"][1]], codes[t["dtype"]]).reshape(t["shape"])
        for name, t in header.items()
        if name != "__metadata__"
    }
    return header, data, arrays


def _model_of_header(meta):
    """A model with the architecture of a file's metadata, built by hand (not by fastmlp's reader)."""
    layers = []
    for e in json.loads(meta["layers"]):
        kind, fields = e["type"], {k: v for k, v in e.items() if k != "type"}
        if kind == "Dense":
            layers.append(fm.Dense(e["n_in"], e["n_out"], e["activation"], init=e.get("init"), alpha=e.get("alpha")))
        else:
            layers.append(getattr(fm, kind)(**fields))  # Dropout(rate), *Normalization(epsilon[, momentum])
    return fm.Sequential(layers, loss=meta["loss"], dtype=meta["dtype"], l2=float(meta["l2"]))


@pytest.mark.parametrize("name", OLD_FILES)
def test_files_written_by_earlier_versions_load_bit_for_bit(name):
    """Every tensor loads bit for bit, in get_weights()'s order; the loaded model computes exactly
    what a model built by hand from the same architecture and tensors computes, and gives the
    predictions recorded when the file was written (labels exactly, probabilities to the GEMM's
    rounding, which depends on the CPU); written again, the tensors and fastmlp's own metadata
    come out byte for byte as they were."""
    path = FIXTURES / f"{name}.safetensors"
    header, data, arrays = _tensors_of(path.read_bytes())
    model = fm.load(path)
    weights = model.get_weights()
    assert [w.shape for w in weights] == [a.shape for a in arrays.values()]
    for w, (tensor, a) in zip(weights, arrays.items()):
        assert w.dtype == a.dtype and w.tobytes() == a.tobytes(), tensor
    by_hand = _model_of_header(header["__metadata__"])
    by_hand.set_weights(list(arrays.values()))
    assert repr(by_hand) == repr(model)
    json_file, entry = OLD_FILES[name]
    expected = json.loads((FIXTURES / json_file).read_text())
    expected = expected[entry] if entry else expected
    X = np.array(expected["X"])
    np.testing.assert_array_equal(model.forward(X), by_hand.forward(X))
    assert hashlib.sha256(model.params.tobytes()).hexdigest() == expected["params_sha256"]
    if "weights_sha256" in expected:
        assert [hashlib.sha256(w.tobytes()).hexdigest() for w in weights] == expected["weights_sha256"]
        assert model.classes_.tolist() == expected["classes"]
        assert model.feature_names_in_.tolist() == expected["feature_names"]
        X = pytest.importorskip("pandas").DataFrame(X, columns=expected["feature_names"])
        assert model.predict(X).tolist() == expected["predict"]
        got, want = model.predict_proba(X), np.array(expected["predict_proba"], dtype=model.dtype)
    else:
        got, want = model.forward(X), np.array(expected["forward"], dtype=model.dtype)
        assert got.argmax(axis=1).tolist() == want.argmax(axis=1).tolist()
    np.testing.assert_allclose(got, want, rtol=1e-5 if model.dtype == np.float32 else 1e-13)
    # written again: fastmlp's own entries and the tensors as they were
    header2, data2, _ = _tensors_of(model.to_bytes())
    own = ("fastmlp_format", "dtype", "loss", "l2", "layers")
    if name.startswith("main"):
        assert {k: header2["__metadata__"][k] for k in own} == {k: header["__metadata__"][k] for k in own}
    assert {k: v for k, v in header2.items() if k != "__metadata__"} == {
        k: v for k, v in header.items() if k != "__metadata__"
    }
    assert data2 == data


def test_more_than_64_layer_entries(tmp_path, cpp_tool):
    layers = []
    for _ in range(40):
        layers += [fm.Dense(5, 5, "tanh"), fm.Dropout(0.1)]
    model = fm.Sequential(layers + [fm.Dense(5, 2, "softmax")], dtype="float64", seed=1)  # 81 entries
    path = tmp_path / "deep.safetensors"
    model.save(path)
    assert_same_model(model, fm.load(path))
    info = cpp_tool("info", "double", path).stdout.splitlines()
    assert len(info) == 1 + 41 and info[1].split()[4] == "0.10000000000000001"


def test_metadata_of_others_passes_through_untouched(tmp_path):
    model = make_model("float64")
    randomize(model, 3)
    model.save(tmp_path / "a.safetensors")
    net, meta = fio.read(tmp_path / "a.safetensors")
    assert {"seed", "optimizer", "epochs_trained", "layers", "fastmlp_version"} <= set(meta)
    extra = {"vocabulary": json.dumps(["cat", "dog", "\u00e9l\u00e9phant"]), "note": "", "wrapper": '{"x": [1, 2]}'}
    fio.write(tmp_path / "b.safetensors", net, extra)
    net2, meta2 = fio.read(tmp_path / "b.safetensors")
    assert {k: meta2[k] for k in extra} == extra
    np.testing.assert_array_equal(net2.params, model.params)
    assert fio.decode(fio.encode(net, extra))[1] == meta2
    for own in ("layers", "dtype", "fastmlp_format"):
        with pytest.raises(ValueError, match=f"'{own}' is written by fastmlp itself"):
            fio.write(tmp_path / "c.safetensors", net, {own: "x"})
    with pytest.raises(TypeError, match="metadata must be a dict of str to str"):
        fio.write(tmp_path / "c.safetensors", net, {"a": 1})
    assert not (tmp_path / "c.safetensors").exists()
    st = pytest.importorskip("safetensors.numpy")
    from safetensors import safe_open

    with safe_open(str(tmp_path / "b.safetensors"), "np") as f:
        assert {k: f.metadata()[k] for k in extra} == extra
    assert sorted(st.load_file(str(tmp_path / "b.safetensors"))) == sorted(
        f"layers.{i}.{s}" for i in range(3) for s in ("weight", "bias")
    )


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


# ----------------------------------------------------------------------------- atomic saves


def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name != "model.safetensors")


# A save that fails part-way: the file size limit (RLIMIT_FSIZE) makes write() fail with EFBIG
# after `limit` bytes of the temporary file, as a full disk would.
SAVE_UNDER_FSIZE_LIMIT = r"""
import resource, signal, sys
import fastmlp as fm
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # EFBIG instead of a signal
model = fm.Sequential([fm.Dense(64, 256, "relu"), fm.Dense(256, 10, "softmax")], seed=2)
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    model.save(sys.argv[1])
except OSError as e:
    print("OSError", e.errno, e)
"""


@pytest.mark.parametrize("limit", [4, 4096, 70000])
def test_failed_write_keeps_the_old_file(tmp_path, limit):
    path = tmp_path / "model.safetensors"
    old = make_model(seed=1)
    old.save(path)
    before = path.read_bytes()
    out = subprocess.run(
        [sys.executable, "-c", SAVE_UNDER_FSIZE_LIMIT, str(path), str(limit)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert re.match(r"OSError 27 .*cannot write", out.stdout), out.stdout  # EFBIG, writing the temporary file
    assert path.read_bytes() == before
    assert_same_model(old, fm.load(path))
    assert _leftovers(tmp_path) == []  # the temporary file was removed


def _temporaries(folder):
    return sorted(p.name for p in folder.iterdir() if ".tmp-" in p.name)


def _dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()  # reaped: no process has this pid now
    return proc.pid


def test_next_save_removes_temporaries_of_dead_processes_only(tmp_path):
    path = tmp_path / "model.safetensors"
    make_model(seed=1).save(path)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        dead = f".model.safetensors.tmp-{_dead_pid()}-a1B2c3"
        alive = f".model.safetensors.tmp-{sleeper.pid}-a1B2c3"
        mine = f".model.safetensors.tmp-{os.getpid()}-a1B2c3"  # another thread of ours may be saving
        other = f".other.safetensors.tmp-{_dead_pid()}-a1B2c3"  # another target's
        odd = f".model.safetensors.tmp-{_dead_pid()}-toolong"  # not a name we make
        for name in (dead, alive, mine, other, odd):
            (tmp_path / name).write_bytes(b"partial")
        new = make_model(seed=2)
        new.save(path)
        assert_same_model(new, fm.load(path))
        assert _temporaries(tmp_path) == sorted([alive, mine, other, odd])
    finally:
        sleeper.kill()
        sleeper.wait()


SAVE_FOREVER = r"""
import sys
import fastmlp as fm
model = fm.Sequential([fm.Dense(1000, 2000, "relu"), fm.Dense(2000, 10, "softmax")], seed=3)
print("ready", flush=True)
while True:
    model.save(sys.argv[1])
"""


def test_save_killed_midway_leaves_a_valid_file_and_the_next_save_cleans_up(tmp_path):
    path = tmp_path / "model.safetensors"
    make_model(seed=1).save(path)
    for _ in range(5):  # the kill may land between two saves: try again
        proc = subprocess.Popen([sys.executable, "-c", SAVE_FOREVER, str(path)], stdout=subprocess.PIPE, text=True)
        try:
            assert proc.stdout.readline() == "ready\n"
            deadline = time.monotonic() + 60
            while not _temporaries(tmp_path) and time.monotonic() < deadline:
                time.sleep(0.0005)
            proc.send_signal(signal.SIGKILL)
        finally:
            proc.kill()
            proc.wait()
        fm.load(path)  # the old model or a complete new one, never a torn file
        if _temporaries(tmp_path):
            break
    else:
        pytest.skip("could not kill the saving process while it was writing")
    assert _temporaries(tmp_path) == [f".model.safetensors.tmp-{proc.pid}-" + _temporaries(tmp_path)[0][-6:]]
    make_model(seed=4).save(path)
    assert _temporaries(tmp_path) == []


def test_save_through_a_symlink_replaces_its_target(tmp_path):
    (tmp_path / "models").mkdir()
    target = tmp_path / "models" / "real.safetensors"
    make_model(seed=1).save(target)
    os.symlink("models/real.safetensors", tmp_path / "link.safetensors")  # relative, via a chain of two
    os.symlink("link.safetensors", tmp_path / "link2.safetensors")
    new = make_model(seed=2)
    new.save(tmp_path / "link2.safetensors")
    assert (tmp_path / "link2.safetensors").is_symlink() and (tmp_path / "link.safetensors").is_symlink()
    assert_same_model(new, fm.load(target))
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["real.safetensors"]
    # a dangling link: the file it names is created
    os.symlink(str(tmp_path / "models" / "later.safetensors"), tmp_path / "dangling.safetensors")
    new.save(tmp_path / "dangling.safetensors")
    assert_same_model(new, fm.load(tmp_path / "models" / "later.safetensors"))


# Loading from a FIFO must fail at once, not wait for a writer: run it with a time limit.
LOAD_AND_SAVE_FIFO = r"""
import os, sys
import fastmlp as fm
for action in (lambda: fm.load(sys.argv[1]), lambda: fm.Sequential([fm.Dense(2, 1)]).save(sys.argv[1])):
    try:
        action()
    except ValueError as e:
        print("ValueError", e)
"""


def test_fifos_and_folders_are_refused(tmp_path):
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    out = subprocess.run(
        [sys.executable, "-c", LOAD_AND_SAVE_FIFO, str(fifo)], capture_output=True, text=True, timeout=60
    )
    lines = out.stdout.splitlines()
    assert len(lines) == 2 and all("not a regular file" in line for line in lines), out.stdout + out.stderr
    assert lines[0].startswith("ValueError cannot load") and lines[1].startswith("ValueError cannot save")
    for action in (lambda: fm.load(tmp_path), lambda: make_model().save(tmp_path)):
        with pytest.raises(ValueError, match="not a regular file"):
            action()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pipe.safetensors"]


def test_save_replaces_and_keeps_permissions(tmp_path):
    path = tmp_path / "model.safetensors"
    make_model(seed=1).save(path)
    os.chmod(path, 0o640)
    second = make_model(seed=2)
    second.save(str(path))
    assert_same_model(second, fm.load(path))
    assert (os.stat(path).st_mode & 0o777) == 0o640
    assert _leftovers(tmp_path) == []


def test_save_refuses_non_finite_weights(tmp_path):
    model = make_model()
    model.params[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        model.save(tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- malformed files


def parts(model=None):
    """(header dict, data bytes) of a valid file, to edit."""
    raw = (model or make_model("float32")).to_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def assemble(header, data, n=None):
    h = json.dumps(header).encode() if isinstance(header, dict) else header
    return struct.pack("<Q", len(h) if n is None else n) + h + data


def meta_edit(**changes):
    header, data = parts()
    for k, v in changes.items():
        if v is None:
            del header["__metadata__"][k]
        else:
            header["__metadata__"][k] = v
    return assemble(header, data)


def tensor_edit(name, **changes):
    header, data = parts()
    header[name].update(changes)
    return assemble(header, data)


def layers_edit(fn):
    header, data = parts()
    layers = json.loads(header["__metadata__"]["layers"])
    fn(layers)
    header["__metadata__"]["layers"] = json.dumps(layers)
    return assemble(header, data)


def _drop_tensor():
    header, data = parts()
    del header["layers.2.bias"]
    return assemble(header, data)


def _overlap():
    header, data = parts()
    header["layers.0.bias"]["data_offsets"] = header["layers.0.weight"]["data_offsets"][:]
    header["layers.0.bias"]["data_offsets"][1] = header["layers.0.bias"]["data_offsets"][0] + 4 * 6
    return assemble(header, data)


def _extra_tensor():
    header, data = parts()
    header["extra"] = {"dtype": "F32", "shape": [1], "data_offsets": [len(data), len(data) + 4]}
    return assemble(header, data + b"\0\0\0\0")


def _dtype_mismatch():
    header, data = parts()
    header["__metadata__"]["dtype"] = "float64"  # tensors stay F32
    return assemble(header, data)


def _nan_weight():
    header, data = parts()
    b = header["layers.1.weight"]["data_offsets"][0]
    data = data[:b] + struct.pack("<f", float("nan")) + data[b + 4 :]
    return assemble(header, data)


def _trailing_bytes():
    header, data = parts()
    return assemble(header, data + b"\0" * 8)


def _dup_keys():
    header, data = parts()
    text = json.dumps(header)
    text = text[:-1] + ', "__metadata__": {}}'
    return assemble(text.encode(), data)


def _deep():
    header, data = parts()
    header["__metadata__"]["junk"] = "x"
    text = json.dumps(header)[:-1] + ', "deep": ' + "[" * 5000 + "]" * 5000 + "}"
    return assemble(text.encode(), data)


def _leading_dropout():
    header, data = parts()
    layers = json.loads(header["__metadata__"]["layers"])
    header["__metadata__"]["layers"] = json.dumps([{"type": "Dropout", "rate": 0.5}] + layers)
    renamed = {}
    for k, v in header.items():
        if k.startswith("layers."):
            i, rest = k[len("layers.") :].split(".", 1)
            k = f"layers.{int(i) + 1}.{rest}"
        renamed[k] = v
    return assemble(renamed, data)


def _dropout_rate(rate, **extra):
    model = fm.Sequential([fm.Dense(4, 6, "tanh"), fm.Dropout(0.5), fm.Dense(6, 3, "softmax")], seed=0, optimizer="sgd")
    header, data = parts(model)
    layers = json.loads(header["__metadata__"]["layers"])
    layers[1].update(rate=rate, **extra)
    header["__metadata__"]["layers"] = json.dumps(layers)
    return assemble(header, data)


def _valid():
    return make_model().to_bytes()


BAD_FILES = {
    "empty": (lambda: b"", "fewer than the 8-byte"),
    "only length": (lambda: _valid()[:8], "larger than"),
    "truncated header": (lambda: _valid()[:40], "larger than"),
    "truncated data": (lambda: _valid()[:-3], "cover|outside|needs"),
    "huge header length": (lambda: struct.pack("<Q", 2**63) + b"{}" * 8, "larger than"),
    "header too short": (lambda: struct.pack("<Q", 1) + b"{", "too small"),
    "header length past end": (lambda: struct.pack("<Q", 5) + b"{}", "larger than"),
    "bad json": (lambda: assemble(b'{"a": [1, 2', b""), "not valid JSON"),
    "not an object": (lambda: assemble(b"[1, 2, 3]", b""), "JSON object"),
    "not utf8": (lambda: assemble(b'{"\xff\xfe": 1}', b""), "UTF-8"),
    "nan constant": (lambda: assemble(b'{"a": NaN}', b""), "not valid JSON .*invalid literal"),
    "no metadata": (
        lambda: assemble({"layers.0.weight": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}, b""),
        "__metadata__",
    ),
    "metadata not strings": (lambda: meta_edit(dtype=5), "strings to strings"),
    "unknown version": (lambda: meta_edit(fastmlp_format="2"), "unsupported fastmlp_format"),
    "no version": (lambda: meta_edit(fastmlp_format=None), "lacks fastmlp_format"),
    "bad dtype meta": (lambda: meta_edit(dtype="float16"), "dtype"),
    "bad loss": (lambda: meta_edit(loss="hinge"), "unknown loss"),
    "bad l2": (lambda: meta_edit(l2="-1"), "l2"),
    "l2 not json": (lambda: meta_edit(l2="zero"), "not valid JSON"),
    "bad seed": (lambda: meta_edit(seed="-4"), "seed"),
    "layers not json": (lambda: meta_edit(layers="[{"), "not valid JSON"),
    "layers empty": (lambda: meta_edit(layers="[]"), "non-empty"),
    "layers not list": (lambda: meta_edit(layers='{"a": 1}'), "non-empty JSON list"),
    "unknown layer": (lambda: layers_edit(lambda L: L.append({"type": "Conv2D"})), "unknown type"),
    "unknown activation": (lambda: layers_edit(lambda L: L[0].update(activation="swishy")), "activation"),
    "bad size": (lambda: layers_edit(lambda L: L[0].update(n_in=-3)), "n_in"),
    "size is float": (lambda: layers_edit(lambda L: L[0].update(n_in=4.0)), "n_in"),
    "absurd size": (lambda: layers_edit(lambda L: L[0].update(n_in=10**30)), "n_in"),
    "architecture vs tensor": (lambda: layers_edit(lambda L: L[1].update(n_out=6)), "shape"),
    "unknown layer field": (lambda: layers_edit(lambda L: L[0].update(__class__="os.system")), "unknown fields"),
    "missing tensor": (_drop_tensor, "missing|gap|cover"),
    "extra tensor": (_extra_tensor, "unexpected tensors"),
    "dtype mismatch": (_dtype_mismatch, "dtype"),
    "tensor dtype": (lambda: tensor_edit("layers.0.bias", dtype="I64"), "F32 or F64"),
    "absurd shape": (lambda: tensor_edit("layers.0.weight", shape=[2**62, 2**62]), "needs"),
    "negative shape": (lambda: tensor_edit("layers.0.weight", shape=[-4, -6]), "invalid shape"),
    "wrong shape": (lambda: tensor_edit("layers.0.weight", shape=[6, 4]), "shape"),
    "offsets out of range": (lambda: tensor_edit("layers.2.bias", data_offsets=[10**6, 10**6 + 12]), "outside"),
    "offsets reversed": (lambda: tensor_edit("layers.0.bias", data_offsets=[120, 96]), "outside"),
    "offsets not ints": (lambda: tensor_edit("layers.0.bias", data_offsets=[96.0, 120.0]), "outside"),
    "overlapping offsets": (_overlap, "overlaps|needs"),
    "tensor extra key": (lambda: tensor_edit("layers.0.bias", note="x"), "exactly"),
    "nan weight": (_nan_weight, "NaN"),
    "trailing bytes": (_trailing_bytes, "cover"),
    "duplicate keys": (_dup_keys, "repeats"),
    "deep nesting": (_deep, "deep|nest"),
    "leading dropout": (_leading_dropout, "must follow"),
    "dropout rate 1": (lambda: _dropout_rate(1.0), "rate"),
    "dropout rate negative": (lambda: _dropout_rate(-0.5), "rate"),
    "dropout extra field": (lambda: _dropout_rate(0.5, p=2), "unknown fields|exactly"),
    "chain mismatch": (
        lambda: layers_edit(
            lambda L: L.insert(1, {"type": "Dense", "n_in": 2, "n_out": 2, "activation": "relu", "alpha": None})
        ),
        "missing|shape|chain|inputs",
    ),
}


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


def pick(rng, options):
    return options[int(rng.integers(0, len(options)))]


def _mutations(valid: bytes, rng: np.random.Generator, count: int):
    n = struct.unpack("<Q", valid[:8])[0]
    header = valid[8 : 8 + n].decode()
    numbers = [i for i, c in enumerate(header) if c.isdigit()]
    for k in range(count):
        kind = k % 6
        raw = bytearray(valid)
        if kind == 0:  # bit flips anywhere
            for _ in range(int(rng.integers(1, 9))):
                pos = int(rng.integers(0, len(raw)))
                raw[pos] ^= 1 << int(rng.integers(0, 8))
        elif kind == 1:  # truncation
            raw = raw[: int(rng.integers(0, len(raw)))]
        elif kind == 2:  # bit flips inside the header only
            for _ in range(int(rng.integers(1, 4))):
                pos = 8 + int(rng.integers(0, n))
                raw[pos] ^= 1 << int(rng.integers(0, 8))
        elif kind == 3:  # a digit of the header replaced by a random number (sizes, offsets, shapes)
            pos = numbers[int(rng.integers(0, len(numbers)))]
            repl = str(pick(rng, [0, 1, 2, 7, 255, 2**31, 2**32 + 1, 2**63, 2**64 + 5, 10**40]))
            h = header[:pos] + repl + header[pos + 1 :]
            raw = bytearray(struct.pack("<Q", len(h)) + h.encode() + valid[8 + n :])
        elif kind == 4:  # random bytes inserted into / deleted from the header, length kept or fixed
            pos = 8 + int(rng.integers(0, n))
            if rng.random() < 0.5:
                raw[pos:pos] = bytes(rng.integers(0, 256, size=int(rng.integers(1, 5)), dtype=np.uint8))
            else:
                del raw[pos : pos + int(rng.integers(1, 5))]
            if rng.random() < 0.5:
                raw[:8] = struct.pack("<Q", n + len(raw) - len(valid))
        else:  # the header length field itself
            raw[:8] = struct.pack(
                "<Q", pick(rng, [0, 1, n - 1, n + 1, n + 8, len(raw), 2**64 - 1, int(rng.integers(0, 2**63))])
            )
        yield bytes(raw)


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


# ----------------------------------------------------------------------------- the C++ reader/writer


@pytest.fixture(scope="module")
def cpp_tool(cpp_tests_build):
    """tests/cpp/serialize_tool.cpp (built with CMake, against the installed package): runs fastmlp's
    C++ load_network / save_network."""
    exe = cpp_tests_build / "serialize_tool"

    def run(*args, check=True):
        res = subprocess.run([str(exe), *map(str, args)], capture_output=True, text=True, errors="replace", timeout=120)
        if check:
            assert res.returncode == 0, f"{args}: rc={res.returncode}\n{res.stderr}"
        return res

    return run


def _cpp_predict(cpp_tool, tmp_path, path, X, ctype):
    xfile = tmp_path / "X.bin"
    np.ascontiguousarray(X, dtype="<f8").tofile(xfile)
    out = cpp_tool("predict", ctype, path, xfile, X.shape[0], X.shape[1]).stdout
    return np.array([[float(v) for v in line.split()] for line in out.strip().splitlines()])


CPP_ARCHS = ARCHS + [([4, 6, 3], ["relu", "softmax"], "categorical_crossentropy")]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("arch", CPP_ARCHS, ids=lambda a: "-".join(a[1]))
def test_cpp_loads_python_files(cpp_tool, tmp_path, arch, dtype):
    model = build(*arch, dtype=dtype, l2=0.5)
    randomize(model, 11)
    path = tmp_path / "py.safetensors"
    model.save(path)
    X = np.random.default_rng(3).normal(size=(13, model.n_features_in))
    expected = model.forward(X)
    same = "float" if dtype == "float32" else "double"
    # same dtype: equal up to summation order (the Python module may be built with other SIMD flags)
    tol = {"rtol": 1e-5, "atol": 1e-6} if same == "float" else {"rtol": 1e-12, "atol": 1e-13}
    np.testing.assert_allclose(_cpp_predict(cpp_tool, tmp_path, path, X, same), expected, **tol)
    other = "double" if same == "float" else "float"
    got = _cpp_predict(cpp_tool, tmp_path, path, X, other)  # converted on load
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cpp_save_round_trip(cpp_tool, tmp_path, dtype):
    model = make_model(dtype)
    randomize(model, 4)
    model.save(tmp_path / "a.safetensors")
    ctype = "float" if dtype == "float32" else "double"
    cpp_tool("resave", ctype, tmp_path / "a.safetensors", tmp_path / "b.safetensors")
    again = fm.load(tmp_path / "b.safetensors")  # C++-written, read by Python
    assert again.params.tobytes() == model.params.tobytes()
    assert (again.loss_name, again.dtype, again.l2) == (model.loss_name, model.dtype, model.l2)
    assert [repr(x) for x in again.layers] == [repr(x) for x in model.layers]
    st = pytest.importorskip("safetensors.numpy")
    assert sorted(st.load_file(str(tmp_path / "b.safetensors"))) == sorted(
        f"layers.{i}.{s}" for i in range(3) for s in ("weight", "bias")
    )
    # converting dtype on load, then saving, writes the other dtype
    other = "double" if ctype == "float" else "float"
    cpp_tool("resave", other, tmp_path / "a.safetensors", tmp_path / "c.safetensors")
    conv = fm.load(tmp_path / "c.safetensors")
    assert conv.dtype == (np.float64 if other == "double" else np.float32)
    np.testing.assert_allclose(conv.params, model.params, rtol=1e-6)
    # a failed save leaves the old file: the target folder does not exist -> error, nothing written
    res = cpp_tool("resave", ctype, tmp_path / "a.safetensors", tmp_path / "missing" / "d.safetensors", check=False)
    assert res.returncode == 3 and "cannot create" in res.stderr


def test_cpp_reads_dropout_and_alpha(cpp_tool, tmp_path):
    layers = [
        fm.Dense(4, 8, "leaky_relu", alpha=0.2),
        fm.Dropout(0.3),
        fm.Dense(8, 6, "elu", alpha=0.7, init="he_normal"),
        fm.Dense(6, 5, "softplus"),
        fm.Dropout(0.1),
        fm.Dense(5, 2, "softmax"),
    ]
    model = fm.Sequential(layers, dtype="float64", seed=4)  # the default optimizer: a C++-resaved file holds none
    randomize(model, 2)
    model.save(tmp_path / "d.safetensors")
    info = cpp_tool("info", "double", tmp_path / "d.safetensors").stdout.splitlines()
    rows = [line.split() for line in info[1:]]
    assert [r[2] for r in rows] == [x.activation for x in model.layers if isinstance(x, fm.Dense)]
    assert [float(r[4]) for r in rows] == [0.3, 0.0, 0.1, 0.0]
    assert float(rows[0][3]) == 0.2 and float(rows[1][3]) == 0.7
    assert [r[5] for r in rows] == ["default", "he_normal", "default", "default"]
    X = np.random.default_rng(1).normal(size=(7, 4))
    np.testing.assert_allclose(
        _cpp_predict(cpp_tool, tmp_path, tmp_path / "d.safetensors", X, "double"),
        model.forward(X),
        rtol=1e-12,
        atol=1e-13,
    )
    cpp_tool("resave", "double", tmp_path / "d.safetensors", tmp_path / "e.safetensors")
    assert_same_model(model, fm.load(tmp_path / "e.safetensors"))


def test_cpp_rejects_malformed_files(cpp_tool, tmp_path):
    paths = []
    for i, (make, _) in enumerate(BAD_FILES.values()):
        p = tmp_path / f"bad{i}.safetensors"
        p.write_bytes(make())
        paths.append(p)
    res = cpp_tool("check", "float", *paths)
    lines = res.stdout.splitlines()
    assert len(lines) == len(paths)
    for name, line in zip(BAD_FILES, lines):
        assert line.startswith("ERR not a valid fastmlp model file"), (name, line)


def test_cpp_fuzz_agrees_with_python(cpp_tool, tmp_path):
    """Mutated files: the C++ reader never crashes and accepts exactly what Python accepts."""
    rng = np.random.default_rng(777)
    valid = make_model("float32").to_bytes()
    paths, python_ok = [], []
    for i, raw in enumerate(_mutations(valid, rng, 1200)):
        p = tmp_path / f"m{i}.st"
        p.write_bytes(raw)
        paths.append(p)
        try:
            fm.Sequential.from_bytes(raw)
            python_ok.append(True)
        except ValueError as e:
            python_ok.append(e)
    res = cpp_tool("check", "float", *paths)
    assert res.returncode == 0, res.stderr  # no crash, no signal
    lines = res.stdout.splitlines()
    assert len(lines) == len(paths)
    cpp_ok = [line == "OK" for line in lines]
    assert all(line == "OK" or line.startswith("ERR ") for line in lines)
    disagree = [
        (i, lines[i], python_ok[i])
        for i in range(len(paths))
        if cpp_ok[i] != (python_ok[i] is True)
        and not (cpp_ok[i] and re.search("optimizer|epochs_trained", str(python_ok[i])))
    ]
    assert not disagree, disagree[:5]


def test_a_path_with_a_nul_character_is_a_value_error_naming_it(tmp_path):
    """Audit: the C++ side saw the name cut at the NUL, and its OSError printed a cut name."""
    model = fm.Sequential([fm.Dense(2, 1, "sigmoid")], seed=0)
    for call in (lambda p: model.save(p), fm.load, lambda p: fm.onnx.export(model, p)):
        with pytest.raises(ValueError, match="path must not contain a NUL character"):
            call(str(tmp_path / "a\0b.safetensors"))
    assert list(tmp_path.iterdir()) == []


def test_from_bytes_names_data():
    """Audit: from_bytes("...") raised memoryview's "a bytes-like object is required, not 'str'", a
    strided view "memoryview: casts are restricted to C-contiguous views"."""
    data = fm.Sequential([fm.Dense(2, 1, "sigmoid")], seed=0).to_bytes()
    with pytest.raises(TypeError, match="data must be bytes-like .* got str"):
        fm.Sequential.from_bytes(data.decode("latin-1"))
    with pytest.raises(TypeError, match="data must be a contiguous bytes-like object"):
        fm.Sequential.from_bytes(memoryview(data + data)[::2])
