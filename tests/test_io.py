"""Model files (safetensors format): round trips, standard compliance, atomic saves, pickling,
and hostile files (every malformed file raises ValueError; a fuzz run proves nothing crashes)."""
import json
import os
import pickle
import re
import struct
import time

import numpy as np
import pytest

import fastmlp as fm
import fastmlp.io as fio

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
    return fm.Sequential([fm.Dense(a, b, g) for a, b, g in zip(sizes[:-1], sizes[1:], acts)],
                         loss=loss, dtype=dtype, seed=seed, l2=l2, optimizer="sgd")


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
    model_save = getattr(model, "save", None)
    if model_save is not None:
        model_save(path)
    else:
        fio.save(model, path)
    loaded = fio.load(path)
    assert_same_model(model, loaded)
    assert loaded.seed == model.seed
    X = np.random.default_rng(2).normal(size=(17, model.n_features_in))
    np.testing.assert_array_equal(model.forward(X), loaded.forward(X))
    np.testing.assert_array_equal(model.predict(X), loaded.predict(X))
    # bytes and file agree
    assert path.read_bytes() == fio.to_bytes(model)


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
    fio.save(model, path)
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
    assert [(e["type"], e["n_in"], e["n_out"], e["activation"]) for e in layers] == \
        [("Dense", 4, 6, "tanh"), ("Dense", 6, 5, "relu"), ("Dense", 5, 3, "softmax")]
    # the layout itself: 8-byte length, JSON header padded to 8 bytes, then the data
    raw = path.read_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    assert n % 8 == 0 and raw[8] == ord("{")
    assert len(raw) == 8 + n + 8 * model.num_params


def test_reads_files_written_by_the_safetensors_library(tmp_path):
    st = pytest.importorskip("safetensors.numpy")
    model = make_model("float32")
    randomize(model, 5)
    fio.save(model, tmp_path / "ours.safetensors")
    from safetensors import safe_open
    with safe_open(str(tmp_path / "ours.safetensors"), "np") as f:
        meta = f.metadata()
    tensors = {f"layers.{i}.weight": np.array(l.weights) for i, l in enumerate(model.layers)}
    tensors.update({f"layers.{i}.bias": np.array(l.bias) for i, l in enumerate(model.layers)})
    st.save_file(tensors, str(tmp_path / "theirs.safetensors"), metadata=meta)  # their ordering, their padding
    assert_same_model(model, fio.load(tmp_path / "theirs.safetensors"))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pickle_round_trip_is_bitwise(dtype):
    model = make_model(dtype)
    randomize(model, 7)
    assert vars(fm.Sequential)["__reduce__"](model)[0] is fio._from_bytes
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
    fio.save(model, tmp_path / "t.safetensors")
    loaded = fio.load(tmp_path / "t.safetensors")
    assert_same_model(model, loaded)
    assert loaded.optimizer.get_config() == {**fm.Adam(0.01, beta2=0.99).get_config()}
    assert loaded._epochs_seen == 3
    # training continues the same way (the optimizer state itself is not saved: compare with a reset one)
    model.optimizer.reset()
    model.fit(X, y, epochs=2, batch_size=10)
    loaded.fit(X, y, epochs=2, batch_size=10)
    np.testing.assert_array_equal(model.params, loaded.params)


def test_from_bytes_matches_pickle_hook():
    model = make_model()
    clone = fio._from_bytes(fio.to_bytes(model))
    assert_same_model(model, clone)
    assert fio.from_bytes is fio._from_bytes
    assert_same_model(model, fio.from_bytes(bytearray(fio.to_bytes(model))))


def test_round_trip_with_dropout_alpha_init(tmp_path):
    layers = [fm.Dense(4, 8, "leaky_relu", alpha=0.2), fm.Dropout(0.3),
              fm.Dense(8, 6, "elu", alpha=0.7, init="glorot_normal"), fm.Dropout(0.1),
              fm.Dense(6, 2, "softmax")]
    model = fm.Sequential(layers, dtype="float64", seed=4, optimizer="sgd")
    randomize(model, 2)
    fio.save(model, tmp_path / "d.safetensors")
    loaded = fio.load(tmp_path / "d.safetensors")
    assert_same_model(model, loaded)
    raw = (tmp_path / "d.safetensors").read_bytes()
    header = json.loads(raw[8:8 + struct.unpack("<Q", raw[:8])[0]])
    assert sorted(k for k in header if k != "__metadata__") == sorted(
        f"layers.{i}.{s}" for i in (0, 2, 4) for s in ("weight", "bias"))
    X = np.random.default_rng(0).normal(size=(9, 4))
    np.testing.assert_array_equal(model.forward(X), loaded.forward(X))


