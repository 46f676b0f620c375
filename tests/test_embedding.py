"""The Embedding layer (issue 26, deliverable 3): Keras's Embedding(input_dim, output_dim) followed
by Flatten on 2-D batches of integer codes. Forward, loss and gradients against the NumPy
reference (tests/reference.py), float64 central differences of the loss w.r.t. E, PyTorch's
nn.Embedding, training, the model file, ONNX, summary and notebook, bad codes and misplaced
layers, and the CUDA engine (skipped without a device)."""

import pickle

import numpy as np
import pytest

import fastmlp as fm
import reference as ref

V, D, K = 7, 3, 4  # codes 0..6, 3 numbers per code, 4 codes per row


def codes(m=20, k=K, v=V, seed=1):
    """m rows of k codes, every code repeated (so the gradient sums several rows)."""
    return np.random.default_rng(seed).integers(0, v, size=(m, k)).astype(np.float64)


def model_with_embedding(dtype="float64", seed=0, optimizer="adam", out=3, **kwargs):
    layers = [fm.Embedding(V, D, input_length=K, **kwargs), fm.Dense(K * D, 6, "tanh"), fm.Dense(6, out, "softmax")]
    model = fm.Sequential(layers, dtype=dtype, seed=seed, optimizer=optimizer)
    rng = np.random.default_rng(seed + 10)  # a table well away from 0, so every term matters
    model.layers[0].embeddings = rng.normal(size=(V, D))
    return model


def reference_stack(model):
    E, d1, d2 = model.layers
    return [
        {"type": "Embedding", "E": E.embeddings.astype(np.float64)},
        {"type": "Dense", "W": d1.weights.astype(np.float64), "b": d1.bias.astype(np.float64), "g": "tanh"},
        {"type": "Dense", "W": d2.weights.astype(np.float64), "b": d2.bias.astype(np.float64), "g": "softmax"},
    ]


def labels(m=20, seed=2):
    return np.random.default_rng(seed).integers(0, 3, size=m)


# --- the NumPy reference --------------------------------------------------------------------------


def test_the_reference_embedding_is_its_own_finite_differences():
    rng = np.random.default_rng(0)
    X, Y = codes(9), np.eye(3)[rng.integers(0, 3, 9)]
    stack = [
        {"type": "Embedding", "E": rng.normal(size=(V, D))},
        {"type": "Dense", "W": rng.normal(size=(K * D, 3)), "b": rng.normal(size=3), "g": "softmax"},
    ]
    _, grads, _ = ref.stack_loss_and_grads(stack, X, Y, "categorical_crossentropy")
    E, dE = stack[0]["E"], grads[id(stack[0])]["E"]
    numeric = np.empty_like(E)
    for idx in np.ndindex(E.shape):
        old = E[idx]
        E[idx] = old + 1e-6
        up = ref.stack_loss_and_grads(stack, X, Y, "categorical_crossentropy")[0]
        E[idx] = old - 1e-6
        down = ref.stack_loss_and_grads(stack, X, Y, "categorical_crossentropy")[0]
        E[idx] = old
        numeric[idx] = (up - down) / 2e-6
    np.testing.assert_allclose(dE, numeric, rtol=1e-6, atol=1e-9)


# --- forward and gradients ------------------------------------------------------------------------


@pytest.mark.parametrize("training", [False, True])
def test_forward_loss_and_gradients_match_the_reference(training):
    model = model_with_embedding()
    X, y = codes(), labels()
    stack = reference_stack(model)
    J_ref, grads, a_ref = ref.stack_loss_and_grads(stack, X, np.eye(3)[y], "categorical_crossentropy", training)
    np.testing.assert_allclose(model.forward(X), a_ref, rtol=1e-12, atol=1e-14)
    assert model.loss(X, y) == pytest.approx(J_ref, rel=1e-12)
    assert model._engine.gradients(X, model._Y(y, len(y)), None, training) == pytest.approx(J_ref, rel=1e-12)
    net = model._net
    np.testing.assert_allclose(net.grad_tensor("layers.0.embeddings"), grads[id(stack[0])]["E"], rtol=1e-10, atol=1e-13)
    np.testing.assert_allclose(net.grad_tensor("layers.1.weight"), grads[id(stack[1])]["W"], rtol=1e-10, atol=1e-13)
    # the public gradients are the Dense layers' (as before); they agree too
    for (dW, db), d in zip(model.gradients(X, y), stack[1:]):
        np.testing.assert_allclose(dW, grads[id(d)]["W"], rtol=1e-10, atol=1e-13)


