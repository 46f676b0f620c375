"""Small helpers shared by the fastmlp tests (these DO use fastmlp; reference.py does not)."""

import numpy as np

import fastmlp as fm
import reference as ref


def dense(n_in, n_out, g):
    """fm.Dense from an activation name or a (name, alpha) pair."""
    if isinstance(g, tuple):
        return fm.Dense(n_in, n_out, activation=g[0], alpha=g[1])
    return fm.Dense(n_in, n_out, activation=g)


def build(sizes, acts, loss=None, dtype="float64", seed=0, l2=0.0, optimizer="sgd"):
    # optimizer="sgd": the lecture's gradient descent, which the reference checks step by step
    layers = [dense(a, b, g) for a, b, g in zip(sizes[:-1], sizes[1:], acts)]
    return fm.Sequential(layers, loss=loss, dtype=dtype, seed=seed, l2=l2, optimizer=optimizer)


def get_params(model):
    """Copy of the model's parameters as float64 [(W, b), ...]."""
    return [(np.array(l.weights, dtype=np.float64), np.array(l.bias, dtype=np.float64)) for l in model.layers]


def set_params(model, params):
    for layer, (W, b) in zip(model.layers, params):
        layer.weights = W
        layer.bias = b


def acts_of(model):
    """Activations in reference form: name, or (name, alpha) for parametrised ones."""
    return [(l.activation, l.alpha) if getattr(l, "alpha", None) is not None else l.activation for l in model.layers]


def make_labels(rng, loss_name, m, k, one_hot=False, soft=False):
    """Random labels in the user format of the API, plus the dense reference target."""
    if loss_name == "categorical_crossentropy":
        ids = rng.integers(0, k, size=m)
        if m >= k:
            ids[:k] = np.arange(k)  # every class present
        y = np.eye(k)[ids] if one_hot else ids
        return y, ref.targets(ids, loss_name, k)
    if loss_name == "binary_crossentropy":
        if soft:
            y = rng.uniform(0, 1, size=(m, k))
        else:
            y = rng.integers(0, 2, size=(m, k)).astype(np.float64)
        if k == 1:
            y = y[:, 0]
        return y, ref.targets(y, loss_name, k)
    y = rng.normal(size=(m, k))
    if k == 1:
        y = y[:, 0]
    return y, ref.targets(y, loss_name, k)