# ----------------------------------------------------------------------------- atomic saves

def _leftovers(folder):
    return sorted(p.name for p in folder.iterdir() if p.name != "model.safetensors")


def test_interrupted_save_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    old = make_model(seed=1)
    fio.save(old, path)
    before = path.read_bytes()

    new = make_model(seed=2)
    written = []
    real_write = fio._write_chunk

    def failing_write(f, chunk):
        if len(written) == 2:  # header length and header went out; die inside the first tensor
            f.write(bytes(memoryview(chunk).cast("B"))[: max(1, len(chunk) // 2)])
            raise OSError(28, "No space left on device")
        written.append(len(chunk))
        real_write(f, chunk)

    monkeypatch.setattr(fio, "_write_chunk", failing_write)
    with pytest.raises(OSError, match="No space left"):
        fio.save(new, path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert_same_model(old, fio.load(path))
    assert _leftovers(tmp_path) == []  # the temporary file was removed


def test_failing_fsync_keeps_the_old_file(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    fio.save(make_model(seed=1), path)
    before = path.read_bytes()

    def bad_fsync(fd):
        raise OSError(5, "Input/output error")

    monkeypatch.setattr(fio.os, "fsync", bad_fsync)
    with pytest.raises(OSError):
        fio.save(make_model(seed=2), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_keyboard_interrupt_during_save(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    fio.save(make_model(seed=1), path)
    before = path.read_bytes()

    def interrupted(f, chunk):
        raise KeyboardInterrupt

    monkeypatch.setattr(fio, "_write_chunk", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fio.save(make_model(seed=2), path)
    monkeypatch.undo()
    assert path.read_bytes() == before
    assert _leftovers(tmp_path) == []


def test_save_replaces_and_keeps_permissions(tmp_path):
    path = tmp_path / "model.safetensors"
    fio.save(make_model(seed=1), path)
    os.chmod(path, 0o640)
    second = make_model(seed=2)
    fio.save(second, str(path))
    assert_same_model(second, fio.load(path))
    assert (os.stat(path).st_mode & 0o777) == 0o640
    assert _leftovers(tmp_path) == []


def test_save_refuses_non_finite_weights(tmp_path):
    model = make_model()
    model.params[3] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        fio.save(model, tmp_path / "m.safetensors")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- malformed files

def parts(model=None):
    """(header dict, data bytes) of a valid file, to edit."""
    raw = fio.to_bytes(model or make_model("float32"))
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8:8 + n]), raw[8 + n:]


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
    data = data[:b] + struct.pack("<f", float("nan")) + data[b + 4:]
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
            i, rest = k[len("layers."):].split(".", 1)
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
    return fio.to_bytes(make_model())


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
    "nan constant": (lambda: assemble(b'{"a": NaN}', b""), "non-standard"),
    "no metadata": (lambda: assemble({"layers.0.weight": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}},
                                     b""), "__metadata__"),
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
    "chain mismatch": (lambda: layers_edit(lambda L: L.insert(1, {"type": "Dense", "n_in": 2, "n_out": 2,
                                                                  "activation": "relu", "alpha": None})),
                       "missing|shape|chain|inputs"),
}


# The C++ reader ignores the training state (optimizer, epochs trained): only Python rejects these.
PY_ONLY_BAD_FILES = {
    "unknown optimizer": (lambda: meta_edit(optimizer='{"name": "lion"}'), "unknown optimizer"),
    "optimizer bad value": (lambda: meta_edit(optimizer='{"name": "sgd", "momentum": 3}'), "momentum"),
    "optimizer bad key": (lambda: meta_edit(optimizer='{"name": "sgd", "exec": 1}'), "optimizer"),
    "optimizer not object": (lambda: meta_edit(optimizer='[1]'), "optimizer"),
    "optimizer string value": (lambda: meta_edit(optimizer='{"name": "sgd", "learning_rate": "1"}'), "numbers"),
    "bad epochs": (lambda: meta_edit(epochs_trained="-1"), "epochs_trained"),
}


@pytest.mark.parametrize("name", list(BAD_FILES) + list(PY_ONLY_BAD_FILES))
def test_malformed_file_raises_value_error(tmp_path, name):
    make, match = BAD_FILES.get(name) or PY_ONLY_BAD_FILES[name]
    raw = make()
    path = tmp_path / "bad.safetensors"
    path.write_bytes(raw)
    with pytest.raises(ValueError, match=match):
        fio.load(path)
    with pytest.raises(ValueError, match=match):
        fio.from_bytes(raw)


def test_header_length_over_limit_is_refused_before_reading(tmp_path, monkeypatch):
    monkeypatch.setattr(fio, "MAX_HEADER_BYTES", 64)
    raw = fio.to_bytes(make_model())
    with pytest.raises(ValueError, match="exceeds the limit"):
        fio.from_bytes(raw)


def test_missing_file_is_an_os_error(tmp_path):
    with pytest.raises(FileNotFoundError):
        fio.load(tmp_path / "nope.safetensors")


def test_loading_never_executes_code(tmp_path):
    # a pickle-looking payload is just bytes to us
    payload = b"\x80\x04cos\nsystem\n(S'touch pwned'\ntR."
    for raw in (payload, struct.pack("<Q", len(payload)) + payload):
        with pytest.raises(ValueError):
            fio.from_bytes(raw)
    assert not os.path.exists("pwned")


# ----------------------------------------------------------------------------- fuzz

def pick(rng, options):
    return options[int(rng.integers(0, len(options)))]


def _mutations(valid: bytes, rng: np.random.Generator, count: int):
    n = struct.unpack("<Q", valid[:8])[0]
    header = valid[8:8 + n].decode()
    numbers = [i for i, c in enumerate(header) if c.isdigit()]
    for k in range(count):
        kind = k % 6
        raw = bytearray(valid)
        if kind == 0:  # bit flips anywhere
            for _ in range(int(rng.integers(1, 9))):
                pos = int(rng.integers(0, len(raw)))
                raw[pos] ^= 1 << int(rng.integers(0, 8))
        elif kind == 1:  # truncation
            raw = raw[:int(rng.integers(0, len(raw)))]
        elif kind == 2:  # bit flips inside the header only
            for _ in range(int(rng.integers(1, 4))):
                pos = 8 + int(rng.integers(0, n))
                raw[pos] ^= 1 << int(rng.integers(0, 8))
        elif kind == 3:  # a digit of the header replaced by a random number (sizes, offsets, shapes)
            pos = numbers[int(rng.integers(0, len(numbers)))]
            repl = str(pick(rng, [0, 1, 2, 7, 255, 2**31, 2**32 + 1, 2**63, 2**64 + 5, 10**40]))
            h = header[:pos] + repl + header[pos + 1:]
            raw = bytearray(struct.pack("<Q", len(h)) + h.encode() + valid[8 + n:])
        elif kind == 4:  # random bytes inserted into / deleted from the header, length kept or fixed
            pos = 8 + int(rng.integers(0, n))
            if rng.random() < 0.5:
                raw[pos:pos] = bytes(rng.integers(0, 256, size=int(rng.integers(1, 5)), dtype=np.uint8))
            else:
                del raw[pos:pos + int(rng.integers(1, 5))]
            if rng.random() < 0.5:
                raw[:8] = struct.pack("<Q", n + len(raw) - len(valid))
        else:  # the header length field itself
            raw[:8] = struct.pack("<Q", pick(rng, [0, 1, n - 1, n + 1, n + 8, len(raw), 2**64 - 1,
                                                   int(rng.integers(0, 2**63))]))
        yield bytes(raw)


def test_fuzz_mutated_files_never_crash(tmp_path):
    rng = np.random.default_rng(12345)
    valids = [fio.to_bytes(make_model("float32")),
              fio.to_bytes(build([3, 4, 1], ["relu", "sigmoid"], None, "float64"))]
    outcomes = {"loaded": 0, "ValueError": 0}
    start = time.perf_counter()
    for valid in valids:
        for raw in _mutations(valid, rng, 2000):
            try:
                model = fio.from_bytes(raw)
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
            fio.load(path)
        except ValueError:
            pass
    assert outcomes["ValueError"] > 1000 and outcomes["loaded"] > 50, outcomes
    assert time.perf_counter() - start < 15


# ----------------------------------------------------------------------------- the C++ reader/writer

CPP_TOOL = r"""
// serialize_tool: drives fastmlp::load_network / save_network for tests/test_io.py.
//   predict <float|double> MODEL X.bin ROWS COLS   -> one line per row, outputs as %.17g
//   resave  <float|double> IN OUT                  -> load_network then save_network
//   info    <float|double> MODEL                   -> one line per layer: n_in n_out activation alpha dropout init
//   check   <float|double> FILE...                 -> per file "OK" or "ERR <message>"
#include <cstdio>
#include <exception>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "fastmlp/fastmlp.hpp"
#include "fastmlp/serialize.hpp"

using namespace fastmlp;

template <class T>
int run(const std::string& cmd, char** argv, int argc) {
  if (cmd == "predict") {
    Network<T> net = load_network<T>(argv[3]);
    const long rows = std::stol(argv[5]), cols = std::stol(argv[6]);
    std::vector<double> raw(rows * cols);
    std::ifstream in(argv[4], std::ios::binary);
    in.read(reinterpret_cast<char*>(raw.data()), std::streamsize(raw.size() * sizeof(double)));
    Matrix<T> X(rows, cols);
    for (long i = 0; i < rows * cols; ++i) X.data()[i] = T(raw[i]);
    auto A = net.forward(X);
    for (long i = 0; i < A.rows(); ++i) {
      for (long j = 0; j < A.cols(); ++j) std::printf(j ? " %.17g" : "%.17g", double(A(i, j)));
      std::printf("\n");
    }
    return 0;
  }
  if (cmd == "resave") {
    Network<T> net = load_network<T>(argv[3]);
    save_network<T>(net, argv[4]);
    return 0;
  }
  if (cmd == "info") {
    Network<T> net = load_network<T>(argv[3]);
    std::printf("loss %s l2 %.17g\n", loss_name(net.loss()), double(net.l2()));
    for (const auto& s : net.layers())
      std::printf("%ld %ld %s %.17g %.17g %s\n", long(s.n_in), long(s.n_out), activation_name(s.activation), s.alpha,
                  s.dropout, init_name(s.init));
    return 0;
  }
  if (cmd == "check") {
    for (int i = 3; i < argc; ++i) {
      try {
        load_network<T>(argv[i]);
        std::printf("OK\n");
      } catch (const std::invalid_argument& e) {
        std::printf("ERR %s\n", e.what());
      }
    }
    return 0;
  }
  std::fprintf(stderr, "unknown command %s\n", cmd.c_str());
  return 64;
}

int main(int argc, char** argv) {
  if (argc < 4) return 64;
  try {
    return std::string(argv[2]) == "float" ? run<float>(argv[1], argv, argc) : run<double>(argv[1], argv, argc);
  } catch (const std::invalid_argument& e) {
    std::fprintf(stderr, "invalid_argument: %s\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 3;
  }
}
"""


@pytest.fixture(scope="module")
def cpp_tool(request, tmp_path_factory):
    """Compiles CPP_TOOL against cpp/src/*.cpp (cached by a hash of the sources)."""
    import glob
    import hashlib
    import shutil
    import subprocess
    import sys

    if shutil.which("g++") is None:
        pytest.skip("g++ not available")
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    sources = sorted(glob.glob(os.path.join(root, "cpp", "src", "*.cpp")))
    if not os.path.exists(os.path.join(root, "cpp", "src", "serialize.cpp")):
        pytest.skip("not a source checkout (cpp/src missing)")
    try:
        prefix = subprocess.run([sys.executable, "-m", "cmeel", "cmake"], capture_output=True, text=True,
                                check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("cmeel (Eigen) not available")
    eigen = os.path.join(prefix, "include", "eigen3")
    flags = ["-std=c++17", "-O1", "-DNDEBUG", "-I", os.path.join(root, "cpp", "include"), "-I", eigen]
    digest = hashlib.sha256(CPP_TOOL.encode() + " ".join(flags).encode())
    for path in sources + sorted(glob.glob(os.path.join(root, "cpp", "include", "fastmlp", "*.hpp"))):
        with open(path, "rb") as f:
            digest.update(path.encode() + f.read())
    cache = getattr(request.config, "cache", None)  # absent under -p no:cacheprovider
    folder = cache.mkdir("fastmlp_serialize_tool") if cache is not None else tmp_path_factory.mktemp("cpp_tool")
    exe = os.path.join(str(folder), "serialize_tool_" + digest.hexdigest()[:16])
    if not os.path.exists(exe):
        src = os.path.join(str(folder), "serialize_tool.cpp")
        with open(src, "w") as f:
            f.write(CPP_TOOL)
        # one compiler per source, in parallel, then link
        objects, procs = [], []
        for i, source in enumerate([src] + sources):
            obj = os.path.join(str(folder), f"{i}_{os.path.basename(source)}.o")
            objects.append(obj)
            procs.append(subprocess.Popen(["g++", *flags, "-c", source, "-o", obj], stdout=subprocess.PIPE,
                                          stderr=subprocess.PIPE, text=True, errors="replace"))
        outputs = [p.communicate()[1] for p in procs]
        failed = "".join(out for p, out in zip(procs, outputs) if p.returncode != 0)
        assert not failed, f"compiling the C++ test tool failed:\n{failed[-4000:]}"
        res = subprocess.run(["g++", *objects, "-o", exe + ".part"], capture_output=True, text=True)
        assert res.returncode == 0, f"linking the C++ test tool failed:\n{res.stderr[-4000:]}"
        os.replace(exe + ".part", exe)

    def run(*args, check=True):
        res = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, errors="replace", timeout=120)
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
    fio.save(model, path)
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
    fio.save(model, tmp_path / "a.safetensors")
    ctype = "float" if dtype == "float32" else "double"
    cpp_tool("resave", ctype, tmp_path / "a.safetensors", tmp_path / "b.safetensors")
    again = fio.load(tmp_path / "b.safetensors")  # C++-written, read by Python
    assert again.params.tobytes() == model.params.tobytes()
    assert (again.loss_name, again.dtype, again.l2) == (model.loss_name, model.dtype, model.l2)
    assert [repr(l) for l in again.layers] == [repr(l) for l in model.layers]
    st = pytest.importorskip("safetensors.numpy")
    assert sorted(st.load_file(str(tmp_path / "b.safetensors"))) == sorted(
        f"layers.{i}.{s}" for i in range(3) for s in ("weight", "bias"))
    # converting dtype on load, then saving, writes the other dtype
    other = "double" if ctype == "float" else "float"
    cpp_tool("resave", other, tmp_path / "a.safetensors", tmp_path / "c.safetensors")
    conv = fio.load(tmp_path / "c.safetensors")
    assert conv.dtype == (np.float64 if other == "double" else np.float32)
    np.testing.assert_allclose(conv.params, model.params, rtol=1e-6)
    # a failed save leaves the old file: the target folder does not exist -> error, nothing written
    res = cpp_tool("resave", ctype, tmp_path / "a.safetensors", tmp_path / "missing" / "d.safetensors", check=False)
    assert res.returncode == 3 and "cannot create" in res.stderr


def test_cpp_reads_dropout_and_alpha(cpp_tool, tmp_path):
    layers = [fm.Dense(4, 8, "leaky_relu", alpha=0.2), fm.Dropout(0.3),
              fm.Dense(8, 6, "elu", alpha=0.7, init="he_normal"), fm.Dense(6, 5, "softplus"),
              fm.Dropout(0.1), fm.Dense(5, 2, "softmax")]
    model = fm.Sequential(layers, dtype="float64", seed=4)  # the default optimizer: a C++-resaved file holds none
    randomize(model, 2)
    fio.save(model, tmp_path / "d.safetensors")
    info = cpp_tool("info", "double", tmp_path / "d.safetensors").stdout.splitlines()
    rows = [line.split() for line in info[1:]]
    assert [r[2] for r in rows] == [l.activation for l in model.layers if isinstance(l, fm.Dense)]
    assert [float(r[4]) for r in rows] == [0.3, 0.0, 0.1, 0.0]
    assert float(rows[0][3]) == 0.2 and float(rows[1][3]) == 0.7
    assert [r[5] for r in rows] == ["default", "he_normal", "default", "default"]
    X = np.random.default_rng(1).normal(size=(7, 4))
    np.testing.assert_allclose(_cpp_predict(cpp_tool, tmp_path, tmp_path / "d.safetensors", X, "double"),
                               model.forward(X), rtol=1e-12, atol=1e-13)
    cpp_tool("resave", "double", tmp_path / "d.safetensors", tmp_path / "e.safetensors")
    assert_same_model(model, fio.load(tmp_path / "e.safetensors"))


def test_cpp_rejects_malformed_files(cpp_tool, tmp_path):
    paths = []
    for i, (name, (make, _)) in enumerate(BAD_FILES.items()):
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
    valid = fio.to_bytes(make_model("float32"))
    paths, python_ok = [], []
    for i, raw in enumerate(_mutations(valid, rng, 1200)):
        p = tmp_path / f"m{i}.st"
        p.write_bytes(raw)
        paths.append(p)
        try:
            fio.from_bytes(raw)
            python_ok.append(True)
        except ValueError as e:
            python_ok.append(e)
    res = cpp_tool("check", "float", *paths)
    assert res.returncode == 0, res.stderr  # no crash, no signal
    lines = res.stdout.splitlines()
    assert len(lines) == len(paths)
    cpp_ok = [line == "OK" for line in lines]
    assert all(line == "OK" or line.startswith("ERR ") for line in lines)
    disagree = [(i, lines[i], python_ok[i]) for i in range(len(paths))
                if cpp_ok[i] != (python_ok[i] is True)
                and not (cpp_ok[i] and re.search("optimizer|epochs_trained", str(python_ok[i])))]
    assert not disagree, disagree[:5]
