"""The C API on raw rows of text (fastmlp/fastmlp.h, fastmlp_predict_text and co.; issue 26): the
cells of a CSV, as pandas writes it, give through libfastmlp_c.so what fm.load(path).predict gives
for pd.read_csv of the same file: text categories (unseen, missing), numeric columns with missing
values (median and indicator), bools, number categories, a column holding both 1 and True."""

import csv
import ctypes
import io
import json
import struct

import numpy as np
import pytest

import fastmlp as fm
from test_capi import INVALID_ARGUMENT, INVALID_MODEL, LIB_PATH, NOT_CLASSIFIER, OK, P, S

pd = pytest.importorskip("pandas")

f32p = np.ctypeslib.ndpointer(np.float32, flags="C_CONTIGUOUS")
f64p = np.ctypeslib.ndpointer(np.float64, flags="C_CONTIGUOUS")
i32p = np.ctypeslib.ndpointer(np.int32, flags="C_CONTIGUOUS")
CELLS = ctypes.POINTER(ctypes.c_char_p)


@pytest.fixture(scope="module")
def lib():
    lib = ctypes.CDLL(str(LIB_PATH))
    sigs = {
        "fastmlp_last_error": ([], ctypes.c_char_p),
        "fastmlp_model_load": ([ctypes.c_char_p, ctypes.POINTER(P)], ctypes.c_int),
        "fastmlp_model_load_bytes": ([ctypes.c_char_p, S, ctypes.POINTER(P)], ctypes.c_int),
        "fastmlp_model_free": ([P], None),
        "fastmlp_model_n_columns": ([P, ctypes.POINTER(S)], ctypes.c_int),
        "fastmlp_model_column_name": ([P, S, ctypes.POINTER(ctypes.c_char_p)], ctypes.c_int),
        "fastmlp_model_class_label": ([P, S, ctypes.POINTER(ctypes.c_char_p)], ctypes.c_int),
        "fastmlp_workspace_create": ([P, S, ctypes.POINTER(P)], ctypes.c_int),
        "fastmlp_workspace_free": ([P], None),
        "fastmlp_predict_text": ([P, CELLS, S, f32p], ctypes.c_int),
        "fastmlp_predict_text_f64": ([P, CELLS, S, f64p], ctypes.c_int),
        "fastmlp_predict_proba_text": ([P, CELLS, S, f32p], ctypes.c_int),
        "fastmlp_predict_proba_text_f64": ([P, CELLS, S, f64p], ctypes.c_int),
        "fastmlp_predict_class_text": ([P, CELLS, S, i32p], ctypes.c_int),
    }
    for name, (args, res) in sigs.items():
        getattr(lib, name).argtypes, getattr(lib, name).restype = args, res
    return lib


class TextModel:
    """A model loaded through the C API, predicting on rows of text cells."""

    def __init__(self, lib, path, max_rows=64):
        self.lib, self.handle, self.ws = lib, P(), P()
        assert lib.fastmlp_model_load(str(path).encode(), ctypes.byref(self.handle)) == OK, lib.fastmlp_last_error()
        assert lib.fastmlp_workspace_create(self.handle, max_rows, ctypes.byref(self.ws)) == OK

    def __del__(self):
        self.lib.fastmlp_workspace_free(self.ws)
        self.lib.fastmlp_model_free(self.handle)

    def columns(self):
        n = S()
        assert self.lib.fastmlp_model_n_columns(self.handle, ctypes.byref(n)) == OK
        names = []
        for j in range(n.value):
            name = ctypes.c_char_p()
            assert self.lib.fastmlp_model_column_name(self.handle, j, ctypes.byref(name)) == OK
            names.append(name.value.decode())
        return names

    def call(self, kind, rows, width, dtype, fill=-1.0):
        flat = [cell.encode() for row in rows for cell in row]
        cells = (ctypes.c_char_p * len(flat))(*flat)
        out = np.full((len(rows), width), fill, dtype)
        status = getattr(self.lib, f"fastmlp_{kind}")(self.ws, ctypes.cast(cells, CELLS), len(rows), out)
        return status, out

    def ok(self, kind, rows, width, dtype):
        status, out = self.call(kind, rows, width, dtype)
        assert status == OK, self.lib.fastmlp_last_error()
        return out

    def labels(self, rows):
        ids = self.ok("predict_class_text", rows, 1, np.int32)[:, 0]
        out = []
        for i in ids:
            label = ctypes.c_char_p()
            assert self.lib.fastmlp_model_class_label(self.handle, int(i), ctypes.byref(label)) == OK
            out.append(label.value.decode())
        return out


