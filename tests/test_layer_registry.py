"""The Layer base class and the name registries: every layer kind's config round trip, its
model-file entry (as the C++ writer spells it), its summary / notebook rows and its ONNX nodes;
the one table each of layers, activations, losses and optimizers that the rest reads."""

import json

import numpy as np
import pytest

import fastmlp as fm
from fastmlp import _core, layers, optimizers
from fastmlp.io import decode

KINDS = (
    "Dense",
    "Dropout",
    "BatchNormalization",
    "LayerNormalization",
    "Activation",
    "Residual",
    "Normalization",
    "Embedding",
    "ColumnEmbedding",
)


def every_kind():
    """A model holding every layer kind, with non-default settings."""
    return [
        fm.Dense(5, 8, "elu", alpha=0.3, init="he_normal"),
        fm.BatchNormalization(momentum=0.9, epsilon=1e-5),
        fm.Dropout(0.25),
        fm.Dense(8, 6, "leaky_relu"),
        fm.LayerNormalization(epsilon=1e-4),
        fm.Residual([fm.Dense(6, 12, "relu"), fm.BatchNormalization(), fm.Dropout(0.1), fm.Dense(12, 6)]),
        fm.Dense(6, 3),
        fm.Activation("softmax"),
    ]


def trained_model(dtype="float32"):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(60, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5).astype(int)
    model = fm.Sequential(every_kind(), dtype=dtype, seed=0)
    model.fit(X, y, epochs=3, verbose=False)  # running statistics away from (0, 1)
    return model, X.astype(dtype)


# --- the layer registry ---------------------------------------------------------------------------


def test_registry_lists_every_layer_kind():
    assert set(fm.LAYERS) == set(KINDS)
    for name, cls in fm.LAYERS.items():
        assert cls.__name__ == name and issubclass(cls, fm.Layer) and getattr(fm, name) is cls
        assert layers.layer_class(name) is cls
    assert layers.NORMALIZATIONS == {"batch": fm.BatchNormalization, "layer": fm.LayerNormalization}
    with pytest.raises(ValueError, match="unknown layer type 'Conv2D'.*Dense"):
        layers.layer_class("Conv2D")
    with pytest.raises(TypeError):
        layers.layer_class(3)


def test_the_core_names_the_layer_kinds_and_each_has_its_python_class():
    # One registry: the C++ table of layer kinds (layer_kinds.cpp); Python has a class for each.
    assert set(_core.LAYER_TYPES) == set(fm.LAYERS)


def test_a_new_layer_class_registers_itself_once():
    class Scale(fm.Layer):
        def __init__(self, factor=2.0):
            self.factor = factor

        def get_config(self):
            return {"factor": self.factor}

    try:
        assert fm.LAYERS["Scale"] is Scale
        entry = {"type": "Scale", "factor": 3.0}
        assert fm.Layer.from_file_entry(entry).factor == 3.0
        assert Scale(0.5).file_entry() == {"type": "Scale", "factor": 0.5}
        with pytest.raises(TypeError, match="already registered"):
            type("Scale", (fm.Layer,), {})
    finally:
        del fm.LAYERS["Scale"]
    assert "_Normalization" not in fm.LAYERS  # abstract bases stay out


@pytest.mark.parametrize(
    "layer", every_kind() + [fm.Dense(4, "relu"), fm.Dropout(0.0), fm.Embedding(9, 2, "normal")], ids=repr
)
def test_get_config_from_config_round_trip(layer):
    config = layer.get_config()
    assert json.loads(json.dumps(config)) == config  # plain JSON values
    again = type(layer).from_config(config)
    assert type(again) is type(layer) and again is not layer
    assert again.get_config() == config and repr(again) == repr(layer)
    assert fm.Layer.from_file_entry({"type": type(layer).__name__, **config}).get_config() == config


def test_from_config_of_a_bound_layer_is_a_fresh_layer():
    model = fm.Sequential(every_kind(), seed=0)
    clones = [type(layer).from_config(layer.get_config()) for layer in model.layers]
    other = fm.Sequential(clones, seed=0)  # none of them belongs to `model`
    assert repr(other) == repr(model)
    np.testing.assert_array_equal(other.params, model.params)  # same layers, same seed


def test_bad_configs_are_clear_errors():
    with pytest.raises(TypeError, match="config must be a dict"):
        fm.Dense.from_config([5, 3])
    with pytest.raises(ValueError, match="rate"):
        fm.Dropout.from_config({"rate": 1.5})
    with pytest.raises(TypeError):
        fm.LayerNormalization.from_config({"epsilon": 1e-3, "momentum": 0.9})
    with pytest.raises(ValueError, match="'type'"):
        fm.Layer.from_file_entry({"rate": 0.5})
    with pytest.raises(ValueError, match="expected a Dense entry"):
        fm.Dense.from_file_entry({"type": "Dropout", "rate": 0.5})


