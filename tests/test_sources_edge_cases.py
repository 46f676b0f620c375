"""Data sources at their edges (fastmlp.data): a refused fit changes nothing, one-shot iterators,
weights beside or inside chunks, DataFrames in from_arrays, pandas' nullable number columns."""

import numpy as np
import pandas as pd
import pytest

import fastmlp as fm


def _data(m=300, d=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, d))
    return X, (X[:, 0] > 0).astype(np.int64)


def _model(built=True):
    first = fm.Dense(5, 8, "relu") if built else fm.Dense(8, "relu")
    return fm.Sequential([first, fm.Dense(2, "softmax")], dtype="float64", seed=1)


def _state(model):
    return model.params.copy(), model.epochs_trained, repr(model.optimizer)


def _assert_unchanged(model, before):
    params, epochs, optimizer = before
    np.testing.assert_array_equal(model.params, params)
    assert (model.epochs_trained, repr(model.optimizer)) == (epochs, optimizer)


def test_validation_source_of_another_width_is_refused_before_training():
    X, y = _data()
    model = _model()
    model.fit(X, y, epochs=1)
    before = _state(model)
    with pytest.raises(ValueError, match="validation_data has 3 features but the model expects 5"):
        model.fit(fm.data.from_arrays(X, y, chunk_rows=64), epochs=1, validation_data=fm.data.from_arrays(X[:, :3], y))
    _assert_unchanged(model, before)


def test_a_first_chunk_that_is_refused_leaves_a_new_model_unbuilt():
    X, y = _data()
    model = _model(built=False)
    optimizer = model.optimizer
    with pytest.raises(ValueError, match="class ids"):
        model.fit(fm.data.from_arrays(X, y + 5, chunk_rows=64), epochs=1, optimizer="sgd")
    assert not model.built and model.optimizer is optimizer
    model.fit(fm.data.from_arrays(X, y, chunk_rows=64), epochs=1)  # and it trains afterwards
    assert model.built and model.epochs_trained == 1


@pytest.mark.parametrize(
    "kwargs, what",
    [({"epochs": 2}, "X"), ({"epochs": 1, "class_weight": "balanced"}, "X")],
)
def test_a_one_shot_iterator_read_twice_is_refused_before_training(kwargs, what):
    X, y = _data()
    model = _model()
    model.fit(X, y, epochs=1)
    before = _state(model)
    with pytest.raises(ValueError, match=f"{what} is a one-shot iterator .* pass a function"):
        model.fit((chunk for chunk in [(X[:150], y[:150]), (X[150:], y[150:])]), **kwargs)
    _assert_unchanged(model, before)
    model.fit(lambda: iter([(X[:150], y[:150]), (X[150:], y[150:])]), **kwargs)  # a function: fine


def test_a_one_shot_validation_iterator_for_several_epochs_is_refused_before_training():
    X, y = _data()
    model = _model()
    before = _state(model)
    with pytest.raises(ValueError, match="validation_data is a one-shot iterator"):
        model.fit(X, y, epochs=2, validation_data=fm.data.IterableSource(iter([(X, y)])))
    _assert_unchanged(model, before)
    model.fit(X, y, epochs=1, validation_data=fm.data.IterableSource(iter([(X, y)])))  # once: fine


def test_y_or_sample_weight_beside_a_source_is_a_type_error():
    X, y = _data()
    model = _model()
    source = fm.data.from_arrays(X, y, chunk_rows=64)
    before = _state(model)
    with pytest.raises(TypeError, match="sample weights come from its chunks"):
        model.fit(source, sample_weight=np.ones(len(X)), epochs=1)
    _assert_unchanged(model, before)
    with pytest.raises(TypeError, match="sample weights come from its chunks"):
        model.evaluate(source, sample_weight=np.ones(len(X)))  # was: ignored without a word
    with pytest.raises(TypeError, match="pass y=None"):
        model.evaluate(source, y)
    with pytest.raises(TypeError, match="pass y=None"):
        model.accuracy(source, y)


def test_mixing_a_chunk_without_weights_with_one_that_has_them_keeps_the_weights():
    X, y = _data()
    w = np.linspace(0.5, 2.0, 150)
    ones = np.ones(150)
    for chunks, weights in (
        ([(X[:150], y[:150]), (X[150:], y[150:], w)], np.concatenate([ones, w])),
        ([(X[:150], y[:150], w), (X[150:], y[150:])], np.concatenate([w, ones])),
    ):
        source = fm.data.IterableSource(lambda chunks=chunks: iter(chunks))
        source.mix = 2  # the two chunks become one
        a, b = _model(), _model()
        a.fit(X, y, sample_weight=weights, epochs=2, batch_size=32, shuffle=False)
        b.fit(source, epochs=2, batch_size=32, shuffle=False)
        np.testing.assert_array_equal(b.params, a.params)