def _frame(m, seed):
    """A DataFrame of every kind of column: numbers, numbers with missing values, text with missing
    values and commas and quotes, bools, integer categories, and an object column holding 1 and True."""
    rng = np.random.default_rng(seed)
    age = rng.normal(40, 12, m)
    age[rng.random(m) < 0.15] = np.nan
    cities = np.array(["Lyon", "São Paulo, BR", 'say "hi"', "1", "NA-town"], dtype=object)
    city = cities[rng.integers(0, 5, m)]
    city[rng.random(m) < 0.1] = None
    mixed = np.array([1, True, "a", 2.5], dtype=object)[rng.integers(0, 4, m)]
    return pd.DataFrame(
        {
            "x": rng.normal(size=m) * 3.0,
            "age": age,
            "city": city,
            "flag": rng.random(m) < 0.5,
            "grade": pd.Categorical(rng.integers(1, 4, m)),
            "mixed": mixed,
        }
    )


def _target(df):
    score = df["x"].to_numpy() + (df["city"] == "Lyon") * 2.0 - df["flag"] * 1.5 + df["mixed"].map(str).eq("True")
    return score


def _new_rows(seed):
    """Rows to predict: unseen categories, missing cells in numeric and text columns."""
    df = _frame(40, seed)
    df.loc[0:4, "city"] = ["Paris", None, "1", "São Paulo, BR", "lyon"]
    df.loc[5:7, "age"] = np.nan
    df.loc[8:11, "mixed"] = [True, 1, 1.0, "zz"]
    return df