def test_the_output_is_the_rows_of_the_table_side_by_side():
    model = fm.Sequential([fm.Embedding(6, 2, input_length=3), fm.Dense(6, 1)], dtype="float64", seed=0, loss="mse")
    model.layers[0].embeddings = np.arange(12.0).reshape(6, 2)
    w = np.arange(6.0)
    model.layers[1].weights, model.layers[1].bias = w[:, None], [0.0]  # y = h . w
    X = np.array([[4, 0, 2], [1, 1, 3]], dtype=np.float64)
    h = np.array([[8, 9, 0, 1, 4, 5], [2, 3, 2, 3, 6, 7]], dtype=np.float64)  # E[4] E[0] E[2], E[1] E[1] E[3]
    np.testing.assert_array_equal(model.forward(X), (h @ w)[:, None])
    # mse against 0: dJ/dy_i = 2 y_i / 2 = y_i; dE[v] = sum of y_i w[slot j] over the (i, j) holding v
    model._engine.gradients(X, model._Y(np.zeros((2, 1)), 2))
    dE, y = model._net.grad_tensor("layers.0.embeddings"), h @ w
    want = np.zeros((6, 2))
    for i, row in enumerate(X.astype(int)):
        for j, v in enumerate(row):
            want[v] += y[i] * w[2 * j : 2 * j + 2]
    np.testing.assert_allclose(dE, want, rtol=1e-12)
    assert want[1].any() and not dE[5].any()  # code 1 twice in a row; code 5 nowhere: a zero gradient


def test_gradients_match_finite_differences_of_the_table():
    """Central differences of model.loss in float64, each entry of E perturbed through its view."""
    model = model_with_embedding()
    X, y = codes(m=11), labels(m=11)
    model._engine.gradients(X, model._Y(y, len(y)))
    analytic = model._net.grad_tensor("layers.0.embeddings").copy()
    flat = model.layers[0].embeddings.reshape(-1)  # a writable view into the model
    numeric = np.empty(flat.size)
    for i in range(flat.size):
        old = flat[i]
        flat[i] = old + 1e-6
        up = model.loss(X, y)
        flat[i] = old - 1e-6
        down = model.loss(X, y)
        flat[i] = old
        numeric[i] = (up - down) / 2e-6
    np.testing.assert_allclose(analytic.reshape(-1), numeric, rtol=1e-6, atol=1e-9)
    assert np.count_nonzero(analytic) > 0 and fm.check_gradients(model, X, y) < 1e-6


# --- PyTorch --------------------------------------------------------------------------------------