def test_from_arrays_takes_a_dataframe_and_series():
    X, y = _data()
    df = pd.DataFrame(X, columns=list("abcde"))
    a, b = _model(), _model()
    a.fit(X, y, epochs=2, batch_size=32, shuffle=False)
    b.fit(fm.data.from_arrays(df, pd.Series(y), chunk_rows=64), epochs=2, batch_size=32, shuffle=False)
    np.testing.assert_array_equal(b.params, a.params)
    np.testing.assert_array_equal(b.predict_proba(fm.data.from_arrays(df, y, chunk_rows=50)), b.predict_proba(X))


def test_nullable_number_columns_are_numbers():
    X, y = _data()
    ints = np.round(X * 10)
    df = pd.DataFrame({c: pd.array(ints[:, j], dtype="Int64") for j, c in enumerate("abc")})
    df["d"] = pd.array(X[:, 3], dtype="Float64")
    df["e"] = X[:, 4]
    model = fm.Sequential([fm.Dense(8, "relu"), fm.Dense(2, "softmax")], dtype="float64", seed=1)
    model.fit(df, y, epochs=1)
    plain = df.astype("float64")
    np.testing.assert_array_equal(model.predict_proba(df), model.predict_proba(plain))
    missing = df.copy()
    missing.loc[3, "a"] = pd.NA
    with pytest.raises(ValueError, match="NaN"):
        model.predict(missing)


def test_predict_and_evaluate_take_a_reader_of_your_own():
    # README: "fit, evaluate, predict and predict_proba take ... any function returning an iterator"
    X, y = _data()
    model = _model()
    model.fit(X, y, epochs=1)

    def reader():
        return iter([(X[:100], y[:100]), (X[100:], y[100:])])

    np.testing.assert_array_equal(model.predict_proba(reader), model.predict_proba(X))
    np.testing.assert_array_equal(model.predict(reader()), model.predict(X))
    loss, accuracy = model.evaluate(X, y)
    got = model.evaluate(reader)
    assert got[0] == pytest.approx(loss, rel=1e-12) and got[1] == accuracy
    assert model.accuracy(reader) == accuracy


def test_evaluate_reads_a_source_once():
    X, y = _data()
    model = _model()
    reads = []

    def reader():
        reads.append(1)
        return iter([(X, y)])

    model.evaluate(fm.data.IterableSource(reader))  # loss and accuracy
    assert len(reads) == 1
    got = model.evaluate(fm.data.IterableSource(iter([(X, y)])), return_dict=True)  # a one-shot iterator
    assert got == pytest.approx(model.evaluate(X, y, return_dict=True), rel=1e-12)


def test_a_source_without_rows_is_refused_by_fit_evaluate_and_validation():
    X, y = _data()
    model = _model()
    before = _state(model)
    empty = fm.data.from_arrays(X[:0], y[:0])
    with pytest.raises(ValueError, match="holds no rows: nothing to train on"):
        model.fit(empty, epochs=1)  # was: "trained", nothing happening
    with pytest.raises(ValueError, match="validation_data .* holds no rows"):
        model.fit(X, y, epochs=1, validation_data=empty)  # was: trained, no val_loss
    _assert_unchanged(model, before)
    with pytest.raises(ValueError, match="holds no rows: nothing to evaluate"):
        model.evaluate(empty)  # was: [nan, nan] and a RuntimeWarning


def test_normalization_adapts_on_a_reader_of_your_own():
    X, y = _data()
    chunks = [(X[:100], y[:100]), (X[100:], y[100:])]
    want = fm.Normalization().adapt(X)
    for reader in (lambda: iter(chunks), iter(chunks)):
        got = fm.Normalization().adapt(reader)
        np.testing.assert_allclose(got.mean, want.mean, rtol=1e-12)
        np.testing.assert_allclose(got.variance, want.variance, rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"features": "price"}, TypeError, "features must be a list of column names"),  # was list("price")
        ({"features": ["a", "label"], "target": "label"}, ValueError, "features holds the target column 'label'"),
        ({"target": 3}, TypeError, "target must be a column name"),
        ({"chunk_rows": 0}, ValueError, "chunk_rows must be a positive integer"),
    ],
)
def test_from_parquet_checks_its_arguments_first(tmp_path, kwargs, error, match):
    with pytest.raises(error, match=match):  # before pyarrow is needed or any file is read
        fm.data.from_parquet(tmp_path / "data.parquet", **kwargs)


