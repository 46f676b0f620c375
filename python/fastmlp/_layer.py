"""The Layer base class, the registry of layer kinds (LAYERS) and the walks over a list of layers
(a model's, or a Residual block's): where each may stand, the sizes, the C++ configs, the binding
to the built network's tensors. The layer kinds are fastmlp.layers'; fastmlp._stack uses these
walks for a whole model.

Every layer is a :class:`Layer` (Keras's contract): ``get_config()`` gives its constructor
arguments and ``Layer.from_config(config)`` makes it again; defining a subclass registers it in
:data:`LAYERS` under its class name, the one table the model file, ``fm.load`` and the builders
read. What the rest of the package needs from a layer is a method of it, so a model walks its
layers without asking their kind: ``summary_row`` (model.summary), ``html_row`` (the notebook
table), ``onnx_nodes`` (fastmlp.onnx), ``file_entry`` / ``Layer.from_file_entry`` (its entry in
the model file's "layers" metadata, the config the C++ core builds its layer from:
cpp/src/layers/), and where it may stand (``_check_place``), what input size it takes
(``_chain``) and how it finds its weights in the built network (``_bind``: by the names the C++
core gives its tensors, "layers.<i>.weight").
"""

from __future__ import annotations

import numbers

from ._validation import as_int

#: Every layer class by name (its class name, as the model file's "type" spells it), filled by
#: ``Layer.__init_subclass__``; classes whose name starts with "_" are abstract and left out.
LAYERS: dict = {}


def layer_class(name: str) -> type:
    """The layer class called ``name`` ("Dense", "Dropout", ...); ValueError listing the known ones."""
    if not isinstance(name, str):
        raise TypeError(f"a layer type must be a string, got {type(name).__name__}")
    if name not in LAYERS:
        raise ValueError(f"unknown layer type {name[:40]!r} (expected one of {', '.join(LAYERS)})")
    return LAYERS[name]


