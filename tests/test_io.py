"""Model files (safetensors format): round trips, standard compliance, pickling, files of earlier
versions. Atomic saves: test_io_saves.py; hostile files (every malformed file raises ValueError; a
fuzz run proves nothing crashes): test_io_malformed.py; the C++ reader/writer: test_io_cpp.py."""

import hashlib
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

import fastmlp as fm
import fastmlp.io as fio
from helpers_io import ARCHS, assert_same_model, build, make_model, randomize

FIXTURES = Path(__file__).with_name("fixtures")


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
