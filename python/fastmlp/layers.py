"""Layers: Dense (z = a_prev W + b, a = g(z)), Dropout, BatchNormalization, LayerNormalization,
Activation (a = g(x)), Residual (y = x + f(x), f the layers inside it) and Embedding (its own
module, fastmlp.embedding).

Each is a :class:`Layer` (fastmlp._layer: the base class, the LAYERS registry its subclasses
join, the walks over a list of layers) that owns its config, its model-file entry, its place in
a model, its weights (views into the built network, found by their tensors' names), its
summary and notebook rows and its ONNX nodes. A new layer kind is a class here, its C++ file in
cpp/src/layers/ and a row in cpp/src/layers/layer_kinds.cpp.
"""

from __future__ import annotations

import numpy as np

from . import _core, _layer
from ._layer import Layer, _count, layer_class  # noqa: F401 (fastmlp.layers.layer_class as before)
from ._validation import as_int, as_real
from .embedding import Embedding

#: Every layer class by name (its class name, as the model file's "type" spells it), filled by
#: ``Layer.__init_subclass__`` (fastmlp._layer); classes whose name starts with "_" are left out.
LAYERS = _layer.LAYERS

#: What ``import fastmlp`` exports from here (``fm.Dense``, ...): a new layer kind's name goes here too.
__all__ = [
    "Dense",
    "Dropout",
    "BatchNormalization",
    "LayerNormalization",
    "Activation",
    "Residual",
    "Embedding",
    "Layer",
    "LAYERS",
    "ACTIVATIONS",
]

#: The activation names: the C++ core's list (activations.hpp), the one source.
ACTIVATIONS = tuple(_core.ACTIVATIONS)
# The activations that take an alpha, with its default (from the C++ LayerSpec).
DEFAULT_ALPHA = {g: _core.LayerSpec(1, 1, g).alpha for g in ACTIVATIONS if _core.LayerSpec(1, 1, g).alpha != 0}


