"""
The output error of a softmax: ``p - y``
========================================

For a softmax output with categorical cross-entropy, the chain rule collapses
to a simple error at the scores: ``dJ/dz = p - y``. The lecture's example:
``p = [0.2, 0.3, 0.5]`` and the true class is 1 (``y = [0, 1, 0]``), so
``p - y = [0.2, -0.7, 0.5]``: push the true class's score up, the others down,
each in proportion to its probability.

Because ``J`` is the *mean* over a batch of ``m`` samples, fastmlp's output
error is ``delta_L = (p - y) / m``. ``model.trace(X, y)`` returns it as the
third entry of the last layer.
"""

import matplotlib.pyplot as plt
import numpy as np

import fastmlp as fm

p = np.array([0.2, 0.3, 0.5])

# A softmax layer that outputs exactly p: W = 0 and b = ln p (softmax(ln p) = p).
model = fm.Sequential([fm.Dense(1, 3, "softmax")], dtype="float64")
model.layers[0].weights = np.zeros((1, 3))
model.layers[0].bias = np.log(p)

X = np.zeros((1, 1))  # one sample (its value does not matter here)
z, a, delta = model.trace(X, y=[1])[-1]  # the true class is 1
print("p          =", a[0])
print("delta      =", delta[0])
print("p - y      =", p - np.array([0, 1, 0]))

# %%
# A batch of ``m = 4`` samples with different labels: each row of ``delta`` is
# ``(p_i - y_i) / m``, and the bias gradient is ``db = sum over rows of delta``.
X4 = np.zeros((4, 1))
y4 = np.array([1, 0, 2, 1])
Y4 = np.eye(3)[y4]
_, P4, delta4 = model.trace(X4, y=y4)[-1]
print("delta * m =\n", delta4 * 4)
assert np.allclose(delta4, (P4 - Y4) / 4)
((dW, db),) = model.gradients(X4, y4)
assert np.allclose(db, delta4.sum(axis=0))
print("db =", db, "= sum of the rows of delta")

# %%
# The three vectors of the lecture's example:
fig, ax = plt.subplots(figsize=(6, 3.2))
k = np.arange(3)
ax.bar(k - 0.25, p, width=0.25, label="p (softmax)")
ax.bar(k, [0, 1, 0], width=0.25, label="y (one-hot)")
ax.bar(k + 0.25, delta[0], width=0.25, label="delta = p - y (m = 1)")
ax.axhline(0, color="k", lw=0.8)
ax.set(xticks=k, xticklabels=["class 0", "class 1 (true)", "class 2"], title="output error of a softmax")
ax.legend(loc="lower left")
fig.tight_layout()
plt.show()
