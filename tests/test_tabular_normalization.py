"""Categorical columns by dtype (issue 26) with a Normalization layer: the numbers standardized and the
codes passed through, the statistics adapted or learned at the first fit, and what that fit learns
(vocabularies, medians, statistics) from the training rows only."""

import numpy as np
import pytest

import fastmlp as fm
import reference as ref
from helpers_tabular import frame, pd


def test_after_a_normalization_the_numbers_are_standardized_and_the_codes_pass():
    df, y = frame(120)
    df["x1"] = 50 + 10 * df["x1"]
    mean, var = float(df["x1"].mean()), float(df["x1"].var(ddof=0))
    norm = fm.Normalization(mean=[mean, 0, 0, 0], variance=[var, 0, 0, 0])  # variance 0: passed unchanged
    model = fm.Sequential(
        [norm, fm.ColumnEmbedding(), fm.Dense(8, "tanh"), fm.Dense(2, "softmax")], dtype="float64", seed=0
    )
    model.fit(df, y, epochs=2, verbose=0)
    assert isinstance(model.layers[1], fm.ColumnEmbedding) and len(model.layers) == 4
    X = model._X(df)
    Xs = X.copy()
    Xs[:, 0] = (X[:, 0] - mean) / np.sqrt(var)
    ce, d1, d2 = model.layers[1:]
    tables = {j: E for j, E in zip([j for j, _, _ in ce.columns.tables()], ce.embeddings.values())}
    stack = [
        {"type": "ColumnEmbedding", "tables": tables},
        {"type": "Dense", "W": d1.weights, "b": d1.bias, "g": "tanh"},
        {"type": "Dense", "W": d2.weights, "b": d2.bias, "g": "softmax"},
    ]
    J_ref, grads, a_ref = ref.stack_loss_and_grads(stack, Xs, np.eye(2)[y], "categorical_crossentropy")
    np.testing.assert_allclose(model.forward(df), a_ref, rtol=1e-12, atol=1e-14)
    assert model._engine.gradients(X, model._Y(y, len(y))) == pytest.approx(J_ref, rel=1e-12)
    for j, dE in enumerate(grads[id(stack[0])].values()):
        np.testing.assert_allclose(model._net.grad_tensor(f"layers.1.embeddings_{j}"), dE, rtol=1e-10, atol=1e-13)
    # a model starting with a Normalization that has no statistics gets its ColumnEmbedding after it
    auto = fm.Sequential([fm.Normalization(), fm.Dense(4, "relu"), fm.Dense(2, "softmax")], seed=0)
    auto.fit(df, y, epochs=1, verbose=0)
    assert [type(layer).__name__ for layer in auto.layers[:2]] == ["Normalization", "ColumnEmbedding"]


def test_a_normalization_adapted_on_the_numeric_columns_covers_them():
    df, y = frame(200, missing=True)
    df["x1"] = 50 + 10 * df["x1"]
    norm = fm.Normalization().adapt(df.select_dtypes("number").fillna(df["x1"].median()))
    model = fm.Sequential(
        [norm, fm.ColumnEmbedding(fill_missing=True), fm.Dense(8, "relu"), fm.Dense(2, "softmax")], seed=0
    )
    model.fit(df, y, epochs=1, verbose=0)
    assert norm.n_in == 5  # x1, the three codes, x1's missing indicator
    np.testing.assert_array_equal(norm.variance[1:], 0)
    assert norm.mean[0] == pytest.approx(df["x1"].fillna(df["x1"].median()).mean())
    again = fm.Sequential.from_bytes(model.to_bytes())
    np.testing.assert_array_equal(again.predict_proba(df), model.predict_proba(df))
    with pytest.raises(TypeError, match="put fm.ColumnEmbedding\\(\\) second"):
        fm.Sequential([fm.Normalization().adapt(df[["x1"]].fillna(0)), fm.Dense(2, "softmax")]).fit(df, y, verbose=0)


def test_a_normalization_without_statistics_learns_the_numeric_columns_at_the_first_fit():
    df, y = frame(300, missing=True)
    df["x1"] = 50 + 10 * df["x1"]
    norm = fm.Normalization()
    model = fm.Sequential(
        [norm, fm.ColumnEmbedding(fill_missing=True), fm.Dense(8, "relu"), fm.Dense(2, "softmax")], seed=0
    )
    model.fit(df, y, epochs=1, verbose=0)
    filled = df["x1"].fillna(df["x1"].median()).to_numpy()
    assert norm.n_in == 5  # x1, the three codes, x1's missing indicator
    assert norm.mean[0] == pytest.approx(filled.mean(), rel=1e-6)
    assert norm.variance[0] == pytest.approx(filled.var(), rel=1e-5)
    np.testing.assert_array_equal(norm.mean[1:], 0)
    np.testing.assert_array_equal(norm.variance[1:], 0)  # codes and indicator pass unchanged
    first = norm.mean.copy()
    model.fit(df.assign(x1=df["x1"] + 100), y, epochs=1, verbose=0)  # learned once: a later fit keeps them
    np.testing.assert_array_equal(norm.mean, first)
    # a Normalization with given statistics is not touched (the user's own)
    given = fm.Normalization(mean=np.zeros(5), variance=np.ones(5))
    fm.Sequential([given, fm.ColumnEmbedding(fill_missing=True), fm.Dense(2, "softmax")], seed=0).fit(
        df, y, epochs=1, verbose=0
    )
    np.testing.assert_array_equal(given.mean, 0)