class Dense(Layer):
    """A fully connected layer  z = a_prev W + b,  a = g(z);  n_in * n_out weights and n_out biases.

    ``Dense(n_in, n_out, activation)`` as in the lecture, or Keras's ``Dense(units, activation=...)``
    (also ``Dense(units, "relu")``): the input size then comes from the layer before, or, for
    the first layer, from ``input_dim`` (or Keras's ``input_shape=(n_in,)``, or an ``fm.Input``
    before it) or the data of the model's first fit.

    activation: linear (also None, as in Keras), sigmoid, tanh, relu, leaky_relu (a = z if z > 0
      else alpha z, alpha=0.01), elu (a = z if z > 0 else alpha (e^z - 1), alpha=1), softplus
      (a = ln(1 + e^z)), softmax, or step (a = [z >= 0], gradient 0: a threshold unit
      for hand-set networks such as the lecture's logic gates).
    init: glorot_uniform / glorot_normal / he_uniform / he_normal; None = He-uniform for
      relu, leaky_relu and elu layers, Glorot-uniform otherwise.
    quantize: None, or "int8" for a layer of a quantized model (``model.quantize("int8")`` sets
      it; fastmlp.quantize): int8 weights with a scale per output, inference only.
    """

    def __init__(
        self,
        n_in: int,
        n_out: int | str | None = None,
        activation: str | None = "linear",
        init: str | None = None,
        alpha: float | None = None,
        *,
        input_dim: int | None = None,
        input_shape=None,
        quantize: str | None = None,
    ):
        if quantize is not None and quantize != "int8":
            raise ValueError(f"quantize must be None or 'int8', got {quantize!r}")
        if input_shape is not None:  # Keras: Dense(8, input_shape=(4,)), as input_dim=4
            if input_dim is not None:
                raise TypeError("give input_dim or input_shape, not both")
            input_dim = _layer.input_size(input_shape)
        if activation is None:  # Keras: activation=None is linear
            activation = "linear"
        if isinstance(n_out, str):  # Keras: Dense(units, "relu")
            if activation != "linear":
                raise TypeError("activation given twice: Dense(units, activation) or Dense(n_in, n_out, activation)")
            activation, n_out = n_out, None
        if n_out is None:  # Keras: Dense(units); the input size comes later
            n_in, n_out = input_dim, n_in
        elif input_dim is not None:
            raise TypeError(
                "input_dim / input_shape go with Dense(units, ...); Dense(n_in, n_out) already has the input size"
            )
        if not isinstance(activation, str):
            raise TypeError(f"activation must be a string, got {activation!r}")
        if init is not None and not isinstance(init, str):
            raise TypeError(f"init must be a string or None, got {init!r}")
        # The C++ LayerSpec checks the values (ValueError naming them) and knows the defaults.
        self._deferred = n_in is None  # the input size is set when the model is built
        self._spec = _core.LayerSpec(
            1 if n_in is None else as_int(n_in, "n_in"),
            as_int(n_out, "n_out"),
            activation,
            None if alpha is None else as_real(alpha, "alpha", ValueError),
            0.0,
            init or "default",
        )
        self.dropout = 0.0  # the rate of a Dropout after it (or after its normalization), set when built
        self._quantize = quantize

    @property
    def quantization_mode(self) -> str | None:
        """None, or "int8" when the layer is quantized (Keras 3's name; fastmlp.quantize)."""
        return self._quantize

    n_in = property(
        lambda self: None if self._deferred else self._spec.n_in,
        doc="inputs; None until known (Dense(units) as a first layer, before the first fit)",
    )
    n_out = property(lambda self: self._spec.n_out)
    units = n_out

    def _set_n_in(self, n_in: int) -> None:
        s = self._spec
        self._spec = _core.LayerSpec(as_int(n_in, "n_in"), s.n_out, s.activation, s.alpha, 0.0, s.init)
        self._deferred = False

    activation = property(lambda self: self._spec.activation)
    alpha = property(lambda self: self._spec.alpha)
    init = property(
        lambda self: None if self._spec.init == "default" else self._spec.init,
        doc="None: He-uniform for relu-like layers, Glorot-uniform otherwise",
    )

    _output = True

    def _bound(self):
        if self._net is None:
            raise RuntimeError("this Dense layer has no parameters until it is part of a Sequential model")
        return self._net

    def _check_place(self, where: str, before, last: bool) -> None:
        pass  # anywhere: the first layer, the output layer, inside a block

    def _chain(self, where: str, n_in: int | None, deferred: list) -> int | None:
        if self.n_in is None:
            if n_in is not None:
                deferred.append((self, n_in))  # Dense(units): its input size is the layer before's
        elif n_in is not None and n_in != self.n_in:
            raise ValueError(f"{where}: this Dense takes {self.n_in} inputs but the layer before gives {n_in} outputs")
        return self.n_out

    def _bind(self, net, prefix: str, before) -> None:
        super()._bind(net, prefix, before)
        self._source, self.dropout = self, 0.0

    @property
    def weights(self) -> np.ndarray:
        """W, shape (n_in, n_out): a writable view into the model's parameter buffer. A quantized
        layer's: the int8 integers Wq (W ~ Wq * weight_scale), read-only."""
        view = self._bound().tensor(self._prefix + "weight")
        if self._quantize:
            view.flags.writeable = False
        return view

    @weights.setter
    def weights(self, value) -> None:
        if self._quantize:
            raise ValueError("the weights of a quantized (int8) layer are read-only: quantize a float32 model again")
        _assign(self.weights, value, "weights")

    @property
    def weight_scale(self) -> np.ndarray:
        """A quantized layer's scale per output column s (n_out,), read-only: W ~ Wq * s."""
        if not self._quantize:
            raise AttributeError("weight_scale: this Dense layer is not quantized")
        view = self._bound().tensor(self._prefix + "weight_scale")
        view.flags.writeable = False
        return view

    @property
    def bias(self) -> np.ndarray:
        """b, shape (n_out,): a writable view into the model's parameter buffer."""
        return self._bound().tensor(self._prefix + "bias")

    @bias.setter
    def bias(self, value) -> None:
        _assign(self.bias, value, "bias")

    @property
    def num_params(self) -> int | None:
        return None if self.n_in is None else self.n_in * self.n_out + self.n_out

    def get_config(self) -> dict:
        """n_in (None until known), n_out, activation, alpha (None for activations without one), init
        (and quantize, for a quantized layer)."""
        config = {
            "n_in": self.n_in,
            "n_out": self.n_out,
            "activation": self.activation,
            "alpha": self.alpha if self.activation in DEFAULT_ALPHA else None,
            "init": self.init,
        }
        if self._quantize:
            config["quantize"] = self._quantize
        return config

    def weight_views(self) -> list:
        if self._quantize:  # writable: a rebuild (add, pop, compile) puts them back; set_weights refuses
            net = self._bound()
            return [
                (net.tensor(self._prefix + "weight"), "Wq"),
                (self.bias, "b"),
                (net.tensor(self._prefix + "weight_scale"), "weight_scale"),
            ]
        return [(self.weights, "W"), (self.bias, "b")]

    def file_entry(self) -> dict:
        # a Dense's fields as the C++ core reads them (a subclass's extra config stays Python's)
        entry = {"type": "Dense", **Dense.get_config(self)}
        if entry["init"] is None:  # the file names an init only when it is not the default
            del entry["init"]
        return entry

    def summary_row(self, index: int, input_shape: str) -> tuple:
        kind = f"Dense, {self.quantization_mode}" if self.quantization_mode else "Dense"  # e.g. "Dense, int8"
        return (f"dense_{index} ({kind})", f"(None, {self.n_out})", _count(self.num_params), self.activation)

    def html_row(self) -> list:
        n_in = "?" if self.n_in is None else self.n_in
        kind = f"Dense ({self.quantization_mode})" if self.quantization_mode else "Dense"
        return [kind, f"({n_in}, {self.n_out})", self.activation, _count(self.num_params)]

    def onnx_nodes(self, ctx, x: str, prefix: str, out: str | None = None) -> tuple:
        """Gemm (z = x W + b) and the activation's nodes (fastmlp.onnx spells each activation); a
        quantized layer's integer product: fastmlp._onnx_int8."""
        if self._quantize:
            from ._onnx_int8 import int8_dense_nodes

            return int8_dense_nodes(ctx, self, x, prefix, out)
        W = ctx.tensor(f"{prefix}.weight", self.weights)
        b = ctx.tensor(f"{prefix}.bias", self.bias)
        z = f"{prefix}.z"
        gemm = ctx.node("Gemm", [x, W.name, b.name], [z], name=f"{prefix}.gemm")
        nodes, inits, a = ctx.activation(self.activation, z, prefix, out, float(self.alpha or 0.0))
        return [gemm] + nodes, [W, b] + inits, a

    def __repr__(self) -> str:
        extra = f", alpha={self.alpha}" if self.activation in DEFAULT_ALPHA else ""
        extra += f", init={self.init!r}" if self.init else ""
        extra += f", quantize={self._quantize!r}" if self._quantize else ""
        if self.n_in is None:
            return f"Dense({self.n_out}, activation={self.activation!r}{extra})"
        return f"Dense({self.n_in}, {self.n_out}, activation={self.activation!r}{extra})"


