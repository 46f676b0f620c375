"""Normalization layers and layer stacks in any order (Dense, normalizations, Activation, Dropout,
Residual, Embedding, ColumnEmbedding).

Part of the independent NumPy reference (tests/reference.py re-exports it): it must never import fastmlp.
"""

from __future__ import annotations

import numpy as np

from reference_activations import activation, activation_backward
from reference_mlp import bce_from_logits, cce_from_logits, huber, mae, mse, output_delta


# --------------------------------------------------------------------------------------
# normalization layers (on a hidden layer's output a, before its dropout)
# --------------------------------------------------------------------------------------
def norm_forward(kind, a, gamma, beta, eps, mean=None, var=None):
    """y = gamma * (a - mu) / sqrt(var + eps) + beta.  kind "batch": mu, var per column over
    the rows (biased), or the given running mean / var; kind "layer": per row over its columns."""
    axis = 0 if kind == "batch" else 1
    if mean is None:
        mean = a.mean(axis=axis, keepdims=True)
        var = ((a - mean) ** 2).mean(axis=axis, keepdims=True)
    x_hat = (a - mean) / np.sqrt(var + eps)
    return gamma * x_hat + beta, (a, mean, var)


def norm_backward(kind, dy, cache, gamma, eps, batch_statistics=True):
    """(dJ/da, dgamma, dbeta) by the chain rule through mu and var written out term by term
    (Ioffe & Szegedy's derivation), not the compact formula network.hpp uses."""
    a, mean, var = cache
    axis = 0 if kind == "batch" else 1
    n = a.shape[axis]
    x_hat = (a - mean) / np.sqrt(var + eps)
    dgamma, dbeta = (dy * x_hat).sum(axis=0), dy.sum(axis=0)
    dx_hat = dy * gamma
    if kind == "batch" and not batch_statistics:  # constants: an affine map
        return dx_hat / np.sqrt(var + eps), dgamma, dbeta
    dvar = (dx_hat * (a - mean) * -0.5 * (var + eps) ** -1.5).sum(axis=axis, keepdims=True)
    dmean = (-dx_hat / np.sqrt(var + eps)).sum(axis=axis, keepdims=True) + dvar * (-2.0 * (a - mean)).mean(
        axis=axis, keepdims=True
    )
    da = dx_hat / np.sqrt(var + eps) + dvar * 2.0 * (a - mean) / n + dmean / n
    return da, dgamma, dbeta


def norm_mlp_loss_and_grads(params, acts, norms, X, Y, loss_name, batch_statistics=True):
    """J and [(dW, db, dgamma, dbeta or None...)] for an MLP whose hidden layer l output is
    normalized by norms[l] = None or dict(kind, gamma, beta, eps[, mean, var]) (running
    statistics used for "batch" when batch_statistics is False). No L2, no dropout."""
    a = np.asarray(X, dtype=np.float64)
    inputs, caches, zs, acts_out = [a], [], [], []
    L = len(params)
    for l, ((W, b), g) in enumerate(zip(params, acts)):
        z = a @ W + b
        a = activation(g, z)
        zs.append(z)
        acts_out.append(a)
        norm = norms[l]
        if norm is not None and l + 1 < L:
            running = norm["kind"] == "batch" and not batch_statistics
            a, cache = norm_forward(
                norm["kind"], a, norm["gamma"], norm["beta"], norm["eps"],
                norm.get("mean") if running else None, norm.get("var") if running else None,
            )  # fmt: skip
            caches.append(cache)
        else:
            caches.append(None)
        inputs.append(a)
    z, a_L = zs[-1], acts_out[-1]
    J = {"categorical_crossentropy": lambda: cce_from_logits(z, Y), "mse": lambda: mse(a_L, Y)}[loss_name]()
    delta = output_delta(z, a_L, Y, loss_name, acts[-1])
    grads = [None] * L
    for l in range(L - 1, -1, -1):
        W = params[l][0]
        grads[l] = [inputs[l].T @ delta, delta.sum(axis=0)]
        if l == 0:
            break
        d = delta @ W.T  # dJ/d(input of layer l)
        norm = norms[l - 1]
        if norm is not None:
            d, dgamma, dbeta = norm_backward(
                norm["kind"], d, caches[l - 1], norm["gamma"], norm["eps"], batch_statistics
            )
            norm["_grads"] = (dgamma, dbeta)
        delta = activation_backward(acts[l - 1], zs[l - 1], acts_out[l - 1], d)
    for l, norm in enumerate(norms):
        if norm is not None and l + 1 < L:
            grads[l] += list(norm.pop("_grads"))
    return float(J), grads