# --- the model file -------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_file_entries_are_what_the_cpp_writer_writes(dtype):
    extra = [fm.Dense(8, 8, "tanh"), fm.Dropout(0.0)]  # a Dropout(0) has no entry (the C++ writer's rule)
    model = fm.Sequential(every_kind()[:3] + extra + every_kind()[3:], dtype=dtype)
    entries = [e for e in (layer.file_entry() for layer in model.layers) if e is not None]
    _, meta = decode(model.to_bytes())
    assert meta["layers"] == json.dumps(entries, separators=(",", ":"))  # byte for byte
    assert [e["type"] for e in entries] == [type(la).__name__ for la in model.layers if la.file_entry()]
    loaded = fm.Sequential.from_bytes(model.to_bytes())  # _persist reads them through the registry
    assert [la.file_entry() for la in loaded.layers] == entries


def test_fixture_files_still_load_bit_for_bit():
    from pathlib import Path

    for path in sorted((Path(__file__).parent / "fixtures").glob("*.safetensors")):
        data = path.read_bytes()
        model = fm.load(path)
        _, meta = decode(data)
        assert json.dumps([la.file_entry() for la in model.layers], separators=(",", ":")) == meta["layers"]
        assert model.to_bytes() == fm.Sequential.from_bytes(model.to_bytes()).to_bytes()


# --- what the model shows: summary, notebook -----------------------------------------------------


def test_summary_rows_match_model_summary():
    model = fm.Sequential(every_kind(), seed=0)
    text = model.summary(print_fn=None)
    shape = f"(None, {model.n_features_in})"
    for i, layer in enumerate(model.layers):
        row = layer.summary_row(i, shape)
        line = next(line for line in text.splitlines() if line.startswith(row[0] + " "))
        assert line.split() == " ".join(row).split()
        shape = row[1]


def test_weight_views_are_get_weights_in_order():
    model, _ = trained_model()
    views = [pair for layer in model.layers for pair in layer.weight_views()]
    bn = ["gamma", "beta", "moving_mean", "moving_variance"]
    names = ["W", "b", *bn, "W", "b", "gamma", "beta", "W", "b", *bn, "W", "b", "W", "b"]  # the Residual's inside
    assert [name for _, name in views] == names
    weights = model.get_weights()
    assert len(weights) == len(views)
    for (view, _), array in zip(views, weights):
        np.testing.assert_array_equal(view, array)
    views[0][0][0, 0] = 7.0  # writable views into the parameter buffer
    assert model.layers[0].weights[0, 0] == 7.0


def test_notebook_repr_shows_every_layer_kind():
    model = fm.Sequential(every_kind(), seed=0)
    html = model._repr_html_()  # failed with BatchNormalization before the Layer base
    assert html.count("<tr>") == 1 + len(model.layers) + 1  # header, layers, total
    for text in (
        ">Dense<",
        "(5, 8)",
        ">elu<",
        "BatchNormalization(momentum=0.9, epsilon=1e-05)",
        "gamma, beta (8,)",
        ">16<",  # 2 * 8 trainable
        "Dropout(0.25)",
        "LayerNormalization(epsilon=0.0001)",
        "gamma, beta (6,)",
        ">12<",
        "(6, 3)",
        ">softmax<",
        "Residual[Dense, BatchNormalization(momentum=0.99, epsilon=0.001), Dropout(0.1), Dense]",
        "(6, 12); gamma, beta (12,); (12, 6)",
        ">relu, linear<",
        f">{84 + 24 + 78:,}<",  # the Residual's inner parameters
        ">Activation<",
        f">{model.num_params:,}<",
    ):
        assert text in html, text
    assert model.num_params == 48 + 16 + 54 + 12 + (84 + 24 + 78) + 21


def test_notebook_repr_of_a_model_not_built_yet():
    html = fm.Sequential([fm.Dense(4, "relu"), fm.LayerNormalization(), fm.Dense(2)])._repr_html_()
    assert "? inputs" in html and "(?, 4)" in html and "gamma, beta (?,)" in html and "not built" in html


# --- ONNX -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_onnx_of_every_layer_kind_equals_forward(dtype):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import fastmlp.onnx as fonnx

    model, X = trained_model(dtype)
    proto = fonnx.to_onnx(model)
    out = ort.InferenceSession(proto.SerializeToString()).run(None, {"input": X})[0]
    # float64: ONNX's epsilon attribute is a float32 (folded into BatchNormalization's variance,
    # not LayerNormalization's): about 1e-9 apart
    tol = 1e-5 if dtype == "float32" else 1e-8
    np.testing.assert_allclose(out, model.forward(X), rtol=tol, atol=tol)
    ops = [n.op_type for n in proto.graph.node]
    assert ops.count("Gemm") == 5 and "BatchNormalization" in ops and "LayerNormalization" in ops
    writes_output = [n.op_type for n in proto.graph.node if "output" in n.output]  # (then a classifier's label)
    assert ops.count("Add") == 1 and writes_output == ["Softmax"]  # the Residual's skip; the Activation layer
    assert "Dropout" not in ops
    # the initializers are named as the model file names its tensors (position in model.layers)
    names = {t.name for t in proto.graph.initializer}
    assert {"layers.0.weight", "layers.0.bias", "layers.3.weight", "layers.6.weight"} <= names
    assert {"layers.5.layers.0.weight", "layers.5.layers.1.gamma", "layers.5.layers.3.bias"} <= names
    assert {"layers.1.gamma", "layers.1.moving_mean", "layers.4.gamma", "layers.4.beta"} <= names


