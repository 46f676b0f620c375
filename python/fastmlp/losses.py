"""The loss names: one table for the package.

``LOSSES`` is the C++ core's list (loss.hpp), the canonical names; ``fastmlp._core.loss_name``
maps an alias ("sparse_categorical_crossentropy", "mean_squared_error", ...) to one of them.
``CLASSIFICATION_LOSSES`` are those that take class labels (and targets in [0, 1]).
"""

from __future__ import annotations

from . import _core

#: The canonical loss names, from the C++ core.
LOSSES = tuple(_core.LOSSES)
#: The losses of classifiers: predictions are probabilities, targets lie in [0, 1].
CLASSIFICATION_LOSSES = ("binary_crossentropy", "categorical_crossentropy")