# --- what the first fit learns from which rows: the training rows only ------------------------------


def with_row_ids(n=240, seed=0):
    """frame(missing=True) with a column "id" of one distinct string per row: the vocabulary the
    first fit learns of it names the rows that fit learned from."""
    df, y = frame(n, seed=seed, missing=True)
    df["x1"] = 50 + 10 * df["x1"]
    df.insert(1, "id", [f"r{i}" for i in range(n)])
    return df, y


def normalized_model(**kwargs):
    norm = fm.Normalization()
    layers = [norm, fm.ColumnEmbedding(fill_missing=True), fm.Dense(8, "relu"), fm.Dense(2, "softmax")]
    return norm, fm.Sequential(layers, seed=0, dtype="float64", **kwargs)


def assert_learned_from(model, norm, df, rows):
    """The vocabularies, x1's median and the Normalization's statistics are those of df's ``rows``
    (NumPy reference): what a scikit-learn pipeline fitted on those rows alone would hold."""
    columns = fm.tabular.find(model.layers).columns
    seen = df.iloc[rows]
    x1 = seen["x1"].to_numpy()
    median = np.median(x1[~np.isnan(x1)])
    assert columns.columns[0]["median"] == median
    assert columns.columns[1]["categories"] == sorted(seen["id"])
    assert columns.columns[2]["categories"] == sorted(set(seen["city"].dropna()))
    filled = np.where(np.isnan(x1), median, x1)
    assert norm.mean[0] == pytest.approx(filled.mean(), rel=1e-12)
    assert norm.variance[0] == pytest.approx(filled.var(), rel=1e-12)
    np.testing.assert_array_equal(norm.mean[1:], 0)
    np.testing.assert_array_equal(norm.variance[1:], 0)


@pytest.mark.parametrize("stratify", [None, False])
def test_validation_split_learns_the_columns_from_the_training_rows_only(stratify):
    df, y = with_row_ids()
    held = df.index[df.index % 4 == 1]  # a city seen only in some of these rows, if they are held out
    df.loc[held, "city"] = [f"only_{i}" for i in range(len(held))]
    norm, model = normalized_model()
    history = model.fit(df, y, validation_split=0.25, stratify=stratify, epochs=2, batch_size=32, verbose=0)
    columns = fm.tabular.find(model.layers).columns
    train = np.flatnonzero(np.isin(df["id"], columns.columns[1]["categories"]))
    val = np.setdiff1d(np.arange(len(df)), train)
    assert len(val) == round(0.25 * len(df)) and len(val) > 0
    assert_learned_from(model, norm, df, train)
    # the held-out rows are as new data at predict: their ids and their own cities are out of vocabulary
    codes = columns.encode(df.iloc[val], np.float64)
    np.testing.assert_array_equal(codes[:, 1], fm.tabular.OOV)
    city = df["city"].iloc[val]
    only_val = (~city.isin(df["city"].iloc[train]) & city.notna()).to_numpy()
    assert only_val.sum() > 0
    np.testing.assert_array_equal(codes[only_val, 2], fm.tabular.OOV)
    # and they are the validation set the loop evaluated (val_loss of the final weights)
    loss = model.evaluate(df.iloc[val], y[val])[0]
    assert history.history["val_loss"][-1] == pytest.approx(loss, rel=1e-9)


def test_validation_data_learns_the_columns_from_x_alone():
    df, y = with_row_ids()
    val_df, val_y = with_row_ids(80, seed=7)
    val_df["id"] = [f"v{i}" for i in range(len(val_df))]
    val_df.loc[val_df.index[:5], "city"] = "val_only"
    val_df["x1"] += 1000  # statistics learned from it would show
    norm, model = normalized_model()
    model.fit(df, y, validation_data=(val_df, val_y), epochs=1, verbose=0)
    assert_learned_from(model, norm, df, np.arange(len(df)))
    codes = fm.tabular.find(model.layers).columns.encode(val_df, np.float64)
    np.testing.assert_array_equal(codes[:, 1], fm.tabular.OOV)
    np.testing.assert_array_equal(codes[:5, 2], fm.tabular.OOV)
    # validation_data given: validation_split is ignored (Keras), so every row of X is learned from
    norm, model = normalized_model()
    model.fit(df, y, validation_data=(val_df, val_y), validation_split=0.5, epochs=1, verbose=0)
    assert_learned_from(model, norm, df, np.arange(len(df)))


def test_a_numbers_only_dataframe_with_validation_split_is_unchanged_bit_for_bit():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 3))
    y = (X[:, 0] + X[:, 1] > 0).astype(int)
    runs = []
    for data in (X, pd.DataFrame(X, columns=["a", "b", "c"])):
        model = fm.Sequential([fm.Dense(8, "relu"), fm.Dense(2, "softmax")], seed=5)
        history = model.fit(data, y, validation_split=0.25, epochs=3, verbose=0)
        runs.append((model.params.copy(), history.history["val_loss"]))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1] == runs[1][1]
