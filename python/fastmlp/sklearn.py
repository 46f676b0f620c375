"""scikit-learn estimators backed by fastmlp (needs the optional extra: ``pip install fastmlp[sklearn]``).

    from fastmlp.sklearn import MLPClassifier, MLPRegressor
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=50, random_state=0).fit(X, y)
    clf.predict_proba(X_test)

They follow the scikit-learn estimator contract (``get_params`` / ``set_params``, clone,
Pipeline, GridSearchCV, cross_val_score, pickling) and take the hyperparameters of
``sklearn.neural_network.MLPClassifier`` / ``MLPRegressor`` with the same meaning, plus
``dtype`` (None, the default: the input's, as scikit-learn does: float32 X gives a float32
network, anything else float64; or "float32" / "float64") and, for the classifier, ``class_weight``.
The stochastic solvers run in fastmlp's C++ core, one ``model_.fit(epochs=1)`` per iteration,
with scikit-learn's stopping rules (``tol`` / ``n_iter_no_change`` on the training loss,
or on the validation score with ``early_stopping``); ``solver="lbfgs"`` runs SciPy's L-BFGS-B
(as scikit-learn does, with ``max_iter`` / ``max_fun`` / ``tol``) on the C++ loss and gradient.
The weights start as scikit-learn's do (uniform in +-sqrt(6 / (fan_in + fan_out)), factor 2
for logistic; biases too), drawn from ``random_state`` in scikit-learn's order, so the
initial network is scikit-learn's own.

Differences from scikit-learn:

* ``alpha``: scikit-learn adds ``alpha / (2 n_b) * sum ||W||^2`` to each mini-batch loss,
  n_b being that batch's size (or its sum of sample weights). fastmlp's penalty is
  ``(l2 / 2) sum ||W||^2`` on the mean loss, so we set ``l2 = alpha / batch_size`` (the
  nominal batch size; times 2 for the regressor, whose fastmlp loss is the mean squared
  error while scikit-learn's is half of it, and divided by the number of outputs for
  multilabel problems, whose fastmlp loss averages over outputs while scikit-learn's sums):
  the objective is scikit-learn's, up to the last, smaller batch of each epoch.
  ``loss_curve_`` is reported on scikit-learn's scale.
* ``activation`` also accepts fastmlp's names: linear, sigmoid, leaky_relu, elu, softplus,
  gelu, silu, mish.
* Sparse input (CSR/CSC/COO) is densified once per fit / predict call; at most
  ``MAX_DENSE_BYTES`` (2 GiB) of dense data, else a ValueError.
  ``predict_proba`` returns float64 whatever ``dtype`` the network computes in; the regressor's
  ``predict`` returns the network's dtype, as scikit-learn.
* ``MLPRegressor(loss="poisson")``: an exp output layer and fastmlp's poisson loss (the mean over
  samples and outputs of scikit-learn's half Poisson deviance, which sums over outputs).
* ``solver="adam"`` puts epsilon where PyTorch does (``m_hat / (sqrt(v_hat) + eps)``); scikit-learn
  adds it to ``sqrt(v)`` before the bias correction, i.e. its epsilon is ``eps / sqrt(1 - beta_2^t)``
  in that form. With the default 1e-8 the loss curves agree to about 1e-6 (relative); SGD's agree
  to rounding.
* On divergence (a non-finite loss) the stochastic solvers stop: with ``early_stopping`` the
  epoch's validation score is NaN (as scikit-learn records it) and the best weights are kept;
  without, a ValueError as scikit-learn's.
* ``learning_rate="invscaling"`` updates the rate at the end of each epoch, as scikit-learn does:
  ``learning_rate_init / (t_ + 1) ** power_t``, ``t_`` = samples seen.

Not a difference: the sample order. With ``shuffle`` the stochastic solvers visit the samples
in scikit-learn's order (its index array permuted again every epoch by ``random_state``'s
generator, after the initial weights; each epoch gathers the rows into one reused copy of X), and
the ``early_stopping`` validation split is scikit-learn's (stratified for binary problems only:
scikit-learn stratifies when it has one output).
"""

from __future__ import annotations

