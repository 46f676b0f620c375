"""ONNX export (needs the optional extra: ``pip install fastmlp[onnx]``).

    import fastmlp.onnx
    fastmlp.onnx.export(model, "model.onnx")            # opset 17 by default

    import onnxruntime as ort
    sess = ort.InferenceSession("model.onnx")
    probs = sess.run(None, {"input": X.astype("float32")})[0]   # == model.forward(X)
    labels = sess.run(["label"], {"input": X.astype("float32")})[0]   # a classifier's model.predict(X)

The graph has one input ``input`` of shape (batch, n_features) and the output ``output``
of shape (batch, n_outputs), with a dynamic batch dimension, in the model's dtype
(float32 -> tensor(float), float64 -> tensor(double)); a classifier has a second output,
``label`` (below). Each Dense layer becomes a Gemm
(z = a W + b) followed by its activation:

    linear   -> nothing (Identity for the output)   sigmoid -> Sigmoid     tanh -> Tanh
    relu     -> Relu        leaky_relu -> LeakyRelu(alpha)   elu -> Elu(alpha)
    softplus -> Softplus    softmax -> Softmax(axis=-1)      step -> Cast(GreaterOrEqual(z, 0))
    gelu -> z (1 + Erf(z / sqrt 2)) / 2   silu -> z Sigmoid(z)   mish -> z Tanh(softplus(z))

For float64 models leaky_relu, elu and softplus are spelled out with elementary ops
(Where / Greater / Exp / Log ...) and double constants: ONNX attributes such as alpha
are 32-bit floats, and onnxruntime has no double kernels for Elu and Softplus.

Dropout layers are left out (inference); BatchNormalization becomes a BatchNormalization node
with the running statistics, LayerNormalization a LayerNormalization node (opset >= 17).
Each layer writes its own nodes (``Layer.onnx_nodes``; an Activation layer the ops above, a
Residual its layers' nodes and an Add): the export walks ``model.layers``, and names the
initializers as the model file names its tensors (``layers.<position>.weight``, ...).
The output is ``model.forward``: probabilities
for softmax / sigmoid outputs.

A model with a ``ColumnEmbedding`` (a DataFrame's categorical columns, fastmlp.tabular) takes one
input per DataFrame column instead, named as the column, shape (batch, 1): strings for a
categorical column (``str(category)``; ai.onnx.ml LabelEncoder to its codes, then a Gather of its
table), numbers for a numeric one (NaN filled with the median under ``fill_missing``).

A classifier's graph has a second output, ``label`` of shape (batch,): ``model.predict``, the
class of each row (``_label_nodes``). ArgMax of the softmax row (the first of equal maxima, as
NumPy), or ``p >= 0.5`` for one sigmoid output, gives the class id; a Gather from a constant of
``model.classes_`` gives its label, as skl2onnx's classifiers do: strings (bytes labels as their
Latin-1 text) are a tensor(string), integer labels tensor(int64) (uint64 beyond int64's range stay
uint64), bool labels tensor(bool), float labels their own float type; class ids are the ArgMax's
int64 as they are. ``label_name=None`` leaves it out (the graph of earlier versions). Regression
and multi-label sigmoid models have no label output.
"""

from __future__ import annotations

import numpy as np

from . import _layer
from . import tabular as _tabular

__all__ = ["export", "to_onnx", "MIN_OPSET"]

#: Softmax(axis=-1) on any rank needs opset 13.
MIN_OPSET = 13

_SIMPLE = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "softplus": "Softplus", "exp": "Exp"}