class Dropout(Layer):
    """Inverted dropout on the previous layer's output, during training only:
    each unit is zeroed with probability ``rate`` and the rest scaled by 1 / (1 - rate),
    so inference needs no rescaling."""

    def __init__(self, rate: float):
        self.rate = (
            _core.LayerSpec(1, 1).with_dropout(as_real(rate, "rate", ValueError)).dropout
        )  # [0, 1), checked in C++

    num_params = 0
    _owned = False  # no weights: one Dropout may stand in several places

    def _check_place(self, where: str, before, last: bool) -> None:
        if before is None or isinstance(before, Dropout):
            raise ValueError(
                f"{where}: a Dropout must follow a Dense layer (or its normalization, an Activation or a "
                "Residual), not the inputs or another Dropout"
            )
        super()._check_place(where, before, last)

    def _bind(self, net, prefix: str, before) -> None:
        super()._bind(net, prefix, before)
        if self._source is not None:
            self._source.dropout = self.rate

    def get_config(self) -> dict:
        return {"rate": self.rate}

    def file_entry(self) -> dict | None:
        return super().file_entry() if self.rate > 0 else None  # the C++ writer leaves rate 0 out

    def summary_row(self, index: int, input_shape: str) -> tuple:
        return (f"dropout_{index} (Dropout {self.rate:g})", input_shape, "0", "")

    def html_row(self) -> list:
        return [f"Dropout({self.rate:g})", "", "", "0"]

    def onnx_nodes(self, ctx, x: str, prefix: str, out: str | None = None) -> tuple:
        """Nothing: inference keeps every unit (an Identity only to name the graph's output)."""
        if out is None:
            return [], [], x
        return [ctx.node("Identity", [x], [out], name=f"{prefix}.identity")], [], out

    def __repr__(self) -> str:
        return f"Dropout({self.rate})"


