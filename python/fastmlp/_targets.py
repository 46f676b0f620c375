"""Targets: what y means to a model (class ids, one-hot rows, labels of any kind), per-sample
weights (sample_weight times class_weight) and validation splits.

A ``TargetSpec`` is a model's view of y: its loss, outputs, dtype and the label classes of its
first fit (strings, categories, ...; None while y holds class ids). It never changes: ``learn``
gives a new spec, which fit records on the model only once every check has passed.
"""

from __future__ import annotations

import numbers

import numpy as np

from ._validation import as_c_array, as_targets, check_finite, positive_float
from ._weights import balanced_class_weights
from .losses import CLASSIFICATION_LOSSES


def one_column(y):
    """A one-column pandas DataFrame as its column (a Series: Keras takes y of shape (m, 1) as
    (m,)); any other y as it is."""
    if getattr(y, "ndim", None) == 2 and hasattr(y, "columns") and hasattr(y, "iloc") and y.shape[1] == 1:
        return y.iloc[:, 0]
    return y


def label_array(y):
    """y as a 1-D array when it holds labels that are not numbers (strings, categories,
    objects), else None (class ids, one-hot rows, 0/1 targets go to the core as they are)."""
    y = one_column(y)
    dtype = getattr(y, "dtype", None)
    if dtype is not None and str(dtype) == "category":  # pandas Categorical / Series
        arr = np.asarray(y, dtype=object)
    else:
        try:
            arr = np.asarray(y)
        except Exception:
            return None
    if arr.ndim != 1 or arr.dtype.kind not in "OUS":
        return None
    if arr.dtype.kind in "US" and not isinstance(y, np.ndarray):
        arr = np.asarray(y, dtype=object)  # a list ["a", 1] would become ["a", "1"]: keep the types to check
        if all(isinstance(v, str) for v in arr):
            return arr.astype(str)
    if arr.dtype.kind == "O":
        if all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in arr[:1000]):
            return None  # object arrays of class ids stay ids
        if any(v is None or (isinstance(v, float) and v != v) for v in arr):
            raise ValueError("y holds missing labels (None or NaN)")
        kinds = {"str" if isinstance(v, str) else "number" if isinstance(v, numbers.Number) else "other" for v in arr}
        if "str" in kinds and len(kinds) > 1:
            types = sorted({type(v).__name__ for v in arr})
            raise TypeError(
                f"y mixes labels of different types ({', '.join(types)}), which cannot be ordered: make "
                "them all strings (e.g. y.astype(str)) or all numbers"
            )
        arr = arr.astype(str) if kinds == {"str"} else arr
    return arr


# predict and predict_proba (functions of the loss and the classes, not of a TargetSpec: the
# batch-1 latency of a prediction is a few microseconds, no object is made on the way).
def probabilities(loss: str, p: np.ndarray) -> np.ndarray:
    """Class probabilities from outputs p: softmax rows as they are; one sigmoid output as [1 - p, p]."""
    return np.hstack([1 - p, p]) if loss == "binary_crossentropy" and p.shape[1] == 1 else p


def predictions(loss: str, classes, a: np.ndarray) -> np.ndarray:
    """predict() from outputs a: the class (a label of ``classes``, or an id) by arg-max (softmax)
    or threshold 0.5 (sigmoid); the outputs for regression ((m,) for one output)."""
    if loss == "categorical_crossentropy":
        ids = a.argmax(axis=1)
        return ids if classes is None else classes[ids]
    if loss == "binary_crossentropy":
        labels = (a >= 0.5).astype(np.int64)
        labels = labels[:, 0] if labels.shape[1] == 1 else labels
        return labels if classes is None else classes[labels]
    return a[:, 0] if a.shape[1] == 1 else a