class _Context:
    """What a layer's ``onnx_nodes`` builds with: the model's dtype, the opset, node and tensor
    makers, and the activations' nodes."""

    def __init__(self, onnx, helper, numpy_helper, dtype: np.dtype, opset: int):
        self.helper, self.numpy_helper, self.dtype, self.opset = helper, numpy_helper, dtype, opset
        self.elem = onnx.TensorProto.FLOAT if dtype == np.float32 else onnx.TensorProto.DOUBLE

    def node(self, op: str, inputs: list, outputs: list, name: str, **attrs):
        return self.helper.make_node(op, inputs, outputs, name=name, **attrs)

    def tensor(self, name: str, array):
        """An initializer holding ``array`` in the model's dtype."""
        return self.numpy_helper.from_array(np.array(array, dtype=self.dtype, order="C"), name)  # 0-d stays 0-d

    def activation(self, g: str, z: str, prefix: str, out: str | None, alpha: float) -> tuple:
        """(nodes, initializers, output name) of a = g(z); the output is ``out`` when given."""
        return _activation(self, g, z, prefix, out, alpha)


class _Constants:
    """Scalar initializers of the model's dtype, named after the layer."""

    def __init__(self, ctx, inits, prefix):
        self.ctx, self.inits, self.prefix = ctx, inits, prefix

    def __call__(self, name, value):
        t = self.ctx.tensor(f"{self.prefix}.{name}", np.array(value))
        self.inits.append(t)
        return t.name


def _float64_activation(helper, g, z, out, alpha, const, p):
    """leaky_relu / elu / softplus from elementary ops, exactly as the C++ core computes them."""
    node = helper.make_node
    if g == "leaky_relu":  # z if z > 0 else alpha z
        zero = const("zero", 0.0)  # made where used: an unused initializer draws onnxruntime's warning
        return [
            node("Greater", [z, zero], [f"{p}.pos"], name=f"{p}.pos"),
            node("Mul", [z, const("alpha", alpha)], [f"{p}.neg"], name=f"{p}.neg"),
            node("Where", [f"{p}.pos", z, f"{p}.neg"], [out], name=f"{p}.leaky_relu"),
        ]
    if g == "elu":  # z if z > 0 else alpha (e^min(z, 0) - 1)
        zero = const("zero", 0.0)
        return [
            node("Greater", [z, zero], [f"{p}.pos"], name=f"{p}.pos"),
            node("Min", [z, zero], [f"{p}.zmin"], name=f"{p}.zmin"),
            node("Exp", [f"{p}.zmin"], [f"{p}.exp"], name=f"{p}.exp"),
            node("Sub", [f"{p}.exp", const("one", 1.0)], [f"{p}.em1"], name=f"{p}.em1"),
            node("Mul", [f"{p}.em1", const("alpha", alpha)], [f"{p}.neg"], name=f"{p}.neg"),
            node("Where", [f"{p}.pos", z, f"{p}.neg"], [out], name=f"{p}.elu"),
        ]
    # softplus: max(z, 0) + ln(1 + e^-|z|), no overflow
    return [
        node("Relu", [z], [f"{p}.relu"], name=f"{p}.relu"),
        node("Abs", [z], [f"{p}.abs"], name=f"{p}.abs"),
        node("Neg", [f"{p}.abs"], [f"{p}.nabs"], name=f"{p}.nabs"),
        node("Exp", [f"{p}.nabs"], [f"{p}.exp"], name=f"{p}.exp"),
        node("Add", [f"{p}.exp", const("one", 1.0)], [f"{p}.1pexp"], name=f"{p}.1pexp"),
        node("Log", [f"{p}.1pexp"], [f"{p}.log"], name=f"{p}.log"),
        node("Add", [f"{p}.relu", f"{p}.log"], [out], name=f"{p}.softplus"),
    ]


