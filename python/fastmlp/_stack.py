"""A Sequential's stack of layers, walked without asking their kind: which layer may stand where
(each layer's _check_place), the sizes (_chain), the network the C++ core builds from the layers'
configs (their model-file entries) and the binding of each layer to its tensors by name (_bind),
set_weights' checks and the summary table (its rows are the layers' own: Layer.summary_row)."""

from __future__ import annotations

import numpy as np

from . import _core
from .layers import Dense, Layer


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


def check(layers: list) -> tuple:
    """Check a model's layers before anything is changed on them: each one's place (the first
    is a Dense, the last a Dense or an Activation, ...: Layer._check_place), that none belongs to
    another model, and that the sizes chain (Layer._chain). Returns (the Dense layers depth first,
    the (layer, n_in) input sizes to set: claim). ValueError / TypeError naming layers[i]."""
    check_places(layers, "layers", None, last=True)
    seen = set()
    for where, layer in _walk(layers, "layers"):
        if not layer._owned:
            continue
        if id(layer) in seen:
            raise ValueError(f"{where} appears twice in this model; create a new {type(layer).__name__}")
        seen.add(id(layer))
        if layer._net is not None or layer._owner is not None:
            raise ValueError(f"{where} already belongs to another model; create a new {type(layer).__name__}")
    deferred = []
    chain(layers, layers[0].n_in, "layers", deferred)
    return [layer for _, layer in _walk(layers, "layers") if isinstance(layer, Dense)], deferred


def check_places(layers: list, where: str, before, last: bool) -> None:
    """Each layer of a stack is a Layer and may stand where it is: after ``before`` (the layer
    whose output the stack takes; None: the model's inputs), the last one the model's output when
    ``last``."""
    for i, layer in enumerate(layers):
        if not isinstance(layer, Layer):
            raise TypeError(
                f"{where}[{i}] must be a layer (Dense, Activation, Residual, ...), got {type(layer).__name__}"
            )
        layer._check_place(f"{where}[{i}]", before, last and i == len(layers) - 1)
        before = layer


def chain(layers: list, n_in, where: str, deferred: list):
    """The outputs of a stack taking ``n_in`` inputs (None: not known yet): each layer takes the
    outputs of the one before (Dense(units) gets that input size: into ``deferred``)."""
    for i, layer in enumerate(layers):
        n_in = layer._chain(f"{where}[{i}]", n_in, deferred)
    return n_in


def claim(model, layers: list, deferred: list) -> None:
    """After check: the layers belong to ``model``; deferred input sizes are set."""
    for _, layer in _walk(layers, "layers"):
        if layer._owned:
            layer._owner = model
    for layer, n_in in deferred:
        layer._set_n_in(n_in)


def release(layers: list) -> None:
    """Undo claim for a model that failed to build (the layers may go into another model)."""
    for _, layer in _walk(layers, "layers"):
        if layer._owned:
            layer._owner = layer._net = None


def _walk(layers: list, where: str):
    """(where, layer) of every layer, depth first (a block, then its layers)."""
    for i, layer in enumerate(layers):
        yield f"{where}[{i}]", layer
        yield from _walk(layer.sublayers, f"{where}[{i}].layers")


def entries(layers: list) -> list:
    """The model file's "layers" entries of a stack: the configs the C++ core builds it from."""
    return [entry for entry in (layer.file_entry() for layer in layers) if entry is not None]


def positions(layers: list) -> list:
    """Each layer's position in ``entries(layers)``, the <i> of its tensors' names
    "layers.<i>.weight" (a layer without an entry, Dropout(0), shares the next one's and has no
    tensors)."""
    out, i = [], 0
    for layer in layers:
        out.append(i)
        i += layer.file_entry() is not None
    return out


def network(model):
    """The C++ network of a model (its first layer's input size known), built from its layers'
    configs, its weights initialised from the model's seed, with the layers bound to it (their
    weights are views into it, found by the tensors' names)."""
    core = _core.Network32 if model.dtype == np.float32 else _core.Network64
    net = core(entries(model.layers), model.loss_name, model._l2)
    net.init_params(model.seed)
    bind(model.layers, net, "layers.")
    return net


def bind(layers: list, net, prefix: str) -> None:
    """Bind a stack's layers to ``net``: layer i's tensors are called prefix + "<i>.weight", ..."""
    before = None
    for layer, pos in zip(layers, positions(layers)):
        layer._bind(net, f"{prefix}{pos}.", before)
        before = layer


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