def test_against_torch_embedding():
    torch = pytest.importorskip("torch")
    nn = torch.nn
    model = model_with_embedding(optimizer=fm.SGD(0.1))
    X, y = codes(m=16, v=V - 2), labels(m=16)  # codes 5 and 6 never occur: their rows must stay put
    emb = nn.Embedding(V, D, dtype=torch.float64)
    d1, d2 = nn.Linear(K * D, 6, dtype=torch.float64), nn.Linear(6, 3, dtype=torch.float64)
    with torch.no_grad():
        emb.weight.copy_(torch.tensor(model.layers[0].embeddings))
        for lin, dense in ((d1, model.layers[1]), (d2, model.layers[2])):
            lin.weight.copy_(torch.tensor(dense.weights.T))
            lin.bias.copy_(torch.tensor(dense.bias))
    idx = torch.tensor(X.astype(np.int64))
    h = emb(idx).reshape(len(X), -1)  # Embedding, then Flatten
    np.testing.assert_array_equal(h.detach().numpy(), model.layers[0].embeddings[X.astype(int)].reshape(16, -1))
    logits = d2(torch.tanh(d1(h)))
    np.testing.assert_allclose(model.forward(X), torch.softmax(logits, 1).detach().numpy(), rtol=1e-12, atol=1e-15)
    J = nn.functional.cross_entropy(logits, torch.tensor(y))
    J.backward()
    assert model.loss(X, y) == pytest.approx(J.item(), rel=1e-12)
    model._engine.gradients(X, model._Y(y, len(y)))
    np.testing.assert_allclose(model._net.grad_tensor("layers.0.embeddings"), emb.weight.grad.numpy(), rtol=1e-10)
    # one full-batch SGD step (the fused path: E -= 0.1 dE on the rows the batch touches)
    before = model.layers[0].embeddings.copy()
    model.fit(X, y, epochs=1, batch_size=None, shuffle=False, verbose=False)
    with torch.no_grad():
        for p in [emb.weight, *d1.parameters(), *d2.parameters()]:
            p -= 0.1 * p.grad
    np.testing.assert_allclose(model.layers[0].embeddings, emb.weight.detach().numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_array_equal(model.layers[0].embeddings[5:], before[5:])
    np.testing.assert_allclose(model.layers[1].weights, d1.weight.detach().numpy().T, rtol=1e-10, atol=1e-14)


# --- training -------------------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_codes_to_classes_are_learned(dtype, optimizer):
    """y = the class of the first code (a random table of 20 codes -> 4 classes); the second code
    is noise. Only the embedding can tell the codes apart (their values are arbitrary numbers)."""
    rng = np.random.default_rng(0)
    classes = rng.integers(0, 4, size=20)
    X = rng.integers(0, 20, size=(600, 2)).astype(dtype)
    y = classes[X[:, 0].astype(int)]
    model = fm.Sequential(
        [fm.Embedding(20, 4), fm.Dense(16, "relu"), fm.Dense(4, "softmax")],
        dtype=dtype,
        seed=0,
        optimizer=fm.Adam(0.05) if optimizer == "adam" else fm.SGD(0.5),
    )
    assert not model.built
    model.fit(X, y, epochs=40, batch_size=32, verbose=False)
    assert model.layers[0].input_length == 2 and model.layers[1].n_in == 8 and model.n_features_in == 2
    assert (model.predict(X) == y).mean() > 0.97


def test_initialisation_is_keras_uniform_from_the_seed():
    a = fm.Sequential([fm.Embedding(400, 50, input_length=2), fm.Dense(1)], seed=3)
    E = a.layers[0].embeddings
    assert E.min() >= -0.05 and E.max() <= 0.05 and E.std() == pytest.approx(0.1 / np.sqrt(12), rel=0.02)
    b = fm.Sequential([fm.Embedding(400, 50, input_length=2), fm.Dense(1)], seed=3)
    np.testing.assert_array_equal(b.layers[0].embeddings, E)
    n = fm.Sequential([fm.Embedding(400, 50, "normal", input_length=2), fm.Dense(1)], seed=3).layers[0].embeddings
    assert abs(n.mean()) < 0.002 and n.std() == pytest.approx(0.05, rel=0.02)
    g = fm.Sequential([fm.Embedding(400, 50, "glorot_uniform", input_length=2), fm.Dense(1)], seed=3)
    limit = np.sqrt(6 / 450)
    assert np.abs(g.layers[0].embeddings).max() <= limit and np.abs(g.layers[0].embeddings).max() > 0.9 * limit


def test_no_l2_on_the_table():
    model = model_with_embedding()
    X, y = codes(), labels()
    J0 = model.loss(X, y)
    model.l2 = 0.5
    W = [d.weights for d in model.layers[1:]]
    assert model.loss(X, y) == pytest.approx(J0 + 0.25 * sum(float((w.astype(float) ** 2).sum()) for w in W))


# --- the model file, copies, ONNX -----------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_save_load_round_trip_bit_for_bit(tmp_path, dtype):
    model = fm.Sequential(
        [fm.Embedding(V, D, "normal"), fm.Dropout(0.2), fm.Dense(8, "relu"), fm.Dense(3, "softmax")],
        dtype=dtype,
        seed=1,
    )
    X, y = codes(m=40), labels(m=40)
    model.fit(X, y, epochs=3, verbose=False)
    path = tmp_path / "m.safetensors"
    model.save(path)
    loaded = fm.load(path)
    assert repr(loaded) == repr(model)
    assert isinstance(loaded.layers[0], fm.Embedding) and loaded.layers[0].embeddings_initializer == "normal"
    np.testing.assert_array_equal(loaded.layers[0].embeddings, model.layers[0].embeddings)
    np.testing.assert_array_equal(loaded.params, model.params)
    np.testing.assert_array_equal(loaded.forward(X), model.forward(X))
    assert loaded.to_bytes() == model.to_bytes() == path.read_bytes()
    for again in (pickle.loads(pickle.dumps(model)), model.copy(), fm.Sequential.from_bytes(model.to_bytes())):
        np.testing.assert_array_equal(again.forward(X), model.forward(X))
        assert again.to_bytes() == model.to_bytes()
    assert {name for name, _, _ in model._net.tensors} >= {"layers.0.embeddings", "layers.2.weight"}
    # get_weights / set_weights: Keras's name and order
    weights = model.get_weights()
    assert weights[0].shape == (V, D) and len(weights) == 1 + 2 + 2
    model.set_weights([w * 0 + 0.5 for w in weights])
    assert (model.layers[0].embeddings == 0.5).all()


def test_file_entry_and_config():
    model = model_with_embedding()
    entry = model.layers[0].file_entry()
    assert entry == {"type": "Embedding", "n_in": K, "input_dim": V, "output_dim": D}
    assert [layer.file_entry() for layer in model.layers] == model._net.configs  # what the C++ core built
    config = model.layers[0].get_config()
    assert config == {"input_dim": V, "output_dim": D, "embeddings_initializer": "uniform", "input_length": K}
    again = fm.Embedding.from_config(config)
    assert again.get_config() == config and again is not model.layers[0]
    assert fm.Layer.from_file_entry(entry).file_entry() == entry
    he = fm.Embedding(3, 2, "he_normal", input_length=5)
    assert he.file_entry()["init"] == "he_normal" and repr(he) == "Embedding(3, 2, 'he_normal', input_length=5)"
    alias = fm.Layer.from_file_entry({"type": "Embedding", "input_dim": 3, "output_dim": 2, "init": "xavier_uniform"})
    assert alias.embeddings_initializer == "glorot_uniform" and alias.input_length is None
    assert fm.Embedding in fm.LAYERS.values() and "Embedding" in fm.__all__ and fm.layers.Embedding is fm.Embedding


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_onnx_equals_forward(dtype):
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import fastmlp.onnx as fonnx

    model = model_with_embedding(dtype=dtype)
    X, y = codes(m=30), labels(m=30)
    model.fit(X, y, epochs=2, verbose=False)
    X = X.astype(dtype)
    proto = fonnx.to_onnx(model)
    out = ort.InferenceSession(proto.SerializeToString()).run(None, {"input": X})[0]
    tol = 1e-6 if dtype == "float32" else 1e-12
    np.testing.assert_allclose(out, model.forward(X), rtol=tol, atol=tol)
    ops = [n.op_type for n in proto.graph.node]
    assert ops[0] == "Cast" and ops.index("Gather") < ops.index("Reshape")  # codes checked in between
    assert "layers.0.embeddings" in {t.name for t in proto.graph.initializer}


# --- what the model shows -------------------------------------------------------------------------


def test_summary_and_notebook():
    model = model_with_embedding()
    text = model.summary(print_fn=None)
    line = next(line for line in text.splitlines() if line.startswith("embedding_0"))
    assert "(Embedding)" in line and f"(None, {K * D})" in line and f"{V * D}" in line
    assert f"Total params: {model.num_params:,}" in text and model.num_params == V * D + (K * D * 6 + 6) + 21
    html = model._repr_html_()
    assert f"Embedding({V}, {D}, input_length={K})" in html and f"({V}, {D})" in html
    unbuilt = fm.Sequential([fm.Embedding(10, 2), fm.Dense(4, "relu"), fm.Dense(1)])
    assert "embedding_0 (Embedding)  (None, ?)" in unbuilt.summary(print_fn=None).replace("   ", "  ")
    assert unbuilt.n_features_in is None and unbuilt.layers[0].num_params == 20
    with pytest.raises(RuntimeError, match=r"not built yet.*Embedding\(\.\.\., input_length=\.\.\.\)"):
        unbuilt.predict(np.zeros((2, 3)))
    unbuilt.build(3)  # k = 3 codes: the Dense after it takes 3 x 2
    assert unbuilt.layers[1].n_in == 6 and unbuilt.layers[0].embeddings.shape == (10, 2)


# --- bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "bad,shown",
    [(7.0, "7"), (-1.0, "-1"), (2.5, "2.5"), (1e30, "1e\\+30")],
)
def test_bad_codes_are_value_errors_naming_the_column(bad, shown):
    model = model_with_embedding()
    X, y = codes(m=6), labels(m=6)
    X[4, 2] = bad
    before = model.params.copy()
    for call in (model.forward, model.predict, lambda X: model.loss(X, y), lambda X: model.fit(X, y, verbose=False)):
        with pytest.raises(ValueError, match=r"X\[:, 2\] holds " + shown + r".* at row 4: an Embedding takes integer"):
            call(X)
    np.testing.assert_array_equal(model.params, before)  # a refused fit changes nothing
    with pytest.raises(ValueError, match=r"X\[:, 2\]"):
        model.fit(codes(m=6), y, validation_data=(X, y), verbose=False)