import numpy as np
from sklearn.base import ClassifierMixin, RegressorMixin
from sklearn.metrics import accuracy_score, r2_score
from sklearn.preprocessing import LabelBinarizer
from sklearn.utils.class_weight import compute_class_weight
from sklearn.utils.metaestimators import available_if
from sklearn.utils.multiclass import _check_partial_fit_first_call, type_of_target, unique_labels
from sklearn.utils.validation import check_is_fitted, column_or_1d

from ._sklearn_base import _BaseMLP
from ._sklearn_params import (
    MAX_DENSE_BYTES,  # noqa: F401 (fastmlp.sklearn.MAX_DENSE_BYTES, as the docstring names it)
    _densify,
    _no_partial_fit,
    _validate_data,
)
from ._validation import as_c_array
from ._weights import balanced_class_weights

__all__ = ["MLPClassifier", "MLPRegressor"]


def _expected_failed_checks(estimator) -> dict:
    """scikit-learn estimator checks these estimators are known to fail, and why.

    Pass as ``parametrize_with_checks(..., expected_failed_checks=_expected_failed_checks)``
    (scikit-learn >= 1.6) or ``check_estimator(..., expected_failed_checks=...)``.
    As scikit-learn's own MLPs, they pass check_sample_weight_equivalence_on_dense_data only with
    the parameters scikit-learn gives its own (MLPClassifier(solver="lbfgs"),
    MLPRegressor(solver="sgd", tol=1e-2, random_state=42): tests/test_sklearn.py checks that).
    """
    return {}  # none: the sample-weight equivalence checks pass too (their data sets fit in one batch)


