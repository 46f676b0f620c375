"""
Checking backprop with finite differences
=========================================

The lecture's test for a backprop implementation: nudge one weight by ``Δw``
and watch the loss, ``dJ/dw ≈ (J(w + Δw) - J(w)) / Δw``. It costs one loss
evaluation per parameter ("very expensive"), so training uses backprop, which
is exact up to rounding.

``fm.check_gradients(model, X, y)`` compares every gradient of a float64 copy
of the model with central differences ``(J(w + ε) - J(w - ε)) / 2ε`` and
returns the largest relative error.
"""

import matplotlib.pyplot as plt
import numpy as np

import fastmlp as fm

rng = np.random.default_rng(0)
X = rng.normal(size=(20, 3))
y_class = rng.integers(0, 3, size=20)
y_real = rng.normal(size=20)

nets = {
    "tanh -> softmax": ([fm.Dense(3, 5, "tanh"), fm.Dense(5, 3, "softmax")], y_class),
    "sigmoid -> sigmoid": ([fm.Dense(3, 5, "sigmoid"), fm.Dense(5, 1, "sigmoid")], y_class % 2),
    "relu -> relu -> linear (mse)": ([fm.Dense(3, 4, "relu"), fm.Dense(4, 4, "relu"), fm.Dense(4, 1)], y_real),
    "elu -> softmax, l2 = 0.1": ([fm.Dense(3, 5, "elu"), fm.Dense(5, 3, "softmax")], y_class),
}
models = {}
for name, (layers, y) in nets.items():
    models[name] = model = fm.Sequential(layers, dtype="float64", seed=0, l2=0.1 if "l2" in name else 0.0)
    print(f"{name:30s} max relative error {fm.check_gradients(model, X, y):.1e}")

# %%
# The ReLU network fails the check, and backprop is not wrong: ReLU has a kink
# at ``z = 0``, where the derivative jumps from 0 to 1. Two samples switch off
# every unit of the first layer, so with the biases at their initial zero the
# second layer sees ``z = 0`` exactly, on the kink, where the central difference
# measures the average slope 1/2 and backprop takes ``g'(0) = 0``. Move the
# second layer's biases off zero and the two agree again.
relu_net = models["relu -> relu -> linear (mse)"]
_, a1 = relu_net.trace(X)[0]
print("samples with every first-layer unit off:", int((a1.sum(axis=1) == 0).sum()))
relu_net.layers[1].bias = np.full(4, 0.1)
print(f"with b2 = 0.1: max relative error {fm.check_gradients(relu_net, X, y_real):.1e}")

# %%
# How small should ``Δw`` be? For one weight, compare backprop's gradient with
# the one-sided difference of the lecture and the central difference.
# Truncation error falls like ``Δw`` (one-sided) or ``Δw²`` (central) until
# floating-point rounding, which grows like ``1 / Δw``, takes over.
model = fm.Sequential([fm.Dense(3, 5, "tanh"), fm.Dense(5, 3, "softmax")], dtype="float64", seed=0)
(dW, _), _ = model.gradients(X, y_class)
w = model.layers[0].weights  # a view: writing w[0, 0] changes the model
w0, exact = w[0, 0], dW[0, 0]
J = model.loss(X, y_class)

steps = np.logspace(-12, -1, 45)
one_sided, central = [], []
for h in steps:
    w[0, 0] = w0 + h
    J_plus = model.loss(X, y_class)
    w[0, 0] = w0 - h
    J_minus = model.loss(X, y_class)
    w[0, 0] = w0
    one_sided.append(abs((J_plus - J) / h - exact))
    central.append(abs((J_plus - J_minus) / (2 * h) - exact))

fig, ax = plt.subplots(figsize=(6, 4))
ax.loglog(steps, one_sided, "o-", ms=3, label="(J(w+Δ) - J(w)) / Δ")
ax.loglog(steps, central, "s-", ms=3, label="(J(w+Δ) - J(w-Δ)) / 2Δ")
ax.set(xlabel="Δw", ylabel="|finite difference - backprop|", title=f"dJ/dw = {exact:.6f} by backprop")
ax.legend()
fig.tight_layout()
plt.show()
