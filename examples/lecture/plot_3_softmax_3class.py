"""
A 3-class softmax classifier
============================

The lecture's multi-class example: is it a cat, a dog or a horse? Stack three
logistic-regression units side by side (one ``Dense(2, 3)`` layer: ``W`` is
``2 x 3``, one column per class) and turn their scores ``z`` into
probabilities with softmax, ``p_k = exp(z_k) / sum_j exp(z_j)``. Labels are
one-hot rows (``[1, 0, 0]`` is a cat) or, equivalently, the class ids 0, 1, 2.
The loss is the categorical cross-entropy ``J = mean over samples of
-sum_k y_k ln p_k``.
"""

import matplotlib.pyplot as plt
import numpy as np

import fastmlp as fm

CLASSES = ["cat", "dog", "horse"]
rng = np.random.default_rng(0)
centres = np.array([[-2.0, -1.0], [0.5, 2.0], [2.5, -1.5]])
X = np.vstack([c + rng.normal(scale=0.9, size=(100, 2)) for c in centres])
y = np.repeat([0, 1, 2], 100)
Y = np.eye(3)[y]  # one-hot rows
print("one-hot label of sample 150 (a dog):", Y[150])

model = fm.Sequential([fm.Dense(2, 3, "softmax")], dtype="float64", seed=0)
print("loss:", model.loss_name)  # inferred from the softmax output
history = model.fit(X, Y, epochs=200, optimizer=fm.SGD(learning_rate=0.5), batch_size=32)
print(f"J: {history.loss[0]:.3f} -> {history.loss[-1]:.3f}, accuracy {model.accuracy(X, y):.3f}")

# %%
# The probabilities of one new animal, and the class picked (the arg-max):
x_new = np.array([[1.0, 0.5]])
p = model.predict_proba(x_new)[0]
print({c: round(float(v), 3) for c, v in zip(CLASSES, p)}, "->", CLASSES[model.predict(x_new)[0]])
print("rows sum to 1:", np.allclose(model.predict_proba(X).sum(axis=1), 1))

# %%
# Decision regions (left): the boundaries between classes are straight lines,
# because each score ``z_k`` is linear in ``x``. Right: ``p(dog)``.
g0 = np.linspace(X[:, 0].min() - 1, X[:, 0].max() + 1, 200)
g1 = np.linspace(X[:, 1].min() - 1, X[:, 1].max() + 1, 200)
G0, G1 = np.meshgrid(g0, g1)
P = model.predict_proba(np.column_stack([G0.ravel(), G1.ravel()]))
colors = ["#1f77b4", "#ff7f0e", "#2ca02c"]

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(10, 4))
ax0.contourf(G0, G1, P.argmax(axis=1).reshape(G0.shape), levels=[-0.5, 0.5, 1.5, 2.5], colors=colors, alpha=0.25)
for k, name in enumerate(CLASSES):
    ax0.scatter(*X[y == k].T, s=12, color=colors[k], label=name)
ax0.legend()
ax0.set(title="predicted class", xlabel="x1", ylabel="x2")
im = ax1.contourf(G0, G1, P[:, 1].reshape(G0.shape), levels=np.linspace(0, 1, 11), cmap="Oranges")
fig.colorbar(im, ax=ax1)
ax1.set(title="p(dog | x)", xlabel="x1")
fig.tight_layout()
plt.show()
