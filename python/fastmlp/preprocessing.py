"""Preprocessing inside the model: ``Normalization`` (Keras's layer), whose statistics travel
with the model through the file, ``fm.load``, ONNX and the C++ loader.

    norm = fm.Normalization()
    norm.adapt(X_train)                       # per-column mean and variance, one pass
    model = fm.Sequential([norm, fm.Dense(32, "relu"), fm.Dense(3, "softmax")])
    model.fit(X_train, y_train)               # raw features in, as predict takes them

    out = fm.Normalization(invert=True)
    out.adapt(y_train)                        # the targets' mean and variance
    reg = fm.Sequential([fm.Normalization(mean=m, variance=v), fm.Dense(16, "relu"), fm.Dense(1), out])
    reg.predict(X)                            # in the targets' units

The C++ layer (cpp/src/layers/standardization.cpp) computes y = (x - mean) / s per column with
s = sqrt(variance), or s = 1 where the variance is exactly 0 (a constant column: scikit-learn's
StandardScaler leaves it unscaled); with ``invert=True`` y = x s + mean. Here: the statistics
(adapt, or given), where the layer may stand, its tensors, rows and ONNX nodes.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import data as _data
from ._layer import Layer, _count, input_size
from ._validation import _as_numeric_array, as_bool

__all__ = ["Normalization"]

#: The axes a Normalization of 2-D data (samples, columns) takes: per column, or one statistic
#: over every value (None). The samples' axis (0) is never one: statistics are over the samples.
_COLUMN_AXES = (-1, 1)


class Normalization(Layer):
    """Standardizes each column: y = (x - mean) / sqrt(variance) (Keras's ``Normalization``).

    As the **first** layer it standardizes the model's inputs, so that ``fit``, ``predict``,
    the model file, ONNX and the C++ loader all take raw features; its number of columns is the
    model's input size. With ``invert=True`` as the **last** layer (after a linear Dense) it maps
    a regression output back to the targets' units, y = x sqrt(variance) + mean: adapt it on the
    targets; the loss then compares outputs and targets in those units (mse: J is the variance
    times J on standardized targets). Adam's steps do not depend on that factor; with SGD the
    learning rate acts as if multiplied by it and ``l2`` as if divided. It may stand nowhere else.

    The statistics come from ``adapt(data)`` or are given: ``mean`` and ``variance`` both, each a
    number (the same for every column; the count of columns then comes from the model) or one
    value per column. ``variance`` is the population variance (ddof=0, as StandardScaler's
    ``var_``); a column whose variance is 0 is passed through unscaled (x - mean). They are state,
    not trained (``fit`` leaves them), and saved in the model file.

    Before any statistics the layer is the identity (mean 0, variance 1), as Keras's is before
    ``adapt``: a model fits and predicts, but on unscaled data. ``adapt`` may be called again
    (also on a layer given statistics, or one in a built model: it overwrites them in place).

    Parameters
    ----------
    axis : -1 (or 1) or None, default -1
        How ``adapt`` computes the statistics: -1, one mean and variance per column; None, one
        over every value of the data (stored once per column: a model file keeps the columns'
        values, so a loaded layer has axis -1).
    mean, variance : float or array-like of shape (n_columns,), or None
        Given statistics (both or neither), finite, the variance >= 0.
    invert : bool, default False
        y = x sqrt(variance) + mean: the last layer of a regression model.
    input_shape : tuple (n_columns,) or None, keyword-only
        Keras's ``input_shape`` of a first layer: the model's input size, built at once (given
        statistics must hold n_columns values, ``adapt`` data n_columns columns).
    """

    num_params = 0  # trainable: none
    activation = "linear"  # as the output layer: its output is final (the loss applies no activation)
    _output = True

    def __init__(self, axis=-1, mean=None, variance=None, invert: bool = False, *, input_shape=None):
        if axis is not None:
            if isinstance(axis, (tuple, list)) and len(axis) == 1:
                axis = axis[0]
            if isinstance(axis, bool) or not isinstance(axis, numbers.Integral):
                raise TypeError(f"axis must be -1 (one statistic per column) or None (one for all), got {axis!r}")
            if int(axis) not in _COLUMN_AXES:
                raise ValueError(
                    f"axis must be -1 (one statistic per column) or None (one for all values) for data of shape "
                    f"(samples, columns), got {axis!r}" + (" (axis 0 is the samples')" if axis in (0, -2) else "")
                )
            axis = -1
        self.axis, self.invert = axis, as_bool(invert, "invert")
        self._n_in = None  # columns: from the statistics, or the model
        self._stats = None  # (mean, variance) float64 before the layer is bound (then its tensors are)
        if (mean is None) != (variance is None):
            raise ValueError("give both mean and variance, or neither (then call adapt(data))")
        if mean is not None:
            self._stats = _given(mean, variance)
            if self._stats[0].ndim == 1:
                self._n_in = self._stats[0].size
        self._given_n_in = None if input_shape is None else input_size(input_shape)  # Keras's input_shape=(n,)
        if self._given_n_in is not None:
            if self._n_in is not None and self._n_in != self._given_n_in:
                raise ValueError(f"input_shape=({self._given_n_in},) but mean and variance hold {self._n_in} values")
            self._n_in = self._given_n_in

    # --- the statistics ---
    def adapt(self, data) -> Normalization:
        """Learn the mean and variance of each column of ``data`` in one pass (float64, chunks
        combined with Chan et al.'s parallel formula); returns the layer.

        ``data``: an array of shape (samples, columns) (1-D: one column, e.g. the targets), a
        pandas DataFrame of numbers, or an ``fm.data`` source, read once chunk by chunk (its X;
        for ``invert=True`` its y, the targets the layer maps back to). A column whose variance
        is within rounding of 0 (scikit-learn's StandardScaler test: var <= n eps var +
        (n mean eps)^2) gets variance exactly 0. NaN or infinity: ValueError naming the column.
        In a built model the column count must be the model's; nothing changes on an error."""
        moments = _Moments()
        if (source := _data.chunked(data)) is not None:  # a source, or a reader of your own
            for X, y, _, where in source.chunks(0, 0, False):
                moments.add(*_columns(y if self.invert else X, where))
            what = "the data source"
        else:
            moments.add(*_columns(data, "data"))
            what = "data"
        mean, variance = moments.result(self.axis, what)
        n = moments.n_columns
        if self._net is not None and n != self._n_in:  # in a built model: its width
            raise ValueError(
                f"{what} has {n} columns but this Normalization takes {self._n_in} "
                f"({'the model outputs' if self.invert else 'the model inputs'}): adapt on data of that width"
            )
        if self._net is None and self._given_n_in is not None and n != self._given_n_in:
            raise ValueError(f"{what} has {n} columns but this Normalization has input_shape=({self._given_n_in},)")
        mean, variance = np.broadcast_to(mean, (n,)).copy(), np.broadcast_to(variance, (n,)).copy()
        if self._net is not None:
            self._write(mean, variance)
        else:
            self._stats, self._n_in = (mean, variance), n
        return self

    def _write(self, mean: np.ndarray, variance: np.ndarray) -> None:
        m, v = self._views()
        with np.errstate(over="ignore"):
            cast = mean.astype(m.dtype), variance.astype(v.dtype)  # in the model's dtype
        for name, values in zip(("mean", "variance"), cast):
            if not np.isfinite(values).all():  # float64 statistics past float32's range became inf
                j = int(np.argmin(np.isfinite(values)))
                raise ValueError(
                    f"Normalization: the {name} of column {j} overflows the model's {m.dtype} "
                    f"(max {np.finfo(m.dtype).max:.3g}); scale the data or use dtype='float64'"
                )
        m[...], v[...] = cast

    def _views(self) -> tuple:
        return self._net.tensor(self._prefix + "mean"), self._net.tensor(self._prefix + "variance")

    @property
    def mean(self) -> np.ndarray | float | None:
        """The mean per column (n_in,): in a built model a writable view into its state; before,
        the adapted or given values (a given number as it is), None when there are none."""
        if self._net is not None:
            return self._views()[0]
        return None if self._stats is None else _plain(self._stats[0])

    @property
    def variance(self) -> np.ndarray | float | None:
        """The variance per column (n_in,), as ``mean``; 0 for a column left unscaled."""
        if self._net is not None:
            return self._views()[1]
        return None if self._stats is None else _plain(self._stats[1])

    @property
    def n_in(self) -> int | None:
        """Its number of columns (inputs = outputs); None until known."""
        return self._n_in

    @property
    def num_state(self) -> int | None:
        """Its non-trainable values: a mean and a variance per column."""
        return None if self._n_in is None else 2 * self._n_in

    # --- its place in a model ---
    def _check_place(self, where: str, before, last: bool) -> None:
        if before is None and not self.invert and not last:
            return  # first: standardizes the inputs
        if before is not None and self.invert and last:
            return  # last: maps the output back to the targets' units
        if before is None and self.invert:
            raise ValueError(
                f"{where}: a Normalization(invert=True) maps a regression output back to the targets' units: it "
                "must be the last layer (after a Dense); to standardize the inputs use Normalization()"
            )
        if before is None:
            raise ValueError(f"{where}: a model needs a Dense layer after its Normalization")
        raise ValueError(
            f"{where}: a Normalization must be the first layer (standardizing the inputs) or the last with "
            "invert=True (mapping a regression output back to the targets' units), not "
            + ("the last without invert=True" if last else "in the middle")
            + "; between layers use BatchNormalization or LayerNormalization"
        )

    def _chain(self, where: str, n_in: int | None, deferred: list) -> int | None:
        if self._n_in is None:
            if n_in is not None:
                deferred.append((self, n_in))
            return n_in
        if n_in is not None and n_in != self._n_in:
            raise ValueError(
                f"{where}: this Normalization has statistics for {self._n_in} columns but the layer before gives "
                f"{n_in} outputs (adapt it on the targets, one column per output)"
            )
        return self._n_in

    def _set_n_in(self, n_in: int) -> None:
        if self._n_in is not None and n_in != self._n_in:
            raise ValueError(
                f"the data has {n_in} columns but the Normalization was adapted on (or given) {self._n_in}: "
                "adapt it on data with the model's columns"
            )
        self._n_in = int(n_in)

    def _bind(self, net, prefix: str, before) -> None:
        super()._bind(net, prefix, before)
        if self._stats is not None:  # the network starts as the identity (mean 0, variance 1)
            n = self._n_in
            self._write(np.broadcast_to(self._stats[0], (n,)), np.broadcast_to(self._stats[1], (n,)))
            self._stats = None  # the tensors are the truth from now on

    def weight_views(self) -> list:
        """mean and variance (non-trainable, as BatchNormalization's moving statistics)."""
        return list(zip(self._views(), ("mean", "variance")))

    # --- config and file ---
    def get_config(self) -> dict:
        """axis, mean and variance (the current statistics: lists, a given number, or None), invert."""
        mean, variance = self.mean, self.variance
        if isinstance(mean, np.ndarray):
            mean, variance = [float(v) for v in mean], [float(v) for v in variance]
        return {"axis": self.axis, "mean": mean, "variance": variance, "invert": self.invert}

    def file_entry(self) -> dict:
        # the C++ layer's config; the statistics are its tensors "mean" and "variance"
        return {"type": "Normalization", "n_in": self._n_in, "invert": self.invert}

    @classmethod
    def _from_file_config(cls, config: dict) -> Normalization:
        config = dict(config)
        n_in = config.pop("n_in", None)
        layer = cls(**config)
        if n_in is not None:
            layer._set_n_in(n_in)
        return layer

    # --- what summary(), the notebook table and ONNX show of it ---
    def _params_text(self) -> str:
        return f"0 (+{_count(self.num_state)} non-trainable)"

    def summary_row(self, index: int, input_shape: str) -> tuple:
        shape = f"(None, {'?' if self._n_in is None else self._n_in})"
        name = "Normalization, inverted" if self.invert else "Normalization"
        return (f"normalization_{index} ({name})", shape, self._params_text(), "")

    def html_row(self) -> list:
        n = "?" if self._n_in is None else self._n_in
        return [repr(self), f"mean, variance ({n},)", "", self._params_text()]

    def onnx_nodes(self, ctx, x: str, prefix: str, out: str | None = None) -> tuple:
        """Sub(x, mean) then Div by s (invert: Mul by s then Add mean), s = sqrt(variance) (1 where
        it is 0) computed in the model's dtype, as the C++ layer does: the same values."""
        mean, variance = self._views()
        s = np.sqrt(variance)  # the model's dtype, correctly rounded
        s[variance == 0] = 1
        m_t, s_t = ctx.tensor(f"{prefix}.mean", mean), ctx.tensor(f"{prefix}.scale", s)
        y, mid = out or f"{prefix}.y", f"{prefix}.mid"
        if self.invert:
            nodes = [
                ctx.node("Mul", [x, s_t.name], [mid], name=f"{prefix}.mul"),
                ctx.node("Add", [mid, m_t.name], [y], name=f"{prefix}.add"),
            ]
        else:
            nodes = [
                ctx.node("Sub", [x, m_t.name], [mid], name=f"{prefix}.sub"),
                ctx.node("Div", [mid, s_t.name], [y], name=f"{prefix}.div"),
            ]
        return nodes, [m_t, s_t], y

    def __repr__(self) -> str:
        args = ["axis=None"] if self.axis is None else []
        args += ["invert=True"] if self.invert else []
        return f"Normalization({', '.join(args)})"


# --- the statistics ---------------------------------------------------------------------------


def _plain(a: np.ndarray):
    return float(a) if a.ndim == 0 else a.copy()


def _given(mean, variance) -> tuple:
    """(mean, variance) as float64 arrays: 0-d (one for every column) or 1-D of equal length."""
    arrays = []
    for value, name in ((mean, "mean"), (variance, "variance")):
        try:
            a = np.array(value, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(f"{name} must be a number or a list of numbers, got {type(value).__name__}") from None
        if a.ndim > 1 or a.size == 0:
            raise ValueError(f"{name} must be a number or one value per column (1-D), got shape {a.shape}")
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contains NaN or infinity")
        arrays.append(a)
    mean, variance = arrays
    if (variance < 0).any():
        raise ValueError("variance must be >= 0 (a variance of 0 leaves the column unscaled)")
    if mean.ndim == variance.ndim == 1 and mean.size != variance.size:
        raise ValueError(f"mean has {mean.size} values but variance {variance.size}: one each per column")
    if mean.ndim != variance.ndim:  # a number with a list: the number for every column
        n = max(mean.size if mean.ndim else 0, variance.size if variance.ndim else 0)
        mean, variance = np.broadcast_to(mean, (n,)).copy(), np.broadcast_to(variance, (n,)).copy()
    return mean, variance


def _columns(data, where: str) -> tuple:
    """(X as a float64 2-D array, its column names or None): a DataFrame's columns must be numbers,
    a 1-D array is one column; NaN / infinity raises ValueError naming ``where`` and the column."""
    names = _data.column_names(data)
    if names is not None:  # a DataFrame
        for name, dtype in zip(names, data.dtypes):
            if not _numeric_dtype(dtype):
                raise TypeError(
                    f"{where}: column {name!r} has dtype {dtype}; Normalization takes columns of numbers "
                    "(encode categorical or string columns first)"
                )
        try:
            X = data.to_numpy(dtype=np.float64, na_value=np.nan)
        except (TypeError, ValueError):  # older pandas without na_value for some dtypes
            X = data.to_numpy(dtype=np.float64)
    else:
        if data is None:
            raise TypeError(f"{where} must be an array, a DataFrame or an fm.data source, got None")
        X = _as_numeric_array(data, where).astype(np.float64, copy=False)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise ValueError(f"{where} must be 2-D (samples, columns) or 1-D (one column), got shape {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(f"{where} is empty: shape {X.shape}")
    finite = np.isfinite(X).all(axis=0)
    if not finite.all():
        j = int(np.argmin(finite))
        column = repr(names[j]) if names is not None else str(j)
        raise ValueError(
            f"{where}: column {column} contains NaN or infinity; Normalization.adapt needs finite values "
            "(fill or drop the missing values first)"
        )
    return X, names


def _numeric_dtype(dtype) -> bool:
    try:
        import pandas as pd

        return bool(pd.api.types.is_numeric_dtype(dtype)) and not isinstance(dtype, pd.CategoricalDtype)
    except ImportError:  # pragma: no cover - a DataFrame without pandas
        return np.issubdtype(np.dtype(dtype), np.number) or np.dtype(dtype) == np.bool_


class _Moments:
    """Count, mean and M2 = sum (x - mean)^2 per column, in float64, merged chunk by chunk (Chan,
    Golub & LeVeque's parallel formula); every chunk also into the totals over all values
    (axis=None)."""

    def __init__(self):
        self.n = 0
        self.mean = self.m2 = None
        self.n_columns = None

    def add(self, X: np.ndarray, names) -> None:
        if self.n_columns is not None and X.shape[1] != self.n_columns:
            raise ValueError(f"a chunk has {X.shape[1]} columns but the first had {self.n_columns}")
        n_b = X.shape[0]
        mean_b = X.mean(axis=0)
        m2_b = np.square(X - mean_b).sum(axis=0)
        if self.mean is None:
            self.n, self.mean, self.m2, self.n_columns = n_b, mean_b, m2_b, X.shape[1]
            return
        n = self.n + n_b
        delta = mean_b - self.mean
        self.mean = self.mean + delta * (n_b / n)
        self.m2 = self.m2 + m2_b + np.square(delta) * (self.n * n_b / n)
        self.n = n

    def result(self, axis, what: str) -> tuple:
        """(mean, variance): per column (axis -1) or 0-d over every value (None); a variance within
        rounding of 0 is exactly 0."""
        if self.mean is None:
            raise ValueError(f"{what} has no rows")
        n, mean, m2 = self.n, self.mean, self.m2
        if axis is None:  # the columns' moments merged: the same formula, all columns at once
            grand = mean.mean()
            m2 = (m2 + n * np.square(mean - grand)).sum()
            n, mean = n * mean.size, grand
        variance = m2 / n
        if not (np.isfinite(mean).all() and np.isfinite(variance).all()):  # else inf <= inf below: "constant"
            j = int(np.argmin(np.isfinite(mean) & np.isfinite(variance))) if np.ndim(mean) else 0
            raise ValueError(
                f"{what}: the variance of column {j} overflows float64 (values too large to square); "
                "scale the data before adapt"
            )
        # scikit-learn's _is_constant_feature: var <= n eps var + (n mean eps)^2
        eps = np.finfo(np.float64).eps
        constant = variance <= n * eps * variance + np.square(n * mean * eps)
        variance = np.where(constant, 0.0, variance)
        return np.asarray(mean, np.float64), np.asarray(variance, np.float64)
