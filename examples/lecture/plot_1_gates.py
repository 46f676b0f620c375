"""
Logic gates with hand-set weights
=================================

One unit computes ``z = w0 + w1 x1 + w2 x2`` and fires when ``z >= 0``. The
lecture sets the weights by hand:

=====  ====  ====  ====
gate    w0    w1    w2
=====  ====  ====  ====
OR      -1     2     2
NOR      1    -2    -2
AND     -3     2     2
NAND     3    -2    -2
=====  ====  ====  ====

In fastmlp a unit is a ``Dense(2, 1)`` layer: ``w1, w2`` are its ``weights``
(shape ``(n_in, n_out) = (2, 1)``) and ``w0`` is its ``bias``. The ``step``
activation, ``a = [z >= 0]``, is the lecture's threshold unit.
"""

import matplotlib.pyplot as plt
import numpy as np

import fastmlp as fm

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
GATES = {"OR": (-1, 2, 2), "NOR": (1, -2, -2), "AND": (-3, 2, 2), "NAND": (3, -2, -2)}
TRUTH = {"OR": [0, 1, 1, 1], "NOR": [1, 0, 0, 0], "AND": [0, 0, 0, 1], "NAND": [1, 1, 1, 0]}


def gate(w0, w1, w2, activation="step"):
    """A one-unit network with the given weights."""
    model = fm.Sequential([fm.Dense(2, 1, activation)], dtype="float64")
    model.layers[0].weights = [[w1], [w2]]
    model.layers[0].bias = [w0]
    return model


for name, w in GATES.items():
    out = gate(*w).forward(X)[:, 0]
    print(f"{name:4s} {out.astype(int)}")
    assert list(out) == TRUTH[name]

# %%
# A sigmoid unit with the same weights gives the same classes, because
# ``sigmoid(z) >= 0.5`` exactly when ``z >= 0``; only the outputs are now
# probabilities instead of 0 and 1.
soft = gate(*GATES["OR"], activation="sigmoid")
print("sigmoid OR, p:    ", soft.forward(X)[:, 0].round(3))
print("sigmoid OR, class:", soft.predict(X))

# %%
# Each unit draws one straight line, ``w0 + w1 x1 + w2 x2 = 0``, and fires on
# one side of it (shaded).
g = np.linspace(-0.5, 1.5, 201)
G1, G2 = np.meshgrid(g, g)
grid = np.column_stack([G1.ravel(), G2.ravel()])

fig, axes = plt.subplots(1, 4, figsize=(12, 3.2), sharey=True)
for ax, (name, w) in zip(axes, GATES.items()):
    fires = gate(*w).forward(grid)[:, 0].reshape(G1.shape)
    ax.contourf(G1, G2, fires, levels=[-0.5, 0.5, 1.5], colors=["#f2f2f2", "#9ecae1"])
    ax.plot(g, -(w[0] + w[1] * g) / w[2], "k-", lw=1)
    out = gate(*w).forward(X)[:, 0]
    ax.scatter(X[:, 0], X[:, 1], c=out, cmap="coolwarm", vmin=0, vmax=1, s=80, edgecolors="k", zorder=3)
    ax.set(title=f"{name}: w = {w}", xlim=(-0.5, 1.5), ylim=(-0.5, 1.5), xlabel="x1")
axes[0].set_ylabel("x2")
fig.tight_layout()
plt.show()
