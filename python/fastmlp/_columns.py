"""What the first fit learns of a DataFrame's columns (``Columns``, fastmlp.tabular's model side
uses it): which columns are categorical (``is_categorical``: by dtype), each categorical one's
vocabulary and table width (``embedding_size``: fastai's rule), each numeric one's median and
missing indicator, and ``Columns.encode``, the DataFrame as the rows the C++ core sees
(fastmlp.tabular's docstring describes that row). The layer that keeps them, ``ColumnEmbedding``,
is fastmlp.tabular's; fastmlp.tabular imports these names too."""

from __future__ import annotations

import json

import numpy as np

from ._arrays import column_mismatch
from ._categories import FIRST, MISSING
from ._categories import Lookup as _Lookup
from ._categories import distinct as _distinct
from ._validation import as_int


def embedding_size(n_codes: int) -> int:
    """fastai's rule of thumb for a table of ``n_codes`` rows: min(600, round(1.6 n^0.56))."""
    return int(min(600, round(1.6 * n_codes**0.56)))


def is_categorical(dtype) -> bool:
    """pandas category, string / object and bool dtypes (nullable "boolean" and "string" too)."""
    import pandas as pd

    return (
        isinstance(dtype, pd.CategoricalDtype)
        or pd.api.types.is_bool_dtype(dtype)
        or pd.api.types.is_object_dtype(dtype)
        or pd.api.types.is_string_dtype(dtype)
    )


def has_categorical(X) -> bool:
    """Whether X is a DataFrame with a categorical column."""
    dtypes = getattr(X, "dtypes", None)
    return dtypes is not None and hasattr(X, "iloc") and np.ndim(X) == 2 and any(map(is_categorical, dtypes))


def _plain(value, column: str):
    """A category as the JSON value the file keeps: str, bool, int or finite float."""
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, (str, bool)) or (isinstance(value, int) and -(2**63) <= value < 2**63):
        return value
    if isinstance(value, float) and np.isfinite(value):
        return value
    raise TypeError(
        f"X column {column!r} holds the category {value!r} ({type(value).__name__}); categories must be "
        "strings, bools, integers or finite floats: convert the column, e.g. df[col].astype(str)"
    )


