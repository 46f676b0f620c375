"""DataFrames at the tabular side's edges (fastmlp.tabular, fastmlp._columns)."""

import numpy as np
import pandas as pd
import pytest

import fastmlp as fm


def _frame(n=120, seed=0):
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({"a": rng.normal(size=n), "c": rng.choice(["x", "y", "z"], n)})
    return df, rng.integers(0, 2, n)


def _model():
    return fm.Sequential([fm.Dense(8, "relu"), fm.Dense(2, "softmax")], seed=1)


@pytest.mark.parametrize(
    "values",
    [pd.date_range("2020-01-01", periods=120), pd.to_timedelta(np.arange(120), unit="s")],
    ids=["datetime", "timedelta"],
)
def test_a_date_or_duration_column_is_refused_naming_it(values):
    # pandas turns them into nanoseconds (1e18 for a date): the model trained on those, loss ~1e13
    df, y = _frame()
    df["when"] = values
    model = _model()
    with pytest.raises(TypeError, match=r"X column 'when' holds .*64.* values, not numbers.*total_seconds"):
        model.fit(df, y, epochs=1)
    assert not model.built
    model.fit(df.drop(columns="when"), y, epochs=1)
    later = df.copy()
    with pytest.raises(TypeError, match="X column 'a' holds"):
        model.predict(later.assign(a=values)[["a", "c"]])


def test_categorical_columns_where_the_model_takes_numbers_are_named():
    df, y = _frame()
    df["k"] = pd.Categorical(df["c"])
    halves = [(df[:60], y[:60]), (df[60:], y[60:])]
    model = _model()
    with pytest.raises(TypeError, match=r"X has columns that hold no numbers: c \(.*\), k \(category\).*fit\(df, y\)"):
        model.fit(lambda: iter(halves), epochs=1)  # a source: its first fit learns no vocabularies
    numeric = _model()
    numeric.fit(df[["a"]].assign(b=1.0), y, epochs=1)
    with pytest.raises(TypeError, match=r"X has columns that hold no numbers: b \("):
        numeric.predict(df[["a"]].assign(b="one"))


def test_the_column_order_hint_selects_by_the_frames_own_labels():
    df, y = _frame()
    numbers = pd.DataFrame(np.c_[df["a"], df["a"] ** 2])  # integer column labels 0, 1
    model = _model()
    model.fit(numbers, y, epochs=1)
    with pytest.raises(ValueError, match=r"same names in another order\); select them as X\[\[0, 1\]\]"):
        model.predict(numbers[[1, 0]])
    shuffled = numbers[[1, 0]]
    fixed = shuffled[[0, 1]]  # the selection the message gives (shuffled[['0', '1']] is a KeyError)
    np.testing.assert_array_equal(model.predict(fixed), model.predict(numbers))