def test_each_layer_writes_its_own_onnx_nodes():
    onnx = pytest.importorskip("onnx")
    from onnx import helper, numpy_helper

    from fastmlp.onnx import _Context

    model, _ = trained_model()
    ctx = _Context(onnx, helper, numpy_helper, np.dtype(np.float32), 17)
    nodes, inits, out = model.layers[2].onnx_nodes(ctx, "x", "layers.2")  # Dropout: nothing
    assert (nodes, inits, out) == ([], [], "x")
    nodes, inits, out = model.layers[2].onnx_nodes(ctx, "x", "layers.2", out="y")
    assert [n.op_type for n in nodes] == ["Identity"] and out == "y"
    nodes, inits, out = model.layers[1].onnx_nodes(ctx, "a", "layers.1")
    assert [n.op_type for n in nodes] == ["BatchNormalization"] and nodes[0].input[0] == "a"
    np.testing.assert_array_equal(numpy_helper.to_array(inits[2]), model.layers[1].moving_mean)
    with pytest.raises(ValueError, match="opset >= 17"):
        model.layers[4].onnx_nodes(_Context(onnx, helper, numpy_helper, np.dtype(np.float32), 13), "a", "p")


# --- activations, losses, optimizers: one table each ----------------------------------------------


def test_activations_and_losses_come_from_the_core():
    assert fm.ACTIVATIONS == tuple(_core.ACTIVATIONS)
    assert fm.LOSSES == tuple(_core.LOSSES)
    from fastmlp.losses import CLASSIFICATION_LOSSES

    assert set(CLASSIFICATION_LOSSES) <= set(fm.LOSSES)
    pytest.importorskip("sklearn")
    from fastmlp._sklearn_params import _ACTIVATION_ALIASES, _HIDDEN_ACTIVATIONS

    assert set(_HIDDEN_ACTIVATIONS) == set(_ACTIVATION_ALIASES) | (set(fm.ACTIVATIONS) - {"softmax", "exp", "step"})


def test_optimizer_registry_is_the_cores_kinds():
    assert set(optimizers.OPTIMIZERS) == {"sgd", "adam", "rmsprop", "adagrad", "radam"}
    assert optimizers.names() == (*optimizers.OPTIMIZERS, "adamw")
    for kind, cls in optimizers.OPTIMIZERS.items():
        assert _core.OptimizerSpec.defaults(kind).kind == kind
        opt = cls(learning_rate=0.05)
        again = fm.Optimizer.from_config(opt.get_config())
        assert type(again) is cls and again.get_config() == opt.get_config()
        assert optimizers.get(kind).get_config() == cls().get_config()
        assert opt._make("32") is not None  # the C++ class <ClassName>32 exists
    assert optimizers.create("AdamW").decoupled
    with pytest.raises(ValueError, match="unknown optimizer 'lion'"):
        fm.Optimizer.from_config({"name": "lion"})
    with pytest.raises(ValueError, match="optimizer must be one of sgd, adam, rmsprop, adagrad, radam, adamw"):
        optimizers.get("lion")


def test_cli_reads_the_optimizer_registry():
    from fastmlp.cli import build_parser
    from fastmlp.cli.commands import _optimizer

    parser = build_parser()
    for name in optimizers.names():
        args = parser.parse_args(["train", "data.csv", "--optimizer", name, "--learning-rate", "0.02"])
        opt = _optimizer(args)
        assert isinstance(opt, fm.Optimizer) and opt.learning_rate == 0.02
    args = parser.parse_args(["train", "data.csv", "--optimizer", "sgd", "--momentum", "0.9"])
    assert _optimizer(args).momentum == 0.9
    with pytest.raises(SystemExit):
        parser.parse_args(["train", "data.csv", "--optimizer", "lion"])


# --- the hidden-sizes builder ---------------------------------------------------------------------


def test_dense_stack_is_the_builder_of_sklearn_and_the_cli():
    stack = layers.dense_stack(4, [16, 8], 3, "tanh", "softmax")
    assert [la.get_config() for la in stack] == [
        fm.Dense(4, 16, "tanh").get_config(),
        fm.Dense(16, 8, "tanh").get_config(),
        fm.Dense(8, 3, "softmax").get_config(),
    ]
    assert [repr(la) for la in layers.dense_stack(4, [], 1)] == [repr(fm.Dense(4, 1))]
    pytest.importorskip("sklearn")
    from fastmlp.sklearn import MLPClassifier

    X = np.random.default_rng(0).normal(size=(30, 4))
    clf = MLPClassifier(hidden_layer_sizes=(16, 8), activation="tanh", max_iter=2, random_state=0)
    clf.fit(X, np.arange(30) % 3)
    assert [la.get_config() for la in clf.model_.layers] == [la.get_config() for la in stack]