class MLPClassifier(ClassifierMixin, _BaseMLP):
    """Multi-layer perceptron classifier (scikit-learn API) trained by fastmlp.

    Binary problems use one sigmoid output and binary cross-entropy, multi-class problems a
    softmax output and categorical cross-entropy, multilabel problems (y a 2-D 0/1 indicator
    matrix) one sigmoid output per label. Class labels may be any sortable values (strings too).
    See the module docstring for the parameters (those of sklearn.neural_network.MLPClassifier)
    and the differences.

    Other Parameters
    ----------------
    dtype : None (default: the input's, float32 X gives float32, anything else float64), "float32" or "float64".
    class_weight : None, "balanced" or {label: weight}; multiplies sample_weight
        ("balanced": n_samples / (n_classes * count of the class)). Not for multilabel y.

    Attributes
    ----------
    classes_, n_features_in_, feature_names_in_, n_iter_, t_, loss_, loss_curve_, best_loss_,
    validation_scores_, best_validation_score_, n_outputs_, n_layers_, out_activation_,
    coefs_, intercepts_ (views), model_ (the fastmlp.Sequential).
    """

    def __init__(
        self,
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dtype=None,
        class_weight=None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dtype=dtype,
        )
        self.class_weight = class_weight

    def _prepare(self, X, y, incremental, first):
        X, y = _validate_data(
            self, X, y, reset=first, multi_output=True, dtype=(np.float64, np.float32), accept_sparse=True
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        if first and not incremental:
            self._label_binarizer = LabelBinarizer()
            self._label_binarizer.fit(y)
            self.classes_ = self._label_binarizer.classes_
        else:
            classes = unique_labels(y)
            if self.warm_start and not incremental:
                if set(classes) != set(self.classes_):
                    raise ValueError(
                        "warm_start can only be used where `y` has the same classes as in the previous "
                        f"call to fit. Previously got {self.classes_}, `y` has {classes}"
                    )
            elif len(np.setdiff1d(classes, self.classes_, assume_unique=True)):
                raise ValueError(
                    f"`y` has classes not in `self.classes_`. `self.classes_` has {self.classes_}. 'y' has {classes}."
                )
        lb = self._label_binarizer
        self._y_type = lb.y_type_
        if lb.y_type_ == "multiclass":
            Y = np.searchsorted(self.classes_, y).astype(np.int32)  # class ids: no one-hot copy
            # not stratified: scikit-learn stratifies its early-stopping split only with one output (binary)
            return X, Y, None, "softmax", len(self.classes_)
        Y = lb.transform(y).astype(np.float64)
        n_outputs = Y.shape[1]
        if lb.y_type_ == "binary" or n_outputs == 1:
            # stratified by the binarized labels as scikit-learn has them, an (n, 1) bool array (its
            # split errors then name the classes 'True' / 'False')
            return X, Y[:, 0], Y[:, :1].astype(bool), "sigmoid", 1
        return X, Y, None, "sigmoid", n_outputs  # multilabel: not stratified

    @property
    def _sk_loss_scale(self) -> float:
        # multilabel: fastmlp averages the binary cross-entropy over outputs, scikit-learn sums
        n = getattr(self, "n_outputs_", 1)
        return 1.0 / n if getattr(self, "_y_type", None) == "multilabel-indicator" else 1.0

    def _with_class_weight(self, Y, sample_weight):
        if self.class_weight is None:
            return sample_weight
        if self._label_binarizer.y_type_ == "multilabel-indicator":
            raise ValueError("class_weight is not supported for multilabel targets")
        ids = Y.astype(np.int64) if Y.dtype.kind == "i" else (Y >= 0.5).astype(np.int64)
        n_classes = len(self.classes_)
        if isinstance(self.class_weight, str) and self.class_weight == "balanced":
            table = balanced_class_weights(ids, n_classes)
        elif isinstance(self.class_weight, dict):
            table = compute_class_weight(self.class_weight, classes=self.classes_, y=self.classes_[ids])
        else:
            raise ValueError(f"class_weight must be None, 'balanced' or a dict; got {self.class_weight!r}")
        cw = np.asarray(table, dtype=np.float64)[ids]
        return cw if sample_weight is None else sample_weight * cw

    def _val_score(self, X_val, Y_val, sw_val) -> float:
        # Y_val: class ids (multi-class), 0/1 (binary) or the 0/1 indicator matrix (multilabel)
        y_true = Y_val if Y_val.ndim == 2 else self.classes_[np.asarray(Y_val, dtype=np.int64)]
        try:
            y_pred = self._predict_array(X_val)
        except ValueError:  # X_val was checked: the outputs are NaN (a diverging model), a NaN score
            return np.nan
        return accuracy_score(y_true, y_pred, sample_weight=sw_val)

    def fit(self, X, y, sample_weight=None):
        """Fit the network to X and class labels y (1-D labels, or a 2-D 0/1 multilabel matrix). Returns self."""
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(lambda self: self.solver != "lbfgs" or _no_partial_fit())
    def partial_fit(self, X, y, sample_weight=None, classes=None):
        """One epoch over X, y. ``classes`` (all labels) is required on the first call."""
        if _check_partial_fit_first_call(self, classes):
            self._label_binarizer = LabelBinarizer()
            if type_of_target(y).startswith("multilabel"):
                self._label_binarizer.fit(y)
            else:
                self._label_binarizer.fit(classes)
            self.classes_ = self._label_binarizer.classes_
        return self._fit(X, y, sample_weight, incremental=True)

    def _predict_array(self, X) -> np.ndarray:
        a = self.model_.forward(as_c_array(X, self.model_.dtype, "X"))
        if self.n_outputs_ == 1:
            a = a.ravel()
        return self._label_binarizer.inverse_transform(a)

    def predict(self, X):
        """Class labels, (n_samples,) (or (n_samples, n_labels) 0/1 for multilabel)."""
        check_is_fitted(self)
        X = _densify(_validate_data(self, X, reset=False, dtype=(np.float64, np.float32), accept_sparse=True))
        return self._predict_array(X)

    def predict_proba(self, X):
        """Class probabilities (n_samples, n_classes) in the order of classes_, float64; rows sum to 1
        (for multilabel: each label's probability)."""
        p = np.asarray(self._forward(X), dtype=np.float64)
        if self.n_outputs_ == 1:
            p = p[:, 0]
            return np.column_stack([1 - p, p])
        if self.out_activation_ == "softmax":
            p /= p.sum(axis=1, keepdims=True)  # exact sums after float32 rounding
        return p

    def predict_log_proba(self, X):
        """log(predict_proba(X))."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"multilabel": True}


class MLPRegressor(RegressorMixin, _BaseMLP):
    """Multi-layer perceptron regressor (scikit-learn API) trained by fastmlp: linear outputs and
    the mean squared error, or (loss="poisson") exp outputs and the half Poisson deviance. y may be
    1-D or 2-D (multi-output). See the module docstring for the parameters (those of
    sklearn.neural_network.MLPRegressor) and the differences. ``loss_curve_`` holds scikit-learn's
    loss (+ penalty)."""

    @property
    def _sk_loss_scale(self) -> float:
        # squared_error: fastmlp's mean (a - y)^2 is twice scikit-learn's half of it; poisson:
        # fastmlp averages over the outputs, scikit-learn sums
        return 2.0 if self.loss != "poisson" else 1.0 / getattr(self, "n_outputs_", 1)

    def __init__(
        self,
        loss="squared_error",
        hidden_layer_sizes=(100,),
        activation="relu",
        *,
        solver="adam",
        alpha=0.0001,
        batch_size="auto",
        learning_rate="constant",
        learning_rate_init=0.001,
        power_t=0.5,
        max_iter=200,
        shuffle=True,
        random_state=None,
        tol=1e-4,
        verbose=False,
        warm_start=False,
        momentum=0.9,
        nesterovs_momentum=True,
        early_stopping=False,
        validation_fraction=0.1,
        beta_1=0.9,
        beta_2=0.999,
        epsilon=1e-8,
        n_iter_no_change=10,
        max_fun=15000,
        dtype=None,
    ):
        super().__init__(
            hidden_layer_sizes=hidden_layer_sizes,
            activation=activation,
            solver=solver,
            alpha=alpha,
            batch_size=batch_size,
            learning_rate=learning_rate,
            learning_rate_init=learning_rate_init,
            power_t=power_t,
            max_iter=max_iter,
            shuffle=shuffle,
            random_state=random_state,
            tol=tol,
            verbose=verbose,
            warm_start=warm_start,
            momentum=momentum,
            nesterovs_momentum=nesterovs_momentum,
            early_stopping=early_stopping,
            validation_fraction=validation_fraction,
            beta_1=beta_1,
            beta_2=beta_2,
            epsilon=epsilon,
            n_iter_no_change=n_iter_no_change,
            max_fun=max_fun,
            dtype=dtype,
        )
        self.loss = loss

    def _check_params(self) -> None:
        if self.loss not in ("squared_error", "poisson"):
            raise ValueError(f"The 'loss' parameter must be 'squared_error' or 'poisson'; got {self.loss!r}.")
        super()._check_params()

    def _prepare(self, X, y, incremental, first):
        X, y = _validate_data(
            self,
            X,
            y,
            reset=first,
            multi_output=True,
            y_numeric=True,
            dtype=(np.float64, np.float32),
            accept_sparse=True,
        )
        if y.ndim == 2 and y.shape[1] == 1:
            y = column_or_1d(y, warn=True)
        Y = np.asarray(y, dtype=np.float64)
        n_outputs = 1 if Y.ndim == 1 else Y.shape[1]
        if self.loss == "poisson" and (Y < 0).any():  # scikit-learn's words
            raise ValueError("Some value(s) of y are negative which is not allowed for Poisson regression.")
        return X, Y, None, "exp" if self.loss == "poisson" else "linear", n_outputs

    def _val_score(self, X_val, Y_val, sw_val) -> float:
        try:
            y_pred = self._predict_array(X_val)
        except ValueError:  # X_val was checked: the outputs are NaN (a diverging model), a NaN score
            return np.nan
        if not np.isfinite(y_pred).all():
            return np.nan
        return r2_score(Y_val, y_pred, sample_weight=sw_val)

    def fit(self, X, y, sample_weight=None):
        """Fit the network to X and real targets y ((n_samples,) or (n_samples, n_outputs)). Returns self."""
        return self._fit(X, y, sample_weight, incremental=False)

    @available_if(lambda self: self.solver != "lbfgs" or _no_partial_fit())
    def partial_fit(self, X, y, sample_weight=None):
        """One epoch over X, y, keeping the weights and the optimizer state."""
        return self._fit(X, y, sample_weight, incremental=True)

    def _predict_array(self, X) -> np.ndarray:
        a = np.asarray(self.model_.forward(as_c_array(X, self.model_.dtype, "X")))
        return a[:, 0] if a.shape[1] == 1 else a

    def predict(self, X):
        """Predictions in the network's dtype (as scikit-learn: float32 for a float32 fit), (n_samples,) for one
        output, else (n_samples, n_outputs)."""
        check_is_fitted(self)
        X = _densify(_validate_data(self, X, reset=False, dtype=(np.float64, np.float32), accept_sparse=True))
        return self._predict_array(X)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True
        return tags

    def _more_tags(self):  # scikit-learn < 1.6
        return {"multioutput": True}