class _Normalization(Layer):
    """y = gamma * x_hat + beta of the layer before's output (a Dense's, an Activation's or a
    Residual's; not a Dropout's), with learned gamma (initially 1) and beta (0), one per unit.
    Formulas in network.hpp."""

    kind = ""
    _keys = ("gamma", "beta")  # get_weights' names
    _tensors = ("gamma", "beta")  # the C++ core's (the model file's)

    def __init__(self, epsilon: float, momentum: float | None = None):
        # checked in C++ (ValueError naming the value): epsilon > 0, momentum in [0, 1)
        spec = _core.LayerSpec(1, 1).with_norm(
            self.kind,
            as_real(epsilon, "epsilon", ValueError),
            None if momentum is None else as_real(momentum, "momentum", ValueError),
        )
        self.epsilon, self._momentum = spec.norm_epsilon, spec.norm_momentum
        self.units = None  # set when the model is built

    def _check_place(self, where: str, before, last: bool) -> None:
        name = type(self).__name__
        if before is None or isinstance(before, (Dropout, _Normalization)):
            raise ValueError(
                f"{where}: a {name} must follow a Dense layer (or an Activation or a Residual; Dense, {name}, "
                "Dropout; to scale the inputs use a StandardScaler)"
            )
        super()._check_place(where, before, last)

    def _bind(self, net, prefix: str, before) -> None:
        super()._bind(net, prefix, before)
        self.units = int(net.tensor(prefix + "gamma").shape[0])

    def _views(self) -> tuple:
        if self._net is None:
            raise RuntimeError(f"this {type(self).__name__} has no parameters until it is part of a built model")
        return tuple(self._net.tensor(self._prefix + name) for name in self._tensors)

    gamma = property(lambda self: self._views()[0], doc="gamma (n,): a writable view into the parameter buffer")
    beta = property(lambda self: self._views()[1], doc="beta (n,): a writable view into the parameter buffer")

    @property
    def num_params(self) -> int | None:  # trainable: gamma and beta
        return None if self.units is None else 2 * self.units

    def weight_views(self) -> list:
        return list(zip(self._views(), self._keys))

    def get_config(self) -> dict:
        return {"epsilon": self.epsilon}

    def summary_row(self, index: int, input_shape: str) -> tuple:
        return (f"norm_{index} ({type(self).__name__})", input_shape, _count(self.num_params), "")

    def html_row(self) -> list:
        units = "?" if self.units is None else self.units
        return [repr(self), f"gamma, beta ({units},)", "", _count(self.num_params)]

    def _onnx_node(self, ctx, x: str, prefix: str, out, op: str, arrays: list, **attrs) -> tuple:
        """One ``op`` node on x with the arrays as initializers (named after the layer's weights).
        ONNX's epsilon attribute is a 32-bit float: the caller folds the difference into the
        variance where it can (BatchNormalization)."""
        tensors = [ctx.tensor(f"{prefix}.{key}", a) for a, key in zip(arrays, self._keys)]
        y = out or f"{prefix}.y"
        eps = float(np.float32(self.epsilon))
        node = ctx.node(op, [x] + [t.name for t in tensors], [y], name=prefix, epsilon=eps, **attrs)
        return [node], tensors, y


