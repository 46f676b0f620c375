"""BatchNormalization and LayerNormalization: forward and backward against the NumPy reference
(tests/reference.py, written out term by term), finite differences in float64, PyTorch, running
statistics in training and inference, the model file, ONNX, and bad input."""

import pickle

import numpy as np
import pytest

import fastmlp as fm
import reference as ref
from fastmlp import _core

KINDS = {"batch": fm.BatchNormalization, "layer": fm.LayerNormalization}


def make(kind, dtype="float64", seed=0, **kw):
    """5 -> 7 (tanh, normalized, dropout-free) -> 6 (relu, normalized) -> 3 softmax."""
    return fm.Sequential(
        [fm.Dense(5, 7, "tanh"), KINDS[kind](**kw), fm.Dense(7, 6, "relu"), KINDS[kind](), fm.Dense(6, 3, "softmax")],
        dtype=dtype,
        seed=seed,
    )


def data(m=24, seed=1):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, 5)) * 2 + 1, rng.integers(0, 3, size=m)


def randomize(model, seed=2):
    """gamma, beta (and the running statistics) away from 1, 0 so that every term shows."""
    rng = np.random.default_rng(seed)
    for layer in model.layers:
        if isinstance(layer, (fm.BatchNormalization, fm.LayerNormalization)):
            layer.gamma[...] = rng.uniform(0.5, 1.5, layer.units)
            layer.beta[...] = rng.normal(size=layer.units) * 0.3
            if isinstance(layer, fm.BatchNormalization):
                layer.moving_mean[...] = rng.normal(size=layer.units) * 0.2
                layer.moving_variance[...] = rng.uniform(0.5, 2.0, layer.units)
    return model


def reference_args(model):
    dense = model.dense_layers
    params = [(d.weights.astype(np.float64), d.bias.astype(np.float64)) for d in dense]
    norms = []
    for i, layer in enumerate(model.layers):  # each Dense's normalization: the layer right after it
        if not isinstance(layer, fm.Dense):
            continue
        n = model.layers[i + 1] if i + 1 < len(model.layers) else None
        if not isinstance(n, (fm.BatchNormalization, fm.LayerNormalization)):
            norms.append(None)
            continue
        entry = {"kind": n.kind, "gamma": n.gamma.astype(np.float64), "beta": n.beta.astype(np.float64)}
        entry["eps"] = n.epsilon
        if n.kind == "batch":
            entry["mean"], entry["var"] = n.moving_mean.astype(np.float64), n.moving_variance.astype(np.float64)
        norms.append(entry)
    return params, [d.activation for d in dense], norms


