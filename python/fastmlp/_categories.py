"""Which value is which category of a ColumnEmbedding's column (fastmlp.tabular), in one place.

A category is its kind and value: a text, a bool, or a number (1 and 1.0 one category, as Python's
==; True is not the category 1). A value is the category of its kind; a text that is no text
category is also read as a CSV cell is (cpp/include/fastmlp/raw_rows.hpp, the same rule): a number
("1.0" the category 1) or "True" / "False" in any case. So a column that pandas' read_csv reads as
text ("1", "a") gives the codes C++ and the C API give for the same cells.
"""

from __future__ import annotations

import numbers
import re

import numpy as np

#: Codes before the vocabulary: Keras StringLookup's one out-of-vocabulary index, then missing.
OOV, MISSING, FIRST = 0, 1, 2

_NUMBER = re.compile(r"[ \t]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t\r]*")


def _key(v):
    """v as a key no value of another kind equals (Python's True == 1 == 1.0)."""
    if isinstance(v, (bool, np.bool_)):
        return (bool, bool(v))
    if isinstance(v, numbers.Number):
        return (float, v)
    return (type(v), v)


def distinct(values: np.ndarray) -> list:
    """The distinct values, in order of first appearance, by ``_key`` (pd.unique merges True and 1)."""
    import pandas as pd

    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "boolean", "integer", "floating", "empty"):
        return list(pd.unique(values))  # one kind: pandas' equality is the kinds' own
    seen = {}
    for v in values:
        try:
            seen.setdefault(_key(v), v)
        except TypeError:  # unhashable (a list, a dict): kept, so that the caller names its column
            seen.setdefault((type(v), id(v)), v)
    return list(seen.values())


class Lookup:
    """A column's categories as codes: by text, by number value, by bool (the first of equal ones)."""

    def __init__(self, categories: list):
        self.texts, self.numbers, self.bools = {}, {}, {}
        for i, v in enumerate(categories):
            table = self.texts if isinstance(v, str) else self.bools if isinstance(v, bool) else self.numbers
            table.setdefault(v, FIRST + i)

    def text_code(self, text: str) -> int:
        """A text that is no text category, as a CSV cell: a number, or "True" / "False" in any case."""
        if _NUMBER.fullmatch(text):
            t = text.strip(" \t\r")
            v = int(t) if not any(ch in t for ch in ".eE") else float(t)
            return self.numbers.get(v, OOV) if np.isfinite(v) else OOV
        word = text.lower()
        return self.bools.get(word == "true", OOV) if word in ("true", "false") else OOV

    def code(self, v) -> int:
        if isinstance(v, str):
            code = self.texts.get(v)
            return self.text_code(v) if code is None else code
        if isinstance(v, (bool, np.bool_)):
            return self.bools.get(bool(v), OOV)
        if isinstance(v, numbers.Number):
            return self.numbers.get(v, OOV)
        return OOV

    def codes(self, values: np.ndarray, missing: np.ndarray) -> np.ndarray:
        """The code of each value (missing ones: anything; the caller puts MISSING there)."""
        import pandas as pd

        kind = pd.api.types.infer_dtype(values, skipna=True)
        table = {"string": self.texts, "boolean": self.bools}.get(kind)
        if table is None and kind in ("integer", "floating", "mixed-integer-float"):
            table = self.numbers
        if table is None:  # several kinds: value by value
            return np.fromiter((OOV if m else self.code(v) for v, m in zip(values, missing)), np.int64, len(values))
        # one kind: pandas' look-up (its equality is the kind's own), then the text rule for missed texts
        found = pd.Index(list(table), dtype=object).get_indexer(values)
        out = np.where(found >= 0, np.array([*table.values(), OOV], dtype=np.int64)[found], OOV)
        if kind == "string" and (self.numbers or self.bools):
            for i in np.flatnonzero((found < 0) & ~missing):
                out[i] = self.text_code(values[i])
        return out
