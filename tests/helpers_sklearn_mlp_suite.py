# scikit-learn's own MLP tests (sklearn/neural_network/tests/test_mlp.py, scikit-learn 1.9.1,
# BSD-3-Clause, The scikit-learn developers), run against fastmlp.sklearn's estimators:
# the data sets its tests share (tests/test_sklearn_mlp_suite*.py).
# Adapted: the estimator import, and private-attribute reads (marked "fastmlp:").
# Every test passes unchanged otherwise (none is marked xfail); the remaining numerical differences
# are listed in python/fastmlp/sklearn.py's module docstring.

# Authors: The scikit-learn developers
# SPDX-License-Identifier: BSD-3-Clause


from sklearn.datasets import (
    load_digits,
    load_iris,
    make_regression,
)
from sklearn.preprocessing import MinMaxScaler, scale

ACTIVATION_TYPES = ["identity", "logistic", "tanh", "relu"]


X_digits, y_digits = load_digits(n_class=3, return_X_y=True)

X_digits_multi = MinMaxScaler().fit_transform(X_digits[:200])
y_digits_multi = y_digits[:200]

X_digits, y_digits = load_digits(n_class=2, return_X_y=True)

X_digits_binary = MinMaxScaler().fit_transform(X_digits[:200])
y_digits_binary = y_digits[:200]

classification_datasets = [
    (X_digits_multi, y_digits_multi),
    (X_digits_binary, y_digits_binary),
]

X_reg, y_reg = make_regression(n_samples=200, n_features=10, bias=20.0, noise=100.0, random_state=7)
y_reg = scale(y_reg)
regression_datasets = [(X_reg, y_reg)]

iris = load_iris()

X_iris = iris.data
y_iris = iris.target