def test_nan_and_infinite_codes_are_refused():
    model = model_with_embedding()
    X = codes(m=6)
    for bad in (np.nan, np.inf):
        X[1, 0] = bad
        with pytest.raises(ValueError, match="X contains NaN or infinity"):
            model.forward(X)


def test_an_embedding_must_be_first_and_not_last():
    with pytest.raises(ValueError, match=r"layers\[1\]: an Embedding must be the model's first layer"):
        fm.Sequential([fm.Dense(3, 4), fm.Embedding(5, 2), fm.Dense(1)])
    with pytest.raises(ValueError, match=r"layers\[1\]\.layers\[0\]: an Embedding must be the model's first"):
        fm.Sequential([fm.Dense(3, 3), fm.Residual([fm.Embedding(5, 1)]), fm.Dense(1)])
    with pytest.raises(ValueError, match=r"layers\[0\]: an Embedding cannot be the last layer"):
        fm.Sequential([fm.Embedding(5, 2)])
    # the C++ core refuses it too (a model file written by hand)
    dense = {"type": "Dense", "n_in": 3, "n_out": 2, "activation": "linear", "alpha": None}
    emb = {"type": "Embedding", "n_in": 2, "input_dim": 5, "output_dim": 1}
    out = {"type": "Dense", "n_in": 2, "n_out": 1, "activation": "linear", "alpha": None}
    with pytest.raises(ValueError, match=r"layers\[1\]: the Embedding layer must be the model's first layer"):
        fm._core.Network64([dense, emb, out], "mse", 0.0)
    inner = {"type": "Embedding", "n_in": 2, "input_dim": 5, "output_dim": 1}
    with pytest.raises(ValueError, match="the Embedding layer must be the model's first layer"):
        fm._core.Network64([dense, {"type": "Residual", "layers": [inner]}, out], "mse", 0.0)


