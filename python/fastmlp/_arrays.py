"""The arrays a model takes and gives: ``Inputs``, what a model takes as X (dtype, width, a
DataFrame's column names), ``mappable``, the core's rule for an X it maps as it is, and forward's
``out`` (checked by ``_check_out``, filled chunk by chunk by ``forward_chunks``). fastmlp.data
imports them: fit, predict and the layers reach them there, as ``fastmlp.data.Inputs``."""

from __future__ import annotations

import numpy as np

from . import _core
from ._validation import as_2d


def column_names(X):
    """A DataFrame's column names as strings, or None for anything else."""
    columns = getattr(X, "columns", None)
    if columns is None or not hasattr(X, "iloc"):
        return None
    return [str(c) for c in columns]


#: mappable(X, dtype): whether X is an array the core maps as it is: exactly a numpy.ndarray of
#: ``dtype``, C-contiguous and aligned. The core's own rule (cpp/bindings/arrays.hpp, maps_as_is),
#: the one Engine.forward_array applies first (Sequential.forward's one-sample path).
mappable = _core.mappable


def column_mismatch(X, expected: list, name: str) -> str:
    """What fit and predict say when DataFrame ``X``'s columns (as strings) are not ``expected``, in
    that order: the difference, and the selection that fixes it (by X's own labels, e.g. integers)."""
    got = column_names(X)
    missing = [c for c in expected if c not in got]
    extra = [c for c in got if c not in expected]
    detail = f"missing {missing}, unexpected {extra}" if missing or extra else "same names in another order"
    labels = {str(c): c for c in X.columns}
    select = [labels[c] for c in expected] if not missing else expected
    return (
        f"{name} has columns {got} but the model was fitted on {expected} ({detail}); select them as {name}[{select!r}]"
    )


class Inputs:
    """What a model takes as X: ``dtype``, ``n_features`` and ``names``, the column names of the
    DataFrame of its first fit (None: any); a DataFrame's columns must be those, in that order."""

    __slots__ = ("dtype", "n_features", "names")

    def __init__(self, dtype: np.dtype, n_features: int | None, names=None):
        self.dtype, self.n_features, self.names = dtype, n_features, names

    def convert(self, X, name: str = "X") -> np.ndarray:
        """X as the core maps it: a C-contiguous (m, n_features) array of the dtype."""
        if mappable(X, self.dtype) and X.ndim == 2 and X.shape[0] > 0 and X.shape[1] == self.n_features:
            return X  # already that (the core checks its values): no copy, no pass over it
        self.check_columns(X, name)
        try:
            return as_2d(_nullable_numbers(X), name, self.dtype, self.n_features)
        except TypeError:
            _name_columns_of_no_numbers(X, name)  # a DataFrame: which columns, and why
            raise

    def check_columns(self, X, name: str) -> None:
        columns = column_names(X)
        if columns is None or self.names is None:
            return
        if list(columns) != list(self.names):
            raise ValueError(column_mismatch(X, list(self.names), name))


def _nullable_numbers(X):
    """A DataFrame with pandas' nullable number columns (Int64, Float64: NumPy sees objects) as
    float64, pd.NA as NaN (refused as any NaN), as scikit-learn's check_array takes them; X as it
    is otherwise (a column that is no number is named by as_2d)."""
    dtypes = getattr(X, "dtypes", None)
    if column_names(X) is None or all(isinstance(t, np.dtype) for t in dtypes):
        return X
    import pandas as pd

    types = pd.api.types
    if not all(
        (types.is_numeric_dtype(t) or types.is_bool_dtype(t)) and not isinstance(t, pd.CategoricalDtype) for t in dtypes
    ):  # text, dates, categories: not numbers, though pandas parses "1.5" or a date
        return X
    try:
        return X.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        return X


def _name_columns_of_no_numbers(X, name: str) -> None:
    """TypeError naming the columns of DataFrame ``X`` that hold no numbers (strings, categories,
    dates) for a model that takes numbers: one that has no ColumnEmbedding, which learns such
    columns at a first fit on a DataFrame in memory. Returns for anything else."""
    if column_names(X) is None:
        return
    import pandas as pd

    bad = [f"{c!s} ({t})" for c, t in X.dtypes.items() if not pd.api.types.is_numeric_dtype(t)]
    if bad:
        raise TypeError(
            f"{name} has columns that hold no numbers: {', '.join(bad)}; this model takes numbers only "
            "(categorical columns are learned by a model's first fit on a DataFrame in memory, fit(df, y), "
            "not from a data source)"
        )


