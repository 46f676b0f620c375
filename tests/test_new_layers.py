"""The Activation and Residual layers (issue 25's proof that a layer kind is three source files):
forward, loss and gradients against the NumPy reference (tests/reference.py's layer stacks),
float64 central finite differences of every parameter, PyTorch, training, the model file, ONNX,
summary and notebook repr, and bad input."""

import pickle

import numpy as np
import pytest

import fastmlp as fm
import reference as ref

NORMS = (fm.BatchNormalization, fm.LayerNormalization)


def walk(layers):
    """Every layer, depth first (a Residual, then its layers)."""
    for layer in layers:
        yield layer
        yield from walk(getattr(layer, "layers", []))


def randomize(model, seed=2):
    """gamma, beta and the running statistics away from 1, 0 (and the biases from 0)."""
    rng = np.random.default_rng(seed)
    for layer in walk(model.layers):
        if isinstance(layer, fm.Dense):
            layer.bias = rng.uniform(-0.3, 0.3, layer.n_out)
        if isinstance(layer, NORMS):
            layer.gamma[...] = rng.uniform(0.5, 1.5, layer.units)
            layer.beta[...] = rng.normal(size=layer.units) * 0.3
        if isinstance(layer, fm.BatchNormalization):
            layer.moving_mean[...] = rng.normal(size=layer.units) * 0.2
            layer.moving_variance[...] = rng.uniform(0.5, 2.0, layer.units)
    return model


def act(name, alpha):
    return (name, alpha) if name in ref.DEFAULT_ALPHA else name


def reference_stack(layers):
    """The model's layers as tests/reference.py's dicts (float64 copies); "layer" keeps the
    fastmlp layer to find its gradients."""
    out = []
    for layer in layers:
        if isinstance(layer, fm.Dense):
            d = {"type": "Dense", "W": layer.weights.astype(np.float64), "b": layer.bias.astype(np.float64)}
            d["g"] = act(layer.activation, layer.alpha)
        elif isinstance(layer, fm.Activation):
            d = {"type": "Activation", "g": act(layer.activation, layer.alpha)}
        elif isinstance(layer, NORMS):
            d = {"type": type(layer).__name__, "gamma": layer.gamma.astype(np.float64), "eps": layer.epsilon}
            d["beta"] = layer.beta.astype(np.float64)
            if isinstance(layer, fm.BatchNormalization):
                d["mean"], d["var"] = layer.moving_mean.astype(np.float64), layer.moving_variance.astype(np.float64)
        elif isinstance(layer, fm.Dropout):
            d = {"type": "Dropout"}
        else:
            d = {"type": "Residual", "layers": reference_stack(layer.layers)}
        d["layer"] = layer
        out.append(d)
    return out


def reference_grads(stack, grads):
    """{fastmlp layer: its reference gradients}."""
    out = {}
    for d in stack:
        if id(d) in grads:
            out[d["layer"]] = grads[id(d)]
        if d["type"] == "Residual":
            out.update(reference_grads(d["layers"], grads))
    return out


def model_grads(model):
    """{layer: {"W", "b"} or {"gamma", "beta"}} from the network's gradient buffer (after a
    gradients call), found by the tensors' names."""
    net, out = model._net, {}
    for layer in walk(model.layers):
        if isinstance(layer, fm.Dense):
            out[layer] = {"W": net.grad_tensor(layer._prefix + "weight"), "b": net.grad_tensor(layer._prefix + "bias")}
        elif isinstance(layer, NORMS):
            out[layer] = {k: net.grad_tensor(layer._prefix + k) for k in ("gamma", "beta")}
    return out


def residual_model(out="softmax", n_out=3, dtype="float64", seed=0, dropout=False, l2=0.0, loss=None):
    """Every kind in one model: Dense -> BatchNormalization -> Activation, two Residual blocks
    (normalizations, Activation, a nested Residual inside), and an Activation as the output."""
    inner = [fm.Dense(8, 12, "tanh"), fm.LayerNormalization(), fm.Activation("elu", alpha=0.5)]
    inner += [fm.Dropout(0.3)] if dropout else []
    inner += [fm.Dense(12, 8)]
    block2 = [fm.BatchNormalization(), fm.Dense(8, 8, "gelu"), fm.Residual([fm.Dense(8, 8, "silu")]), fm.Dense(8, 8)]
    layers = [fm.Dense(5, 8), fm.BatchNormalization(momentum=0.9), fm.Activation("relu"), fm.Residual(inner)]
    layers += [fm.Residual(block2), fm.Activation("leaky_relu", alpha=0.2), fm.Dense(8, n_out), fm.Activation(out)]
    return fm.Sequential(layers, dtype=dtype, seed=seed, l2=l2, loss=loss)


