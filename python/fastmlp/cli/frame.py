"""CSV files with text columns and empty cells: read with pandas into a DataFrame, which the model's
tabular layers take as it is (fastmlp.tabular: ``fm.ColumnEmbedding`` learns each text column's
vocabulary, ``fill_missing=True`` fills an empty numeric cell with the column's median and adds a
missing-indicator column).

``train`` reads a CSV this way only when a feature cell is text or empty (and the file has a
header row: the model keeps the column names); a CSV of numbers only takes data.py's path,
unchanged. ``evaluate`` and ``predict`` read it this way whenever the model has learned columns
(a ColumnEmbedding), selecting the model's columns by name. The file is read as
``pd.read_csv(path, sep=...)`` reads it (empty cells and pandas' missing markers such as ``NA``
are missing values; ``True``/``False`` columns are bools), except that a column the model keeps
as text categories is read as text, so a cell like ``01`` stays the category ``"01"``. Thus
``predict`` gives ``fm.load(model).predict(pd.read_csv(path)[columns])``'s predictions.
"""

from __future__ import annotations

from .common import CLIError

PANDAS_HINT = "pip install pandas to train on CSV files with text columns or empty cells"


def model_columns(model):
    """The columns a model's ColumnEmbedding learned (fastmlp.tabular.Columns), or None."""
    from fastmlp import tabular

    layer = tabular.find(model.layers)
    return None if layer is None else layer.columns


def have_pandas() -> bool:
    try:
        import pandas  # noqa: F401
    except ImportError:
        return False
    return True


def read_frame(path: str, delimiter: str, header: list, cols: list, n_rows: int, columns=None):
    """The feature columns ``cols`` (indices into ``header``) of the CSV at ``path`` as a DataFrame,
    in that order; ``columns``: the model's learned columns (predict, evaluate), whose names must
    all be there. ``n_rows``: the data rows data.py read, which pandas must read too."""
    try:
        import pandas as pd
    except ImportError:
        raise CLIError(f"{path}: this model takes a DataFrame: {PANDAS_HINT}") from None
    if header is None:
        raise CLIError(f"{path} has no header row; this model finds its columns by name (see --header)")
    if len(set(header)) != len(header):
        repeated = sorted({h for h in header if header.count(h) > 1})
        raise CLIError(f"{path}: the header repeats the column names {repeated}; text columns need unique names")
    names = [header[j] for j in cols]
    dtype = {}
    if columns is not None:
        missing = [n for n in columns.names if n not in header]
        if missing:
            raise CLIError(f"{path} has no column {missing[0]!r}; the model was trained on the columns {columns.names}")
        names = list(columns.names)
        for c in columns.columns:  # a text vocabulary: read the column as text, as at training
            if c["kind"] == "category" and all(isinstance(v, str) for v in c["categories"]):
                dtype[c["name"]] = str
    try:
        df = pd.read_csv(path, sep=delimiter, header=0, usecols=names, dtype=dtype or None, encoding="utf-8-sig")
    except (ValueError, pd.errors.ParserError) as e:
        raise CLIError(f"{path}: pandas cannot read it ({e})") from None
    if len(df) != n_rows:
        raise CLIError(
            f"{path}: pandas reads {len(df)} data rows but the file has {n_rows} non-empty ones; "
            "delete the rows whose cells are all empty"
        )
    return df[names]


def numeric_part(X):
    """(numbers, names) of a DataFrame's numeric columns, missing values as the column median, for
    train's --no-standardize warning (no numeric column: one column of zeros)."""
    import numpy as np

    num = X.select_dtypes("number").astype(np.float64)
    infinite = [str(c) for c in num.columns if np.isinf(num[c].to_numpy()).any()]
    if infinite:
        raise CLIError(f"the feature column {infinite[0]!r} holds infinity; features must be finite numbers")
    if num.shape[1] == 0:
        return np.zeros((len(X), 1)), ["-"]
    return num.fillna(num.median()).fillna(0.0).to_numpy(), [str(c) for c in num.columns]


def tabular_layers(hidden, n_out: int, activation: str, out_act: str) -> list:
    """The layers after the first Normalization: a ColumnEmbedding (text columns as embeddings,
    empty numeric cells filled with the median plus a missing indicator) and the MLP, whose input
    width the first fit finds."""
    import fastmlp as fm

    return [
        fm.ColumnEmbedding(fill_missing=True),
        *(fm.Dense(h, activation) for h in hidden),
        fm.Dense(n_out, out_act),
    ]