def test_bad_arguments_are_clear_errors():
    with pytest.raises(ValueError, match=r"input_dim must be in \[1, 2\*\*31 - 1\], got 0"):
        fm.Embedding(0, 2)
    with pytest.raises(TypeError, match="output_dim must be an integer"):
        fm.Embedding(5, 2.5)
    with pytest.raises(ValueError, match="embeddings_initializer must be one of uniform, normal"):
        fm.Embedding(5, 2, "zeros")
    with pytest.raises(ValueError, match="input_length must be >= 1"):
        fm.Embedding(5, 2, input_length=0)
    model = fm.Sequential([fm.Embedding(5, 2, input_length=3), fm.Dense(1)])
    with pytest.raises(ValueError, match="X has 2 features but the model expects 3"):
        model.predict(np.zeros((4, 2)))
    with pytest.raises(ValueError, match=r"layers\[1\]: this Dense takes 5 inputs but the layer before gives 6"):
        fm.Sequential([fm.Embedding(5, 2, input_length=3), fm.Dense(5, 1)])
    # float32 holds the integers up to 2**24 exactly: a larger table is a float64 model's
    entry = {"type": "Embedding", "n_in": 1, "input_dim": 2**24 + 1, "output_dim": 1}
    out = {"type": "Dense", "n_in": 1, "n_out": 1, "activation": "linear", "alpha": None}
    with pytest.raises(
        ValueError, match=r"layers\[0\]\.input_dim must be at most 2\^24 = 16777216 in float32 .* use dtype='float64'"
    ):
        fm._core.Network32([entry, out], "mse", 0.0)
    with pytest.raises(ValueError, match=r"layers\[0\]\.init must be 'uniform', 'normal'"):
        fm._core.Network64([dict(entry, input_dim=3, init="default_x"), out], "mse", 0.0)


# --- CUDA: the same layer on the GPU engine (skipped without a CUDA device) -----------------------


@pytest.mark.gpu
@pytest.mark.skipif(not fm.cuda_available(), reason="no CUDA device")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_cuda_runs_the_embedding_as_the_cpu(dtype):
    tol = {"float32": 1e-5, "float64": 1e-12}[dtype]
    cpu = model_with_embedding(dtype=dtype)
    gpu = cpu.copy().to("cuda")
    X, y = codes(m=37).astype(dtype), labels(m=37)
    np.testing.assert_allclose(gpu.forward(X), cpu.forward(X), rtol=tol, atol=tol)
    assert gpu.loss(X, y) == pytest.approx(cpu.loss(X, y), rel=tol)
    # one full-batch SGD step: E moved by the same gradient (atomic adds on the GPU)
    for model in (cpu, gpu):
        model.optimizer = fm.SGD(0.1)
        model.fit(X, y, epochs=1, batch_size=None, shuffle=False, verbose=False)
    np.testing.assert_allclose(gpu.layers[0].embeddings, cpu.layers[0].embeddings, rtol=tol, atol=tol)
    kwargs = dict(epochs=2, batch_size=8, shuffle=True, seed=0, verbose=False)
    cpu.fit(X, y, **kwargs)
    gpu.fit(X, y, **kwargs)
    np.testing.assert_allclose(gpu.params, cpu.params, rtol=100 * tol, atol=100 * tol)