def _smooth_activation(helper, g, z, out, const, p, float64=False):
    """gelu / silu / mish from elementary ops (any float dtype), as the C++ core computes them.
    onnxruntime has no double Erf: a float64 gelu takes erf in float32 (about 1e-7 relative)."""
    node = helper.make_node
    if g == "gelu":  # 0.5 z (1 + erf(z / sqrt 2))
        erf = (
            [
                node("Cast", [f"{p}.zs"], [f"{p}.zs32"], name=f"{p}.zs32", to=1),
                node("Erf", [f"{p}.zs32"], [f"{p}.erf32"], name=f"{p}.erf32"),
                node("Cast", [f"{p}.erf32"], [f"{p}.erf"], name=f"{p}.erf", to=11),
            ]
            if float64
            else [node("Erf", [f"{p}.zs"], [f"{p}.erf"], name=f"{p}.erf")]
        )
        return [
            node("Mul", [z, const("inv_sqrt2", 0.7071067811865476)], [f"{p}.zs"], name=f"{p}.zs"),
            *erf,
            node("Add", [f"{p}.erf", const("one", 1.0)], [f"{p}.1perf"], name=f"{p}.1perf"),
            node("Mul", [z, f"{p}.1perf"], [f"{p}.prod"], name=f"{p}.prod"),
            node("Mul", [f"{p}.prod", const("half", 0.5)], [out], name=f"{p}.gelu"),
        ]
    if g == "silu":  # z sigmoid(z)
        return [
            node("Sigmoid", [z], [f"{p}.sig"], name=f"{p}.sig"),
            node("Mul", [z, f"{p}.sig"], [out], name=f"{p}.silu"),
        ]
    # mish: z tanh(softplus(z)), softplus as max(z, 0) + ln(1 + e^-|z|)
    sp = _float64_activation(helper, "softplus", z, f"{p}.sp", 0.0, const, f"{p}.softplus")
    return sp + [
        node("Tanh", [f"{p}.sp"], [f"{p}.tanh"], name=f"{p}.tanh"),
        node("Mul", [z, f"{p}.tanh"], [out], name=f"{p}.mish"),
    ]


def _activation(ctx, g, z, p, out, alpha) -> tuple:
    helper, dtype, inits = ctx.helper, ctx.dtype, []
    a = out or f"{p}.a"
    if g == "linear":
        if out is None:
            return [], [], z
        return [helper.make_node("Identity", [z], [out], name=f"{p}.identity")], [], out
    if g in ("leaky_relu", "elu", "softplus") and dtype == np.float64:
        # ONNX attributes are 32-bit floats and onnxruntime has no double Elu / Softplus:
        # spell these out with double constants instead.
        nodes = _float64_activation(helper, g, z, a, alpha, _Constants(ctx, inits, p), p)
    elif g in ("gelu", "silu", "mish"):
        nodes = _smooth_activation(helper, g, z, a, _Constants(ctx, inits, p), p, float64=dtype == np.float64)
    elif g in _SIMPLE:
        nodes = [helper.make_node(_SIMPLE[g], [z], [a], name=f"{p}.{g}")]
    elif g == "leaky_relu":
        nodes = [helper.make_node("LeakyRelu", [z], [a], name=f"{p}.leaky_relu", alpha=alpha)]
    elif g == "elu":
        nodes = [helper.make_node("Elu", [z], [a], name=f"{p}.elu", alpha=alpha)]
    elif g == "softmax":
        nodes = [helper.make_node("Softmax", [z], [a], name=f"{p}.softmax", axis=-1)]
    elif g == "step":
        zero = _Constants(ctx, inits, p)("zero", 0.0)
        nodes = [
            helper.make_node("GreaterOrEqual", [z, zero], [f"{p}.ge"], name=f"{p}.ge"),
            helper.make_node("Cast", [f"{p}.ge"], [a], name=f"{p}.step", to=ctx.elem),
        ]
    else:
        raise ValueError(f"{p}: activation {g!r} has no ONNX export")
    return nodes, inits, a


def _require_onnx():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("ONNX export needs the 'onnx' package: pip install 'fastmlp[onnx]'") from e
    return onnx, helper, numpy_helper


