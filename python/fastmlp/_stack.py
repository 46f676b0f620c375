"""A Sequential's stack of layers: which layer may follow which (a Dropout or a normalization
belongs to the Dense before it), the network the C++ core builds from them, set_weights'
checks and the summary table (its rows are the layers' own: Layer.summary_row)."""

from __future__ import annotations

import numpy as np

from . import _core
from .layers import Dense, Dropout, _Normalization


def loss_name(loss, output_activation: str) -> str:
    """The canonical name of ``loss``; None: the output activation's (softmax: categorical
    crossentropy, sigmoid: binary crossentropy, else mse)."""
    if loss is None:
        loss = {"softmax": "categorical_crossentropy", "sigmoid": "binary_crossentropy"}.get(output_activation, "mse")
    if not isinstance(loss, str):
        raise TypeError(f"loss must be a string, got {type(loss).__name__}")
    try:
        return _core.loss_name(loss)
    except ValueError:
        raise ValueError(f"loss must be one of {', '.join(_core.LOSSES)} (or an alias); got {loss!r}") from None


def fold(layers: list):
    """The Dense layers in order, each one's dropout rate and normalization layer (a Dropout or
    a BatchNormalization / LayerNormalization belongs to the Dense before it, in the order Dense,
    normalization, Dropout). Nothing is changed on the layers: the caller binds them once the
    model is built, so a failed Sequential(...) leaves nothing behind."""
    dense, rates, norms = [], [], []
    for i, layer in enumerate(layers):
        if isinstance(layer, Dropout):
            if not dense or isinstance(layers[i - 1], Dropout):
                raise ValueError(f"layers[{i}]: a Dropout must follow a Dense layer (or its normalization)")
            if i == len(layers) - 1:
                raise ValueError(f"layers[{i}]: a Dropout cannot be the last layer")
            rates[-1] = layer.rate
        elif isinstance(layer, _Normalization):
            name = type(layer).__name__
            if not dense or not isinstance(layers[i - 1], Dense):
                raise ValueError(
                    f"layers[{i}]: a {name} must follow a Dense layer (Dense, {name}, Dropout; to scale the "
                    "inputs use a StandardScaler)"
                )
            if i == len(layers) - 1:
                raise ValueError(f"layers[{i}]: a {name} cannot be the last layer (the output is the loss's)")
            if layer._net is not None or getattr(layer, "_owner", None) is not None:
                raise ValueError(f"layers[{i}] already belongs to another model; create a new {name}")
            norms[-1] = layer
        elif isinstance(layer, Dense):
            if layer._net is not None or getattr(layer, "_owner", None) is not None:
                raise ValueError(f"layers[{i}] already belongs to another model; create a new Dense")
            dense.append(layer)
            rates.append(0.0)
            norms.append(None)
        else:
            raise TypeError(
                f"layers[{i}] must be a Dense, Dropout, BatchNormalization or LayerNormalization layer, "
                f"got {type(layer).__name__}"
            )
    return dense, rates, norms


def chain(dense: list) -> None:
    """Each Dense layer takes the outputs of the one before (Dense(units) gets that input size)."""
    for i in range(1, len(dense)):
        if dense[i].n_in is None:
            dense[i]._set_n_in(dense[i - 1].n_out)
        elif dense[i].n_in != dense[i - 1].n_out:
            raise ValueError(
                f"Dense layer {i} takes {dense[i].n_in} inputs but Dense layer {i - 1} gives "
                f"{dense[i - 1].n_out} outputs"
            )


def network(model):
    """The C++ network of a model (its first layer's input size known), its weights initialised
    from the model's seed, with the layers bound to it (their weights are views into it)."""
    dense, rates, norms = model.dense_layers, model._rates, model._norms
    core = _core.Network32 if model.dtype == np.float32 else _core.Network64
    specs = [d._spec.with_dropout(rate) for d, rate in zip(dense, rates)]
    specs = [s if n is None else s.with_norm(n.kind, n.epsilon, n._momentum) for s, n in zip(specs, norms)]
    net = core(specs, model.loss_name, model._l2)
    net.init_params(model.seed)
    for i, (layer, rate, norm) in enumerate(zip(dense, rates, norms)):
        layer._net, layer._index, layer.dropout = net, i, rate
        if norm is not None:
            norm._net, norm._index, norm.units = net, i, layer.n_out
    return net


def checked_weights(views: list, weights, dtype) -> list:
    """(view, array) for set_weights: every array of ``weights`` checked against its view first."""
    weights = list(weights)
    if len(weights) != len(views):
        raise ValueError(f"weights must hold {len(views)} arrays (as get_weights() returns them), got {len(weights)}")
    arrays = []
    for i, (view, name) in enumerate(views):
        arr = np.asarray(weights[i], dtype=dtype)
        if arr.shape != view.shape:
            raise ValueError(f"weights[{i}] ({name}) must have shape {view.shape}, got {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError(f"weights[{i}] ({name}) contains NaN or infinity")
        if name.startswith("moving_variance") and (arr < 0).any():
            raise ValueError(f"weights[{i}] ({name}) holds a negative variance")
        arrays.append((view, arr))
    return arrays


def summary(model) -> str:
    """Sequential.summary's table: type, output shape, parameter count, activation; the totals."""
    rows = [("Layer (type)", "Output shape", "Param #", "Activation")]
    shape = f"(None, {'?' if model.n_features_in is None else model.n_features_in})"
    for i, layer in enumerate(model.layers):
        rows.append(layer.summary_row(i, shape))
        shape = rows[-1][1]  # the next layer's input
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    line = "-" * (sum(widths) + 6)
    fmt = "  ".join("{:<%d}" % w for w in widths)
    total = sum(layer.num_params or 0 for layer in model.layers)
    inputs = "?" if model.n_features_in is None else model.n_features_in
    return "\n".join(
        [
            f'Model: "sequential" (inputs: {inputs}, loss: {model.loss_name}, dtype: {model.dtype.name}, '
            f"optimizer: {type(model.optimizer).__name__})",
            line,
            fmt.format(*rows[0]),
            line.replace("-", "="),
        ]
        + [fmt.format(*r) for r in rows[1:]]
        + [
            line.replace("-", "="),
            f"Total params: {total:,}" + ("" if model.built else " (not built: first layer's input unknown)"),
            line,
        ]
    )
