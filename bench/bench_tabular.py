#!/usr/bin/env python3
"""Accuracy on a table of mixed columns (issue 26, point 6): fastmlp on the raw DataFrame against
scikit-learn's MLP behind a ColumnTransformer and HistGradientBoostingClassifier.

    python bench/bench_tabular.py [--seeds 5] [--rows 6000] [--out bench/RESULTS_TABULAR.md]

The data (``make_table``, below, is the rule): numeric columns on very different scales with
missing values, string, ``category`` and bool columns whose categories carry most of the signal
(a rare tail of categories, so the test split holds categories the training split never saw),
and a 3-class target drawn from a softmax of the columns' effects. For seeds 0..N-1 the seed
draws the table and the stratified train/test split (test_size 0.25); every contender sees the
same split:

- **fastmlp**: ``fm.Sequential`` fitted on the raw DataFrame: no preprocessing code;
- **scikit-learn MLP**: ``ColumnTransformer`` (numeric: median ``SimpleImputer`` with a missing
  indicator + ``StandardScaler``; categorical: constant ``SimpleImputer`` + ``OneHotEncoder
  (handle_unknown="ignore")``), then ``MLPClassifier`` with the same hidden sizes;
- **HistGradientBoosting**: ``HistGradientBoostingClassifier(categorical_features="from_dtype")``
  with the string and bool columns given as pandas ``category`` (from_dtype reads that dtype
  only); it takes missing values natively.

The report gives each contender's median test accuracy and [min–max] over the seeds, and the
median fit time (informational: 1 thread, machine possibly shared).
"""

import argparse
import datetime
import os
import statistics
import sys
import time
import warnings

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

from mlp.base import import_fastmlp  # noqa: E402  (bench_mlp.py's rooms: one log, lscpu, report writer)
from mlp.harness import log  # noqa: E402
from mlp.report import lscpu_model, run_lines, to_jsonable, write_reports  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
CONTENDERS = ("fastmlp", "sklearn_mlp", "hist_gb")
LABEL = {
    "fastmlp": "fastmlp (raw DataFrame)",
    "sklearn_mlp": "scikit-learn MLP (ColumnTransformer)",
    "hist_gb": "HistGradientBoosting (from_dtype)",
}
NUMERIC = ("income", "age", "ratio", "score")
CATEGORICAL = ("city", "color", "grade", "member")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seeds", type=int, default=5, help="seeds 0..N-1 (table, split, estimators); default 5")
    p.add_argument("--rows", type=int, default=6000, help="rows of the table; default 6000")
    p.add_argument("--hidden", type=int, nargs="+", default=[64, 32], help="hidden sizes of both MLPs; default 64 32")
    p.add_argument("--epochs", type=int, default=30, help="epochs (max_iter) of both MLPs; default 30")
    p.add_argument("--out", default=os.path.join(HERE, "RESULTS_TABULAR.md"), help="markdown report")
    p.add_argument("--json", default=None, help="also write the raw per-seed results here")
    p.add_argument("--quick", action="store_true", help="smoke test: 2 seeds, 1500 rows, 5 epochs; numbers meaningless")
    a = p.parse_args(argv)
    if a.quick:
        a.seeds, a.rows, a.epochs = min(a.seeds, 2), min(a.rows, 1500), min(a.epochs, 5)
    return a


