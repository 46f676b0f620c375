"""Class weights shared by Sequential.fit and the scikit-learn wrappers."""

from __future__ import annotations

import numpy as np


def balanced_class_weights(ids: np.ndarray, n_classes: int) -> np.ndarray:
    """class_weight="balanced": n_samples / (n_classes_present * count_c) for each class present in
    the class ids ``ids``, 1 for the others (a partial_fit batch or a split may miss some)."""
    return balanced_from_counts(np.bincount(ids, minlength=n_classes))


def balanced_from_counts(counts) -> np.ndarray:
    """The "balanced" table from the count of each class: n / (n_classes_present * count_c)."""
    counts = np.asarray(counts, dtype=np.float64)
    present = counts > 0
    table = np.ones(len(counts))
    table[present] = counts.sum() / (present.sum() * counts[present])
    return table