class Layer:
    """The base of every layer. A subclass gives ``get_config`` (its constructor arguments, plain
    JSON values), ``summary_row``, ``html_row`` and ``onnx_nodes``; ``num_params`` counts its
    trainable parameters (None while its size is unknown)."""

    num_params: int | None = 0
    #: Whether the layer belongs to one model only (it holds weights, or layers that do); a
    #: weightless Dropout or Activation may be reused.
    _owned = True
    #: Whether it may be a model's last layer: its activation is the loss's (Dense, Activation).
    _output = False
    _net = None  # the C++ network it is bound to (bind, below)
    _owner = None  # the Sequential that claimed it
    _prefix = ""  # its tensors' names start with this: "layers.3." (nested: "layers.3.layers.0.")
    _source = None  # the Dense whose units this layer passes on (Dense.dropout)
    sublayers: tuple = ()  # a block's inner layers (Residual)

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if cls.__name__.startswith("_"):
            return
        if cls.__name__ in LAYERS:
            raise TypeError(f"a layer class named {cls.__name__!r} is already registered")
        LAYERS[cls.__name__] = cls

    def get_config(self) -> dict:
        """The constructor arguments that make this layer again: ``type(layer).from_config(config)``."""
        raise NotImplementedError(f"{type(self).__name__}.get_config")

    @classmethod
    def from_config(cls, config: dict) -> Layer:
        """A new layer from ``get_config()``'s dict (a fresh layer: not part of any model)."""
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        return cls(**config)

    # --- the model file ---
    def file_entry(self) -> dict | None:
        """This layer's entry in the model file's "layers" list (as the C++ writer spells it:
        {"type": "Dropout", "rate": 0.5}); None for a layer the file leaves out."""
        return {"type": type(self).__name__, **self.get_config()}

    @classmethod
    def from_file_entry(cls, entry: dict) -> Layer:
        """The layer of a "layers" entry: its "type" picks the class from LAYERS, the rest is its
        config. ValueError / TypeError (naming the field) for an entry no layer accepts."""
        if not isinstance(entry, dict) or "type" not in entry:
            raise ValueError("a layer entry must be an object with a 'type'")
        kind = layer_class(entry["type"])
        if not issubclass(kind, cls):
            raise ValueError(f"expected a {cls.__name__} entry, got {entry['type']!r}")
        return kind._from_file_config({k: v for k, v in entry.items() if k != "type"})

    @classmethod
    def _from_file_config(cls, config: dict) -> Layer:
        return cls.from_config(config)

    def weight_views(self) -> list:
        """(writable view, name) of each array this layer adds to ``model.get_weights()``, in
        Keras's order; none for a layer without weights."""
        return []

    # --- its place in a model (fastmlp._stack calls these; nothing is changed on a failure) ---
    def _check_place(self, where: str, before, last: bool) -> None:
        """ValueError when this layer cannot stand at ``where`` ("layers[2]"): after ``before``
        (the layer whose output it takes; None: the model's inputs), as the model's output layer
        when ``last``. Here: only a Dense takes the inputs, only a Dense or an Activation is last."""
        name = _article(type(self).__name__)
        if before is None:
            raise ValueError(f"{where}: {name} must follow a Dense layer (it cannot be the first)")
        if last and not self._output:
            raise ValueError(
                f"{where}: {name} cannot be the last layer (the output layer is a Dense or an Activation: "
                "the loss applies its activation)"
            )

    def _chain(self, where: str, n_in: int | None, deferred: list) -> int | None:
        """The number of outputs for ``n_in`` inputs (None: not known yet); ValueError naming
        ``where`` when the layer cannot take them. Input sizes still to set go to ``deferred``
        as (layer, n_in). Here: element-wise, as many outputs as inputs."""
        return n_in

    def _bind(self, net, prefix: str, before) -> None:
        """Bind to the built network ``net``: the layer's tensors are named ``prefix`` + "weight",
        ...; ``before`` is the layer whose output it takes (None: the inputs or a block's)."""
        self._net, self._prefix = net, prefix
        self._source = None if before is None else before._source

    # --- what model.summary(), the notebook table and the ONNX export show of it ---
    def summary_row(self, index: int, input_shape: str) -> tuple:
        """(name, output shape, parameter count, activation) for ``model.summary()``;
        ``input_shape`` is the row before's output shape ("(None, 5)")."""
        return (f"layer_{index} ({type(self).__name__})", input_shape, _count(self.num_params), "")

    def html_row(self) -> list:
        """[layer, weights, activation, parameters] for the notebook's layer table."""
        return [repr(self), "", "", _count(self.num_params)]

    def onnx_nodes(self, ctx, x: str, prefix: str, out: str | None = None) -> tuple:
        """(nodes, initializers, output name) computing this layer on the tensor ``x`` in
        inference; names start with ``prefix``, and the output is called ``out`` when given (the
        graph's output). ``ctx`` is fastmlp.onnx's export context (dtype, opset, helpers)."""
        raise NotImplementedError(f"{type(self).__name__} has no ONNX export")


def _count(n) -> str:
    return "?" if n is None else f"{n:,}"


def _article(name: str) -> str:
    return ("an " if name[0] in "AEIOU" else "a ") + name


def input_size(shape, name: str = "input_shape") -> int:
    """The number of columns in a Keras shape ``(n,)``; TypeError / ValueError naming ``name``."""
    if isinstance(shape, numbers.Integral) and not isinstance(shape, bool):
        shape = (shape,)
    if not isinstance(shape, (tuple, list)):
        raise TypeError(f"{name} must be a tuple (n_features,), got {type(shape).__name__}")
    if len(shape) != 1:
        raise ValueError(
            f"{name} must be (n_features,): a model takes rows of n_features numbers, got {tuple(shape)!r}"
        )
    n = as_int(shape[0], name)
    if n < 1:
        raise ValueError(f"{name} must be (n_features,) with n_features >= 1, got {tuple(shape)!r}")
    return n


# --- walks over a list of layers ------------------------------------------------------------------


def check_places(layers: list, where: str, before, last: bool) -> None:
    """Each layer of a stack is a Layer and may stand where it is: after ``before`` (the layer
    whose output the stack takes; None: the model's inputs), the last one the model's output when
    ``last``. ValueError / TypeError naming ``where``[i]."""
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


def walk(layers: list, where: str = "layers"):
    """(where, layer) of every layer, depth first (a block, then its layers)."""
    for i, layer in enumerate(layers):
        yield f"{where}[{i}]", layer
        yield from walk(layer.sublayers, f"{where}[{i}].layers")


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


def bind(layers: list, net, prefix: str) -> None:
    """Bind a stack's layers to ``net``: layer i's tensors are called prefix + "<i>.weight", ..."""
    before = None
    for layer, pos in zip(layers, positions(layers)):
        layer._bind(net, f"{prefix}{pos}.", before)
        before = layer