def make_table(rows, seed):
    """The mixed table and its 3-class target (the rule the report names).

    Columns: income (log-normal, ~1e4..1e5, 5% missing), age (uniform 18..90), ratio (N(0, 1e-3)),
    score (N(500, 100), 2% missing); city (string, 200 cities with Zipf(1.5) frequencies, 3% missing:
    None), color (string, 5 values), grade (pandas category, 8 ordered levels), member (bool).
    Each class k gets the logit  effect_city[k] + effect_color[k] + 0.4 grade_level * w[k]
    + 0.8 member * v[k] + 0.6 z(income) u[k] + 0.5 z(age) t[k] + 0.5 ratio/1e-3 s[k]  plus Gumbel
    noise (the class is the arg max), with effects drawn N(0, 1.2) from the same seed; a missing
    income or city contributes 0.
    """
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n_city, k = 200, 3
    cities = np.array(["city_%02d" % i for i in range(n_city)], dtype=object)
    p_city = 1.0 / np.arange(1, n_city + 1) ** 1.5
    city = cities[rng.choice(n_city, rows, p=p_city / p_city.sum())]
    colors = np.array(["red", "green", "blue", "black", "white"], dtype=object)
    color = colors[rng.integers(0, 5, rows)]
    grade_level = rng.integers(0, 8, rows)
    member = rng.random(rows) < 0.3
    income = np.exp(rng.normal(10.3, 0.6, rows))
    age = rng.uniform(18, 90, rows)
    ratio = rng.normal(0, 1e-3, rows)
    score = rng.normal(500, 100, rows)

    eff_city = dict(zip(cities, rng.normal(0, 1.2, (n_city, k))))
    eff_color = dict(zip(colors, rng.normal(0, 1.2, (5, k))))
    w, v, u, t, s = rng.normal(0, 1, (5, k))
    z = lambda x: (x - x.mean()) / x.std()  # noqa: E731
    city_missing = rng.random(rows) < 0.03
    income_missing = rng.random(rows) < 0.05
    logit = np.stack([eff_city[c] for c in city]) * ~city_missing[:, None]
    logit += np.stack([eff_color[c] for c in color])
    logit += 0.4 * (grade_level[:, None] - 3.5) * w + 0.8 * member[:, None] * v
    logit += 0.6 * (z(np.log(income)) * ~income_missing)[:, None] * u
    logit += 0.5 * z(age)[:, None] * t + 0.5 * (ratio / 1e-3)[:, None] * s
    y = np.argmax(logit + rng.gumbel(size=logit.shape), axis=1)

    city = city.copy()
    city[city_missing] = None
    income[income_missing] = np.nan
    score[rng.random(rows) < 0.02] = np.nan
    grades = ["G%d" % i for i in range(8)]
    X = pd.DataFrame(
        {
            "income": income,
            "age": age,
            "ratio": ratio,
            "score": score,
            "city": city,
            "color": color,
            "grade": pd.Categorical([grades[g] for g in grade_level], categories=grades, ordered=True),
            "member": member,
        }
    )
    return X, np.array(["low", "mid", "high"], dtype=object)[y]


def fit_fastmlp(fm, X, y, a, seed):
    """fastmlp on the raw DataFrame: the model learns the columns' vocabularies and scaling itself."""
    model = fm.Sequential(
        [fm.Normalization(), fm.ColumnEmbedding(fill_missing=True)]
        + [fm.Dense(h, "relu") for h in a.hidden]
        + [fm.Dense(3, "softmax")],
        optimizer="adam",
        seed=seed,
    )
    model.fit(X, y, epochs=a.epochs, batch_size=64, verbose=0)
    return model