class BatchNormalization(_Normalization):
    """Batch normalization of the layer before's output (Keras's rule and defaults):
    in training x_hat = (a - mu_B) / sqrt(var_B + epsilon) with the batch's mean and (biased)
    variance per unit, and the running statistics updated as
    ``running = momentum * running + (1 - momentum) * batch``; in inference (predict, evaluate,
    validation) the running statistics. Not with data parallelism (comm=) yet: it would need the
    batch statistics synchronized across processes."""

    kind = "batch"
    _keys = ("gamma", "beta", "moving_mean", "moving_variance")
    _tensors = ("gamma", "beta", "running_mean", "running_var")

    def __init__(self, momentum: float = 0.99, epsilon: float = 1e-3):
        super().__init__(epsilon, momentum)

    momentum = property(lambda self: self._momentum)
    moving_mean = property(lambda self: self._views()[2], doc="the running mean (n,): a writable view")
    moving_variance = property(lambda self: self._views()[3], doc="the running variance (n,): a writable view")

    def get_config(self) -> dict:
        return {"epsilon": self.epsilon, "momentum": self.momentum}

    def onnx_nodes(self, ctx, x: str, prefix: str, out: str | None = None) -> tuple:
        """A BatchNormalization node with the running statistics (inference). The variance it is
        given makes var + eps32 what it is with the layer's own (64-bit) epsilon."""
        var = np.asarray(self.moving_variance, np.float64) + (self.epsilon - float(np.float32(self.epsilon)))
        arrays = [self.gamma, self.beta, self.moving_mean, var]
        return self._onnx_node(ctx, x, prefix, out, "BatchNormalization", arrays)

    def __repr__(self) -> str:
        return f"BatchNormalization(momentum={self.momentum:g}, epsilon={self.epsilon:g})"


class LayerNormalization(_Normalization):
    """Layer normalization of the layer before's output: each row over its units,
    x_hat = (a_i - mean(a_i)) / sqrt(var(a_i) + epsilon), the same in training and inference."""

    kind = "layer"

    def __init__(self, epsilon: float = 1e-3):
        super().__init__(epsilon)

    def onnx_nodes(self, ctx, x: str, prefix: str, out: str | None = None) -> tuple:
        """A LayerNormalization node over the last axis (ONNX has it from opset 17)."""
        if ctx.opset < 17:
            raise ValueError(f"LayerNormalization needs opset >= 17, got {ctx.opset}")
        return self._onnx_node(ctx, x, prefix, out, "LayerNormalization", [self.gamma, self.beta], axis=-1)

    def __repr__(self) -> str:
        return f"LayerNormalization(epsilon={self.epsilon:g})"