@pytest.mark.parametrize("kind", ["batch", "layer"])
@pytest.mark.parametrize("training", [False, True])
def test_loss_and_gradients_match_the_reference(kind, training):
    model = randomize(make(kind))
    X, y = data()
    Y = ref.targets(y, "categorical_crossentropy", 3)
    params, acts, norms = reference_args(model)
    J_ref, grads_ref = ref.norm_mlp_loss_and_grads(params, acts, norms, X, Y, "categorical_crossentropy", training)
    J = model._engine.gradients(X, model._Y(y, len(y)), None, training)
    assert J == pytest.approx(J_ref, rel=1e-12)
    for l, layer in enumerate(model.dense_layers):
        np.testing.assert_allclose(model._net.grad_weight(l), grads_ref[l][0], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(model._net.grad_bias(l), grads_ref[l][1], rtol=1e-10, atol=1e-13)
    flat = model._net.grads
    for l in range(2):  # dgamma, dbeta sit after b_l in the flat buffer
        start = model._net.norm_params(l)[0].ctypes.data - model.params.ctypes.data
        k = model.dense_layers[l].n_out
        got = flat[start // 8 : start // 8 + 2 * k]
        np.testing.assert_allclose(got[:k], grads_ref[l][2], rtol=1e-10, atol=1e-13)
        np.testing.assert_allclose(got[k:], grads_ref[l][3], rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("kind", ["batch", "layer"])
@pytest.mark.parametrize("training", [False, True])
def test_gradients_match_finite_differences(kind, training):
    model = randomize(make(kind))
    X, y = data(m=9)
    Y = model._Y(y, len(y))
    engine, p = model._engine, model.params
    engine.gradients(X, Y, None, training)
    analytic = model._net.grads.copy()
    numeric = np.empty_like(analytic)
    h = 1e-6
    for i in range(p.size):
        old = p[i]
        p[i] = old + h
        up = engine.objective(X, Y, None, training)
        p[i] = old - h
        down = engine.objective(X, Y, None, training)
        p[i] = old
        numeric[i] = (up - down) / (2 * h)
    np.testing.assert_allclose(analytic, numeric, rtol=1e-5, atol=1e-8)


def test_against_torch_batch_and_layer_norm():
    torch = pytest.importorskip("torch")
    torch.set_default_dtype(torch.float64)
    model = randomize(fm.Sequential(
        [fm.Dense(5, 7, "tanh"), fm.BatchNormalization(momentum=0.9, epsilon=1e-5), fm.Dense(7, 6, "relu"),
         fm.LayerNormalization(epsilon=1e-5), fm.Dense(6, 3, "softmax")],
        dtype="float64", seed=3, optimizer=fm.SGD(0.1),
    ))  # fmt: skip
    X, y = data(m=16)
    d1, d2, d3 = (torch.nn.Linear(a, b) for a, b in ((5, 7), (7, 6), (6, 3)))
    bn, ln = torch.nn.BatchNorm1d(7, eps=1e-5, momentum=0.1), torch.nn.LayerNorm(6, eps=1e-5)
    with torch.no_grad():
        for lin, dense in zip((d1, d2, d3), model.dense_layers):
            lin.weight.copy_(torch.tensor(dense.weights.T))
            lin.bias.copy_(torch.tensor(dense.bias))
        bn.weight.copy_(torch.tensor(model.layers[1].gamma))
        bn.bias.copy_(torch.tensor(model.layers[1].beta))
        bn.running_mean.copy_(torch.tensor(model.layers[1].moving_mean))
        ln.weight.copy_(torch.tensor(model.layers[3].gamma))
        ln.bias.copy_(torch.tensor(model.layers[3].beta))
    net = torch.nn.Sequential(d1, torch.nn.Tanh(), bn, d2, torch.nn.ReLU(), ln, d3)
    mean0 = model.layers[1].moving_mean.copy()
    # training mode: the same loss and gradients, and after one SGD step the same weights
    J = torch.nn.functional.cross_entropy(net(torch.tensor(X)), torch.tensor(y))
    J.backward()
    assert model._engine.gradients(X, model._Y(y, len(y)), None, True) == pytest.approx(J.item(), rel=1e-12)
    np.testing.assert_allclose(model._net.grad_weight(0), d1.weight.grad.numpy().T, rtol=1e-10, atol=1e-14)
    gamma_grad = model._net.grads[model.dense_layers[0].num_params : model.dense_layers[0].num_params + 7]
    np.testing.assert_allclose(gamma_grad, bn.weight.grad.numpy(), rtol=1e-10, atol=1e-14)
    model.fit(X, y, epochs=1, batch_size=None, shuffle=False, optimizer=fm.SGD(0.1))
    with torch.no_grad():
        for param in net.parameters():
            param -= 0.1 * param.grad
    np.testing.assert_allclose(model.dense_layers[1].weights, d2.weight.detach().numpy().T, rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(model.layers[3].gamma, ln.weight.detach().numpy(), rtol=1e-10, atol=1e-14)
    # the running mean as torch's (momentum 0.9 here is torch's 0.1); the variance is the biased one
    np.testing.assert_allclose(model.layers[1].moving_mean, bn.running_mean.numpy(), rtol=1e-12)
    assert not np.allclose(model.layers[1].moving_mean, mean0)
    # inference: the running statistics
    net.eval()
    with torch.no_grad():
        bn.running_var.copy_(torch.tensor(model.layers[1].moving_variance))
        expected = torch.softmax(net(torch.tensor(X)), dim=1).numpy()
    np.testing.assert_allclose(model.predict_proba(X), expected, rtol=1e-10, atol=1e-14)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_training_updates_the_running_statistics_and_inference_uses_them(dtype):
    model = make("batch", dtype, momentum=0.5)
    X, y = data(m=40)
    bn = model.layers[1]
    # one full-batch step: running = 0.5 running + 0.5 batch statistics of a_1 before the step
    a1 = np.tanh(X @ model.dense_layers[0].weights.astype(np.float64) + model.dense_layers[0].bias)
    model.fit(X, y, epochs=1, batch_size=None, optimizer=fm.SGD(0.01))
    tol = 1e-5 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(bn.moving_mean, 0.5 * a1.mean(axis=0), rtol=tol, atol=tol)
    np.testing.assert_allclose(bn.moving_variance, 0.5 + 0.5 * a1.var(axis=0), rtol=tol, atol=tol)
    # inference does not depend on the other rows of the batch, and changes no statistics
    before = bn.moving_mean.copy()
    np.testing.assert_allclose(model.predict_proba(X[:3]), model.predict_proba(X)[:3], rtol=tol, atol=tol)
    model.evaluate(X, y)
    np.testing.assert_array_equal(bn.moving_mean, before)
    model.fit(X, y, epochs=3, batch_size=8, verbose=False)  # mini-batches: finite, changing
    assert np.isfinite(bn.moving_variance).all() and not np.array_equal(bn.moving_mean, before)


@pytest.mark.parametrize("kind", ["batch", "layer"])
def test_fused_sgd_equals_the_gradient_path(kind):
    """Plain SGD updates gamma and beta inside backprop; clip_norm forces the gradient buffer."""
    X, y = data(m=30)
    a, b = make(kind), make(kind)
    a.fit(X, y, epochs=3, batch_size=7, optimizer=fm.SGD(0.05), verbose=False)
    b.fit(X, y, epochs=3, batch_size=7, optimizer=fm.SGD(0.05, clip_norm=1e30), verbose=False)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(a._net.state, b._net.state, rtol=1e-12, atol=1e-14)


def test_early_stopping_restores_the_running_statistics_with_the_weights():
    X, y = data(m=60)
    model = make("batch")
    seen = []
    model.fit(
        X, y, optimizer=fm.SGD(0.5), epochs=12, batch_size=10, validation_split=0.25, verbose=False,
        early_stopping=fm.EarlyStopping(patience=2, monitor="val_loss"),
        callback=lambda e, logs: seen.append((logs["val_loss"], model.params.copy(), model._net.state.copy())),
    )  # fmt: skip
    best = min(range(len(seen)), key=lambda i: seen[i][0])
    np.testing.assert_array_equal(model.params, seen[best][1])
    np.testing.assert_array_equal(model._net.state, seen[best][2])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_saved_loaded_copied_pickled(tmp_path, dtype):
    model = randomize(make("batch", dtype))
    model.layers[3].moving_mean[...] = 0.25  # the second layer's statistics too
    X, _ = data()
    path = tmp_path / "norm.safetensors"
    model.save(path)
    header = fm.io.read(path)[1]
    assert '"BatchNormalization"' in header["layers"]
    for other in (fm.Sequential.load(path), model.copy(), pickle.loads(pickle.dumps(model))):
        assert repr(other.layers) == repr(model.layers)
        np.testing.assert_array_equal(other.params, model.params)
        np.testing.assert_array_equal(other._net.state, model._net.state)
        np.testing.assert_array_equal(other.forward(X), model.forward(X))
    ln = randomize(make("layer", dtype, epsilon=1e-4))
    ln.save(path)
    back = fm.Sequential.load(path)
    assert back.layers[1].epsilon == pytest.approx(1e-4)
    np.testing.assert_array_equal(back.forward(X), ln.forward(X))


def test_get_and_set_weights_in_keras_order():
    model = randomize(make("batch"))
    weights = model.get_weights()
    assert [w.shape for w in weights[:6]] == [(5, 7), (7,), (7,), (7,), (7,), (7,)]
    np.testing.assert_array_equal(weights[4], model.layers[1].moving_mean)
    other = make("batch", seed=9)
    other.set_weights(weights)
    X, _ = data()
    np.testing.assert_array_equal(other.forward(X), model.forward(X))
    with pytest.raises(ValueError, match="moving_variance of layers\\[1\\]"):
        other.set_weights(weights[:5] + [np.ones(3)] + weights[6:])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_onnx_export_matches_forward(dtype):
    ort = pytest.importorskip("onnxruntime")
    pytest.importorskip("onnx")
    X, y = data(m=50)
    model = fm.Sequential(
        [fm.Dense(5, 8, "relu"), fm.BatchNormalization(), fm.Dropout(0.2), fm.Dense(8, 6, "tanh"),
         fm.LayerNormalization(), fm.Dense(6, 3, "softmax")],
        dtype=dtype, seed=0,
    )  # fmt: skip
    model.fit(X, y, epochs=5, verbose=False)
    session = ort.InferenceSession(fm.onnx.to_onnx(model).SerializeToString())
    out = session.run(None, {"input": X.astype(dtype)})[0]
    np.testing.assert_allclose(out, model.forward(X), rtol=1e-5 if dtype == "float32" else 1e-8, atol=1e-6)
    with pytest.raises(ValueError, match="opset >= 17"):
        fm.onnx.to_onnx(model, opset=13)


def test_bad_placement_and_values_are_clear_errors():
    with pytest.raises(ValueError, match="must follow a Dense layer"):
        fm.Sequential([fm.BatchNormalization(), fm.Dense(3, 2, "softmax")])
    with pytest.raises(ValueError, match="cannot be the last layer"):
        fm.Sequential([fm.Dense(3, 2, "softmax"), fm.LayerNormalization()])
    with pytest.raises(ValueError, match="must follow a Dense layer"):
        fm.Sequential([fm.Dense(3, 4), fm.Dropout(0.1), fm.BatchNormalization(), fm.Dense(4, 2, "softmax")])
    with pytest.raises(ValueError, match="epsilon"):
        fm.BatchNormalization(epsilon=0)
    with pytest.raises(ValueError, match="momentum"):
        fm.BatchNormalization(momentum=1.0)
    with pytest.raises(ValueError, match="normalization"):
        _core.LayerSpec(2, 2).with_norm("group")
    norm = fm.LayerNormalization()
    fm.Sequential([fm.Dense(3, 4), norm, fm.Dense(4, 2, "softmax")])
    with pytest.raises(ValueError, match="another model"):
        fm.Sequential([fm.Dense(3, 4), norm, fm.Dense(4, 2, "softmax")])
    with pytest.raises(RuntimeError, match="part of a built model"):
        fm.BatchNormalization().gamma


def test_deferred_input_size_and_summary():
    model = fm.Sequential([fm.Dense(8, activation="relu"), fm.BatchNormalization(), fm.Dense(3, activation="softmax")])
    X, y = data(m=20)
    model.fit(X, y, epochs=2, verbose=False)
    assert model.layers[1].units == 8 and model.layers[1].gamma.shape == (8,)
    text = model.summary(print_fn=None)
    assert "BatchNormalization" in text and "Total params: " + f"{5 * 8 + 8 + 16 + 8 * 3 + 3:,}" in text


def test_core_network_starts_with_neutral_statistics_and_usable_epsilon():
    """A Network made without init_params has gamma 1, beta 0, running mean 0 and variance 1; an
    epsilon that is 0 in float32 is refused."""
    spec = _core.LayerSpec(3, 4, "relu").with_norm("batch")
    net = _core.Network64([spec, _core.LayerSpec(4, 2)], "mse")
    np.testing.assert_array_equal(net.state, [0, 0, 0, 0, 1, 1, 1, 1])
    np.testing.assert_array_equal(net.norm_params(0)[0], np.ones(4))
    with pytest.raises(ValueError, match="is 0 in the model's dtype"):
        fm.Sequential([fm.Dense(3, 4), fm.BatchNormalization(epsilon=1e-50), fm.Dense(4, 2)], dtype="float32")
    fm.Sequential([fm.Dense(3, 4), fm.BatchNormalization(epsilon=1e-50), fm.Dense(4, 2)], dtype="float64")


def test_negative_running_variance_is_refused():
    model = make("batch")
    weights = model.get_weights()
    weights[5] = -np.ones(7)  # moving_variance of layers[1]
    with pytest.raises(ValueError, match="negative variance"):
        model.set_weights(weights)
    model.layers[1].moving_variance[0] = -1.0  # written through the view: the file is refused when read
    with pytest.raises(ValueError, match="negative variance"):
        fm.Sequential.from_bytes(model.to_bytes())
