"""
Watch backprop: ``z``, ``a`` and ``delta`` in every layer
=========================================================

``model.trace(X, y)`` runs one forward and one backward pass and returns, for
every ``Dense`` layer ``l``, the three matrices of the lecture (samples are rows):

* ``z_l = a_{l-1} W_l + b_l``   (``a_0 = X``)
* ``a_l = g_l(z_l)``
* ``delta_l = dJ/dz_l``: at the output ``(p - y) / m`` for softmax and
  cross-entropy; below it ``delta_{l-1} = (delta_l W_l^T) * g'(z_{l-1})``
  (``*`` is the element-wise product).

The gradients follow from them: ``dW_l = a_{l-1}^T delta_l`` and
``db_l = sum over rows of delta_l``. Below, each formula is recomputed with
NumPy from the trace and compared with what the C++ core returned.
"""

import matplotlib.pyplot as plt
import numpy as np

import fastmlp as fm

rng = np.random.default_rng(1)
m = 5
X = rng.normal(size=(m, 2))
y = np.array([0, 1, 1, 0, 1])
Y = np.eye(2)[y]

model = fm.Sequential([fm.Dense(2, 3, "tanh"), fm.Dense(3, 2, "softmax")], dtype="float64", seed=0)
(z1, a1, d1), (z2, a2, d2) = model.trace(X, y)
W1, b1 = model.layers[0].weights, model.layers[0].bias
W2, b2 = model.layers[1].weights, model.layers[1].bias

checks = {
    "z1 = X W1 + b1": np.allclose(z1, X @ W1 + b1),
    "a1 = tanh(z1)": np.allclose(a1, np.tanh(z1)),
    "z2 = a1 W2 + b2": np.allclose(z2, a1 @ W2 + b2),
    "a2 = softmax(z2)": np.allclose(a2, np.exp(z2) / np.exp(z2).sum(axis=1, keepdims=True)),
    "delta2 = (a2 - Y) / m": np.allclose(d2, (a2 - Y) / m),
    "delta1 = (delta2 W2^T) * (1 - a1^2)": np.allclose(d1, (d2 @ W2.T) * (1 - a1**2)),
}
(dW1, db1), (dW2, db2) = model.gradients(X, y)
checks["dW2 = a1^T delta2"] = np.allclose(dW2, a1.T @ d2)
checks["dW1 = X^T delta1"] = np.allclose(dW1, X.T @ d1)
checks["db1 = sum of rows of delta1"] = np.allclose(db1, d1.sum(axis=0))
for formula, ok in checks.items():
    print(f"{'ok ' if ok else 'BAD'} {formula}")
assert all(checks.values())

# %%
# The matrices themselves, one row per sample. The output error ``delta2``
# is large where the network is wrong; it shrinks on its way back through
# ``W2^T`` and ``tanh'``.
mats = [("z1", z1), ("a1", a1), ("delta1", d1), ("z2", z2), ("a2", a2), ("delta2", d2)]
fig, axes = plt.subplots(2, 3, figsize=(9, 6))
for ax, (name, M) in zip(axes.ravel(), mats):
    lim = np.abs(M).max()
    ax.imshow(M, cmap="RdBu_r", vmin=-lim, vmax=lim)
    for (i, j), v in np.ndenumerate(M):
        ax.text(
            j, i, f"{v:.2f}", ha="center", va="center", fontsize=8, color="white" if abs(v) > 0.6 * lim else "black"
        )
    ax.set(title=f"{name}  {M.shape}", xticks=range(M.shape[1]), yticks=range(m), xlabel="unit", ylabel="sample")
fig.tight_layout()
plt.show()