class Activation(Layer):
    """a = g(x), element-wise (softmax: per row): Keras's standalone activation layer, so that
    e.g. ``Dense(64)``, ``BatchNormalization()``, ``Activation("relu")`` normalizes z before g.
    ``activation`` and ``alpha`` as for :class:`Dense`. As the last layer its activation is the
    model's output activation (the loss's: softmax gives categorical crossentropy)."""

    num_params = 0
    _owned = False  # no weights
    _output = True

    def __init__(self, activation: str | None, alpha: float | None = None):
        activation = "linear" if activation is None else activation  # Keras: None is linear
        if not isinstance(activation, str):
            raise TypeError(f"activation must be a string, got {activation!r}")
        # The C++ LayerSpec checks the name and alpha (ValueError naming them) and knows the default.
        spec = _core.LayerSpec(1, 1, activation, None if alpha is None else as_real(alpha, "alpha", ValueError))
        self.activation, self.alpha = spec.activation, spec.alpha

    def get_config(self) -> dict:
        """activation, alpha (None for activations without one)."""
        return {"activation": self.activation, "alpha": self.alpha if self.activation in DEFAULT_ALPHA else None}

    def summary_row(self, index: int, input_shape: str) -> tuple:
        return (f"activation_{index} (Activation)", input_shape, "0", self.activation)

    def html_row(self) -> list:
        return ["Activation", "", self.activation, "0"]

    def onnx_nodes(self, ctx, x: str, prefix: str, out: str | None = None) -> tuple:
        """The activation's nodes, as a Dense writes them after its Gemm."""
        return ctx.activation(self.activation, x, prefix, out, float(self.alpha or 0.0))

    def __repr__(self) -> str:
        extra = f", alpha={self.alpha}" if self.activation in DEFAULT_ALPHA else ""
        return f"Activation({self.activation!r}{extra})"


class Residual(Layer):
    """y = x + f(x), f the layers inside it in order: a ResNet-MLP block (Gorishniy et al.,
    "Revisiting Deep Learning Models for Tabular Data", 2021), e.g.
    ``Residual([BatchNormalization(), Dense(64, "relu"), Dropout(0.1), Dense(16)])`` after a
    layer of 16 outputs. The layers inside must give as many outputs as the block takes inputs;
    any layer kind may stand inside (the first one takes the block's input, so it may be a
    normalization or a Dropout), and blocks nest, at most ``MAX_BLOCK_NESTING`` (3) deep: the model
    file's limit (a deeper block is refused here, so no model is built that could not be loaded).
    Its weights are its layers'."""

    def __init__(self, layers):
        if isinstance(layers, Layer) or not hasattr(layers, "__iter__"):
            raise TypeError(f"layers must be a list of layers, got {type(layers).__name__}")
        layers = list(layers)
        if not layers:
            raise ValueError("a Residual needs at least one layer inside it, got an empty list")
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(f"layers[{i}] must be a layer (Dense, Activation, ...), got {type(layer).__name__}")
        if _nesting(layers) + 1 > MAX_BLOCK_NESTING:
            raise ValueError(
                f"blocks nest at most {MAX_BLOCK_NESTING} deep (a Residual in a Residual in a Residual), the model "
                f"file's limit; this Residual would be {_nesting(layers) + 1} deep"
            )
        self.layers = layers

    @property
    def sublayers(self) -> tuple:
        return tuple(self.layers)

    @property
    def num_params(self) -> int | None:
        counts = [layer.num_params for layer in self.layers]
        return None if None in counts else sum(counts)

    def _check_place(self, where: str, before, last: bool) -> None:
        super()._check_place(where, before, last)
        _layer.check_places(self.layers, f"{where}.layers", before, last=False)  # the first takes the block's input

    def _chain(self, where: str, n_in: int | None, deferred: list) -> int | None:
        n_out = _layer.chain(self.layers, n_in, f"{where}.layers", deferred)
        if n_in is not None and n_out != n_in:
            raise ValueError(
                f"{where}: the layers inside a Residual must give as many outputs as it takes inputs ({n_in}), "
                f"they give {n_out} (y = x + f(x) adds them)"
            )
        return n_in

    def _bind(self, net, prefix: str, before) -> None:
        super()._bind(net, prefix, before)
        self._source = None  # y = x + f(x): no Dense's units
        _layer.bind(self.layers, net, prefix + "layers.")

    def weight_views(self) -> list:
        return [pair for layer in self.layers for pair in layer.weight_views()]

    def get_config(self) -> dict:
        """layers: each inner layer as {"type": ..., **its config}."""
        return {"layers": [{"type": type(layer).__name__, **layer.get_config()} for layer in self.layers]}

    @classmethod
    def from_config(cls, config: dict) -> Residual:
        if not isinstance(config, dict):
            raise TypeError(f"config must be a dict, got {type(config).__name__}")
        if set(config) != {"layers"} or not isinstance(config["layers"], list):
            raise TypeError("a Residual's config must be {'layers': [...]}, a list of layer entries")
        return cls([Layer.from_file_entry(entry) for entry in config["layers"]])

    def file_entry(self) -> dict:
        entries = [layer.file_entry() for layer in self.layers]
        return {"type": "Residual", "layers": [e for e in entries if e is not None]}

    def summary_row(self, index: int, input_shape: str) -> tuple:
        inner = ", ".join(type(layer).__name__ for layer in self.layers)
        return (f"residual_{index} (Residual: {inner})", input_shape, _count(self.num_params), "")

    def html_row(self) -> list:
        rows = [layer.html_row() for layer in self.layers]
        weights = "; ".join(r[1] for r in rows if r[1])
        activations = ", ".join(r[2] for r in rows if r[2])
        return [f"Residual[{', '.join(r[0] for r in rows)}]", weights, activations, _count(self.num_params)]

    def onnx_nodes(self, ctx, x: str, prefix: str, out: str | None = None) -> tuple:
        """The inner layers' nodes (named "<prefix>.layers.<j>...") and an Add of x."""
        nodes, inits, f = [], [], x
        for layer, pos in zip(self.layers, _layer.positions(self.layers)):
            layer_nodes, layer_inits, f = layer.onnx_nodes(ctx, f, f"{prefix}.layers.{pos}")
            nodes += layer_nodes
            inits += layer_inits
        y = out or f"{prefix}.y"
        return nodes + [ctx.node("Add", [x, f], [y], name=f"{prefix}.add")], inits, y

    def __repr__(self) -> str:
        return f"Residual([{', '.join(repr(layer) for layer in self.layers)}])"