def fit_sklearn_mlp(X, y, a, seed):
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    pre = ColumnTransformer(
        [
            (
                "num",
                make_pipeline(SimpleImputer(strategy="median", add_indicator=True), StandardScaler()),
                list(NUMERIC),
            ),
            ("cat", OneHotEncoder(handle_unknown="ignore"), list(CATEGORICAL)),
        ]
    )
    est = make_pipeline(
        pre,
        MLPClassifier(tuple(a.hidden), max_iter=a.epochs, batch_size=64, random_state=seed),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning at max_iter: the epochs are the budget
        est.fit(_as_strings(X), y)
    return est, lambda Xt: est.predict(_as_strings(Xt))


def _as_strings(X):
    """The categorical columns as strings, a missing value as the category "missing" (OneHotEncoder's input)."""
    Xs = X.copy()
    cat = X[list(CATEGORICAL)].astype(object).where(X[list(CATEGORICAL)].notna(), "missing")
    Xs[list(CATEGORICAL)] = cat.astype(str)
    return Xs


def _as_categories(X):
    Xc = X.copy()
    for c in ("city", "color", "member"):
        Xc[c] = Xc[c].astype("category")
    return Xc


def fit_hist_gb(X, y, seed):
    from sklearn.ensemble import HistGradientBoostingClassifier

    est = HistGradientBoostingClassifier(categorical_features="from_dtype", random_state=seed)
    est.fit(_as_categories(X), y)
    return est


def run_one(fm, name, a, seed):
    import numpy as np
    from sklearn.model_selection import train_test_split

    X, y = make_table(a.rows, seed)
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y, random_state=seed)
    t = time.perf_counter()
    if name == "fastmlp":
        model = fit_fastmlp(fm, Xtr, ytr, a, seed)
        fit_s, pred = time.perf_counter() - t, model.predict(Xte)
    elif name == "sklearn_mlp":
        _, predict = fit_sklearn_mlp(Xtr, ytr, a, seed)
        fit_s, pred = time.perf_counter() - t, predict(Xte)
    else:
        est = fit_hist_gb(Xtr, ytr, seed)
        fit_s, pred = time.perf_counter() - t, est.predict(_as_categories(Xte))
    unseen = int((~Xte["city"].isin(set(Xtr["city"].dropna())) & Xte["city"].notna()).sum())
    return {"accuracy": float(np.mean(pred == yte)), "fit_s": fit_s, "unseen_city_rows": unseen}


def report(res, a):
    lines = ["# Mixed columns: fastmlp on the raw DataFrame against scikit-learn", ""]
    lines += run_lines(res)
    lines += ["- CPU: %s, 1 thread" % res["cpu"], "- Versions: %s" % res["versions"], ""]
    lines += [
        "Data: `make_table` in bench/bench_tabular.py (%d rows; 4 numeric columns with missing values, "
        "a string column of 200 Zipf-distributed cities with missing values, a string, a category and a "
        "bool column; 3 classes), stratified 75/25 split; seeds 0..%d draw the table, the split and the "
        "models. Hidden sizes %s, %d epochs, batch 64 for both MLPs." % (a.rows, a.seeds - 1, a.hidden, a.epochs),
        "",
        "| contender | test accuracy, median [min–max] | fit time, median |",
        "|---|---|---|",
    ]
    for name in CONTENDERS:
        acc = [r["accuracy"] for r in res["runs"][name]]
        fit = [r["fit_s"] for r in res["runs"][name]]
        lines.append(
            "| %s | %.4f [%.4f–%.4f] | %.2f s |"
            % (LABEL[name], statistics.median(acc), min(acc), max(acc), statistics.median(fit))
        )
    unseen = [r["unseen_city_rows"] for r in res["runs"]["fastmlp"]]
    lines += ["", "Test rows whose city the training split never saw, per seed: %s." % unseen, ""]
    return "\n".join(lines)


def main(argv=None):
    a = parse_args(argv)
    fm = import_fastmlp()
    fm.set_num_threads(1)
    import sklearn

    res = {"argv": list(sys.argv[1:] if argv is None else argv), "started": datetime.datetime.utcnow()}
    res["cpu"] = lscpu_model()
    res["versions"] = "fastmlp %s, scikit-learn %s" % (fm.__version__, sklearn.__version__)
    res["runs"] = {name: [] for name in CONTENDERS}
    for seed in range(a.seeds):
        for name in CONTENDERS:
            r = run_one(fm, name, a, seed)
            log("seed %d %-12s accuracy %.4f  fit %.2f s" % (seed, name, r["accuracy"], r["fit_s"]))
            res["runs"][name].append(r)
    res["finished"] = datetime.datetime.utcnow()
    write_reports(report(res, a), a.out, a.json, to_jsonable(res))
    return res


if __name__ == "__main__":
    main()