def data(m=24, seed=1, k=3):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, 5)) * 1.5 + 0.5
    return X, rng.integers(0, k, size=m)


OUTPUTS = [  # loss, output Activation, outputs, targets
    ("categorical_crossentropy", "softmax", 3, "ids"),
    ("binary_crossentropy", "sigmoid", 2, "binary"),
    ("mse", "tanh", 2, "real"),
    ("huber", "linear", 2, "real"),
]


def targets(kind, y, k, seed=3):
    rng = np.random.default_rng(seed)
    if kind == "ids":
        return y
    if kind == "binary":
        return rng.integers(0, 2, size=(len(y), k)).astype(float)
    return rng.normal(size=(len(y), k))


# --- the NumPy reference --------------------------------------------------------------------------


def test_the_reference_stack_is_its_own_finite_differences():
    """tests/reference.py's stack backprop against its own central differences (no fastmlp)."""
    rng = np.random.default_rng(0)
    X, Y = rng.normal(size=(7, 4)), np.eye(3)[rng.integers(0, 3, 7)]
    dense = lambda a, b, g: {"type": "Dense", "W": rng.normal(size=(a, b)), "b": rng.normal(size=b) * 0.1, "g": g}  # noqa: E731
    bn = {"type": "BatchNormalization", "gamma": rng.uniform(0.5, 1.5, 6), "beta": rng.normal(size=6), "eps": 1e-3}
    bn["mean"], bn["var"] = rng.normal(size=6), rng.uniform(0.5, 2, 6)
    ln = {"type": "LayerNormalization", "gamma": rng.uniform(0.5, 1.5, 6), "beta": rng.normal(size=6), "eps": 1e-3}
    stack = [dense(4, 6, "linear"), bn, {"type": "Activation", "g": "tanh"}]
    stack += [{"type": "Residual", "layers": [ln, dense(6, 5, "softplus"), dense(5, 6, "linear")]}]
    stack += [dense(6, 3, "linear"), {"type": "Activation", "g": "softmax"}]
    for training in (False, True):
        J, grads, _ = ref.stack_loss_and_grads(stack, X, Y, "categorical_crossentropy", training, l2=0.1)
        for layer in [stack[0], bn, ln, stack[3]["layers"][1], stack[4]]:
            for key, g in grads[id(layer)].items():
                flat, numeric = layer[key].reshape(-1), np.empty(g.size)
                for i in range(flat.size):
                    old = flat[i]
                    flat[i] = old + 1e-6
                    up = ref.stack_loss_and_grads(stack, X, Y, "categorical_crossentropy", training, l2=0.1)[0]
                    flat[i] = old - 1e-6
                    down = ref.stack_loss_and_grads(stack, X, Y, "categorical_crossentropy", training, l2=0.1)[0]
                    flat[i] = old
                    numeric[i] = (up - down) / 2e-6
                np.testing.assert_allclose(g.reshape(-1), numeric, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("loss,out,k,kind", OUTPUTS)
@pytest.mark.parametrize("training", [False, True])
def test_forward_loss_and_gradients_match_the_reference(loss, out, k, kind, training):
    model = randomize(residual_model(out, k, loss=loss, l2=0.05))
    X, y = data()
    y = targets(kind, y, k)
    Y = model._Y(y, len(y))
    stack = reference_stack(model.layers)
    J_ref, grads_ref, a_ref = ref.stack_loss_and_grads(stack, X, ref.targets(y, loss, k), loss, training, l2=0.05)
    if not training:
        np.testing.assert_allclose(model.forward(X), a_ref, rtol=1e-12, atol=1e-14)
        assert model.loss(X, y) == pytest.approx(J_ref, rel=1e-12)
    assert model._engine.gradients(X, Y, None, training) == pytest.approx(J_ref, rel=1e-12)
    got, want = model_grads(model), reference_grads(stack, grads_ref)
    assert set(got) == set(want) and len(got) == 10  # 7 Dense (5 inside blocks), 3 normalizations
    for layer, grads in want.items():
        for key, g in grads.items():
            np.testing.assert_allclose(got[layer][key], g, rtol=1e-9, atol=1e-12, err_msg=f"{layer!r} {key}")
    # the public gradients: every Dense depth first, the ones inside the blocks included
    for layer, (dW, db) in zip(model.dense_layers, model.gradients(X, y)) if not training else ():
        np.testing.assert_allclose(dW, want[layer]["W"], rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(db, want[layer]["b"], rtol=1e-9, atol=1e-12)


def test_dropout_inside_a_block_is_off_in_inference():
    model = randomize(residual_model(dropout=True))
    X, _ = data()
    a_ref = ref.stack_forward(reference_stack(model.layers), X)[0]
    np.testing.assert_allclose(model.forward(X), a_ref, rtol=1e-12, atol=1e-14)


# --- finite differences ---------------------------------------------------------------------------


def test_check_gradients_covers_every_parameter(monkeypatch):
    model = randomize(residual_model(l2=0.01))
    X, y = data(m=9)
    calls = []
    loss = fm.Sequential.loss
    monkeypatch.setattr(fm.Sequential, "loss", lambda self, *a, **k: calls.append(1) or loss(self, *a, **k))
    assert fm.check_gradients(model, X, y) < 1e-6
    assert len(calls) == 2 * model.num_params  # J(w + eps), J(w - eps) of every parameter, inner ones too


def test_gradients_match_finite_differences_of_every_parameter():
    """Central differences of model.loss in float64, each parameter perturbed through its
    layer's public view (inner Dense and normalization layers of the blocks too)."""
    model = randomize(residual_model(loss="categorical_crossentropy", l2=0.02))
    X, y = data(m=9)
    model.gradients(X, y)  # inference, as loss computes J
    analytic = {layer: {k: v.copy() for k, v in g.items()} for layer, g in model_grads(model).items()}
    views = {"W": "weights", "b": "bias", "gamma": "gamma", "beta": "beta"}
    checked = 0
    for layer, grads in analytic.items():
        for key, g in grads.items():
            flat = getattr(layer, views[key]).reshape(-1)  # a writable view into the model
            numeric = np.empty(flat.size)
            for i in range(flat.size):
                old = flat[i]
                flat[i] = old + 1e-6
                up = model.loss(X, y)
                flat[i] = old - 1e-6
                down = model.loss(X, y)
                flat[i] = old
                numeric[i] = (up - down) / 2e-6
            np.testing.assert_allclose(g.reshape(-1), numeric, rtol=1e-5, atol=1e-8, err_msg=f"{layer!r} {key}")
            checked += flat.size
    assert checked == model.num_params


# --- PyTorch --------------------------------------------------------------------------------------


def _copy_linear(torch, lin, dense):
    with torch.no_grad():
        lin.weight.copy_(torch.tensor(dense.weights.T))
        lin.bias.copy_(torch.tensor(dense.bias))


def test_residual_mlp_against_torch():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    model = fm.Sequential(
        [fm.Dense(5, 8, "tanh"), fm.Residual([fm.Dense(8, 16, "relu"), fm.Dense(16, 8)]),
         fm.Residual([fm.LayerNormalization(epsilon=1e-5), fm.Dense(8, 8, "tanh")]), fm.Dense(8, 3, "softmax")],
        dtype="float64", seed=4, optimizer=fm.SGD(0.1),
    )  # fmt: skip
    randomize(model)
    X, y = data(m=16)
    lins = [nn.Linear(a, b, dtype=torch.float64) for a, b in ((5, 8), (8, 16), (16, 8), (8, 8), (8, 3))]
    ln = nn.LayerNorm(8, eps=1e-5, dtype=torch.float64)
    for lin, dense in zip(lins, model.dense_layers):
        _copy_linear(torch, lin, dense)
    with torch.no_grad():
        ln.weight.copy_(torch.tensor(model.layers[2].layers[0].gamma))
        ln.bias.copy_(torch.tensor(model.layers[2].layers[0].beta))

    def net(x):
        h = torch.tanh(lins[0](x))
        h = h + lins[2](torch.relu(lins[1](h)))
        h = h + torch.tanh(lins[3](ln(h)))
        return lins[4](h)

    logits = net(torch.tensor(X))
    np.testing.assert_allclose(model.forward(X), torch.softmax(logits, 1).detach().numpy(), rtol=1e-12, atol=1e-15)
    J = nn.functional.cross_entropy(logits, torch.tensor(y))
    J.backward()
    assert model.loss(X, y) == pytest.approx(J.item(), rel=1e-12)
    for (dW, db), lin in zip(model.gradients(X, y), lins):
        np.testing.assert_allclose(dW, lin.weight.grad.numpy().T, rtol=1e-10, atol=1e-14)
        np.testing.assert_allclose(db, lin.bias.grad.numpy(), rtol=1e-10, atol=1e-14)
    model._engine.gradients(X, model._Y(y, len(y)))
    np.testing.assert_allclose(model._net.grad_tensor("layers.2.layers.0.gamma"), ln.weight.grad.numpy(), rtol=1e-10)
    # one full-batch SGD step: the same weights
    model.fit(X, y, epochs=1, batch_size=None, shuffle=False)
    with torch.no_grad():
        for p in [*(q for lin in lins for q in lin.parameters()), *ln.parameters()]:
            p -= 0.1 * p.grad
    for lin, dense in zip(lins, model.dense_layers):
        np.testing.assert_allclose(dense.weights, lin.weight.detach().numpy().T, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(model.layers[2].layers[0].beta, ln.bias.detach().numpy(), rtol=1e-10, atol=1e-14)


def test_dense_batchnorm_activation_against_torch():
    """Dense(8) -> BatchNormalization() -> Activation("relu"): normalization before the activation."""
    torch = pytest.importorskip("torch")
    nn = torch.nn
    model = fm.Sequential(
        [fm.Dense(5, 8), fm.BatchNormalization(momentum=0.9, epsilon=1e-5), fm.Activation("relu"), fm.Dense(8, 3),
         fm.Activation("softmax")],
        dtype="float64", seed=5, optimizer=fm.SGD(0.1),
    )  # fmt: skip
    randomize(model)
    X, y = data(m=16)
    d1, d2 = nn.Linear(5, 8, dtype=torch.float64), nn.Linear(8, 3, dtype=torch.float64)
    bn = nn.BatchNorm1d(8, eps=1e-5, momentum=0.1, dtype=torch.float64)  # torch's 0.1 is Keras's 0.9
    _copy_linear(torch, d1, model.layers[0])
    _copy_linear(torch, d2, model.layers[3])
    norm = model.layers[1]
    with torch.no_grad():
        bn.weight.copy_(torch.tensor(norm.gamma))
        bn.bias.copy_(torch.tensor(norm.beta))
        bn.running_mean.copy_(torch.tensor(norm.moving_mean))
    net = nn.Sequential(d1, bn, nn.ReLU(), d2)
    # training mode: batch statistics, the same loss and gradients
    J = nn.functional.cross_entropy(net(torch.tensor(X)), torch.tensor(y))
    J.backward()
    assert model._engine.gradients(X, model._Y(y, len(y)), None, True) == pytest.approx(J.item(), rel=1e-12)
    grads = model_grads(model)
    np.testing.assert_allclose(grads[model.layers[0]]["W"], d1.weight.grad.numpy().T, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grads[norm]["gamma"], bn.weight.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grads[norm]["beta"], bn.bias.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(grads[model.layers[3]]["W"], d2.weight.grad.numpy().T, rtol=1e-10, atol=1e-14)
    model.fit(X, y, epochs=1, batch_size=None, shuffle=False)
    with torch.no_grad():
        for p in net.parameters():
            p -= 0.1 * p.grad
    np.testing.assert_allclose(norm.gamma, bn.weight.detach().numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(norm.moving_mean, bn.running_mean.numpy(), rtol=1e-12)
    # inference: the running statistics (the variance is Keras's biased one: set torch's)
    net.eval()
    with torch.no_grad():
        bn.running_var.copy_(torch.tensor(norm.moving_variance))
        expected = torch.softmax(net(torch.tensor(X)), dim=1).numpy()
    np.testing.assert_allclose(model.forward(X), expected, rtol=1e-10, atol=1e-14)


# --- training -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_a_residual_mlp_trains(dtype):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6))
    y = ((X[:, 0] * X[:, 1] > 0).astype(int) + (X[:, 2] > 0.5)).astype(int)  # 3 classes, not linear
    block = lambda: fm.Residual(  # noqa: E731
        [fm.BatchNormalization(), fm.Dense(32, "relu"), fm.Dropout(0.1), fm.Dense(16)]
    )
    model = fm.Sequential(
        [fm.Dense(16, input_dim=6), block(), block(), fm.LayerNormalization(), fm.Activation("relu"),
         fm.Dense(3, activation="softmax")],
        dtype=dtype, seed=0, optimizer=fm.Adam(0.01),
    )  # fmt: skip
    history = model.fit(X, y, epochs=40, batch_size=32, verbose=False)
    loss = history.history["loss"]
    assert loss[-1] < 0.5 * loss[0] and loss[-1] < 0.45
    assert model.accuracy(X, y) > 0.85
    assert np.isfinite(model.params).all()


def test_deferred_sizes_inside_a_block_are_set_by_the_build():
    model = fm.Sequential([fm.Dense(8, "relu"), fm.Residual([fm.Dense(16, "relu"), fm.Dense(8)]), fm.Dense(1)])
    assert not model.built and model.layers[1].layers[0].n_in == 8  # known from the layer before
    X = np.random.default_rng(0).normal(size=(20, 3))
    model.fit(X, X.sum(axis=1), epochs=2, verbose=False)
    assert model.n_features_in == 3 and model.num_params == 4 * 8 + (8 * 16 + 16 + 16 * 8 + 8) + 9
    assert model.layers[1].num_params == 8 * 16 + 16 + 16 * 8 + 8


# --- the model file, copies, pickles --------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_load_round_trip_bit_for_bit(tmp_path, dtype):
    model = residual_model(dtype=dtype, dropout=True)
    X, y = data(m=40)
    model.fit(X, y, epochs=3, verbose=False)  # running statistics away from (0, 1)
    path = tmp_path / "m.safetensors"
    model.save(path)
    loaded = fm.load(path)
    assert repr(loaded) == repr(model)
    assert [type(la) for la in walk(loaded.layers)] == [type(la) for la in walk(model.layers)]
    np.testing.assert_array_equal(loaded.params, model.params)
    np.testing.assert_array_equal(loaded._net.state, model._net.state)
    np.testing.assert_array_equal(loaded.forward(X), model.forward(X))
    assert loaded.to_bytes() == model.to_bytes() == path.read_bytes()
    for again in (pickle.loads(pickle.dumps(model)), model.copy()):
        np.testing.assert_array_equal(again.forward(X), model.forward(X))
        assert again.to_bytes() == model.to_bytes()
    names = {name for name, _, _ in model._net.tensors}
    assert {"layers.3.layers.0.weight", "layers.3.layers.1.gamma", "layers.4.layers.0.running_var"} <= names
    assert "layers.4.layers.2.layers.0.weight" in names  # a Residual inside a Residual


def test_file_entries_and_configs():
    model = residual_model(dropout=True)
    entries = [layer.file_entry() for layer in model.layers]
    assert entries == model._net.configs  # what the C++ core built and writes
    assert entries[2] == {"type": "Activation", "activation": "relu", "alpha": None}
    assert entries[5] == {"type": "Activation", "activation": "leaky_relu", "alpha": 0.2}
    assert [e["type"] for e in entries[3]["layers"]] == [
        "Dense",
        "LayerNormalization",
        "Activation",
        "Dropout",
        "Dense",
    ]
    block = model.layers[4]
    config = block.get_config()
    again = fm.Residual.from_config(config)
    assert repr(again) == repr(block) and again.get_config() == config
    assert all(a is not b for a, b in zip(walk(again.layers), walk(block.layers)))  # fresh layers
    assert fm.Layer.from_file_entry(block.file_entry()).file_entry() == block.file_entry()
    act = fm.Activation("elu", alpha=0.5)
    assert fm.Activation.from_config(act.get_config()).alpha == 0.5 and repr(act) == "Activation('elu', alpha=0.5)"
    # a Dropout(0) has no entry, inside a block as outside: the tensors keep the file's positions
    m = fm.Sequential([fm.Dense(3, 4), fm.Residual([fm.Dropout(0.0), fm.Dense(4, 4)]), fm.Dense(4, 1)], seed=0)
    assert m.layers[1].file_entry() == {"type": "Residual", "layers": [m.layers[1].layers[1].file_entry()]}
    assert m.layers[1].layers[1].weights.shape == (4, 4)
    assert fm.Sequential.from_bytes(m.to_bytes()).to_bytes() == m.to_bytes()


def test_get_and_set_weights_include_the_blocks_layers():
    model = residual_model()
    weights = model.get_weights()
    assert len(weights) == 2 + 4 + (2 + 2 + 2) + (4 + 2 + 2 + 2) + 2
    assert sum(w.size for w in weights) == model.num_params + 2 * (8 + 8)  # + the running statistics
    new = [w + 0.5 for w in weights]
    model.set_weights(new)
    np.testing.assert_array_equal(model.layers[3].layers[0].weights, new[6])
    new[15] = -new[15]  # the moving variance of the BatchNormalization inside layers[4]
    with pytest.raises(ValueError, match=r"weights\[15\] \(moving_variance of layers\[4\]\) holds a negative"):
        model.set_weights(new)
    np.testing.assert_array_equal(model.get_weights()[15], -new[15])  # nothing changed


# --- ONNX -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_onnx_equals_forward(dtype):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import fastmlp.onnx as fonnx

    model = residual_model(dtype=dtype, dropout=True)
    X, y = data(m=40)
    model.fit(X, y, epochs=3, verbose=False)
    X = X.astype(dtype)
    proto = fonnx.to_onnx(model)
    out = ort.InferenceSession(proto.SerializeToString()).run(None, {"input": X})[0]
    tol = 1e-5 if dtype == "float32" else 1e-8  # float64: gelu's erf in float32, float32 epsilons
    np.testing.assert_allclose(out, model.forward(X), rtol=tol, atol=tol)
    ops = [n.op_type for n in proto.graph.node]
    writes_output = [n.op_type for n in proto.graph.node if "output" in n.output]  # (then a classifier's label)
    assert ops.count("Add") >= 3 and ops.count("Gemm") == 7 and writes_output == ["Softmax"] and "Dropout" not in ops
    names = {t.name for t in proto.graph.initializer}
    assert {"layers.3.layers.0.weight", "layers.4.layers.2.layers.0.bias", "layers.4.layers.0.moving_mean"} <= names


def test_onnx_names_its_initializers_as_the_file_names_the_tensors():
    pytest.importorskip("onnx")
    import fastmlp.onnx as fonnx

    model = fm.Sequential(
        [fm.Dense(3, 4, "relu"), fm.Dropout(0.0), fm.Dense(4, 4), fm.Residual([fm.Dropout(0.0), fm.Dense(4, 4)]),
         fm.Activation("tanh"), fm.Dense(4, 2, "softmax")],
        seed=0,
    )  # fmt: skip
    names = {t.name for t in fonnx.to_onnx(model).graph.initializer}
    assert names == {name for name, _, _ in model._net.tensors}  # a Dropout(0) has no entry, so no position


@pytest.mark.parametrize("g", ["relu", ("leaky_relu", 0.3), ("elu", 0.7), "softplus", "sigmoid", "mish", "linear"])
def test_onnx_of_each_activation_layer(g):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import fastmlp.onnx as fonnx

    name, alpha = g if isinstance(g, tuple) else (g, None)
    for dtype in ("float32", "float64"):
        model = fm.Sequential(
            [fm.Dense(4, 6), fm.Activation(name, alpha=alpha), fm.Dense(6, 2), fm.Activation(name, alpha=alpha)],
            dtype=dtype, seed=1, loss="mse",
        )  # fmt: skip
        X = np.random.default_rng(0).normal(size=(9, 4)).astype(dtype)
        out = ort.InferenceSession(fonnx.to_onnx(model).SerializeToString()).run(None, {"input": X})[0]
        np.testing.assert_allclose(out, model.forward(X), rtol=1e-5, atol=1e-6)


# --- what the model shows -------------------------------------------------------------------------


def test_summary_and_notebook_show_the_new_layers():
    model = residual_model(dropout=True)
    text = model.summary(print_fn=None)
    assert "activation_2 (Activation)" in text and "relu" in text
    block = model.layers[3]
    line = next(line for line in text.splitlines() if line.startswith("residual_3"))
    assert "(Residual: Dense, LayerNormalization, Activation, Dropout, Dense)" in line
    assert f"{block.num_params:,}" in line.split(")")[-2] + line and "(None, 8)" in line
    assert block.num_params == 8 * 12 + 12 + 24 + 12 * 8 + 8
    assert f"Total params: {model.num_params:,}" in text
    html = model._repr_html_()
    assert html.count("<tr>") == 1 + len(model.layers) + 1
    assert ">Activation<" in html and ">leaky_relu<" in html
    assert "Residual[Dense, LayerNormalization(epsilon=0.001), Activation, Dropout(0.3), Dense]" in html
    assert "(8, 12); gamma, beta (12,); (12, 8)" in html and f">{block.num_params:,}<" in html
    unbuilt = fm.Sequential([fm.Dense(4, "relu"), fm.Residual([fm.Dense(4), fm.BatchNormalization()]), fm.Dense(1)])
    assert "?" in unbuilt.summary(print_fn=None) and "Residual[Dense, BatchNormalization" in unbuilt._repr_html_()
    assert unbuilt.layers[1].num_params is None


# --- bad input ------------------------------------------------------------------------------------


def test_widths_must_match_inside_a_residual():
    with pytest.raises(ValueError, match=r"layers\[1\]: the layers inside a Residual .* \(8\), they give 5"):
        fm.Sequential([fm.Dense(4, 8), fm.Residual([fm.Dense(8, 5)]), fm.Dense(5, 1)])
    with pytest.raises(
        ValueError, match=r"layers\[1\].layers\[1\]: the layers inside a Residual .* \(6\), they give 3"
    ):
        fm.Sequential([fm.Dense(4, 6), fm.Residual([fm.Dense(6, 6), fm.Residual([fm.Dense(3)])]), fm.Dense(1)])
    with pytest.raises(
        ValueError, match=r"layers\[1\].layers\[0\]: this Dense takes 7 inputs but the layer before gives 8"
    ):
        fm.Sequential([fm.Dense(4, 8), fm.Residual([fm.Dense(7, 8)]), fm.Dense(8, 1)])


def test_bad_layers_are_clear_errors():
    with pytest.raises(ValueError, match="at least one layer inside"):
        fm.Residual([])
    with pytest.raises(TypeError, match="list of layers"):
        fm.Residual(fm.Dense(3, 3))
    with pytest.raises(TypeError, match=r"layers\[1\] must be a layer"):
        fm.Residual([fm.Dense(3, 3), "relu"])
    with pytest.raises(ValueError, match="unknown activation 'nope'"):
        fm.Activation("nope")
    with pytest.raises(TypeError, match="activation must be a string"):
        fm.Activation(3)
    with pytest.raises(ValueError, match="alpha"):
        fm.Activation("elu", alpha=-1)
    with pytest.raises(TypeError, match="a Residual's config"):
        fm.Residual.from_config({"layers": [], "extra": 1})


def test_misplaced_layers_are_clear_errors():
    with pytest.raises(
        ValueError, match=r"layers\[0\]: an Activation must follow a Dense layer \(it cannot be the first\)"
    ):
        fm.Sequential([fm.Activation("relu"), fm.Dense(3, 2)])
    with pytest.raises(ValueError, match=r"layers\[0\]: a Residual must follow a Dense layer"):
        fm.Sequential([fm.Residual([fm.Dense(3, 3)]), fm.Dense(3, 2)])
    with pytest.raises(ValueError, match=r"layers\[1\]: a Residual cannot be the last layer"):
        fm.Sequential([fm.Dense(3, 3), fm.Residual([fm.Dense(3, 3)])])
    with pytest.raises(ValueError, match=r"layers\[1\].layers\[1\]: a BatchNormalization must follow a Dense layer"):
        fm.Sequential([fm.Dense(3, 3), fm.Residual([fm.Dropout(0.1), fm.BatchNormalization()]), fm.Dense(3, 1)])
    with pytest.raises(TypeError, match=r"layers\[1\] must be a layer"):
        fm.Sequential([fm.Dense(3, 3), "relu", fm.Dense(3, 1)])


def test_layers_belong_to_one_model_and_a_failed_model_keeps_none():
    inner = fm.Dense(3, 3)
    fm.Sequential([fm.Dense(2, 3), fm.Residual([inner]), fm.Dense(3, 1)])
    with pytest.raises(ValueError, match=r"layers\[1\].layers\[0\] already belongs to another model"):
        fm.Sequential([fm.Dense(2, 3), fm.Residual([inner]), fm.Dense(3, 1)])
    d = fm.Dense(3, 3)
    with pytest.raises(ValueError, match=r"layers\[2\].layers\[0\] appears twice"):
        fm.Sequential([fm.Dense(2, 3), d, fm.Residual([d]), fm.Dense(3, 1)])
    relu = fm.Activation("relu")  # no weights: may stand twice
    fm.Sequential([fm.Dense(2, 3), relu, fm.Residual([fm.Dense(3, 3), relu]), fm.Dense(3, 1)])
    block, head = fm.Residual([fm.Dense(3, 3), fm.BatchNormalization(epsilon=1e-50)]), fm.Dense(3, 1)
    with pytest.raises(ValueError, match="is 0 in the model's dtype"):  # refused by the C++ core at build
        fm.Sequential([fm.Dense(2, 3), block, head], dtype="float32")
    fm.Sequential([fm.Dense(2, 3), block, head], dtype="float64")  # the layers were left free
    with pytest.raises(RuntimeError, match="part of a Sequential model"):
        fm.Dense(3, 3).weights


def test_activation_as_the_output_sets_the_loss():
    assert fm.Sequential([fm.Dense(3, 4), fm.Activation("softmax")]).loss_name == "categorical_crossentropy"
    assert fm.Sequential([fm.Dense(3, 1), fm.Activation("sigmoid")]).loss_name == "binary_crossentropy"
    assert fm.Sequential([fm.Dense(3, 1, "sigmoid"), fm.Activation("linear")]).loss_name == "mse"
    with pytest.raises(ValueError, match="softmax"):
        fm.Sequential([fm.Dense(3, 4, "softmax"), fm.Activation("relu")], loss="categorical_crossentropy")


# --- CUDA: the same layers on the GPU engine (skipped without a CUDA device) -----------------------


@pytest.mark.gpu
@pytest.mark.skipif(not fm.cuda_available(), reason="no CUDA device")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cuda_runs_the_new_layers_as_the_cpu(dtype):
    tol = {"float32": 1e-5, "float64": 1e-12}[dtype]
    cpu = randomize(residual_model(dtype=dtype, dropout=True, l2=0.01))
    gpu = cpu.copy().to("cuda")
    X, y = data(m=37)
    X = X.astype(dtype)
    np.testing.assert_allclose(gpu.forward(X), cpu.forward(X), rtol=tol, atol=tol)
    assert gpu.loss(X, y) == pytest.approx(cpu.loss(X, y), rel=tol)
    for (gw, gb), (cw, cb) in zip(gpu.gradients(X, y), cpu.gradients(X, y)):
        np.testing.assert_allclose(gw, cw, rtol=tol, atol=tol)
        np.testing.assert_allclose(gb, cb, rtol=tol, atol=tol)
    # training (batch normalization by batch statistics, dropout masks): the same weights after
    kwargs = dict(epochs=2, batch_size=8, shuffle=True, seed=0, verbose=False)
    cpu.fit(X, y, **kwargs)
    gpu.fit(X, y, **kwargs)
    np.testing.assert_allclose(gpu.params, cpu.params, rtol=100 * tol, atol=100 * tol)
    np.testing.assert_allclose(gpu._net.state, cpu._net.state, rtol=100 * tol, atol=100 * tol)
