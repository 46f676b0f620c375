"""Class weights shared by Sequential.fit and the scikit-learn wrappers."""
from __future__ import annotations

import numpy as np


def balanced_class_weights(ids: np.ndarray, n_classes: int) -> np.ndarray:
    """class_weight="balanced": n_samples / (n_classes_present * count_c) for each class present in
    the class ids ``ids``, 1 for the others (a partial_fit batch or a split may miss some)."""
    counts = np.bincount(ids, minlength=n_classes).astype(np.float64)
    present = counts > 0
    table = np.ones(n_classes)
    table[present] = len(ids) / (present.sum() * counts[present])
    return table