def _label_values(classes) -> np.ndarray | None:
    """``classes`` (model.classes_ of labels that are not class ids) as the values of the label
    output's constant: str (bytes as Latin-1 text), int64, bool or a float; None for class ids."""
    if classes is None:
        return None
    classes = np.asarray(classes)
    kind = classes.dtype.kind
    if kind == "O":  # the file allows str, bool, int and float objects; a model's are of one kind
        values = classes.tolist()
        if all(isinstance(v, str) for v in values):
            kind = "U"
        elif all(isinstance(v, bool) for v in values):
            return np.array(values, dtype=bool)
        elif all(isinstance(v, int) and not isinstance(v, bool) for v in values):
            classes, kind = np.array(values), "i"  # int64, or uint64 for larger values
        else:
            return np.array(values, dtype=np.float64)
    if kind == "S":
        return np.array([v.decode("latin-1") for v in classes.tolist()], dtype=object)
    if kind == "U":
        return np.array([str(v) for v in classes.tolist()], dtype=object)
    if kind in "iu":
        info = np.iinfo(np.int64)
        fits = classes.size == 0 or (int(classes.min()) >= info.min and int(classes.max()) <= info.max)
        return classes.astype(np.int64) if fits else classes.astype(np.uint64)
    return classes.copy()  # bool, float16 / 32 / 64


def _label_nodes(ctx, model, probs: str, label: str) -> tuple:
    """(nodes, initializers, output value info) of the label output: ``model.predict`` from the
    graph's output ``probs``; None for a model that predicts no class (regression, multi-label)."""
    helper, name = ctx.helper, label
    if model._targets().n_labels() == 0:
        return None
    if model.loss_name == "binary_crossentropy":  # one sigmoid output: class 1 where p >= 0.5 (predict's threshold)
        nodes = [
            helper.make_node("GreaterOrEqual", [probs, f"{name}.half"], [f"{name}.ge"], name=f"{name}.ge"),
            helper.make_node("Cast", [f"{name}.ge"], [f"{name}.ids2d"], name=f"{name}.cast", to=7),  # int64
            helper.make_node("Reshape", [f"{name}.ids2d", f"{name}.flat"], [f"{name}.ids"], name=f"{name}.flatten"),
        ]
        inits = [
            ctx.tensor(f"{name}.half", 0.5),
            ctx.numpy_helper.from_array(np.array([-1], dtype=np.int64), f"{name}.flat"),
        ]
    else:  # softmax: the first of equal maxima, as numpy's argmax
        nodes = [helper.make_node("ArgMax", [probs], [f"{name}.ids"], name=f"{name}.argmax", axis=1, keepdims=0)]
        inits = []
    values = _label_values(model._label_classes)
    if values is None:  # class ids: the ids are the labels
        nodes[-1].output[0] = label
        elem = 7
    else:
        classes = ctx.numpy_helper.from_array(values, f"{name}.classes")
        inits.append(classes)
        nodes.append(helper.make_node("Gather", [classes.name, f"{name}.ids"], [label], name=f"{name}.gather", axis=0))
        elem = classes.data_type
    return nodes, inits, helper.make_tensor_value_info(label, elem, ["batch"])


