"""A classifier's labels (classes_) and a DataFrame's column names (feature_names_in_) are part of
the model file: save/load, to_bytes/from_bytes and pickle give back the same classes (values and
dtype), the same predictions and the same column check. Malformed entries: test_io_malformed.PY_ONLY_BAD_FILES."""

import datetime
import decimal
import json
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

import fastmlp as fm
import fastmlp.io as fio
from fastmlp import _saving

FIXTURES = Path(__file__).with_name("fixtures")
COLUMNS = ["sepal", "petal", "stem", "leaf"]


def _X(n=90, k=3, seed=0):
    """Blobs: row i belongs to class i % k; the labels' classes are predicted in every round trip."""
    rng = np.random.default_rng(seed)
    ids = np.arange(n) % k
    X = rng.normal(size=(n, 4))
    X[np.arange(n), ids] += 4.0
    return X, ids


def _model(n_classes):
    out = fm.Dense(8, 1, "sigmoid") if n_classes == 1 else fm.Dense(8, n_classes, "softmax")
    return fm.Sequential([fm.Dense(4, 8, "tanh"), out], seed=0, optimizer=fm.Adam(0.05))


def _pandas():
    return pytest.importorskip("pandas")


# (labels of the class ids, number of outputs): what fit turns into classes_
LABELS = {
    "str": (lambda ids: np.array(["setosa", "versicolor", "virginica"])[ids], 3),
    "str binary": (lambda ids: np.array(["no", "yes"])[ids % 2], 1),
    "pandas categorical": (lambda ids: _pandas().Series(_pandas().Categorical(np.array(["x", "yy", "z"])[ids])), 3),
    "pandas categorical bool": (lambda ids: _pandas().Categorical(ids % 2 == 0), 1),
    "object bool": (lambda ids: np.array([False, True], dtype=object)[ids % 2], 2),
    "pandas categorical float": (lambda ids: _pandas().Categorical(np.array([0.5, 1.25, 2.0])[ids]), 3),
    "object str": (lambda ids: np.array(["b", "a", "c"], dtype=object)[ids], 3),
}


def _round_trips(model, tmp_path):
    """(how, the model read back) for every way a model leaves the process."""
    path = tmp_path / "m.safetensors"
    model.save(path)
    yield "load", fm.load(path)
    yield "from_bytes", fm.Sequential.from_bytes(model.to_bytes())
    for protocol in (2, pickle.HIGHEST_PROTOCOL):
        yield f"pickle {protocol}", pickle.loads(pickle.dumps(model, protocol=protocol))
    yield "copy", model.copy()


def _assert_same_labels(model, other, X, python_types=True):
    assert other.classes_.dtype == model.classes_.dtype
    assert other.classes_.tolist() == model.classes_.tolist()
    if python_types:  # object arrays: the same Python types too
        assert [type(v) for v in other.classes_.tolist()] == [type(v) for v in model.classes_.tolist()]
    expected, got = model.predict(X), other.predict(X)
    assert got.dtype == expected.dtype
    assert got.tolist() == expected.tolist()
    if model.feature_names_in_ is None:
        assert other.feature_names_in_ is None
    else:
        assert other.feature_names_in_.dtype == model.feature_names_in_.dtype == object
        assert other.feature_names_in_.tolist() == model.feature_names_in_.tolist()


@pytest.mark.parametrize("kind", list(LABELS))
def test_labels_survive_every_round_trip(tmp_path, kind):
    make, n_outputs = LABELS[kind]
    X, ids = _X(k=3 if n_outputs == 3 else 2)
    y = make(ids)
    model = _model(n_outputs)
    model.fit(X, y, epochs=20, batch_size=16)
    assert model._label_classes is not None, "fit took these labels for class ids"
    assert len(set(model.predict(X).tolist())) > 1  # the comparison below sees every class
    for how, other in _round_trips(model, tmp_path):
        _assert_same_labels(model, other, X)
        assert other.accuracy(X, y) == model.accuracy(X, y), how  # fit/evaluate encode labels alike
        other.fit(X, y, epochs=1)  # and training continues on the same labels


def test_dataframe_columns_survive_and_are_still_checked(tmp_path):
    pd = _pandas()
    X, ids = _X()
    df = pd.DataFrame(X, columns=COLUMNS)
    model = _model(3)
    model.fit(df, pd.Categorical(np.array(["cat", "dog", "parrot"])[ids]), epochs=20, batch_size=16)
    for how, other in _round_trips(model, tmp_path):
        _assert_same_labels(model, other, df)
        with pytest.raises(ValueError, match="same names in another order"):
            other.predict(df[["petal", "sepal", "stem", "leaf"]])
        with pytest.raises(ValueError, match=r"missing \['leaf'\]"):
            other.predict(df.rename(columns={"leaf": "root"}))
        assert other.predict(X).tolist() == model.predict(X).tolist(), how  # arrays are not checked