class Columns:
    """What the first fit learned of a DataFrame's columns: per column its name and kind, a
    categorical one's vocabulary and table width, a numeric one's median and whether it has a
    missing-indicator column (``fill_missing``). ``encode`` turns a DataFrame into the core's rows."""

    def __init__(self, columns: list, fill_missing: bool):
        self.columns, self.fill_missing = columns, fill_missing
        self._lookup = {}  # column index -> pandas Index of its categories (built when first used)

    # --- learning ---
    @classmethod
    def learn(cls, X, embedding_sizes, fill_missing: bool) -> Columns:
        """The columns of DataFrame ``X``; ValueError / TypeError naming a column that cannot be used."""
        import pandas as pd

        names = [str(c) for c in X.columns]
        if len(set(names)) != len(names):
            raise ValueError(f"X has repeated column names: {names}")
        columns = []
        for j, name in enumerate(names):
            s = X.iloc[:, j]
            if is_categorical(s.dtype):
                if isinstance(s.dtype, pd.CategoricalDtype):
                    values = list(s.cat.categories)
                elif pd.api.types.is_bool_dtype(s.dtype):
                    values = [False, True]
                else:
                    values = _distinct(s[~pd.isna(s)].to_numpy(dtype=object))
                cats = [_plain(v, name) for v in values]
                if not isinstance(s.dtype, pd.CategoricalDtype):
                    cats.sort(key=lambda v: (type(v).__name__, v))
                n_codes = len(cats) + FIRST
                columns.append(
                    {"name": name, "kind": "category", "categories": cats, "dim": _size(embedding_sizes, name, n_codes)}
                )
            else:
                x = _numbers(s, name)
                missing = np.isnan(x)
                if missing.any() and not fill_missing:
                    raise ValueError(_missing_message(name, int(missing.sum())))
                entry = {"name": name, "kind": "number"}
                if fill_missing:
                    entry["median"] = float(np.median(x[~missing])) if not missing.all() else 0.0
                    entry["indicator"] = bool(missing.any())
                columns.append(entry)
        unknown = set(embedding_sizes) - set(names) if isinstance(embedding_sizes, dict) else set()
        if unknown:
            raise ValueError(f"embedding_sizes names columns X does not have: {sorted(unknown)}")
        return cls(columns, fill_missing)

    # --- facts ---
    @property
    def names(self) -> list:
        """The DataFrame's column names (as predict checks them)."""
        return [c["name"] for c in self.columns]

    @property
    def core_names(self) -> list:
        """The names of the core's columns: the DataFrame's, then "<name>_na" for each indicator."""
        return self.names + [c["name"] + "_na" for c in self.columns if c.get("indicator")]

    @property
    def width(self) -> int:
        return len(self.core_names)

    def tables(self) -> list:
        """(core column, rows V = categories + 2, width D) of each categorical column."""
        return [
            (j, len(c["categories"]) + FIRST, c["dim"]) for j, c in enumerate(self.columns) if c["kind"] == "category"
        ]

    def to_json(self) -> str:
        return json.dumps({"fill_missing": self.fill_missing, "columns": self.columns}, separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Columns:
        try:
            obj = json.loads(text)
        except RecursionError:  # a hostile file's "[[[[...": refused as any bad vocabulary
            raise ValueError("a ColumnEmbedding's vocabulary nests too deeply") from None
        if not isinstance(obj, dict) or not isinstance(obj.get("columns"), list):
            raise ValueError("a ColumnEmbedding's vocabulary must be a JSON object with a 'columns' list")
        names = set()
        for c in obj["columns"]:
            ok = isinstance(c, dict) and isinstance(c.get("name"), str) and c.get("kind") in ("category", "number")
            ok = ok and c["name"] not in names
            if ok and c["kind"] == "category":
                cats = c.get("categories")
                ok = isinstance(cats, list) and all(
                    isinstance(v, (str, bool, int)) or (isinstance(v, float) and np.isfinite(v)) for v in cats
                )
                ok = ok and isinstance(c.get("dim"), int) and not isinstance(c["dim"], bool) and c["dim"] >= 1
            elif ok:
                median = c.get("median", 0.0)
                ok = isinstance(median, (int, float)) and not isinstance(median, bool) and np.isfinite(median)
                ok = ok and isinstance(c.get("indicator", False), bool)
            if not ok:
                raise ValueError(f"a ColumnEmbedding's vocabulary has a bad column entry: {str(c)[:80]}")
            names.add(c["name"])
        if not isinstance(obj.get("fill_missing", False), bool):
            raise ValueError("a ColumnEmbedding's vocabulary has a 'fill_missing' that is not true or false")
        return cls(obj["columns"], obj.get("fill_missing", False))

    # --- encoding ---
    def encode(self, X, dtype: np.dtype, name: str = "X") -> np.ndarray:
        """DataFrame ``X`` (the columns of the first fit, in order) as the core's rows (m, width)."""
        import pandas as pd

        if [str(c) for c in X.columns] != self.names:
            raise ValueError(column_mismatch(X, self.names, name))
        m = len(X)
        if m == 0:
            raise ValueError(f"{name} is empty: shape {X.shape}")
        out = np.empty((m, self.width), dtype=dtype)
        extra = len(self.columns)
        for j, c in enumerate(self.columns):
            s = X.iloc[:, j]
            if c["kind"] == "category":
                lookup = self._lookup.get(j)
                if lookup is None:
                    lookup = self._lookup[j] = _Lookup(c["categories"])
                values = s.to_numpy(dtype=object)
                missing = pd.isna(values)
                out[:, j] = np.where(missing, MISSING, lookup.codes(values, missing))
                continue
            if is_categorical(s.dtype) and not pd.api.types.is_bool_dtype(s.dtype):
                raise TypeError(f"{name} column {c['name']!r} was numeric at the first fit but holds {s.dtype} now")
            x = _numbers(s, c["name"])
            missing = np.isnan(x)
            if missing.any():
                if "median" not in c:
                    raise ValueError(_missing_message(c["name"], int(missing.sum())))
                x = np.where(missing, c["median"], x)
            if np.isinf(x).any():
                raise ValueError(f"{name} column {c['name']!r} contains infinity")
            out[:, j] = x
            if c.get("indicator"):
                out[:, extra] = missing
                extra += 1
        return out


def _numbers(s, name: str) -> np.ndarray:
    import pandas as pd

    if pd.api.types.is_datetime64_any_dtype(s.dtype) or pd.api.types.is_timedelta64_dtype(s.dtype):
        since = "" if pd.api.types.is_timedelta64_dtype(s.dtype) else " - start"
        raise TypeError(  # (pandas turns them into nanoseconds, numbers of 1e18 a model cannot use)
            f"X column {name!r} holds {s.dtype} values, not numbers: convert it, e.g. to seconds with "
            f"(df[{name!r}]{since}).dt.total_seconds()"
        )
    try:
        return s.to_numpy(dtype=np.float64, na_value=np.nan)
    except (TypeError, ValueError):
        raise TypeError(f"X column {name!r} must hold numbers or categories, got dtype {s.dtype}") from None


def _missing_message(name: str, count: int) -> str:
    return (
        f"X column {name!r} has {count} missing values (NaN / None): put fm.ColumnEmbedding(fill_missing=True) "
        "first in the model to fill them with the column's median and add a missing-indicator column, "
        "or fill them yourself"
    )


def _size(embedding_sizes, name: str, n_codes: int) -> int:
    """The table width of column ``name`` with ``n_codes`` rows: ``embedding_sizes`` (None: the rule)."""
    size = embedding_sizes
    if isinstance(size, dict):
        size = size.get(name)
    if size is None:
        return embedding_size(n_codes)
    if callable(size):
        size = size(n_codes)
    size = as_int(size, f"embedding_sizes[{name!r}]")
    if not 1 <= size <= 2**20:
        raise ValueError(f"embedding_sizes[{name!r}] must be in [1, 2**20], got {size}")
    return size
