"""Categorical columns by dtype (scikit-learn's HistGradientBoosting ``categorical_features=
"from_dtype"``, fastai's tabular model): a DataFrame's pandas ``category``, string / object and
bool columns are categorical, the others numeric.

    model = fm.Sequential([fm.Dense(64, "relu"), fm.Dense(2, "softmax")])
    model.fit(df, y)          # df: numbers, strings, categories, bools, missing values
    model.predict(df_new)     # a category never seen maps to the out-of-vocabulary entry

The first fit on a DataFrame with a categorical column learns each such column's vocabulary and
puts a ``ColumnEmbedding`` in front of the model (or after its first ``Normalization``); give
one yourself, ``Sequential([fm.ColumnEmbedding(embedding_sizes=..., fill_missing=True), ...])``,
to choose its settings. A first ``fm.Normalization()`` without statistics learns the numeric
columns' at that first fit (missing values filled; fastai's Normalize), so

    fm.Sequential([fm.Normalization(), fm.ColumnEmbedding(fill_missing=True), fm.Dense(64, "relu"), ...])

takes a raw DataFrame with missing values and no adapt call. All of it is learned from the rows
the fit trains on (as scikit-learn fits on the training split): ``validation_split``'s held-out
rows are like new data at predict. The layer keeps the vocabularies,
so the model file, ``fm.load``, ``to_bytes``, pickling and ``copy`` carry them, and ``predict``
takes the raw DataFrame.

The row the C++ core sees (``Columns.encode``; ``Columns`` is in fastmlp._columns): the
DataFrame's columns in order, a categorical one as an integer code (0: out of vocabulary, 1:
missing, 2 + i: the i-th category), then a missing-indicator column per numeric column that had
missing values at the first fit (with ``fill_missing``). The C++ layer
(cpp/src/layers/column_embedding.cpp) passes the numbers and replaces each code by its row of
that column's table. A DataFrame of numbers only is not changed in any way (no layer is added).
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _core
from . import data as _data
from ._categories import FIRST, MISSING, OOV
from ._columns import Columns, _size, embedding_size, has_categorical, is_categorical
from ._layer import Layer, _count
from ._validation import as_bool

__all__ = ["ColumnEmbedding", "embedding_size"]


class ColumnEmbedding(Layer):
    """The model's categorical columns as learned embeddings, its numeric columns passed on.

    Takes the rows ``Columns.encode`` makes of a DataFrame (its columns in order, a categorical
    one as an integer code, then the missing indicators) and gives ``[numeric columns | E_1[code_1]
    | ... | E_k[code_k]]``: one table E_j (categories + 2 rows: out of vocabulary, missing, the
    categories; ``embedding_sizes`` columns) per categorical column, initialised uniform in
    [-0.05, 0.05] as Keras's Embedding. Its vocabularies are learned at the first fit on a
    DataFrame (a model adds a default ``ColumnEmbedding()`` by itself when that DataFrame has a
    categorical column) and saved in the model file. They, the medians and a first
    ``Normalization``'s statistics come from the rows that fit trains on: ``validation_split``'s
    held-out rows (and ``validation_data``) are not learned from, so a category seen only there is
    out of vocabulary (code 0), as at predict. A pandas ``category`` column's vocabulary is its
    dtype's categories, all of them.

    It is the model's first layer, or the second after a ``Normalization``, which scales the
    numeric columns and passes the codes and indicators: one without statistics learns the
    numeric columns' at the first fit, one adapted on ``df.select_dtypes("number")`` is widened
    to the row, given statistics must be the row's (mean 0 and variance 0 at the codes).

    Parameters
    ----------
    embedding_sizes : None, int, dict or callable, default None
        The width D of each column's table. None: fastai's rule min(600, round(1.6 V**0.56)) for
        V = categories + 2; an int: that for every column; a dict {column name: int} (columns
        left out: the rule); a callable V -> int. ``embedding_sizes={"col": V}`` gives a table as
        wide as the one-hot encoding; a Dense after it is then one-hot + Dense exactly.
    fill_missing : bool, default False
        NaN / None in a numeric column: False, a ValueError naming the column; True, fastai's
        FillMissing: the median of the first fit's training rows, plus a 0/1 missing-indicator
        column (after the DataFrame's columns) for each column that had missing values in those
        rows. A missing
        category is always its own entry (code 1).
    """

    def __init__(self, embedding_sizes=None, fill_missing: bool = False, *, vocabulary: str | None = None):
        if embedding_sizes is not None and not (
            isinstance(embedding_sizes, (dict, numbers.Integral)) or callable(embedding_sizes)
        ):
            raise TypeError(f"embedding_sizes must be None, an int, a dict or a callable, got {embedding_sizes!r}")
        if isinstance(embedding_sizes, numbers.Integral):
            _size(embedding_sizes, "*", FIRST)  # checked now
        self.embedding_sizes, self.fill_missing = embedding_sizes, as_bool(fill_missing, "fill_missing")
        self.columns = None if vocabulary is None else Columns.from_json(vocabulary)

    # --- sizes ---
    @property
    def n_in(self) -> int | None:
        """The core's columns (None until the first fit learned them)."""
        return None if self.columns is None else self.columns.width

    @property
    def n_out(self) -> int | None:
        if self.columns is None:
            return None
        return self.n_in - len(self.columns.tables()) + sum(d for _, _, d in self.columns.tables())

    @property
    def num_params(self) -> int | None:
        return None if self.columns is None else sum(v * d for _, v, d in self.columns.tables())

    def _set_n_in(self, n_in: int) -> None:
        if self.n_in != n_in:
            raise ValueError(
                "a ColumnEmbedding learns its columns from the DataFrame of the model's first fit"
                + ("" if self.columns is None else f" (it has {self.n_in}, not {n_in})")
            )

    # --- config and the model file ---
    def get_config(self) -> dict:
        """embedding_sizes, fill_missing and the learned vocabulary (JSON text, None before)."""
        vocabulary = None if self.columns is None else self.columns.to_json()
        return {"embedding_sizes": self.embedding_sizes, "fill_missing": self.fill_missing, "vocabulary": vocabulary}

    def file_entry(self) -> dict:
        tables = ",".join(f"{j}:{v}x{d}" for j, v, d in self.columns.tables())
        return {"type": "ColumnEmbedding", "n_in": self.n_in, "tables": tables, "vocabulary": self.columns.to_json()}

    @classmethod
    def _from_file_config(cls, config: dict) -> ColumnEmbedding:
        """From a file entry (n_in, tables, vocabulary: the C++ layer's fields) or get_config's."""
        if "tables" not in config and "n_in" not in config:
            return cls.from_config(config)
        if set(config) != {"n_in", "tables", "vocabulary"}:
            raise ValueError(f"a ColumnEmbedding entry needs n_in, tables and vocabulary, got {sorted(config)}")
        layer = cls(vocabulary=config["vocabulary"])
        layer.fill_missing = layer.columns.fill_missing
        tables = ",".join(f"{j}:{v}x{d}" for j, v, d in layer.columns.tables())
        if config["tables"] != tables or config["n_in"] != layer.n_in:
            raise ValueError("a ColumnEmbedding entry's tables and n_in do not match its vocabulary")
        return layer

    # --- its place in a model ---
    def _check_place(self, where: str, before, last: bool) -> None:
        from .preprocessing import Normalization

        if last:
            raise ValueError(f"{where}: a ColumnEmbedding cannot be the last layer; add e.g. Dense(n_outputs) after it")
        if before is not None and not (isinstance(before, Normalization) and not before.invert):
            raise ValueError(
                f"{where}: a ColumnEmbedding must be the model's first layer, or the second after a Normalization"
            )

    def _chain(self, where: str, n_in: int | None, deferred: list) -> int | None:
        if self.columns is None:
            return None
        if n_in is not None and n_in != self.n_in:
            raise ValueError(f"{where}: this ColumnEmbedding takes {self.n_in} columns but is given {n_in}")
        return self.n_out

    # --- its weights ---
    def weight_views(self) -> list:
        """Each categorical column's table E_j (categories + 2, D_j), named "embeddings_<column>"."""
        if self._net is None:
            return []
        cats = [c["name"] for c in self.columns.columns if c["kind"] == "category"]
        return [
            (self._net.tensor(f"{self._prefix}embeddings_{j}"), f"embeddings_{name}") for j, name in enumerate(cats)
        ]

    @property
    def embeddings(self) -> dict:
        """{column name: its table (writable view)} of a built model."""
        if self._net is None:
            raise RuntimeError("this ColumnEmbedding has no tables until it is part of a built model")
        return {name[len("embeddings_") :]: view for view, name in self.weight_views()}

    # --- summary, notebook ---
    def summary_row(self, index: int, input_shape: str) -> tuple:
        shape = f"(None, {'?' if self.n_out is None else self.n_out})"
        return (f"column_embedding_{index} (ColumnEmbedding)", shape, _count(self.num_params), "")

    def html_row(self) -> list:
        tables = "" if self.columns is None else ", ".join(f"({v}, {d})" for _, v, d in self.columns.tables())
        return [repr(self), tables, "", _count(self.num_params)]

    # --- ONNX ---
    def onnx_nodes(self, ctx, x: str, prefix: str, out: str | None = None) -> tuple:
        """The numbers (Gather of their columns), each code column through Cast to int64 and a
        Gather of its table's rows, all concatenated: the C++ layer's output."""
        from onnx import TensorProto

        y = out or f"{prefix}.y"
        tables = self.columns.tables()
        codes = {j for j, _, _ in tables}
        numeric = [j for j in range(self.n_in) if j not in codes]
        index = ctx.numpy_helper.from_array(np.array(numeric, dtype=np.int64), f"{prefix}.numeric_columns")
        nodes = [ctx.node("Gather", [x, index.name], [f"{prefix}.numbers"], name=f"{prefix}.numbers", axis=1)]
        inits, parts = [index], [f"{prefix}.numbers"]
        for k, ((j, _, _), E) in enumerate(zip(tables, self.embeddings.values())):
            p = f"{prefix}.embeddings_{k}"
            col = ctx.numpy_helper.from_array(np.array(j, dtype=np.int64), f"{p}.column")
            table = ctx.tensor(p, E)
            nodes += [
                ctx.node("Gather", [x, col.name], [f"{p}.value"], name=f"{p}.value", axis=1),  # (batch,)
                ctx.node("Cast", [f"{p}.value"], [f"{p}.code"], name=f"{p}.cast", to=TensorProto.INT64),
                ctx.node("Gather", [table.name, f"{p}.code"], [f"{p}.rows"], name=f"{p}.gather", axis=0),
            ]
            inits += [col, table]
            parts.append(f"{p}.rows")
        nodes.append(ctx.node("Concat", parts, [y], name=f"{prefix}.concat", axis=1))
        return nodes, inits, y

    def onnx_inputs(self, ctx, prefix: str = "columns") -> tuple:
        """(graph inputs, nodes, initializers, the core row's name): one input per DataFrame column,
        named as the column, shape (batch, 1): a string tensor for a categorical column (its
        categories as ``str(category)``; "" and read_csv's other missing markers ("NA", "nan", ...:
        ``_core.MISSING_CELLS``) are the missing entry unless they are categories; others are out of
        vocabulary), the model's float type for a numeric one (NaN filled and flagged as
        ``fill_missing`` says). ai.onnx.ml's LabelEncoder maps strings to codes."""
        from onnx import TensorProto

        inputs, nodes, inits, parts, flags = [], [], [], [], []
        for j, c in enumerate(self.columns.columns):
            name, p = c["name"], f"{prefix}.{j}"
            if c["kind"] == "category":
                keys = [str(v) for v in c["categories"]]
                values = list(range(FIRST, FIRST + len(keys)))
                missing = [cell for cell in _core.MISSING_CELLS if cell not in keys]  # "", "NA", ... as read_csv
                keys, values = keys + missing, values + [MISSING] * len(missing)
                inputs.append(ctx.helper.make_tensor_value_info(name, TensorProto.STRING, ["batch", 1]))
                nodes += [
                    ctx.helper.make_node(
                        "LabelEncoder",
                        [name],
                        [f"{p}.code"],
                        name=f"{p}.lookup",
                        domain="ai.onnx.ml",
                        keys_strings=keys,
                        values_int64s=values,
                        default_int64=OOV,
                    ),
                    ctx.node("Cast", [f"{p}.code"], [f"{p}.x"], name=f"{p}.cast", to=ctx.elem),
                ]
                parts.append(f"{p}.x")
                continue
            inputs.append(ctx.helper.make_tensor_value_info(name, ctx.elem, ["batch", 1]))
            if "median" not in c:
                parts.append(name)
                continue
            median = ctx.tensor(f"{p}.median", c["median"])
            inits.append(median)
            nodes += [
                ctx.node("IsNaN", [name], [f"{p}.nan"], name=f"{p}.isnan"),
                ctx.node("Where", [f"{p}.nan", median.name, name], [f"{p}.x"], name=f"{p}.fill"),
            ]
            parts.append(f"{p}.x")
            if c.get("indicator"):
                nodes.append(ctx.node("Cast", [f"{p}.nan"], [f"{p}.na"], name=f"{p}.indicator", to=ctx.elem))
                flags.append(f"{p}.na")
        nodes.append(ctx.node("Concat", parts + flags, [f"{prefix}.row"], name=f"{prefix}.row", axis=1))
        return inputs, nodes, inits, f"{prefix}.row"

    def __repr__(self) -> str:
        args = [] if self.embedding_sizes is None else [f"embedding_sizes={self.embedding_sizes!r}"]
        args += ["fill_missing=True"] if self.fill_missing else []
        return f"ColumnEmbedding({', '.join(args)})"


# --- the model's side: fit learns the columns, predict encodes them ----------------------------


def find(layers: list):
    """The model's ColumnEmbedding (first, or second after a Normalization), or None."""
    for layer in layers[:2]:
        if isinstance(layer, ColumnEmbedding):
            return layer
    return None


class Plan:
    """What a fit does with the model's ColumnEmbedding: ``layer`` learns ``columns`` at the
    commit (unless it has them) and goes to ``layers[insert]`` (None: it is the model's already)."""

    def __init__(self, layer: ColumnEmbedding, columns: Columns, insert: int | None, stats=None):
        self.layer, self.columns, self.insert = layer, columns, insert
        self.stats = stats  # (mean, variance) of the numeric columns for a first Normalization without any


def plan(model, X, training_rows=None) -> Plan | None:
    """The ColumnEmbedding a fit on X (None: a data source) needs, or None for a model without
    categorical columns: a DataFrame of numbers only changes nothing. ``training_rows()``: the
    rows of X the fit trains on (None: all), asked only when the columns are learned; the
    vocabularies, medians and a first Normalization's statistics come from those rows alone
    (validation_split's held-out rows are then like new data at predict: a category seen only
    there is out of vocabulary)."""
    layer = find(model.layers)
    if layer is not None and layer.columns is not None:
        return Plan(layer, layer.columns, None)
    if layer is None and (X is None or not has_categorical(X)):
        return None
    if layer is None and model.built:
        cats = [str(c) for c, t in zip(X.columns, X.dtypes) if is_categorical(t)]
        raise TypeError(
            f"X has categorical columns {cats} but this model was built for {model.n_features_in} numeric inputs "
            "without a ColumnEmbedding: fit a new model on the DataFrame (after a Normalization, put "
            "fm.ColumnEmbedding() second)"
        )
    if X is None or np.ndim(X) != 2 or not hasattr(X, "iloc"):
        raise TypeError("a ColumnEmbedding learns its columns from a pandas DataFrame X at the model's first fit")
    if layer is None:
        from .preprocessing import Normalization

        layer = ColumnEmbedding()
        insert = 1 if model.layers and isinstance(model.layers[0], Normalization) else 0
    else:
        insert = None
    rows = None if training_rows is None else training_rows()
    seen = X if rows is None else X.iloc[rows]  # a copy of the training rows, dropped after learning
    columns = Columns.learn(seen, layer.embedding_sizes, layer.fill_missing)
    return Plan(layer, columns, insert, _numeric_stats(model.layers, columns, seen, model.dtype))


def _numeric_stats(layers, columns: Columns, X, dtype):
    """A first Normalization without statistics learns the numeric columns' (missing values filled
    with the median under fill_missing) at the first fit on the DataFrame, as fastai's Normalize
    proc does: the model then takes the raw DataFrame, no adapt call of the user's. None when the
    model has no such layer."""
    from .preprocessing import Normalization

    norm = layers[0] if layers else None
    if not isinstance(norm, Normalization) or norm.invert or norm._net is not None or norm._stats is not None:
        return None
    numeric = [j for j, c in enumerate(columns.columns) if c["kind"] == "number"]
    if not numeric:
        return None
    rows = columns.encode(X, np.dtype(dtype), "X")[:, numeric]
    return Normalization(axis=norm.axis).adapt(rows)._stats


def commit(model, p: Plan) -> list | None:
    """The fit's commit: the layer takes its columns; returns the model's new layer list when
    the layer joins it (None when it is the model's already)."""
    p.layer.columns = p.columns
    if p.stats is not None:  # the first Normalization's statistics, learned from this fit's DataFrame
        model.layers[0]._stats, model.layers[0]._n_in = p.stats, len(p.stats[0])
    _widen(model.layers[0], p.columns)
    if p.insert is None:
        return None
    layers = list(model.layers)
    layers.insert(p.insert, p.layer)
    return layers


def _widen(norm, columns: Columns) -> None:
    """A first Normalization adapted on the DataFrame's numeric columns alone (``norm.adapt(
    df.select_dtypes("number"))``) gets statistics for the core's row: its own at the numeric
    columns, mean 0 and variance 0 (passed unchanged) at the codes and missing indicators."""
    from .preprocessing import Normalization

    numeric = [j for j, c in enumerate(columns.columns) if c["kind"] == "number"]
    if not isinstance(norm, Normalization) or norm._net is not None or norm._stats is None:
        return
    mean, variance = norm._stats
    if mean.ndim != 1 or mean.size != len(numeric) or mean.size == columns.width:
        return
    wide_mean, wide_variance = np.zeros(columns.width), np.zeros(columns.width)
    wide_mean[numeric], wide_variance[numeric] = mean, variance
    norm._stats, norm._n_in = (wide_mean, wide_variance), columns.width


def inputs(model, n_features=None, names=None):
    """The model's X converter (fastmlp.data.Inputs): one that encodes DataFrames when the model
    has learned columns."""
    layer = find(model.layers)
    if layer is None or layer.columns is None:
        return _data.Inputs(model.dtype, model.n_features_in if n_features is None else n_features, names)
    return TabularInputs(layer.columns, model.dtype, layer.columns.width, layer.columns.core_names)


class TabularInputs(_data.Inputs):
    """A DataFrame through ``Columns.encode``; an array as the core's rows (already encoded)."""

    __slots__ = ("columns",)

    def __init__(self, columns: Columns, dtype, n_features: int, names):
        super().__init__(dtype, n_features, names)
        self.columns = columns

    def convert(self, X, name: str = "X") -> np.ndarray:
        if _data.column_names(X) is not None:
            return self.columns.encode(X, self.dtype, name)
        return super().convert(X, name)
