"""The mixed DataFrame the categorical-column tests (tests/test_tabular*.py) train on; pandas, or a
skip of the importing test module where it is missing."""

import numpy as np
import pytest

pd = pytest.importorskip("pandas")


def frame(n=600, seed=0, missing=False):
    """A mixed DataFrame and labels: the class is (city in {a, c}) xor flag; x1 and grade are noise.
    Rule of the generated set: city uniform over 6 names, flag a fair coin, x1 ~ N(0, 1), grade
    uniform over 3 ordered categories; with ``missing`` every 13th city and every 7th x1 is missing."""
    rng = np.random.default_rng(seed)
    city = rng.choice(list("abcdef"), n).astype(object)
    flag = rng.random(n) < 0.5
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=n),
            "city": city,
            "flag": flag,
            "grade": pd.Categorical(rng.choice(["lo", "mid", "hi"], n), categories=["lo", "mid", "hi"]),
        }
    )
    y = (np.isin(city, ["a", "c"]) ^ flag).astype(int)
    if missing:
        df.loc[::13, "city"] = None
        df.loc[::7, "x1"] = np.nan
    return df, y