def _check_out(out, shape: tuple, dtype, rows_at_least: bool = False) -> None:
    """forward's ``out``: a writable C-contiguous ndarray of ``dtype`` and ``shape`` (with
    ``rows_at_least``: at least shape[0] rows, as many as a source has, unknown beforehand)."""
    need = f"a writable C-contiguous {np.dtype(dtype).name} array of shape {shape}"
    if rows_at_least:
        need = f"a writable C-contiguous {np.dtype(dtype).name} array of shape (rows, {shape[1]})"
    if not isinstance(out, np.ndarray):
        raise TypeError(f"out must be {need} (e.g. np.empty or np.memmap), got {type(out).__name__}")
    ok_rows = out.ndim == 2 and (out.shape[0] >= shape[0] if rows_at_least else out.shape[0] == shape[0])
    if not ok_rows or out.shape[1:] != shape[1:]:
        raise ValueError(f"out must be {need}, got shape {out.shape}")
    if out.dtype != dtype:
        raise ValueError(f"out must be {need}, got dtype {out.dtype}")
    if not out.flags.writeable or not out.flags.c_contiguous:
        raise ValueError(f"out must be {need}, got a read-only or non-contiguous array")


def forward_chunks(forward, chunks, out, n_outputs: int, dtype, source) -> np.ndarray:
    """``forward(X)`` of every chunk of ``source``, in order: into ``out`` (e.g. a memmap; its
    first rows) or a new array. ValueError naming the source when it holds no rows."""
    if out is not None:
        _check_out(out, (0, n_outputs), dtype, rows_at_least=True)
    parts, row = [], 0
    for X, *_ in chunks:
        a = forward(X)
        if out is not None:
            if row + len(a) > len(out):
                raise ValueError(f"out has {len(out)} rows; the source has more")
            out[row : row + len(a)] = a
        else:
            parts.append(a)
        row += len(a)
    if row == 0:
        raise ValueError(f"the data source ({type(source).__name__}) holds no rows: nothing to predict")
    return out[:row] if out is not None else np.concatenate(parts)


#: How InBatches cuts rows so that ``forward`` gives the numbers of one call. The core's GEMM picks
#: its kernel from the rows of a call (cpp/src/gemm.cpp: up to 4 rows, and up to 32 in some shapes,
#: take paths that round differently; from 33 rows on each row's arithmetic is the same whatever the
#: count), and the elementwise functions (exp of softmax, ...) run over the outputs in SIMD vectors,
#: with the few entries past the last whole vector done one at a time, which rounds differently.
#: So a batch holds MIN_BATCH_ROWS rows or more (the last one at least MIN_BATCH_ROWS - ALIGN_ROWS + 1,
#: 49: past the 32-row switch), and starts at a multiple of ALIGN_ROWS rows (every
#: vector width's multiple: 16 floats for AVX-512): its entries then sit in the same lanes as in one
#: call, and the last batch ends where the call ends. 64 rows of activations are a few kilobytes
#: per layer, nothing a smaller batch_size would save.
MIN_BATCH_ROWS = 64
ALIGN_ROWS = 16


class InBatches:
    """An engine's ``forward`` and ``objective`` over a bounded number of rows at a time: predict's and
    evaluate's ``batch_size`` (Keras's), which bounds the activations held at once (each layer's rows
    x units) and so the peak memory. The core's forward has no row limit of its own, so the rows go
    to it in slices (views of X, no copy): a loop over batches, never over samples.

    The rule: batches of b = ``max(batch_size, MIN_BATCH_ROWS)`` rows rounded down to a multiple of
    ALIGN_ROWS, at multiples of b; ``forward``'s last one is the rows from the last multiple of
    ALIGN_ROWS that leaves at most b of them (it may overlap the batch before: the same values), never
    a remainder of a few rows. Each row's outputs depend on that row alone (inference: dropout off,
    normalization by running statistics) and, so cut, go through the same kernels in the same SIMD
    lanes as in one call: ``forward`` gives the very numbers of one call (on the CPU; a GPU library
    may pick its kernels by shape). The loss is the mean of the batches' losses weighted by their
    rows (or sample weights): the one-call loss up to rounding. A data source's chunks
    (fastmlp.data) are cut the same way, each on its own."""

    def __init__(self, engine, batch_size: int, n_outputs: int):
        self.engine, self.n_outputs = engine, n_outputs
        self.rows = max(int(batch_size), MIN_BATCH_ROWS) // ALIGN_ROWS * ALIGN_ROWS

    def forward(self, X: np.ndarray) -> np.ndarray:
        m, b = X.shape[0], self.rows
        if m <= b:
            return self.engine.forward(X)
        out = np.empty((m, self.n_outputs), X.dtype)
        last = -(-(m - b) // ALIGN_ROWS) * ALIGN_ROWS  # the last batch: rows last..m, at most b of them
        for start in [*range(0, last, b), last]:
            out[start : start + b] = self.engine.forward(X[start : start + b])
        return out

    def objective(self, X: np.ndarray, Y: np.ndarray, W=None) -> float:
        m, b = X.shape[0], self.rows
        if m <= b:
            return self.engine.objective(X, Y, W)
        total = weighted = 0.0
        for start in range(0, m, b):
            rows = slice(start, start + b)
            w = float(min(b, m - start) if W is None else W[rows].sum())
            if w > 0:  # (a batch whose weights are all 0 adds nothing; alone the core would refuse it)
                weighted += w * self.engine.objective(X[rows], Y[rows], None if W is None else W[rows])
                total += w
        return weighted / total