def test_evaluate_counts_a_chunk_whose_weights_are_all_zero_for_nothing():
    X, y = _data()
    w = np.r_[np.ones(150), np.zeros(150)]
    model = _model()
    want = model.evaluate(X, y, sample_weight=w)
    halves = [(X[:150], y[:150], w[:150]), (X[150:], y[150:], w[150:])]
    got = model.evaluate(lambda: iter(halves))  # was: "chunk 1: sample weights sum to 0"
    assert got == pytest.approx(want, rel=1e-12)
    with pytest.raises(ValueError, match="sample weights sum to 0 over the data source"):
        model.evaluate(lambda: iter([(X, y, np.zeros(300))]))


# ----------------------------------------------------------------------------- review of the above


def _frame(X):
    return pd.DataFrame(X, columns=[f"x{j}" for j in range(X.shape[1])])


def test_mixed_chunks_keep_a_dataframes_columns():
    """A source's mix joins DataFrame chunks with pandas: the column names are still checked (columns
    in another order are refused, as without mix) and nullable dtypes still convert."""
    X, y = _data()
    df = _frame(X)
    model = _model(built=False)
    model.fit(df, y, epochs=1)
    swapped = fm.data.from_arrays(df[["x1", "x0", "x2", "x3", "x4"]], y, chunk_rows=64)
    swapped.mix = 2
    before = _state(model)
    with pytest.raises(ValueError, match="another order"):
        model.fit(swapped, epochs=1)
    _assert_unchanged(model, before)
    nullable = fm.data.from_arrays(df.astype("Float64"), y, chunk_rows=64)
    nullable.mix = 2
    model.fit(nullable, epochs=1)


@pytest.mark.parametrize(
    "column",
    [
        pd.array(["1.5", "2"] * 150, dtype="string"),
        pd.Series(pd.date_range("2026-01-01", periods=300, freq="h", tz="UTC")),
        pd.Categorical(["1", "2"] * 150),
    ],
    ids=["text", "tz-aware dates", "categories"],
)
def test_text_dates_and_categories_are_not_numbers(column):
    """Only pandas' nullable number and bool columns convert to float64; pandas would also parse text
    ("1.5") and dates (to nanoseconds), which a model of numbers must refuse, naming the column."""
    X, y = _data()
    model = _model()
    model.fit(X, y, epochs=1)
    df = _frame(X).assign(x4=column)
    with pytest.raises(TypeError, match="x4"):
        model.predict_proba(df)


def test_from_parquet_reads_a_generator_of_features_once(tmp_path):
    pytest.importorskip("pyarrow")
    df = _frame(_data()[0]).assign(label=_data()[1])
    df.to_parquet(tmp_path / "d.parquet")
    source = fm.data.from_parquet(tmp_path / "d.parquet", features=(c for c in df if c.startswith("x")), target="label")
    assert source.features == [f"x{j}" for j in range(5)] and source.n_features == 5


def test_a_refused_generator_keeps_its_first_chunk():
    """fit(generator, epochs=2) is refused before the first chunk is read for its width (an unbuilt
    model): the user's generator still holds every chunk."""
    X, y = _data()
    chunks = iter([(X[:150], y[:150]), (X[150:], y[150:])])
    model = _model(built=False)
    with pytest.raises(ValueError, match="one-shot iterator"):
        model.fit(chunks, epochs=2)
    with pytest.raises(ValueError, match="one-shot iterator"):
        model.fit(chunks, epochs=1, class_weight="balanced")
    assert not model.built
    first = next(chunks)
    np.testing.assert_array_equal(first[0], X[:150])


def test_predict_takes_a_reader_without_targets():
    X, y = _data()
    model = _model()
    model.fit(X, y, epochs=1)
    reader = lambda: iter([(X[:100], None), (X[100:], None)])  # noqa: E731
    np.testing.assert_array_equal(model.predict_proba(reader), model.predict_proba(X))
    np.testing.assert_array_equal(model.predict(reader), model.predict(X))


def test_one_shot_is_told_without_iterating_the_reader():
    """Whether a reader is one-shot is read from its type: iter() is not called on an iterable (on a
    torch DataLoader it starts the worker processes), only when fit reads it."""
    X, y = _data()

    class Loader:
        started = 0

        def __iter__(self):
            Loader.started += 1
            return iter([(X, y)])

    source = fm.data.as_source(Loader())
    assert not source.one_shot and Loader.started == 0
    assert fm.data.as_source(iter([(X, y)])).one_shot
    model = _model()
    model.fit(Loader(), epochs=2)
    assert Loader.started == 2  # one pass per epoch