#: How deep blocks may nest (kMaxBlockNesting, fastmlp/layer.hpp: the model file's limit, C++ checks it too).
MAX_BLOCK_NESTING = _core.MAX_BLOCK_NESTING


def _nesting(layers) -> int:
    """How deep blocks nest in these layers: 0 without a block, 1 + the deepest inside each block."""
    return max((1 + _nesting(layer.sublayers) for layer in layers if layer.sublayers), default=0)


#: The normalization layers by their C++ kind ("batch", "layer"): a view of LAYERS.
NORMALIZATIONS = {cls.kind: cls for cls in LAYERS.values() if issubclass(cls, _Normalization)}


def dense_stack(n_in: int, hidden_sizes, n_out: int, activation: str = "relu", output_activation: str = "linear"):
    """The layers of an MLP with these hidden sizes: ``[Dense(n_in, h1, activation), ...,
    Dense(h_k, n_out, output_activation)]`` (scikit-learn's hidden_layer_sizes, the CLI's --layers;
    no hidden size: one Dense layer)."""
    sizes = [n_in, *hidden_sizes, n_out]
    layers = [Dense(a, b, activation) for a, b in zip(sizes[:-2], sizes[1:-1])]
    layers.append(Dense(sizes[-2], sizes[-1], output_activation))
    return layers


def _assign(view: np.ndarray, value, name: str) -> None:
    arr = np.asarray(value, dtype=view.dtype)
    if arr.shape != view.shape:
        raise ValueError(f"{name} must have shape {view.shape}, got {arr.shape}")
    if not np.isfinite(arr).all():
        raise ValueError(f"{name} contains NaN or infinity")
    view[...] = arr