def test_the_stored_entries(tmp_path):
    pd = _pandas()
    X, ids = _X()
    model = _model(3)
    model.fit(pd.DataFrame(X, columns=COLUMNS), np.array(["é", "b", "日本"])[ids], epochs=1)
    model.save(tmp_path / "m.safetensors")
    raw = (tmp_path / "m.safetensors").read_bytes()
    meta = json.loads(raw[8 : 8 + struct.unpack("<Q", raw[:8])[0]])["__metadata__"]
    assert json.loads(meta["classes"]) == {"dtype": "<U2", "values": ["b", "é", "日本"]}
    assert json.loads(meta["feature_names_in"]) == COLUMNS
    assert meta["classes"].isascii()  # JSON escapes: the entry is plain text for any reader


def test_models_without_labels_write_no_entries():
    X, ids = _X()
    model = _model(3)
    model.fit(X, ids, epochs=1)
    meta = fio.decode(model.to_bytes())[1]
    assert not {"classes", "feature_names_in"} & set(meta)
    loaded = fm.Sequential.from_bytes(model.to_bytes())
    assert loaded._label_classes is None and loaded.feature_names_in_ is None
    assert loaded.classes_.tolist() == [0, 1, 2]


# classes_ of dtypes fit does not produce today (integer y are class ids) but a model file holds.
STORABLE = {
    "int with gaps": np.array([-7, 10, 35]),
    "int8 extremes": np.array([-128, 0, 127], dtype=np.int8),
    "uint64 extremes": np.array([0, 2**63, 2**64 - 1], dtype=np.uint64),
    "big-endian int": np.array([1, 5, 9], dtype=">i4"),
    "float64": np.array([0.1, 1 / 3, 1e300]),
    "float32": np.array([0.1, 1.5, 3e38], dtype=np.float32),
    "float16": np.array([-1, 0.333, 65504], dtype=np.float16),
    "bool": np.array([False, True]),
    "bytes": np.array([b"\x00a", b"b\xff", b"c"]),
    "wide str": np.array(["\u00e9", "\u65e5\u672c", "\U0001f600"], dtype="<U20"),
    "object numbers": np.array([False, 2, 2.5], dtype=object),
}


@pytest.mark.parametrize("name", list(STORABLE))
def test_classes_of_any_storable_dtype_round_trip(tmp_path, name):
    classes = STORABLE[name]
    model = _model(len(classes))
    model._label_classes = classes
    X, _ = _X()
    for _how, other in _round_trips(model, tmp_path):
        _assert_same_labels(model, other, X)


def test_numpy_scalars_in_an_object_array_load_as_equal_python_scalars(tmp_path):
    classes = np.array([np.int64(-3), np.float32(1.5), np.float64(2.25)], dtype=object)
    model = _model(3)
    model._label_classes = classes
    X, _ = _X()
    loaded = fm.Sequential.from_bytes(model.to_bytes())
    _assert_same_labels(model, loaded, X, python_types=False)
    assert [type(v) for v in loaded.classes_] == [int, float, float]


def _longdouble_is_wider():
    return np.finfo(np.longdouble).eps < np.finfo(np.float64).eps


UNSTORABLE = {
    "Decimal": (np.array([decimal.Decimal("0.5"), decimal.Decimal("1")], dtype=object), r"Decimal\('0.5'\)"),
    "date": (np.array([datetime.date(2020, 1, 1), datetime.date(2021, 1, 1)], dtype=object), "date"),
    "bytes in an object array": (np.array([b"a", b"b"], dtype=object), "b'a'"),
    "infinite": (np.array([0.5, np.inf], dtype=object), "inf is not a finite number"),
    "complex": (np.array([1 + 1j, 2 + 0j]), "complex128|<c16"),
    "datetime64": (np.array(["2020-01-01", "2021-01-01"], dtype="datetime64[D]"), "<M8"),
    "absurdly wide str": (np.array(["a", "b"], dtype="<U1000"), "wider than the longest label"),
}


@pytest.mark.parametrize("name", list(UNSTORABLE))
def test_labels_a_file_cannot_hold_exactly_are_refused_at_save(tmp_path, name):
    classes, match = UNSTORABLE[name]
    model = _model(2)
    model._label_classes = classes
    path = tmp_path / "m.safetensors"
    with pytest.raises(ValueError, match=match):
        model.save(path)
    assert not path.exists()
    for write in (model.to_bytes, lambda: pickle.dumps(model)):
        with pytest.raises(ValueError, match=match):
            write()
    assert model.copy().classes_ is classes  # copy keeps them, in memory


@pytest.mark.skipif(not _longdouble_is_wider(), reason="long double is float64 here")
def test_long_double_labels_are_refused():
    model = _model(2)
    model._label_classes = np.array([1, 2], dtype=np.longdouble)
    with pytest.raises(ValueError, match="float16/32/64"):
        model.to_bytes()
    model._label_classes = np.array([np.longdouble(1) / 3, np.longdouble(2)], dtype=object)
    with pytest.raises(ValueError, match="would load back as"):
        model.to_bytes()


