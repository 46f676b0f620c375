"""Finite-difference gradient check: backprop against (J(w + eps) - J(w - eps)) / (2 eps).

"Very expensive" (two loss evaluations per parameter), which is why training
uses backprop; this exists to show backprop is exact to machine precision.
"""

from __future__ import annotations

import numpy as np


def check_gradients(model, X, y, eps: float = 1e-6) -> float:
    """Largest relative error between backprop and central finite differences.

    Runs on a float64 copy of ``model``. For every trainable tensor (each Dense layer's W and
    b, a normalization's gamma and beta, those inside a Residual block too):
        err = max |g_bp - g_fd| / max(max |g_bp|, max |g_fd|, 1e-12)
    and the result is the maximum over tensors. Expect ~1e-8 or less in float64. Both are
    computed as ``loss`` computes J: in inference (batch normalization by its running
    statistics, no dropout).
    """
    if not (isinstance(eps, (int, float)) and 0 < eps < 1):
        raise ValueError(f"eps must be a number in (0, 1), got {eps!r}")
    m = model.copy(dtype="float64")
    m.gradients(X, y)  # into the network's gradient buffer
    net = m._net
    worst = 0.0
    for name, _, is_state in net.tensors:
        if is_state:  # running statistics: no gradient
            continue
        flat = net.tensor(name).reshape(-1)  # a view: writes land in the model
        g_bp = net.grad_tensor(name).reshape(-1).copy()
        g_fd = np.empty(flat.size)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + eps
            j_plus = m.loss(X, y)
            flat[i] = old - eps
            j_minus = m.loss(X, y)
            flat[i] = old
            g_fd[i] = (j_plus - j_minus) / (2 * eps)
        scale = max(np.abs(g_bp).max(), np.abs(g_fd).max(), 1e-12)
        worst = max(worst, float(np.abs(g_bp - g_fd).max() / scale))
    return worst
