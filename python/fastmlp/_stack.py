"""A Sequential's stack of layers, walked without asking their kind (fastmlp._layer's walks): the
checks before a model takes its layers (each layer's place, ownership, sizes), the network the
C++ core builds from the layers' configs (their model-file entries) with each layer bound to its
tensors by name, set_weights' checks and the summary table (its rows are the layers' own)."""

from __future__ import annotations

import contextlib

import numpy as np

from . import _core, _layer, _mixed
from .layers import Dense
from .preprocessing import Normalization


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


def check(layers: list, n_in: int | None = None, model=None, complete: bool = True) -> tuple:
    """Check a model's layers before anything is changed on them: each one's place (the first
    is a Dense, the last a Dense or an Activation, ...: Layer._check_place), that none belongs to
    another model (than ``model``, whose layers they may already be: add, pop), and that the sizes
    chain (Layer._chain) from ``n_in`` inputs (None: the first layer's own; fm.Input gives it).
    ``complete=False`` (a model that ``add`` is still building): the last layer need not be an
    output layer, nor any a Dense. Returns (the Dense layers depth first, the (layer, n_in) input
    sizes to set: claimed). ValueError / TypeError naming layers[i]."""
    _layer.check_places(layers, "layers", None, last=complete)
    seen = set()
    for where, layer in _layer.walk(layers):
        if not layer._owned:
            continue
        if id(layer) in seen:
            raise ValueError(f"{where} appears twice in this model; create a new {type(layer).__name__}")
        seen.add(id(layer))
        if (layer._net is not None or layer._owner is not None) and layer._owner is not model:
            raise ValueError(f"{where} already belongs to another model; create a new {type(layer).__name__}")
    deferred = []
    n_in = layers[0].n_in if n_in is None else n_in
    if n_in is None and isinstance(layers[0], Normalization) and len(layers) > 1:
        n_in = getattr(layers[1], "n_in", None)  # given numbers, no columns yet: the Dense after it tells
    _layer.chain(layers, n_in, "layers", deferred)
    dense = [layer for _, layer in _layer.walk(layers) if isinstance(layer, Dense)]
    if not dense and complete:
        raise ValueError("layers must hold at least one Dense layer")
    return dense, deferred


@contextlib.contextmanager
def claimed(model, layers: list, deferred: list):
    """After check: the layers belong to ``model`` and deferred input sizes are set; if the block
    fails (the C++ core refuses the network, e.g. an epsilon that is 0 in float32), the layers are
    free again for another model."""
    for _, layer in _layer.walk(layers):
        if layer._owned:
            layer._owner = model
    for layer, n_in in deferred:
        layer._set_n_in(n_in)
    try:
        yield
    except BaseException:
        for _, layer in _layer.walk(layers):
            if layer._owned:
                layer._owner = layer._net = None
        raise


def network(model):
    """The C++ network of a model (its first layer's input size known), built from its layers'
    configs, its weights initialised from the model's seed, with the layers bound to it (their
    weights are views into it, found by the tensors' names)."""
    core = _core.Network32 if model.dtype == np.float32 else _core.Network64
    net = core(_layer.entries(model.layers), model.loss_name, model._l2)
    _mixed.apply(net, model.dtype_policy)  # bf16 operands in the products (mixed_bfloat16)
    net.init_params(model.seed)
    _layer.bind(model.layers, net, "layers.")
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
        if name.startswith(("moving_variance", "variance")) and (arr < 0).any():
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
    state = sum(getattr(layer, "num_state", 0) or 0 for layer in model.layers)  # a Normalization's statistics
    inputs = "?" if model.n_features_in is None else model.n_features_in
    return "\n".join(
        [
            f'Model: "sequential" (inputs: {inputs}, loss: {model.loss_name}, dtype: {model.dtype_policy}, '
            f"optimizer: {type(model.optimizer).__name__})",
            line,
            fmt.format(*rows[0]),
            line.replace("-", "="),
        ]
        + [fmt.format(*r) for r in rows[1:]]
        + [
            line.replace("-", "="),
            f"Total params: {total:,}" + ("" if model.built else " (not built: first layer's input unknown)"),
        ]
        + ([f"Non-trainable params: {state:,} (not in the total: statistics, not trained)"] if state else [])
        + [line]
    )
