"""Keras's ways of building a Sequential: ``fm.Input(shape=(n,))`` first, ``Sequential()`` then
``add(layer)`` / ``pop()``, and ``compile(optimizer=..., loss=..., metrics=[...])``.

A model's layer list may change after it is built (add, pop, compile with another loss): the
network is then built again from the new list (fastmlp._stack.network) and the layers it kept
get their weights back (Keras 3's rule: add re-builds, built layers keep their weights), so a
trained model may grow a new head. A model's network is built as soon as its input size is
known (fm.Input, ``input_shape=`` / ``input_dim=`` on the first layer, or the first fit) and
its last layer is an output layer (a Dense or an Activation: while ``add`` is still on its way
there, e.g. after a Dropout, the model waits, unbuilt, keeping the weights it had).
"""

from __future__ import annotations

from . import _core, _layer, _stack
from . import optimizers as _optimizers
from ._layer import input_size
from .losses import CLASSIFICATION_LOSSES


class Input:
    """The input of a model (Keras's ``keras.Input``): ``fm.Input(shape=(n_features,))`` as the
    first element of a Sequential's layer list (or its first ``add``) fixes the number of input
    columns, so that the model is built at once. It is not a layer: the model keeps its size only
    (``model.n_features_in``).

    Parameters
    ----------
    shape : tuple of one int
        ``(n_features,)``: the columns of X (rows are the samples; Keras leaves the batch size
        out of the shape likewise).
    """

    def __init__(self, shape):
        self.shape = (input_size(shape, "shape"),)

    def __repr__(self) -> str:
        return f"Input(shape={self.shape})"


def split_input(layers) -> tuple:
    """(the layers, the input size an ``fm.Input`` at their front gives, else None)."""
    given = layers is not None
    if isinstance(layers, (_layer.Layer, Input)) or isinstance(layers, (str, bytes, dict)):
        raise TypeError(f"layers must be a list of layers, Sequential([layer, ...]), got {type(layers).__name__}")
    layers = list(layers) if given else []
    for i, layer in enumerate(layers):
        if not isinstance(layer, (_layer.Layer, Input)):
            raise TypeError(f"layers[{i}] must be a layer (Dense, Dropout, ...), got {type(layer).__name__}")
    if given and not layers:
        raise ValueError(
            "layers must hold at least one Dense layer, got an empty list (an empty model to fill with "
            "add: Sequential())"
        )
    n_in = None
    if layers and isinstance(layers[0], Input):
        n_in, layers = layers[0].shape[0], layers[1:]
    for i, layer in enumerate(layers):
        if isinstance(layer, Input):
            raise ValueError(f"layers[{i + (n_in is not None)}]: an Input can only be the first element of the list")
    return layers, n_in


def complete(layers: list) -> bool:
    """Whether a layer list is a whole model: its last layer an output layer (Dense, Activation)."""
    return bool(layers) and layers[-1]._output


def output_error(layers: list, loss_name: str | None) -> str | None:
    """Why the output layer of ``layers`` does not suit ``loss_name`` (the C++ core's rule, asked of
    a one-layer network: binary_crossentropy needs a sigmoid output, ...); None when it does."""
    if loss_name is None or not complete(layers):
        return None
    entry = {"type": "Dense", "n_in": 1, "n_out": 2, "activation": layers[-1].activation}
    try:
        _core.Network64([entry], loss_name, 0.0)
    except ValueError as e:
        return str(e)
    return None


def ready(layers: list, loss_name: str | None) -> bool:
    """Whether a layer list can be built: complete, its output layer suiting the loss."""
    return complete(layers) and output_error(layers, loss_name) is None


def output_loss(model, layers: list, loss) -> str | None:
    """The loss of ``layers`` with ``loss`` (None: the output activation's); None while the list
    has no output layer yet."""
    if loss is None and not complete(layers):
        return None
    return _stack.loss_name(loss, layers[-1].activation if complete(layers) else "linear")


def require_idle(model, what: str) -> None:
    """RuntimeError while a fit of ``model`` runs (``what`` called from one of its callbacks, or from
    another thread): the loop trains the network and optimizer it began with to the end, so a new
    one (layers added or removed, quantized, another loss, optimizer or device) would silently miss
    the rest of that fit, which History would still report."""
    if model.__dict__.get("_fits_running"):
        raise RuntimeError(
            f"{what}: this model is being trained (a fit is running: in a callback, set "
            "model.stop_training = True and call it after fit returns)"
        )