def _csv_cells(df):
    """The CSV pandas writes, as the rows of text cells a CSV reader gives (and the text itself)."""
    text = df.to_csv(index=False)
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == list(df.columns)
    return text, rows[1:]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_text_rows_predict_as_fm_load_on_read_csv(lib, tmp_path, dtype):
    df = _frame(300, 0)
    y = np.digitize(_target(df), [-1.0, 1.5])
    model = fm.Sequential(
        [fm.Normalization(), fm.ColumnEmbedding(fill_missing=True), fm.Dense(12, "tanh"), fm.Dense(3, "softmax")],
        dtype=dtype,
        seed=3,
    )
    model.fit(df, np.array(["low", "mid", "high"])[y], epochs=15, batch_size=32, verbose=0)
    path = tmp_path / "m.safetensors"
    model.save(path)
    new = _new_rows(1)
    text, rows = _csv_cells(new)
    read = pd.read_csv(io.StringIO(text))
    loaded = fm.load(path)
    c = TextModel(lib, path)
    assert c.columns() == list(df.columns)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-12, "atol": 1e-14}
    expected = loaded.predict_proba(read)
    np.testing.assert_allclose(expected, model.predict_proba(new), **tol)  # the CSV loses nothing
    np.testing.assert_allclose(c.ok("predict_proba_text", rows, 3, np.float32), expected, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(c.ok("predict_proba_text_f64", rows, 3, np.float64), expected, **tol)
    np.testing.assert_allclose(c.ok("predict_text_f64", rows, 3, np.float64), loaded.forward(read), **tol)
    assert c.labels(rows) == [str(v) for v in loaded.predict(read)]
    # in chunks of 7 rows: the same
    small = TextModel(lib, path, max_rows=7)
    np.testing.assert_allclose(small.ok("predict_proba_text_f64", rows, 3, np.float64), expected, **tol)


def test_regressor_on_text_rows(lib, tmp_path):
    df = _frame(200, 5)
    y = _target(df).to_numpy() * 10.0 + 300.0
    model = fm.Sequential(
        [fm.ColumnEmbedding(fill_missing=True), fm.Dense(8, "relu"), fm.Dense(1)], dtype="float64", loss="mse", seed=4
    )
    model.fit(df, y, epochs=10, verbose=0)
    path = tmp_path / "r.safetensors"
    model.save(path)
    text, rows = _csv_cells(_new_rows(6))
    c = TextModel(lib, path)
    expected = fm.load(path).predict(pd.read_csv(io.StringIO(text)))
    np.testing.assert_allclose(c.ok("predict_text_f64", rows, 1, np.float64)[:, 0], expected.ravel(), rtol=1e-12)
    status, out = c.call("predict_class_text", rows, 1, np.int32)
    assert status == NOT_CLASSIFIER and (out == -1).all()


def test_one_and_true_are_distinct_categories(lib, tmp_path):
    """An object column holding 1, 1.0, True and "1": the categories 1 (= 1.0), True and "1" (Python's
    1 == True no longer merges them); the text cells "1", "1.0", "True", "true" find them as pandas
    would read them."""
    from fastmlp.tabular import Columns

    col = pd.Series([1, True, 1.0, "1", False, "a"] * 5, dtype=object)
    cols = Columns.learn(pd.DataFrame({"c": col}), None, False)
    cats = cols.columns[0]["categories"]
    assert sorted(map(repr, cats)) == sorted(map(repr, [False, True, 1, "1", "a"]))
    codes = cols.encode(
        pd.DataFrame({"c": pd.Series([1, True, 1.0, "1", "True", "1.0", False, 0, None], dtype=object)}), np.float64
    )
    code = {repr(v): 2 + i for i, v in enumerate(cats)}
    assert codes[:, 0].tolist() == [
        code["1"],
        code["True"],
        code["1"],
        code["'1'"],
        code["True"],
        code["1"],
        code["False"],
        0,
        1,
    ]
    model = fm.Sequential([fm.ColumnEmbedding(embedding_sizes=2), fm.Dense(1)], dtype="float64", loss="mse", seed=0)
    model.fit(pd.DataFrame({"c": col}), np.arange(30.0), epochs=2, verbose=0)
    path = tmp_path / "mixed.safetensors"
    model.save(path)
    rows = [["1"], ["1.0"], ["True"], ["TRUE"], ["a"], ["b"], [""], ["NA"], ["False"], [" 1 "]]
    frame = pd.DataFrame(
        {"c": pd.Series(["1", "1.0", "True", "TRUE", "a", "b", None, None, "False", " 1 "], dtype=object)}
    )
    c = TextModel(lib, path)
    np.testing.assert_allclose(c.ok("predict_text_f64", rows, 1, np.float64), fm.load(path).forward(frame), rtol=1e-12)
    # cells at the edges of the rule: the same codes in C and in Python on the same texts
    tricky = ["01", "2.50", "+1", "1e0", " true", "0x1", "1_0", "inf", "-0", "1.", ".5", "1e", "tRuE", "A", "a "]
    np.testing.assert_allclose(
        c.ok("predict_text_f64", [[t] for t in tricky], 1, np.float64),
        fm.load(path).forward(pd.DataFrame({"c": pd.Series(tricky, dtype=object)})),
        rtol=1e-12,
    )
    # the string category "1" is its text exactly: " 1 " reads as the number 1
    assert len({round(v, 12) for v in c.ok("predict_text_f64", rows[:4], 1, np.float64)[:, 0]}) == 3


def test_bad_cells_name_row_and_column_and_write_nothing(lib, tmp_path):
    df = pd.DataFrame({"n": [1.0, 2.0, 3.0, 4.0], "t": ["a", "b", "a", "b"]})
    model = fm.Sequential([fm.ColumnEmbedding(), fm.Dense(2, "softmax")], seed=0)
    model.fit(df, [0, 1, 0, 1], epochs=1, verbose=0)
    path = tmp_path / "strict.safetensors"
    model.save(path)
    c = TextModel(lib, path, max_rows=2)
    good = [["1.5", "a"]] * 5
    for bad, words in [
        (["abc", "a"], ["row 3", "column 'n'", "'abc' is not a number"]),
        (["", "a"], ["row 3", "column 'n'", "missing"]),
        (["inf", "a"], ["row 3", "column 'n'", "infinite"]),
    ]:
        status, out = c.call("predict_proba_text", good[:3] + [bad] + good[3:], 2, np.float32)
        message = lib.fastmlp_last_error().decode()
        assert status == INVALID_ARGUMENT and all(w in message for w in words), message
        assert (out == -1).all()  # nothing written, even for the chunks before the bad row
    with pytest.raises(ValueError):
        model.predict(pd.DataFrame({"n": [np.nan], "t": ["a"]}))


def test_numeric_model_takes_text_cells(lib, tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(size=(50, 3))
    frame = pd.DataFrame(X, columns=["a", "b", "c"])
    model = fm.Sequential([fm.Dense(4, "relu"), fm.Dense(1)], dtype="float64", loss="mse", seed=1)
    model.fit(frame, X.sum(axis=1), epochs=2, verbose=0)
    model.save(tmp_path / "n.safetensors")
    c = TextModel(lib, tmp_path / "n.safetensors")
    assert c.columns() == ["a", "b", "c"]
    rows = [[repr(v) for v in row] for row in X.tolist()]
    np.testing.assert_allclose(c.ok("predict_text_f64", rows, 1, np.float64), model.forward(X), rtol=1e-12)


def _with_vocabulary(path, edit):
    """The model file's bytes with its ColumnEmbedding's vocabulary edited (edit(dict) -> JSON text)."""
    data = path.read_bytes()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    layers = json.loads(header["__metadata__"]["layers"])
    entry = next(e for e in layers if e["type"] == "ColumnEmbedding")
    entry["vocabulary"] = edit(json.loads(entry["vocabulary"]))
    header["__metadata__"]["layers"] = json.dumps(layers)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data[8 + n :]


@pytest.mark.parametrize(
    "edit",
    [
        lambda v: "{not json",
        lambda v: json.dumps({"columns": 3}),
        lambda v: json.dumps({**v, "columns": [{**v["columns"][1], "categories": [["nested"]]}] + v["columns"][1:]}),
        lambda v: json.dumps({**v, "columns": [v["columns"][0], {**v["columns"][1], "categories": ["a"]}]}),
        lambda v: json.dumps({**v, "columns": [v["columns"][0], {**v["columns"][1], "dim": 0}]}),
        lambda v: json.dumps({**v, "columns": [{**v["columns"][0], "median": "x"}, v["columns"][1]]}),
        lambda v: json.dumps({**v, "columns": [v["columns"][0], {**v["columns"][1], "name": "n"}]}),
        lambda v: json.dumps({**v, "columns": [{**v["columns"][0], "kind": "date"}, v["columns"][1]]}),
        lambda v: "[" * 50 + "]" * 50,
    ],
    ids=["json", "columns", "nested", "tables", "dim", "median", "repeated", "kind", "deep"],
)
def test_a_malformed_vocabulary_is_an_invalid_model(lib, tmp_path, edit):
    df = pd.DataFrame({"n": [1.0, np.nan, 3.0, 4.0], "t": ["a", "b", "a", None]})
    model = fm.Sequential([fm.ColumnEmbedding(fill_missing=True), fm.Dense(1)], loss="mse", seed=0)
    model.fit(df, [0.0, 1.0, 0.0, 1.0], epochs=1, verbose=0)
    model.save(tmp_path / "v.safetensors")
    data = _with_vocabulary(tmp_path / "v.safetensors", edit)
    handle = P()
    status = lib.fastmlp_model_load_bytes(data, len(data), ctypes.byref(handle))
    message = lib.fastmlp_last_error().decode()
    assert status == INVALID_MODEL and "vocabulary" in message, message
    with pytest.raises(ValueError):
        fm.Sequential.from_bytes(data)


@pytest.mark.parametrize(
    "categories, values",
    [
        (["a", "b", "c"], ["a", "c", "zz", None, np.nan, "b"]),
        ([False, True], [True, False, None, True]),
        ([1, 2, 3], [3, 1, 7, None, 2]),
        ([0.5, 1.5], [1.5, 0.5, 2.0, np.nan]),
        (["G1", "G2"], pd.Categorical(["G2", "G1", None, "G2"])),
    ],
    ids=["texts", "bools", "integers", "floats", "categorical"],
)
def test_vocabularies_of_one_kind_encode_as_before(categories, values):
    """Old files (one kind of category per column, as every fit wrote them) keep their codes: the
    new look-up equals pandas' get_indexer, the one before it."""
    from fastmlp.tabular import Columns

    cols = Columns([{"name": "c", "kind": "category", "categories": categories, "dim": 2}], False)
    got = cols.encode(pd.DataFrame({"c": values}), np.float64)[:, 0]
    v = pd.Series(values).to_numpy(dtype=object)
    found = pd.Index(categories, dtype=object).get_indexer(v)
    np.testing.assert_array_equal(got, np.where(pd.isna(v), 1, np.where(found >= 0, found + 2, 0)))
