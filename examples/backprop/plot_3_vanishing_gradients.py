"""
Vanishing gradients: sigmoid against ReLU in a deep network
===========================================================

Backprop multiplies the error by ``g'(z)`` once per layer:
``delta_{l-1} = (delta_l W_l^T) * g'(z_{l-1})``. The sigmoid's derivative is
at most 1/4, so in a deep sigmoid network ``delta`` shrinks layer by layer and
the first layers barely learn (the lecture's "saturate / no training"). ReLU's
derivative is 1 wherever a unit is active.

``fit(record_gradients=True)`` records, for every epoch and layer, the mean
``||dW_l||`` over the epoch's mini-batches in ``history.grad_norms``
(epochs x layers), and warns with ``fm.VanishingGradientWarning`` when the
first layer's is below 1/1000 of the last layer's.
"""

import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

import fastmlp as fm

X, y = load_digits(return_X_y=True)
X = X / 16.0
DEPTH, WIDTH = 10, 32  # 10 hidden layers of 32 units


def deep_net(activation):
    sizes = [64] + [WIDTH] * DEPTH
    layers = [fm.Dense(a, b, activation) for a, b in zip(sizes[:-1], sizes[1:])]
    return fm.Sequential(layers + [fm.Dense(WIDTH, 10, "softmax")], seed=0)


results = {}
for activation in ("sigmoid", "relu"):
    model = deep_net(activation)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        history = model.fit(X, y, epochs=20, optimizer=fm.SGD(learning_rate=0.05), batch_size=32, record_gradients=True)
    vanishing = [w for w in caught if issubclass(w.category, fm.VanishingGradientWarning)]
    results[activation] = history
    print(
        f"{activation:8s} accuracy {model.accuracy(X, y):.3f}; grad_norms shape {history.grad_norms.shape}; "
        f"VanishingGradientWarning: {'yes' if vanishing else 'no'}"
    )
    if vanishing:
        print("   ", vanishing[0].message)

# %%
# Left: ``||dW_l||`` per layer in the last epoch (layer 1 is next to the input).
# The sigmoid network's gradients fall by orders of magnitude towards the
# input; the ReLU network's stay within one. Right: the sigmoid network's
# loss hardly moves.
fig, (ax0, ax1) = plt.subplots(1, 2, figsize=(11, 4))
for activation, history in results.items():
    norms = history.grad_norms[-1]
    ax0.semilogy(np.arange(1, norms.size + 1), norms, "o-", label=activation)
    ax1.plot(history.loss, label=activation)
ax0.set(xlabel="layer l", ylabel="mean ||dW_l||, last epoch", title="gradient size by layer")
ax0.legend()
ax1.set(xlabel="epoch", ylabel="J", title="training loss")
ax1.legend()
fig.tight_layout()

# %%
# The first layer's gradient over the epochs, as a fraction of the last one's.
fig, ax = plt.subplots(figsize=(6, 3.5))
for activation, history in results.items():
    ax.semilogy(history.grad_norms[:, 0] / history.grad_norms[:, -1], label=activation)
ax.axhline(1e-3, color="gray", ls=":", label="warning threshold")
ax.set(xlabel="epoch", ylabel="||dW_1|| / ||dW_L||")
ax.legend()
fig.tight_layout()
plt.show()