# --------------------------------------------------------------------------------------
# layer stacks in any order: Dense, normalizations, Activation, Dropout (off), Residual
# --------------------------------------------------------------------------------------
# A layer is a dict:
#   {"type": "Dense", "W": W, "b": b, "g": act}           z = x W + b, a = g(z)
#   {"type": "BatchNormalization" | "LayerNormalization", "gamma", "beta", "eps"[, "mean", "var"]}
#   {"type": "Activation", "g": act}                      a = g(x)
#   {"type": "Dropout"}                                    y = x (no dropout: inference)
#   {"type": "Residual", "layers": [...]}                 y = x + f(x), f the inner stack
#   {"type": "Embedding", "E": E}                          y[i] = E[x[i, 0]], ..., E[x[i, k-1]] side by side
#   {"type": "ColumnEmbedding", "tables": {c: E_c}}        y[i] = [x[i, other columns] | E_c[x[i, c]] for c in order]
# The stack's last layer (a Dense or an Activation) is the output layer: its g is the loss's
# (z there is what output_delta and the fused losses take).
_NORM_KINDS = {"BatchNormalization": "batch", "LayerNormalization": "layer"}


def _layer_forward(layer, x, batch_statistics):
    t = layer["type"]
    if t == "Dense":
        z = x @ layer["W"] + layer["b"]
        return activation(layer["g"], z), (x, z)
    if t == "Activation":
        return activation(layer["g"], x), (x, x)
    if t in _NORM_KINDS:
        kind = _NORM_KINDS[t]
        running = kind == "batch" and not batch_statistics
        mean, var = (layer["mean"].reshape(1, -1), layer["var"].reshape(1, -1)) if running else (None, None)
        y, cache = norm_forward(kind, x, layer["gamma"], layer["beta"], layer["eps"], mean, var)
        return y, cache
    if t == "Dropout":
        return x, None
    if t == "Residual":
        f, caches = stack_forward(layer["layers"], x, batch_statistics)
        return x + f, caches
    if t == "Embedding":  # the codes index E's rows: (m, k) -> (m, k, D) -> (m, k D)
        codes = x.astype(np.int64)
        return layer["E"][codes].reshape(x.shape[0], -1), codes
    if t == "ColumnEmbedding":  # numbers pass, each code column is looked up in its own table
        cols = sorted(layer["tables"])
        numeric = [j for j in range(x.shape[1]) if j not in cols]
        parts = [x[:, numeric]] + [layer["tables"][c][x[:, c].astype(np.int64)] for c in cols]
        return np.concatenate(parts, axis=1), x
    raise ValueError(f"unknown layer type {t!r}")


def stack_forward(layers, X, batch_statistics=False):
    """(output a, [cache per layer]) of a layer stack on X (batch normalization by the batch's
    statistics when batch_statistics, else the running ones)."""
    a, caches = np.asarray(X, dtype=np.float64), []
    for layer in layers:
        a, cache = _layer_forward(layer, a, batch_statistics)
        caches.append((a, cache))
    return a, caches