class TargetSpec:
    """The targets a model takes: ``loss``, ``n_outputs``, ``dtype`` and the label ``classes``
    (sorted; None: y holds class ids / one-hot rows / values)."""

    __slots__ = ("loss", "n_outputs", "dtype", "classes")

    def __init__(self, loss: str, n_outputs: int, dtype: np.dtype, classes=None):
        self.loss, self.n_outputs, self.dtype, self.classes = loss, n_outputs, dtype, classes

    @property
    def is_classifier(self) -> bool:
        return self.loss in CLASSIFICATION_LOSSES

    @property
    def n_classes(self) -> int:
        """Classes of a single-label classifier: two for one sigmoid output, else one per output."""
        return 2 if self.n_outputs == 1 else self.n_outputs

    def n_labels(self) -> int:
        """How many labels a classifier takes: two for one sigmoid output, one per output otherwise
        (multi-label sigmoid outputs and regression: none)."""
        if self.loss == "binary_crossentropy":
            return 2 if self.n_outputs == 1 else 0
        return self.n_outputs if self.is_classifier else 0

    def require_classifier(self, what: str) -> None:
        if not self.is_classifier:
            raise TypeError(f"{what} needs a classification loss; this model uses {self.loss!r}")

    def classes_(self) -> np.ndarray:
        """The classes predict() returns: the labels of the first fit, else the ids 0 .. n_classes - 1."""
        if not self.is_classifier:
            raise AttributeError(f"classes_ exists for classification losses only; this model uses {self.loss!r}")
        return self.classes if self.classes is not None else np.arange(self.n_classes)

    def learn(self, y) -> TargetSpec:
        """This spec with the classes of y when a classifier meets labels that are not numbers
        (strings, categories, objects) for the first time; else this spec."""
        if not self.is_classifier or self.classes is not None:
            return self
        arr = label_array(y)
        if arr is None:
            return self
        classes = np.unique(arr)
        n_classes = self.n_labels()
        if n_classes == 0:
            raise ValueError(
                f"labels (strings, categories) need one output for binary_crossentropy; this model has {self.n_outputs}"
            )
        if len(classes) > n_classes:
            raise ValueError(
                f"y holds {len(classes)} classes {list(classes)[:10]} but the model has {n_classes} "
                f"(make the output layer Dense(..., {len(classes)}, 'softmax'))"
            )
        if len(classes) < n_classes:
            raise ValueError(
                f"y holds {len(classes)} classes {list(classes)} but the model predicts {n_classes}: "
                "every class must appear in the first fit's labels"
            )
        return TargetSpec(self.loss, self.n_outputs, self.dtype, classes)

    def encode(self, y, name: str):
        """Labels as class ids (y as it is when it holds ids or one-hot rows already)."""
        arr = label_array(y)
        if arr is None:
            return y
        ids = np.searchsorted(self.classes, arr)
        ids = np.clip(ids, 0, len(self.classes) - 1)
        unknown = self.classes[ids] != arr
        if unknown.any():
            raise ValueError(
                f"{name} holds labels the model does not know: {sorted(set(arr[unknown].tolist()))[:10]} "
                f"(its classes: {list(self.classes)})"
            )
        return ids.astype(np.int32) if self.loss == "categorical_crossentropy" else ids.astype(self.dtype)

    def convert(self, y, n_samples: int, name: str = "y") -> np.ndarray:
        """y as the core takes it: int32 class ids (m,) or rows (m, n_outputs) of the dtype."""
        y = one_column(y)
        if self.classes is not None and self.is_classifier:
            y = self.encode(y, name)
        return as_targets(y, name, self.loss, self.n_outputs, n_samples, self.dtype)

    def class_ids(self, Y: np.ndarray) -> np.ndarray:
        """The class id of each row of converted targets Y."""
        if Y.ndim == 1:
            return Y
        if Y.shape[1] == 1:
            return (Y[:, 0] >= 0.5).astype(np.int64)
        if self.loss == "categorical_crossentropy":
            return Y.argmax(axis=1)
        raise ValueError("class_weight needs single-label targets; this y has several sigmoid outputs")

    def weights(self, sample_weight, class_weight, Y: np.ndarray, part: bool = False):
        """Per-sample weights (sample_weight times class_weight) for the rows of Y, or None. With
        ``part`` (a source's chunk) they may sum to 0 there: its batches count for nothing."""
        w = None
        if sample_weight is not None:
            w = np.asarray(sample_weight, dtype=np.float64)
            if w.shape != (Y.shape[0],):
                raise ValueError(f"sample_weight must have shape ({Y.shape[0]},), got {w.shape}")
            check_finite(w, "sample_weight")
            if (w < 0).any():
                raise ValueError("sample_weight must be >= 0")
        if class_weight is not None:
            ids = self.class_ids(Y) if self.is_classifier else None
            cw = self.class_weight_table(class_weight, ids)[ids]
            w = cw if w is None else w * cw
        if w is None:
            return None
        if not part and not w.sum() > 0:
            raise ValueError("sample weights sum to 0: no sample would count")
        return as_c_array(w, self.dtype, "sample_weight")  # C-contiguous and aligned, as the core maps it

    def class_weight_table(self, class_weight, ids: np.ndarray) -> np.ndarray:
        """The weight of each class: a dict {class id: weight} (1 for the others) or "balanced"
        (from the class ids of the rows, ``ids``)."""
        if not self.is_classifier:
            raise ValueError(f"class_weight needs a classification loss; this model uses {self.loss!r}")
        if isinstance(class_weight, str):
            if class_weight != "balanced":
                raise ValueError(f"class_weight must be a dict or 'balanced', got {class_weight!r}")
            return balanced_class_weights(ids, self.n_classes)
        if not isinstance(class_weight, dict):
            raise TypeError(f"class_weight must be a dict or 'balanced', got {type(class_weight).__name__}")
        table = np.ones(self.n_classes)
        for c, cw in class_weight.items():
            if isinstance(c, bool) or not isinstance(c, numbers.Integral):
                raise TypeError(f"class_weight keys must be integer class ids, got {c!r}")
            if not (0 <= int(c) < self.n_classes):
                raise ValueError(f"class_weight has class {c!r} outside [0, {self.n_classes})")
            table[int(c)] = positive_float(cw, f"class_weight[{c!r}]", allow_zero=True)
        return table


def split_rows(class_ids, n: int, split: float, seed: int):
    """Rows (train, val) for validation_split: round(n * split) validation rows drawn at random
    (seeded); with class_ids, each class gives its share (largest remainders), so the
    validation set keeps the class proportions. Both sorted (the data's order is kept)."""
    n_val = int(round(n * split))
    if n_val < 1 or n_val >= n:
        raise ValueError(
            f"validation_split={split} leaves {n_val} of {n} samples for validation; need at least 1 on each side"
        )
    rng = np.random.default_rng(seed)
    if class_ids is None:
        val = rng.permutation(n)[:n_val]
    else:
        classes, inverse, counts = np.unique(class_ids, return_inverse=True, return_counts=True)
        share = counts * n_val / n
        take = np.floor(share).astype(np.int64)
        order = np.argsort(-(share - take), kind="stable")  # largest remainders get the rest
        take[order[: n_val - take.sum()]] += 1
        take = np.minimum(take, counts - (counts > 1))  # never a class's last sample
        val = np.concatenate([rng.permutation(np.flatnonzero(inverse == c))[: take[c]] for c in range(len(classes))])
        if len(val) == 0:
            val = rng.permutation(n)[:n_val]
    mask = np.zeros(n, dtype=bool)
    mask[val] = True
    return np.flatnonzero(~mask), np.flatnonzero(mask)