def set_layers(model, layers: list, loss=None, strict: bool = True, what: str = "changing the layers") -> None:
    """Give ``model`` the layer list ``layers`` (its own and new ones) and its loss (``loss``:
    the model's, None for the output activation's); build the network when the input size is
    known and the list is complete, the layers it had keeping their weights. Every check comes
    first: on an error the model and the layers are as they were. ``strict``: the list must be
    a whole model (Sequential(layers)); else (add, pop) it may still lack its output layer, or one
    that suits a loss given before (the model then waits, unbuilt, keeping its weights). ``what``
    names the call in the RuntimeError while a fit of the model runs (require_idle)."""
    require_idle(model, what)
    loss_name = output_loss(model, layers, loss)
    whole = strict or ready(layers, loss_name)
    dense, deferred = _stack.check(layers, model._input_size, model, complete=whole) if layers else ([], [])
    kept = held_weights(model) if model.built else model._kept_weights or []
    kept = [(layer, arrays) for layer, arrays in kept if any(layer is other for other in layers)]
    before = (model.layers, model.dense_layers, model.loss_name, model._loss, model._net, model._engine)
    new = [layer for layer in layers if layer._owner is not model]
    with _stack.claimed(model, new, deferred):
        model.layers, model.dense_layers, model.loss_name, model._loss = layers, dense, loss_name, loss
        model._net = model._engine = None
        model._pending_device = model._device or model._pending_device
        model._device = None
        try:
            # built when every size is known (not yet: a ColumnEmbedding before its first fit)
            if whole and layers and layers[0].n_in is not None and all(d.n_in is not None for d in dense):
                build(model, kept)
            else:
                model._kept_weights = kept
        except BaseException:
            (model.layers, model.dense_layers, model.loss_name, model._loss, model._net, model._engine) = before
            model._device = model._pending_device if model._net is not None else None
            if model._net is not None:
                _layer.bind(model.layers, model._net, "layers.")
            raise
    if model._label_classes is not None and whole and len(model._label_classes) != model._targets().n_labels():
        model._label_classes = None  # an output for other labels: the next fit learns them


def held_weights(model) -> list:
    """(layer, copies of its weight arrays) of each layer of a built model: what a rebuild keeps."""
    return [(layer, [view.copy() for view, _ in layer.weight_views()]) for layer in model.layers]


def build(model, kept=None) -> None:
    """The model's network from its layers (fastmlp._stack.network), on its device; the weights
    ``kept`` ((layer, arrays) of the layers it had: held_weights) put back."""
    if not complete(model.layers):
        _layer.check_places(model.layers, "layers", None, last=True)  # says which layer is missing
    if not model.dense_layers:
        raise ValueError("layers must hold at least one Dense layer")
    net = _stack.network(model)
    for layer, arrays in kept or ():
        for (view, _), w in zip(layer.weight_views(), arrays):
            view[...] = w
    model._net, model._kept_weights = net, None
    model.to(model._pending_device)


def require_built(model):
    """The model's network; RuntimeError saying what is missing when it is not built yet."""
    if model._net is not None:
        return model._net
    if not model.layers:
        raise RuntimeError("this model has no layers yet: add them with model.add(layer) (Keras's Sequential())")
    if not complete(model.layers):
        raise RuntimeError(
            f"this model is not built yet: its last layer is {_layer._article(type(model.layers[-1]).__name__)}; "
            "add an output layer (a Dense or an Activation)"
        )
    if (error := output_error(model.layers, model.loss_name)) is not None:
        raise RuntimeError(
            f"this model is not built yet: its output layer does not suit its loss ({error}); add one that "
            "does, or compile(loss=...)"
        )
    raise RuntimeError(
        "this model is not built yet: its first layer has no input size; call "
        "fit(X, y) or build(n_features) first, or give Dense(units, input_dim=...) "
        "(Embedding(..., input_length=...))"
    )


#: compile's metrics: what fit and evaluate report (the loss, and the accuracy of a classifier).
ACCURACY_NAMES = ("accuracy", "acc")