def to_onnx(
    model, opset: int = 17, input_name: str = "input", output_name: str = "output", label_name: str | None = "label"
):
    """The model as an ``onnx.ModelProto`` (checked with ``onnx.checker``): input ``input_name``,
    output ``output_name`` (``model.forward``) and, for a classifier, ``label_name`` (``model.predict``;
    None leaves it out)."""
    from .model import Sequential

    if not isinstance(model, Sequential):
        raise TypeError(f"model must be a fastmlp.Sequential, got {type(model).__name__}")
    model._require_built()  # RuntimeError saying how to build it
    onnx, helper, numpy_helper = _require_onnx()
    from ._version import __version__

    if isinstance(opset, bool) or not isinstance(opset, (int, np.integer)):
        raise TypeError(f"opset must be an integer, got {opset!r}")
    opset = int(opset)
    latest = onnx.defs.onnx_opset_version()
    if not MIN_OPSET <= opset <= latest:
        raise ValueError(f"opset must be in [{MIN_OPSET}, {latest}] (the installed onnx's newest), got {opset}")
    names = [input_name, output_name] + ([] if label_name is None else [label_name])
    for arg, value in zip(("input_name", "output_name", "label_name"), names):
        if not isinstance(value, str) or not value:
            raise TypeError(f"{arg} must be a non-empty str, got {value!r}")
    if len(set(names)) != len(names):
        raise ValueError(f"input_name, output_name and label_name must differ, got {names}")
    ctx = _Context(onnx, helper, numpy_helper, np.dtype(model.dtype), opset)
    nodes, inits = [], []
    current = input_name
    graph_inputs = [helper.make_tensor_value_info(input_name, ctx.elem, ["batch", model.n_features_in])]
    columns = _tabular.find(model.layers)  # a DataFrame's columns: one input each, strings for categories
    if columns is not None:
        graph_inputs, nodes, inits, current = columns.onnx_inputs(ctx)
        clash = sorted({i.name for i in graph_inputs} & set(names[1:]))
        if clash:  # the graph's inputs are the DataFrame's columns
            raise ValueError(f"output_name / label_name {clash} is a column of X: give the outputs other names")
    for i, (layer, pos) in enumerate(zip(model.layers, _layer.positions(model.layers))):
        out = output_name if i == len(model.layers) - 1 else None  # the output layer writes the graph's output
        layer_nodes, layer_inits, current = layer.onnx_nodes(ctx, current, f"layers.{pos}", out)
        nodes += layer_nodes
        inits += layer_inits

    outputs = [helper.make_tensor_value_info(output_name, ctx.elem, ["batch", model.n_outputs])]
    labels = None if label_name is None else _label_nodes(ctx, model, output_name, label_name)
    if labels is not None:
        nodes, inits = nodes + labels[0], inits + labels[1]
        outputs.append(labels[2])
    graph = helper.make_graph(
        nodes,
        "fastmlp",
        graph_inputs,
        outputs,
        initializer=inits,
    )
    opsets = [helper.make_opsetid("", opset)] + ([helper.make_opsetid("ai.onnx.ml", 2)] if columns is not None else [])
    proto = helper.make_model(
        graph, opset_imports=opsets, producer_name="fastmlp", producer_version=__version__, doc_string=repr(model)
    )
    # The oldest IR version that can carry this opset, so older runtimes load the file.
    proto.ir_version = helper.find_min_ir_version_for(opsets)
    helper.set_model_props(proto, {"fastmlp_version": __version__, "loss": model.loss_name})
    onnx.checker.check_model(proto)
    return proto


def check_path(path) -> None:
    """ValueError for a name ending in ".safetensors": a model file's (fm.save refuses ".onnx" alike);
    writing ONNX there would replace a model with another format."""
    from .io import _path

    name = _path(path)
    if name.lower().endswith(".safetensors"):
        raise ValueError(
            f"export writes ONNX, not safetensors ({name!r}, a fastmlp model file's name): name the file "
            f"{name[: -len('.safetensors')] + '.onnx'!r}"
        )


def export(
    model,
    path,
    opset: int = 17,
    input_name: str = "input",
    output_name: str = "output",
    label_name: str | None = "label",
):
    """Write ``model`` to ``path`` as an ONNX file (atomically) and return the ModelProto.

    Input ``input_name`` (batch, n_features), output ``output_name`` (batch, n_outputs) =
    ``model.forward(X)``, in the model's dtype; the batch dimension is dynamic. A classifier has a
    second output ``label_name`` (batch,) = ``model.predict(X)``: the class labels (strings, int64,
    bool, ... as ``classes_``; see the module's notes); ``label_name=None`` leaves it out.
    """
    from .io import write_atomic

    check_path(path)
    proto = to_onnx(model, opset=opset, input_name=input_name, output_name=output_name, label_name=label_name)
    write_atomic(path, proto.SerializeToString())
    return proto
