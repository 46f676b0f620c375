"""
Why XOR needs a hidden layer
============================

XOR is 1 when exactly one input is 1. No straight line separates its two
classes, so a single unit (logistic regression) cannot learn it. A hidden
layer can: the lecture builds XOR by hand from gates, ``XOR = NOR(NOR, AND)``,
and backpropagation finds a solution from random weights.
"""

import matplotlib.pyplot as plt
import numpy as np

import fastmlp as fm

X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
y = np.array([0, 1, 1, 0])

# %%
# Logistic regression: one sigmoid unit
# -------------------------------------
# Gradient descent on the whole data set (``batch_size=4``). The best a line
# can do is 3 of 4 points; here the unit settles near ``p = 0.5`` everywhere.
logreg = fm.Sequential([fm.Dense(2, 1, "sigmoid")], dtype="float64", seed=0)
h_logreg = logreg.fit(X, y, epochs=2000, optimizer=fm.SGD(learning_rate=0.5), batch_size=4)
print("logistic regression p:", logreg.forward(X)[:, 0].round(3), "accuracy:", logreg.accuracy(X, y))


# %%
# The lecture's hand-set network
# ------------------------------
# Hidden units NOR (w0, w1, w2 = 1, -2, -2) and AND (-3, 2, 2); output NOR
# (1, -2, -2) of the two. With threshold (``step``) units this is XOR.
def xor_net(activation, scale=1.0):
    net = fm.Sequential([fm.Dense(2, 2, activation), fm.Dense(2, 1, activation)], dtype="float64")
    net.layers[0].weights = scale * np.array([[-2, 2], [-2, 2]])  # column 0: NOR, column 1: AND
    net.layers[0].bias = scale * np.array([1, -3])
    net.layers[1].weights = scale * np.array([[-2], [-2]])  # NOR of the two hidden units
    net.layers[1].bias = scale * np.array([1])
    return net


hand = xor_net("step")
print("hand-set, step units:    ", hand.forward(X)[:, 0])

# %%
# With sigmoid units the same weights are not enough: the hidden outputs are
# not 0 and 1 but, e.g., 0.27 and 0.27 at (1, 0), and the output there is
# ``sigmoid(-0.08) < 0.5``. Scaling every weight by 10 saturates the sigmoids
# and XOR comes back.
print("hand-set, sigmoid units: ", xor_net("sigmoid").predict(X))
print("same weights x 10:       ", xor_net("sigmoid", scale=10).predict(X))

# %%
# Learned by backpropagation
# --------------------------
# Four tanh hidden units and a sigmoid output, from random weights.
mlp = fm.Sequential([fm.Dense(2, 4, "tanh"), fm.Dense(4, 1, "sigmoid")], dtype="float64", seed=0)
h_mlp = mlp.fit(X, y, epochs=2000, optimizer=fm.SGD(learning_rate=0.5), batch_size=4)
print("trained MLP p:", mlp.forward(X)[:, 0].round(3), "accuracy:", mlp.accuracy(X, y))

# %%
# Decision boundaries
# -------------------
# The shading is the network's output over the plane; the black line is
# where it crosses 0.5. One unit draws one line; the hidden layer bends it.
g = np.linspace(-0.5, 1.5, 201)
G1, G2 = np.meshgrid(g, g)
grid = np.column_stack([G1.ravel(), G2.ravel()])

fig, axes = plt.subplots(1, 4, figsize=(13, 3.4))
models = [
    ("logistic regression", logreg),
    ("hand-set (step units)", hand),
    ("hand-set x 10 (sigmoid)", xor_net("sigmoid", 10)),
    ("trained 2-4-1 MLP", mlp),
]
for ax, (title, model) in zip(axes, models):
    p = model.forward(grid)[:, 0].reshape(G1.shape)
    ax.contourf(G1, G2, p, levels=np.linspace(0, 1, 11), cmap="coolwarm", alpha=0.7)
    ax.contour(G1, G2, p, levels=[0.5], colors="k", linewidths=1)
    ax.scatter(X[:, 0], X[:, 1], c=y, cmap="coolwarm", s=90, edgecolors="k")
    ax.set(title=title, xlabel="x1", ylabel="x2")
fig.tight_layout()

# %%
# The loss ``J`` against epochs: the single unit stalls at ``ln 2 = 0.693``
# (``p = 0.5`` for every point), the MLP goes to 0.
fig, ax = plt.subplots(figsize=(5, 3.2))
ax.plot(h_logreg.loss, label="logistic regression")
ax.plot(h_mlp.loss, label="2-4-1 MLP")
ax.axhline(np.log(2), color="gray", ls=":", label="ln 2")
ax.set(xlabel="epoch", ylabel="J", title="training loss")
ax.legend()
fig.tight_layout()
plt.show()
