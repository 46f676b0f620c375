"""
One hidden layer approximates a curve
=====================================

The universal approximation theorem: one hidden layer with enough units can
approximate any continuous function on a bounded interval as closely as you
like. Here ``Dense(1, H, "tanh")`` followed by ``Dense(H, 1)`` (linear output,
mean squared error) learns ``y = sin(2x) + x / 2`` for ``H = 1, 3, 20`` hidden
units. Each tanh unit contributes one smooth step; more units, more steps.
"""

import matplotlib.pyplot as plt
import numpy as np

import fastmlp as fm

rng = np.random.default_rng(0)
x = np.sort(rng.uniform(-3, 3, 200))
y = np.sin(2 * x) + x / 2 + rng.normal(scale=0.1, size=x.size)
X = x[:, None]  # samples are rows: (200, 1)
x_plot = np.linspace(-3, 3, 400)[:, None]

fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4))
ax0.scatter(x, y, s=8, color="gray", label="data")
for H in (1, 3, 20):
    model = fm.Sequential([fm.Dense(1, H, "tanh"), fm.Dense(H, 1)], dtype="float64", seed=0)
    history = model.fit(X, y, epochs=1500, optimizer=fm.Adam(learning_rate=0.02), batch_size=32)
    print(f"H = {H:2d}: {model.num_params:3d} parameters, final J = {history.loss[-1]:.4f}")
    ax0.plot(x_plot[:, 0], model.predict(x_plot), lw=2, label=f"H = {H}")
    ax1.semilogy(history.loss, label=f"H = {H}")
ax0.set(title="data and predictions", xlabel="x", ylabel="y")
ax0.legend()
ax1.set(title="J against epochs", xlabel="epoch", ylabel="J (mse)")
ax1.legend()
fig.tight_layout()
plt.show()