class Building:
    """Keras's Sequential.add / pop / compile (a Sequential inherits them; fastmlp.model)."""

    _input_size = None  # the columns an fm.Input gave (None: the first layer's own input size)
    _kept_weights = None  # held_weights() of a model that add left unbuilt (no output layer yet)
    _loss = None  # the loss given (constructor, compile); None: the output activation's
    #: The metric names ``compile`` was given (checked: what fit and evaluate report).
    compiled_metrics: tuple = ()

    def add(self, layer) -> None:
        """Append ``layer`` (Keras's ``model.add``): its place is checked as in ``Sequential(layers)``
        (a Dropout or a normalization cannot come first, sizes must chain; ValueError naming
        layers[i], the model unchanged). ``fm.Input(shape=(n,))`` may be the first thing added.
        The model is built once its input size is known and its last layer is an output layer
        (Dense, Activation); a built model is built again with the new layer, the layers it had
        keeping their weights (Keras 3). A loss inferred from the output activation follows the
        new output layer (a loss given to the constructor or ``compile`` stays).

        Parameters
        ----------
        layer : Layer or Input
            The layer to append.
        """
        if isinstance(layer, Input):
            if self.layers or self._input_size is not None:
                raise ValueError("an Input can only be the first thing added to a Sequential (it has layers)")
            self._input_size = layer.shape[0]
            return
        if not isinstance(layer, _layer.Layer):
            raise TypeError(f"add takes a layer (Dense, Activation, Residual, ...), got {type(layer).__name__}")
        set_layers(self, [*self.layers, layer], self._loss, strict=False, what="add")

    def pop(self):
        """Remove the last layer and return it (Keras's ``model.pop()``); the model is built again
        from the layers left, which keep their weights (the popped layer's own are dropped with
        the old network: it is free to join another model). When the layer left last cannot end
        a model (a Dropout), the model waits, unbuilt, for the next ``add`` (as after ``add``);
        ValueError when it has no layers.

        Returns
        -------
        Layer
        """
        if not self.layers:
            raise ValueError("pop: this model has no layers")
        layer = self.layers[-1]
        set_layers(self, self.layers[:-1], self._loss, strict=False, what="pop")
        for _, inner in _layer.walk([layer]):
            if inner._owner is self:
                inner._owner = inner._net = None
        return layer

    def compile(self, optimizer=None, loss=None, metrics=None) -> None:
        """Set the optimizer and the loss before ``fit`` (Keras's ``model.compile``); what the
        constructor was given is overridden, what is None here is kept.

        Parameters
        ----------
        optimizer : str, Optimizer or None, default None
            As the constructor's ``optimizer`` ("adam", "sgd", fm.Adam(...), ...): a fresh one
            (no state). None keeps the model's.
        loss : str or None, default None
            As the constructor's ``loss``. None keeps the model's (a loss given before, else the
            output activation's). A model with another loss is built again, keeping its
            weights; its output layer must suit the loss (ValueError otherwise, as the
            constructor's) unless ``add`` has still to give it one.
        metrics : list of str or None, default None
            What fit and evaluate report besides the loss: "accuracy" (or "acc", classifiers
            only: fit's ``accuracy``) and the loss's own name. Anything else raises ValueError
            listing these (fastmlp computes no other metric).
        """
        require_idle(self, "compile")
        optimizer = None if optimizer is None else _optimizers.get(optimizer)
        if loss is not None:
            _stack.loss_name(loss, "linear")  # the name checked before anything changes
        loss_name = output_loss(self, self.layers, self._loss if loss is None else loss)
        compiled = check_metrics(metrics, loss_name)
        if loss is not None:
            if loss_name != self.loss_name:  # a whole model must suit it at once (built again)
                set_layers(self, self.layers, loss, strict=complete(self.layers))
            self._loss = loss
        if optimizer is not None:
            self.optimizer = optimizer
        self.compiled_metrics = compiled


def check_metrics(metrics, loss_name: str | None) -> tuple:
    """compile's metrics as fit reports them ("accuracy", the loss name); ValueError otherwise."""
    if metrics is None:
        return ()
    if isinstance(metrics, str) or not isinstance(metrics, (list, tuple)):
        raise TypeError(f"metrics must be a list of names, e.g. ['accuracy'], got {metrics!r}")
    supported = ["accuracy", "acc"] + ([loss_name] if loss_name else []) + ["loss"]
    out = []
    for metric in metrics:
        if not isinstance(metric, str):
            raise TypeError(f"metrics must hold metric names (strings), got {type(metric).__name__}")
        name = "accuracy" if metric in ACCURACY_NAMES else metric
        if name not in ("accuracy", "loss"):
            try:
                canonical = _stack.loss_name(metric, "linear")
            except ValueError:
                canonical = None
            name = canonical if canonical is not None and canonical == loss_name else None
        if name is None:
            raise ValueError(
                f"unsupported metric {metric!r}: fit and evaluate report {', '.join(map(repr, supported))} "
                "(the accuracy for classification losses only)"
            )
        if name == "accuracy" and loss_name is not None and loss_name not in CLASSIFICATION_LOSSES:
            raise ValueError(f"metric {metric!r} needs a classification loss; this model uses {loss_name!r}")
        out.append(name)
    return tuple(out)