def test_decimal_labels_from_fit_are_refused_by_name():
    X, ids = _X(k=2)
    model = _model(2)
    model.fit(X, np.array([decimal.Decimal("0.5"), decimal.Decimal("1.5")], dtype=object)[ids], epochs=1)
    with pytest.raises(ValueError, match=r"cannot save classes_.*Decimal\('0.5'\) is a Decimal"):
        model.to_bytes()


def test_feature_names_must_be_strings():
    model = _model(3)
    model.feature_names_in_ = np.array([0, 1, 2, 3], dtype=object)
    with pytest.raises(ValueError, match="feature_names_in_: 0 is not a str"):
        model.to_bytes()


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_files_without_the_entries_load_unchanged(dtype):
    model = fm.load(FIXTURES / f"v0.1.0_{dtype}.safetensors")  # written before labels were saved
    assert model._label_classes is None and model.feature_names_in_ is None
    if model.is_classifier:
        assert model.classes_.tolist() == list(range(len(model.classes_)))
    X = np.zeros((2, model.n_features_in), dtype=dtype)
    assert fm.Sequential.from_bytes(model.to_bytes()).predict(X).tolist() == model.predict(X).tolist()


class _OldPickle:
    """Pickles as Sequential did before the labels were in the file: bytes, then a state dict."""

    def __init__(self, raw, state):
        self.raw, self.state = raw, state

    def __reduce__(self):
        return (fm.Sequential.from_bytes, (self.raw,), self.state)


def test_pickles_of_the_previous_version_still_load():
    X, ids = _X()
    model = _model(3)
    model.fit(X, np.array(["a", "b", "c"])[ids], epochs=5)
    model.feature_names_in_ = np.array(COLUMNS, dtype=object)
    bare = model.copy()
    bare.__setstate__({})
    assert not {"classes", "feature_names_in"} & set(fio.decode(bare.to_bytes())[1])
    old = pickle.dumps(_OldPickle(bare.to_bytes(), _saving.extra_state(model)))
    _assert_same_labels(model, pickle.loads(old), X)


def _with_metadata(raw: bytes, **entries) -> bytes:
    n = struct.unpack("<Q", raw[:8])[0]
    header = json.loads(raw[8 : 8 + n])
    header["__metadata__"].update(entries)
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + raw[8 + n :]


def test_mutated_entries_load_exactly_or_raise_value_error():
    """A small fuzz of the two entries: any edit loads the same labels or is a ValueError."""
    X, ids = _X()
    model = _model(3)
    model.fit(X, np.array(["a", "bb", "c"])[ids], epochs=1)
    model.feature_names_in_ = np.array(COLUMNS, dtype=object)
    meta = fio.decode(model.to_bytes())[1]
    rng = np.random.default_rng(5)
    alphabet = list('[]{}",:.-+eE0129aU<|>SObifu\\ ') + ["null", "true", "1e999", "NaN", '"dtype"', '"values"']
    loaded = refused = 0
    for _ in range(400):
        key = ["classes", "feature_names_in"][rng.integers(2)]
        text = list(meta[key])
        for _ in range(rng.integers(1, 4)):
            i = int(rng.integers(len(text) + 1))
            op = rng.integers(3)
            if op == 0 and text:
                del text[min(i, len(text) - 1)]
            elif op == 1:
                text.insert(i, alphabet[rng.integers(len(alphabet))])
            elif text:
                text[min(i, len(text) - 1)] = alphabet[rng.integers(len(alphabet))]
        try:
            other = fm.Sequential.from_bytes(_with_metadata(model.to_bytes(), **{key: "".join(text)}))
        except ValueError as e:
            assert "not a valid fastmlp model file" in str(e)
            refused += 1
            continue
        loaded += 1
        for got in (other._label_classes, other.feature_names_in_):
            assert got is None or (isinstance(got, np.ndarray) and got.ndim == 1)
    assert refused > 100 and loaded > 0


def test_one_softmax_output_takes_one_label():
    X, _ = _X()
    model = fm.Sequential([fm.Dense(4, 1, "softmax")], seed=0)
    model.fit(X, np.array(["only"] * len(X)), epochs=1)
    loaded = fm.Sequential.from_bytes(model.to_bytes())
    assert loaded.classes_.tolist() == ["only"]
    _assert_same_labels(model, loaded, X)


@pytest.mark.parametrize(
    ("out", "values", "match"),
    [
        (fm.Dense(4, 1, "sigmoid"), ["a", "b", "c"], "lists 3 labels but the model predicts 2 classes"),
        (fm.Dense(4, 2, "sigmoid"), ["a", "b"], "lists 2 labels but the model takes no labels"),  # multi-label
    ],
)
def test_classes_must_match_what_the_outputs_stand_for(out, values, match):
    raw = fm.Sequential([out], seed=0).to_bytes()
    raw = _with_metadata(raw, classes=json.dumps({"dtype": "<U1", "values": values}))
    with pytest.raises(ValueError, match=match):
        fm.Sequential.from_bytes(raw)