def _layer_backward(layer, out, cache, dy, batch_statistics, head, l2, grads):
    """dJ/dx of one layer from dy = dJ/d(output) (head: dy is already dJ/dz of the output
    layer); its parameter gradients go into grads[id(layer)]."""
    t = layer["type"]
    if t == "Dense":
        x, z = cache
        dz = dy if head else activation_backward(layer["g"], z, out, dy)
        grads[id(layer)] = {"W": x.T @ dz + l2 * layer["W"], "b": dz.sum(axis=0)}
        return dz @ layer["W"].T
    if t == "Activation":
        x, _ = cache
        return dy if head else activation_backward(layer["g"], x, out, dy)
    if t in _NORM_KINDS:
        dx, dgamma, dbeta = norm_backward(_NORM_KINDS[t], dy, cache, layer["gamma"], layer["eps"], batch_statistics)
        grads[id(layer)] = {"gamma": dgamma, "beta": dbeta}
        return dx
    if t == "Dropout":
        return dy
    if t == "Residual":  # y = x + f(x): dx = dy + (df/dx)^T dy
        return dy + _stack_backward(layer["layers"], cache, dy, batch_statistics, False, l2, grads)
    if t == "Embedding":  # dE[v] = sum of dy's rows at the (i, j) with code v; no dx (codes)
        codes, E = cache, layer["E"]
        dE = np.zeros_like(E, dtype=np.float64)
        np.add.at(dE, codes.ravel(), dy.reshape(-1, E.shape[1]))
        grads[id(layer)] = {"E": dE}
        return None
    if t == "ColumnEmbedding":  # dE_c[v] = sum of dy's block c over the rows with code v; no dx
        x, cols = cache, sorted(layer["tables"])
        at = x.shape[1] - len(cols)
        grads[id(layer)] = {}
        for c in cols:
            E = layer["tables"][c]
            dE = np.zeros_like(E, dtype=np.float64)
            np.add.at(dE, x[:, c].astype(np.int64), dy[:, at : at + E.shape[1]])
            grads[id(layer)][c] = dE
            at += E.shape[1]
        return None
    raise ValueError(f"unknown layer type {t!r}")


def _stack_backward(layers, caches, dy, batch_statistics, head, l2, grads):
    for i in range(len(layers) - 1, -1, -1):
        out, cache = caches[i]
        dy = _layer_backward(layers[i], out, cache, dy, batch_statistics, head and i == len(layers) - 1, l2, grads)
        if dy is None:  # an Embedding (the first layer): nothing before it
            break
    return dy


def _dense_weights(layers):
    for layer in layers:
        if layer["type"] == "Dense":
            yield layer["W"]
        elif layer["type"] == "Residual":
            yield from _dense_weights(layer["layers"])


def stack_loss_and_grads(layers, X, Y, loss_name, batch_statistics=False, l2=0.0):
    """(J, grads, output a): J = mean data loss + (l2 / 2) sum ||W||^2 over every Dense (inner
    ones too; not E), grads = {id(layer): {"W", "b"}, {"gamma", "beta"} or {"E"}} by backprop
    through the stack."""
    a, caches = stack_forward(layers, X, batch_statistics)
    head = layers[-1]
    if head["type"] not in ("Dense", "Activation"):
        raise ValueError("the output layer must be a Dense or an Activation")
    z = caches[-1][1][1]  # the output layer's pre-activation
    J = {
        "categorical_crossentropy": lambda: cce_from_logits(z, Y),
        "binary_crossentropy": lambda: bce_from_logits(z, Y),
        "mse": lambda: mse(a, Y),
        "mae": lambda: mae(a, Y),
        "huber": lambda: huber(a, Y),
    }[loss_name]()
    J += 0.5 * l2 * sum(float((W * W).sum()) for W in _dense_weights(layers))
    grads = {}
    delta = output_delta(z, a, Y, loss_name, head["g"])
    _stack_backward(layers, caches, delta, batch_statistics, True, l2, grads)
    return float(J), grads, a
