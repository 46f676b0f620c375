"""_BaseMLP, the part that fastmlp.sklearn's MLPClassifier and MLPRegressor share: their
parameters and the checks of them, the fitted weights (coefs_, intercepts_), the initial network
(scikit-learn's), the stochastic solvers' training loop with scikit-learn's stopping rules, and
L-BFGS (SciPy on the C++ loss and gradient). fastmlp.sklearn's module docstring says where they
differ from scikit-learn's."""

from __future__ import annotations

import copy
import numbers
import warnings

import numpy as np
from sklearn.base import BaseEstimator
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import train_test_split
from sklearn.utils import check_random_state
from sklearn.utils import shuffle as _sk_shuffle
from sklearn.utils.optimize import _check_optimize_result
from sklearn.utils.validation import _check_sample_weight, check_is_fitted

from . import quantize as _quantize
from ._sklearn_params import (
    _ACTIVATION_ALIASES,
    _HIDDEN_ACTIVATIONS,
    _check_bool,
    _check_number,
    _densify,
    _validate_data,
)
from ._validation import as_c_array
from .layers import dense_stack


class _BaseMLP(BaseEstimator):
    """Shared parameters, validation and the training loop."""

    _sk_loss_scale = 1.0  # fastmlp loss / scikit-learn loss (see fastmlp.sklearn's module docstring)

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
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.solver = solver
        self.alpha = alpha
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.learning_rate_init = learning_rate_init
        self.power_t = power_t
        self.max_iter = max_iter
        self.shuffle = shuffle
        self.random_state = random_state
        self.tol = tol
        self.verbose = verbose
        self.warm_start = warm_start
        self.momentum = momentum
        self.nesterovs_momentum = nesterovs_momentum
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.beta_1 = beta_1
        self.beta_2 = beta_2
        self.epsilon = epsilon
        self.n_iter_no_change = n_iter_no_change
        self.max_fun = max_fun
        self.dtype = dtype

    # ------------------------------------------------------------------ parameters

    def _hidden_sizes(self) -> list:
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, numbers.Integral) and not isinstance(sizes, bool):
            sizes = [sizes]
        try:
            sizes = list(sizes)
        except TypeError:
            raise ValueError(f"hidden_layer_sizes must be an int or a sequence of ints, got {sizes!r}") from None
        for s in sizes:
            if isinstance(s, bool) or not isinstance(s, numbers.Integral) or s <= 0:
                raise ValueError(f"hidden_layer_sizes must be > 0, got {self.hidden_layer_sizes!r}.")
        return [int(s) for s in sizes]

    def _check_params(self) -> None:
        if self.activation not in _HIDDEN_ACTIVATIONS:
            raise ValueError(
                f"The 'activation' parameter must be one of {', '.join(_HIDDEN_ACTIVATIONS)}; got {self.activation!r}."
            )
        if self.solver not in ("adam", "sgd", "lbfgs"):
            raise ValueError(f"The 'solver' parameter must be 'adam', 'sgd' or 'lbfgs'; got {self.solver!r}.")
        _check_number(self.max_fun, "max_fun", 1, integer=True)
        if self.learning_rate not in ("constant", "invscaling", "adaptive"):
            raise ValueError(
                "The 'learning_rate' parameter must be 'constant', 'invscaling' or 'adaptive'; "
                f"got {self.learning_rate!r}."
            )
        if not (isinstance(self.batch_size, str) and self.batch_size == "auto"):
            _check_number(self.batch_size, "batch_size", 1, integer=True)
        _check_number(self.alpha, "alpha", 0)
        _check_number(self.learning_rate_init, "learning_rate_init", 0, lo_closed=False)
        _check_number(self.power_t, "power_t", 0)
        _check_number(self.max_iter, "max_iter", 1, integer=True)
        _check_number(self.tol, "tol", 0)
        _check_number(self.momentum, "momentum", 0, 1, hi_closed=False)  # fastmlp's SGD needs momentum < 1
        _check_number(self.validation_fraction, "validation_fraction", 0, 1, hi_closed=False)
        _check_number(self.beta_1, "beta_1", 0, 1, hi_closed=False)
        _check_number(self.beta_2, "beta_2", 0, 1, hi_closed=False)
        _check_number(self.epsilon, "epsilon", 0, lo_closed=False)
        for flag in ("shuffle", "warm_start", "nesterovs_momentum", "early_stopping"):
            _check_bool(getattr(self, flag), flag)  # shuffle="batch": scikit-learn's InvalidParameterError
        if not isinstance(self.verbose, (bool, np.bool_)):  # scikit-learn's "verbose": a bool or an int >= 0
            _check_number(self.verbose, "verbose", 0, integer=True)
        if not (self.n_iter_no_change == np.inf):
            _check_number(self.n_iter_no_change, "n_iter_no_change", 1, integer=True)
        if self.dtype not in (None, "float32", "float64", np.float32, np.float64):
            raise ValueError(f"The 'dtype' parameter must be None, 'float32' or 'float64'; got {self.dtype!r}.")
        self._hidden_sizes()

    # ------------------------------------------------------------------ fitted facts

    @property
    def coefs_(self) -> list:
        """Weight matrices (n_in, n_out) per layer: writable views into ``model_``. Assigning a list
        sets them (before any fit: kept for the first ``partial_fit``, as scikit-learn does)."""
        return self._weights_attr("coefs_", "weights")

    @coefs_.setter
    def coefs_(self, value) -> None:
        self._set_weights_attr("coefs_", "weights", value)

    @property
    def intercepts_(self) -> list:
        """Bias vectors per layer: writable views into ``model_`` (assignable as ``coefs_``)."""
        return self._weights_attr("intercepts_", "bias")

    @intercepts_.setter
    def intercepts_(self, value) -> None:
        self._set_weights_attr("intercepts_", "bias", value)

    def _weights_attr(self, name: str, view: str) -> list:
        pending = self.__dict__.get("_pending_" + name)
        if pending is not None and not hasattr(self, "model_"):
            return pending  # the list itself: scikit-learn's tests fill it item by item
        check_is_fitted(self)
        return [getattr(layer, view) for layer in self.model_.dense_layers]

    def _set_weights_attr(self, name: str, view: str, value) -> None:
        if not hasattr(self, "model_"):
            self.__dict__["_pending_" + name] = value  # applied by the first partial_fit (or warm start)
            return
        value = list(value)
        if len(value) != len(self.model_.dense_layers):
            raise ValueError(f"{name} must hold {len(self.model_.dense_layers)} arrays, got {len(value)}")
        for layer, array in zip(self.model_.dense_layers, value):
            setattr(layer, view, array)  # shape and finiteness checked by the layer

    def _apply_pending_weights(self) -> None:
        """Weights assigned before the first fit (coefs_, intercepts_), into the new model."""
        coefs, intercepts = (self.__dict__.pop("_pending_" + n, None) for n in ("coefs_", "intercepts_"))
        try:
            if coefs is not None:
                self.coefs_ = coefs
            if intercepts is not None:
                self.intercepts_ = intercepts
        except ValueError:
            del self.model_  # nothing half-made remains
            raise

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "model_")

    # ------------------------------------------------------------------ training

    def _make_model(self, n_features: int, n_outputs: int, output_activation: str, seed: int, dtype):
        import fastmlp as fm

        act = _ACTIVATION_ALIASES.get(self.activation, self.activation)
        layers = dense_stack(n_features, self._hidden_sizes(), n_outputs, act, output_activation)
        if self.solver == "adam":
            optimizer = fm.Adam(
                learning_rate=self.learning_rate_init, beta1=self.beta_1, beta2=self.beta_2, epsilon=self.epsilon
            )
        else:
            momentum = float(self.momentum)
            optimizer = fm.SGD(
                learning_rate=self.learning_rate_init,
                momentum=momentum,
                nesterov=bool(self.nesterovs_momentum) and momentum > 0,
            )
        loss = "poisson" if output_activation == "exp" else None  # None: from the output (softmax, sigmoid, linear)
        return fm.Sequential(layers, loss=loss, dtype=np.dtype(dtype).name, seed=seed, optimizer=optimizer)

    def _initialize(self, n_features: int, n_outputs: int, output_activation: str, rng, x_dtype) -> None:
        dtype = self.dtype if self.dtype is not None else (np.float32 if x_dtype == np.float32 else np.float64)
        # scikit-learn's initialisation, drawn first from random_state in its order (W_l then b_l per layer).
        factor = 2.0 if self.activation in ("logistic", "sigmoid") else 6.0
        sizes = [n_features] + self._hidden_sizes() + [n_outputs]
        init = []
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
            bound = np.sqrt(factor / (fan_in + fan_out))
            init.append((rng.uniform(-bound, bound, (fan_in, fan_out)), rng.uniform(-bound, bound, fan_out)))
        # The model's own seed (unused by this wrapper's training) must not consume random_state: scikit-learn
        # draws its early-stopping split and its shuffles from it right after the weights.
        seed = int(copy.deepcopy(rng).randint(np.iinfo(np.int32).max))
        self.model_ = self._make_model(n_features, n_outputs, output_activation, seed, dtype)
        for layer, (W, b) in zip(self.model_.dense_layers, init):
            layer.weights[...] = W
            layer.bias[...] = b
        self.n_outputs_ = n_outputs
        self.n_layers_ = len(self._hidden_sizes()) + 2
        self.out_activation_ = {"linear": "identity", "sigmoid": "logistic"}.get(output_activation, output_activation)
        self.n_iter_ = 0
        self.t_ = 0
        self.loss_curve_ = []
        self._no_improvement_count = 0
        self._lr = float(self.learning_rate_init)
        if self.early_stopping:
            self.validation_scores_ = []
            self.best_validation_score_ = -np.inf
            self.best_loss_ = None
        else:
            self.best_loss_ = np.inf
            self.validation_scores_ = None
            self.best_validation_score_ = None

    def _batch_size(self, n_samples: int) -> int:
        if isinstance(self.batch_size, str):
            return min(200, n_samples)
        if self.batch_size > n_samples:
            warnings.warn(
                "Got `batch_size` less than 1 or larger than sample size. It is going to be clipped", stacklevel=2
            )
        return int(np.clip(self.batch_size, 1, n_samples))

    def _early_stopping_split(self, X, Y, sample_weight, rng, stratify):
        """scikit-learn's validation split for early_stopping: (X, Y, sample_weight, (X_val, Y_val, sw_val))."""
        parts = [X, Y] + ([] if sample_weight is None else [sample_weight])
        split = train_test_split(*parts, random_state=rng, test_size=self.validation_fraction, stratify=stratify)
        X, X_val, Y, Y_val = split[:4]
        sample_weight, sw_val = (split[4], split[5]) if sample_weight is not None else (None, None)
        if X_val.shape[0] < 2:
            raise ValueError(
                "The validation set is too small. Increase 'validation_fraction' or the size of your dataset."
            )
        return X, Y, sample_weight, (X_val, Y_val, sw_val)

    def _fit_loop(self, X, Y, sample_weight, incremental: bool, rng, val=None) -> None:
        """scikit-learn's _fit_stochastic, with one fastmlp epoch per iteration; `val` is the early-stopping
        split's (X_val, Y_val, sw_val)."""
        import fastmlp as fm

        model = self.model_
        if self.early_stopping:
            X_val, Y_val, sw_val = val
            best_params = model.params.copy()
        n_samples = X.shape[0]
        batch_size = self._batch_size(n_samples)
        scale = self._sk_loss_scale
        # scikit-learn divides alpha by each batch's sum of sample weights (its size without weights):
        # uniform weights c give c x batch (and the unweighted loss: the weights are dropped); other
        # weights, with one batch per epoch, the whole sum, else the nominal batch size.
        denom = batch_size
        if sample_weight is not None and np.all(sample_weight == sample_weight[0]) and sample_weight[0] > 0:
            denom, sample_weight = batch_size * float(sample_weight[0]), None
        elif sample_weight is not None and batch_size >= n_samples:
            denom = float(np.sum(sample_weight))
        model.l2 = float(self.alpha) / denom * scale
        X = as_c_array(X, model.dtype, "X")
        if Y.dtype.kind == "f":
            Y = as_c_array(Y, model.dtype, "y")  # once, not in every epoch
        self.n_iter_ = 0  # as scikit-learn: every fit (and partial_fit) counts from 0, up to max_iter
        sample_idx, X_epoch = np.arange(n_samples), None
        try:
            for _ in range(1 if incremental else int(self.max_iter)):
                # SGD steps on scikit-learn's loss: fastmlp's loss is `scale` times it, so is its gradient
                model.optimizer.learning_rate = self._lr / scale if self.solver == "sgd" else self._lr
                Xe, Ye, swe = X, Y, sample_weight
                if self.shuffle:
                    # scikit-learn's order: its index array permuted again each epoch by random_state's generator
                    sample_idx = _sk_shuffle(sample_idx, random_state=rng)
                    if batch_size < n_samples:  # one batch: the order does not change the step
                        if X_epoch is None:
                            X_epoch = np.empty_like(X)
                        Xe = np.take(X, sample_idx, axis=0, out=X_epoch)
                        Ye = Y[sample_idx]
                        swe = None if sample_weight is None else sample_weight[sample_idx]
                try:
                    history = model.fit(Xe, Ye, epochs=1, batch_size=batch_size, shuffle=False, sample_weight=swe)
                except fm.DivergenceError:
                    if self.early_stopping:  # scikit-learn records a NaN score and keeps the best weights
                        self.n_iter_ += 1
                        self.loss_ = np.nan
                        self.loss_curve_.append(np.nan)
                        self.validation_scores_.append(float("nan"))
                        break
                    raise ValueError(
                        "Solver produced non-finite parameter weights. The input data may contain "
                        "large values and need to be preprocessed."
                    ) from None
                self.n_iter_ += 1
                self.t_ += n_samples
                self.loss_ = float(history.loss[-1]) / scale
                self.loss_curve_.append(self.loss_)
                if self.verbose:
                    print("Iteration %d, loss = %.8f" % (self.n_iter_, self.loss_))
                if self.early_stopping:
                    score = self._val_score(X_val, Y_val, sw_val)
                    self.validation_scores_.append(score)
                    if self.verbose:
                        print("Validation score: %f" % score)
                    if score < self.best_validation_score_ + self.tol:
                        self._no_improvement_count += 1
                    else:
                        self._no_improvement_count = 0
                    if score > self.best_validation_score_:
                        self.best_validation_score_ = score
                        best_params = model.params.copy()
                else:
                    if self.loss_curve_[-1] > self.best_loss_ - self.tol:
                        self._no_improvement_count += 1
                    else:
                        self._no_improvement_count = 0
                    if self.loss_curve_[-1] < self.best_loss_:
                        self.best_loss_ = self.loss_curve_[-1]
                if self.solver == "sgd" and self.learning_rate == "invscaling":
                    self._lr = float(self.learning_rate_init) / (self.t_ + 1) ** self.power_t
                    model.optimizer.learning_rate = self._lr / scale  # as scikit-learn's optimizer after an epoch
                if self._no_improvement_count > self.n_iter_no_change:
                    what = "Validation score" if self.early_stopping else "Training loss"
                    msg = (
                        f"{what} did not improve more than tol={self.tol:f} for {self.n_iter_no_change} "
                        "consecutive epochs."
                    )
                    if self.solver == "sgd" and self.learning_rate == "adaptive" and self._lr > 1e-6:
                        self._lr /= 5.0
                        self._no_improvement_count = 0
                        if self.verbose:
                            print(msg + " Setting learning rate to %f" % self._lr)
                    else:
                        if self.verbose:
                            print(
                                msg
                                + (
                                    " Learning rate too small. Stopping."
                                    if self.learning_rate == "adaptive" and self.solver == "sgd"
                                    else " Stopping."
                                )
                            )
                        break
                if not incremental and self.n_iter_ == self.max_iter:
                    warnings.warn(
                        "Stochastic Optimizer: Maximum iterations (%d) reached and the optimization "
                        "hasn't converged yet." % self.max_iter,
                        ConvergenceWarning,
                        stacklevel=2,
                    )
        except KeyboardInterrupt:
            warnings.warn("Training interrupted by user.", stacklevel=2)
        if self.early_stopping:
            model.params[...] = best_params

    def _fit(self, X, y, sample_weight, incremental: bool):
        # A refused call changes nothing: the checks, the new model_ and the early-stopping split come
        # first (_plan_fit), and the estimator's attributes are put back as they were if any of them
        # raises (scikit-learn's own checks set n_features_in_ and the classes on the way); then training.
        before = dict(self.__dict__)
        # a RandomState passed as random_state is the user's own object, drawn from while planning
        rs = self.random_state if isinstance(self.random_state, np.random.RandomState) else None
        rs_state = None if rs is None else rs.get_state()
        try:
            X, Y, sample_weight, rng, val = self._plan_fit(X, y, sample_weight, incremental)
        except BaseException:
            self.__dict__.clear()
            self.__dict__.update(before)
            if rs is not None:
                rs.set_state(rs_state)
            raise
        if self.solver == "lbfgs":
            self._fit_lbfgs(X, Y, sample_weight)
        else:
            self._fit_loop(X, Y, sample_weight, incremental, rng, val)
        return self

    def _plan_fit(self, X, y, sample_weight, incremental: bool):
        self._check_params()
        if incremental and self.solver == "lbfgs":
            raise AttributeError("partial_fit is only available for stochastic optimizers. lbfgs is not stochastic.")
        first = not hasattr(self, "model_") or (not self.warm_start and not incremental)
        if not first:  # continuing on a model_ quantized since (model_.quantize("int8")): refuse before any change
            _quantize.require_trainable(self.model_, "partial_fit" if incremental else "fit")
        X, Y, stratify, output_activation, n_outputs = self._prepare(X, y, incremental, first)
        X = _densify(X)
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X, dtype=np.float64)
        sample_weight = self._with_class_weight(Y, sample_weight)
        rng = check_random_state(self.random_state)
        if first:
            self._initialize(X.shape[1], n_outputs, output_activation, rng, X.dtype)
            if incremental or self.warm_start:  # scikit-learn keeps coefs_ set before partial_fit
                self._apply_pending_weights()
        elif self.model_.n_outputs != n_outputs:
            raise ValueError(f"y has {n_outputs} outputs but the fitted model has {self.model_.n_outputs}")
        if sample_weight is not None and not sample_weight.sum() > 0:
            raise ValueError("sample_weight sums to 0: no sample would count")
        val = None
        if self.early_stopping and self.solver != "lbfgs":
            if incremental:
                raise ValueError("partial_fit does not support early_stopping=True")
            X, Y, sample_weight, val = self._early_stopping_split(X, Y, sample_weight, rng, stratify)
        return X, Y, sample_weight, rng, val

    # ------------------------------------------------------------------ L-BFGS (SciPy on the C++ loss + gradient)

    def _sk_order(self) -> np.ndarray:
        """Indices into model_.params in scikit-learn's packing [W_1, ..., W_L, b_1, ..., b_L]."""
        w_idx, b_idx, off = [], [], 0
        for layer in self.model_.dense_layers:
            nw = layer.n_in * layer.n_out
            w_idx.append(np.arange(off, off + nw))
            b_idx.append(np.arange(off + nw, off + nw + layer.n_out))
            off += nw + layer.n_out
        return np.concatenate(w_idx + b_idx)

    def _loss_grad_lbfgs(self, packed, X, Y, sample_weight=None, *unused):
        """scikit-learn's objective (loss + alpha / (2 sum w) ||W||^2) and its gradient at the
        parameters ``packed`` (scikit-learn's packing), from the C++ core. Sets the weights."""
        model = self.model_
        scale = self._sk_loss_scale
        n = X.shape[0] if sample_weight is None else float(np.sum(sample_weight))
        model.l2 = float(self.alpha) / n * scale
        order = self._sk_order()
        model.params[order] = packed
        X = as_c_array(X, model.dtype, "X")
        if Y.dtype.kind == "f":
            Y = as_c_array(Y, model.dtype, "y")
        W = None if sample_weight is None else as_c_array(sample_weight, model.dtype, "sample_weight")
        Y = model._Y(Y, X.shape[0])
        J = model._engine.gradients(X, Y, W)
        grad = np.asarray(model._net.grads, dtype=np.float64)[order] / scale
        return float(J) / scale, grad

    def _fit_lbfgs(self, X, Y, sample_weight) -> None:
        from scipy.optimize import minimize

        model = self.model_
        X = as_c_array(X, model.dtype, "X")
        if Y.dtype.kind == "f":
            Y = as_c_array(Y, model.dtype, "y")
        if sample_weight is not None and np.all(sample_weight == 1):
            sample_weight = None  # all ones: exactly the unweighted objective (other uniform weights scale alpha)
        iprint = (
            1 if self.verbose is True else (self.verbose if isinstance(self.verbose, int) and self.verbose > 1 else -1)
        )
        packed = np.asarray(model.params, dtype=np.float64)[self._sk_order()]

        def fun(theta):
            J, g = self._loss_grad_lbfgs(theta, X, Y, sample_weight)
            if not np.isfinite(J):
                raise ValueError(
                    "Solver produced non-finite parameter weights. The input data may contain "
                    "large values and need to be preprocessed."
                )
            return J, g

        options = {"maxfun": int(self.max_fun), "maxiter": int(self.max_iter), "gtol": float(self.tol)}
        if iprint > 0:
            options["iprint"] = iprint
        res = minimize(fun, packed, method="L-BFGS-B", jac=True, options=options)
        self.n_iter_ = _check_optimize_result("lbfgs", res, self.max_iter)
        self.loss_ = float(res.fun)
        model.params[self._sk_order()] = res.x
        self.t_ = 0
        self.loss_curve_ = None
        self.best_loss_ = None

    def _with_class_weight(self, Y, sample_weight):
        return sample_weight

    def _forward(self, X) -> np.ndarray:
        check_is_fitted(self)
        X = _densify(_validate_data(self, X, reset=False, dtype=(np.float64, np.float32), accept_sparse=True))
        return self.model_.forward(as_c_array(X, self.model_.dtype, "X"))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        return tags
