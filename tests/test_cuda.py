"""CPU/GPU parity of the CUDA backend (device="cuda"): every activation, loss and
optimizer step, the training loop (batch order, dropout masks, schedules, validation,
early stopping, divergence), full fits, and the Embedding / ColumnEmbedding kernels (gather,
atomicAdd scatter, strided copies). Skipped where no CUDA device is present."""

import numpy as np
import pytest

import fastmlp as fm

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not fm.cuda_available(), reason="no CUDA device")]

TOL = {"float32": 1e-5, "float64": 1e-12}
DTYPES = ["float32", "float64"]
HIDDEN = ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax", "step"]
HIDDEN += ["gelu", "silu", "mish", "exp"]


def close(gpu, cpu, tol, what=""):
    gpu, cpu = np.asarray(gpu, dtype=np.float64), np.asarray(cpu, dtype=np.float64)
    assert gpu.shape == cpu.shape, what
    scale = max(1.0, float(np.max(np.abs(cpu)))) if cpu.size else 1.0
    err = float(np.max(np.abs(gpu - cpu))) if cpu.size else 0.0
    assert err <= tol * scale, f"{what}: max |gpu - cpu| = {err:.3g} > {tol:g} x {scale:.3g}"


def pair(model):
    """The model on the CPU and an identical copy on the GPU."""
    return model, model.copy().to("cuda")


def data(m=37, d=5, seed=0, dtype="float64"):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, d)).astype(dtype)


def check_math(cpu, gpu, X, y, tol, sample_weight=None):
    close(gpu.forward(X), cpu.forward(X), tol, "forward")
    close(gpu.loss(X, y, sample_weight), cpu.loss(X, y, sample_weight), tol, "loss")
    for l, ((gw, gb), (cw, cb)) in enumerate(
        zip(gpu.gradients(X, y, sample_weight), cpu.gradients(X, y, sample_weight))
    ):
        close(gw, cw, tol, f"dW[{l}]")
        close(gb, cb, tol, f"db[{l}]")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", HIDDEN)
def test_every_activation(activation, dtype):
    model = fm.Sequential(
        [fm.Dense(5, 7, activation), fm.Dense(7, 4, "tanh"), fm.Dense(4, 3, "softmax")], dtype=dtype, seed=1
    )
    X = data(dtype=dtype)
    y = np.arange(37) % 3
    check_math(*pair(model), X, y, TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(
    "output", ["linear", "sigmoid", "tanh", "relu", "leaky_relu", "elu", "softplus", "softmax", "gelu", "silu", "mish"]
)
def test_mse_with_every_output(output, dtype):
    model = fm.Sequential([fm.Dense(5, 6, "relu"), fm.Dense(6, 3, output)], loss="mse", dtype=dtype, seed=2)
    X = data(dtype=dtype)
    y = np.random.default_rng(3).normal(size=(37, 3))
    check_math(*pair(model), X, y, TOL[dtype])
    w = np.random.default_rng(4).uniform(0.1, 2.0, size=37)
    check_math(*pair(model), X, y, TOL[dtype], sample_weight=w)


@pytest.mark.parametrize("dtype", DTYPES)
def test_categorical_crossentropy_labels_onehot_soft_weighted_l2(dtype):
    model = fm.Sequential([fm.Dense(5, 8, "relu"), fm.Dense(8, 4, "softmax")], dtype=dtype, seed=5, l2=0.01)
    X = data(dtype=dtype)
    labels = np.random.default_rng(6).integers(0, 4, size=37)
    cpu, gpu = pair(model)
    check_math(cpu, gpu, X, labels, TOL[dtype])
    check_math(cpu, gpu, X, np.eye(4)[labels], TOL[dtype])
    soft = np.random.default_rng(7).dirichlet(np.ones(4), size=37)
    check_math(cpu, gpu, X, soft, TOL[dtype])
    w = np.random.default_rng(8).uniform(0.0, 3.0, size=37)
    check_math(cpu, gpu, X, labels, TOL[dtype], sample_weight=w)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("outputs", [1, 3])
def test_binary_crossentropy(outputs, dtype):
    model = fm.Sequential([fm.Dense(5, 6, "tanh"), fm.Dense(6, outputs, "sigmoid")], dtype=dtype, seed=9, l2=0.1)
    X = data(dtype=dtype) * 4  # some saturated logits
    y = (np.random.default_rng(10).uniform(size=(37, outputs)) > 0.5).astype(float)
    cpu, gpu = pair(model)
    check_math(cpu, gpu, X, y, TOL[dtype])
    w = np.random.default_rng(11).uniform(0.1, 2.0, size=37)
    check_math(cpu, gpu, X, y, TOL[dtype], sample_weight=w)
    np.testing.assert_array_equal(gpu.predict(X), cpu.predict(X))


OPTIMIZERS = {
    "sgd": lambda: fm.SGD(0.1),
    "sgd_weight_decay": lambda: fm.SGD(0.1, weight_decay=0.01),
    "momentum": lambda: fm.SGD(0.05, momentum=0.9),
    "nesterov_weight_decay": lambda: fm.SGD(0.05, momentum=0.9, nesterov=True, weight_decay=0.001),
    "adam": lambda: fm.Adam(0.01),
    "adam_l2": lambda: fm.Adam(0.01, weight_decay=0.01),
    "adamw": lambda: fm.AdamW(0.01, weight_decay=0.05),
    "rmsprop": lambda: fm.RMSprop(0.01, weight_decay=0.01),
    "adagrad": lambda: fm.Adagrad(0.05),
    "sgd_clipped": lambda: fm.SGD(0.1, clip_norm=0.5, clip_value=0.2),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_optimizer_steps(name, dtype):
    """Full-batch steps: the same update on the flat buffer, state kept across fit calls."""
    model = fm.Sequential([fm.Dense(5, 8, "relu"), fm.Dense(8, 3, "softmax")], dtype=dtype, seed=12, l2=0.001)
    X, y = data(dtype=dtype), np.arange(37) % 3
    cpu, gpu = pair(model)
    cpu.optimizer, gpu.optimizer = OPTIMIZERS[name](), OPTIMIZERS[name]()
    tol = TOL[dtype] * 10  # a few steps
    for _ in range(2):
        hc = cpu.fit(X, y, epochs=3)
        hg = gpu.fit(X, y, epochs=3)
        close(hg.loss, hc.loss, tol, "loss history")
        close(gpu.params, cpu.params, tol, "params")


@pytest.mark.parametrize("dtype", DTYPES)
def test_minibatch_shuffle_dropout_schedule_parity(dtype):
    """Same seed: the same batch order and dropout masks (drawn from the same generator)."""
    layers = lambda: [fm.Dense(5, 16, "relu"), fm.Dropout(0.3), fm.Dense(16, 8, "tanh"), fm.Dense(8, 3, "softmax")]
    X, y = data(m=203, dtype=dtype), np.arange(203) % 3
    cpu = fm.Sequential(layers(), dtype=dtype, seed=13, optimizer=fm.SGD(0.05, momentum=0.9))
    gpu = fm.Sequential(layers(), dtype=dtype, seed=13, optimizer=fm.SGD(0.05, momentum=0.9), device="cuda")
    kw = dict(epochs=4, batch_size=32, schedule=fm.schedules.StepDecay(2, 0.5))
    hc, hg = cpu.fit(X, y, **kw), gpu.fit(X, y, **kw)
    tol = 1e-4 if dtype == "float32" else 1e-10
    close(hg.loss, hc.loss, tol, "loss")
    close(hg.history["accuracy"], hc.history["accuracy"], 1e-12, "accuracy")
    close(hg.history["lr"], hc.history["lr"], 1e-12, "lr")
    close(gpu.params, cpu.params, tol, "params")


@pytest.mark.parametrize("dtype", DTYPES)
def test_validation_and_early_stopping_parity(dtype):
    X, y = data(m=150, dtype=dtype), (np.arange(150) % 2)
    make = lambda device: fm.Sequential(
        [fm.Dense(5, 6, "relu"), fm.Dense(6, 1, "sigmoid")],
        dtype=dtype,
        seed=14,
        optimizer=fm.Adam(0.05),
        device=device,
    )
    cpu, gpu = make("cpu"), make("cuda")
    kw = dict(epochs=60, batch_size=16, validation_split=0.3, early_stopping=fm.EarlyStopping(patience=3))
    hc, hg = cpu.fit(X, y, **kw), gpu.fit(X, y, **kw)
    assert hg.epochs == hc.epochs and hg.best_epoch == hc.best_epoch
    tol = 1e-4 if dtype == "float32" else 1e-10
    close(hg.history["val_loss"], hc.history["val_loss"], tol, "val_loss")
    close(gpu.params, cpu.params, tol, "restored best params")


def test_divergence_restores_weights_like_the_cpu():
    X, y = data(m=64, dtype="float64") * 100, np.random.default_rng(15).normal(size=(64, 1)) * 1e3
    make = lambda device: fm.Sequential([fm.Dense(5, 1)], dtype="float64", seed=16, device=device)
    cpu, gpu = make("cpu"), make("cuda")
    errors = []
    for model in (cpu, gpu):
        with pytest.raises(fm.DivergenceError) as e:
            model.fit(X, y, epochs=200, learning_rate=1e3, batch_size=16, shuffle=False)
        errors.append(str(e.value))
    assert errors[0].split(":")[0] == errors[1].split(":")[0]  # the same epoch
    close(gpu.params, cpu.params, 1e-9, "restored params")


def test_host_buffer_is_the_truth():
    model = fm.Sequential([fm.Dense(2, 1, "sigmoid")], dtype="float64", device="cuda")
    assert model.device == "cuda"
    model.layers[0].weights = [[2], [2]]
    model.layers[0].bias = [-1]
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=float)
    np.testing.assert_array_equal(model.predict(X), [0, 1, 1, 1])
    model.fit(X, [0, 1, 1, 1], epochs=5, learning_rate=0.5)
    w = model.layers[0].weights.copy()
    assert not np.allclose(w, [[2], [2]])  # fit wrote the new weights back to the host views
    cpu = model.copy().to("cpu")
    close(cpu.forward(X), model.forward(X), 1e-12, "to('cpu')")
    assert model.to("cpu") is model and model.device == "cpu"


def test_unsupported_options_and_bad_input():
    model = fm.Sequential([fm.Dense(4, 3, "softmax")], device="cuda", seed=0)
    X = np.ones((5, 4), dtype=np.float32)
    with pytest.raises(NotImplementedError, match="record_gradients"):
        model.fit(X, [0, 1, 2, 0, 1], epochs=1, record_gradients=True)
    with pytest.raises(ValueError, match="features"):
        model.forward(np.ones((5, 3), dtype=np.float32))
    with pytest.raises(ValueError, match="class id"):
        model.loss(X, [0, 1, 2, 0, 7])


@pytest.mark.parametrize("dtype", DTYPES)
def test_digits_fit_reaches_the_same_accuracy(dtype):
    datasets = pytest.importorskip("sklearn.datasets")
    X, y = datasets.load_digits(return_X_y=True)
    X = (X / 16.0).astype(dtype)
    Xtr, ytr, Xte, yte = X[:1500], y[:1500], X[1500:], y[1500:]
    make = lambda device: fm.Sequential(
        [fm.Dense(64, 128, "relu"), fm.Dense(128, 64, "relu"), fm.Dense(64, 10, "softmax")],
        dtype=dtype,
        seed=17,
        optimizer=fm.Adam(1e-3),
        device=device,
    )
    cpu, gpu = make("cpu"), make("cuda")
    hc = cpu.fit(Xtr, ytr, epochs=15, batch_size=32)
    hg = gpu.fit(Xtr, ytr, epochs=15, batch_size=32)
    acc_c, acc_g = cpu.accuracy(Xte, yte), gpu.accuracy(Xte, yte)
    assert acc_g > 0.9 and abs(acc_g - acc_c) <= 0.02
    if dtype == "float64":
        close(hg.loss, hc.loss, 1e-9, "loss history")
        close(gpu.params, cpu.params, 1e-8, "params")
    else:
        close(hg.loss, hc.loss, 1e-2, "loss history")


def test_wide_layer_and_large_batch():
    """A 1024-wide net and batches above the warp-per-row kernels' block size."""
    model = fm.Sequential([fm.Dense(300, 1024, "relu"), fm.Dense(1024, 1000, "softmax")], dtype="float64", seed=18)
    X = data(m=1031, d=300, dtype="float64")
    y = np.arange(1031) % 1000
    check_math(*pair(model), X, y, 1e-11)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("loss", ["mae", "huber", "poisson"])
def test_mae_huber_poisson(loss, dtype):
    out = "exp" if loss == "poisson" else "tanh"
    model = fm.Sequential([fm.Dense(5, 6, "relu"), fm.Dense(6, 2, out)], loss=loss, dtype=dtype, seed=21, l2=0.01)
    X = data(dtype=dtype)
    rng = np.random.default_rng(22)
    y = rng.poisson(2.0, size=(37, 2)).astype(float) if loss == "poisson" else rng.normal(0, 2, size=(37, 2))
    check_math(*pair(model), X, y, TOL[dtype])
    check_math(*pair(model), X, y, TOL[dtype], sample_weight=rng.uniform(0.1, 2.0, size=37))


def _normalized(kind, dtype, seed=23):
    norm = fm.BatchNormalization(momentum=0.8) if kind == "batch" else fm.LayerNormalization()
    layers = [fm.Dense(5, 9, "tanh"), norm, fm.Dropout(0.2), fm.Dense(9, 6, "relu"), fm.Dense(6, 3, "softmax")]
    model = fm.Sequential(layers, dtype=dtype, seed=seed, optimizer=fm.SGD(0.05, momentum=0.9))
    rng = np.random.default_rng(seed)
    model.layers[1].gamma[...] = rng.uniform(0.5, 1.5, 9)
    model.layers[1].beta[...] = rng.normal(size=9) * 0.2
    if kind == "batch":
        model.layers[1].moving_mean[...] = rng.normal(size=9) * 0.1
        model.layers[1].moving_variance[...] = rng.uniform(0.5, 2.0, 9)
    return model


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kind", ["batch", "layer"])
def test_normalization_layers(kind, dtype):
    """Inference by the running statistics, gradients by the batch's (training=True) and by the
    running ones, then mini-batch fits with dropout: the same weights and running statistics."""
    cpu, gpu = pair(_normalized(kind, dtype))
    X, y = data(m=64, dtype=dtype), np.arange(64) % 3
    tol = TOL[dtype]
    check_math(cpu, gpu, X, y, tol)
    Y = cpu._Y(y, len(y))
    for training in (False, True):
        Jc = cpu._engine.gradients(X, Y, None, training)
        gc = np.array(cpu._net.grads)
        Jg = gpu._engine.gradients(X, Y, None, training)
        close(Jg, Jc, tol, f"J (training={training})")
        close(gpu._net.grads, gc, tol * 10, f"gradients (training={training})")
    hc = cpu.fit(X, y, epochs=3, batch_size=16)
    hg = gpu.fit(X, y, epochs=3, batch_size=16)
    loose = 1e-4 if dtype == "float32" else 1e-10
    close(hg.loss, hc.loss, loose, "loss history")
    close(gpu.params, cpu.params, loose, "params")
    close(gpu._net.state, cpu._net.state, loose, "running statistics")
    close(gpu.predict_proba(X), cpu.predict_proba(X), loose, "predict_proba")


# --- Embedding and ColumnEmbedding: one gather kernel and one scatter-add (atomicAdd) kernel per
# table, strided into and out of the layer's rows; numeric columns by one 2-D copy per run ---------


def _tabular(dtype, normalized):
    """A DataFrame whose numeric columns form three runs between the code columns (x1 | city |
    x2 x3 | flag grade | x4, then x2's missing indicator), every code repeated in the batch, and a
    model on it (after a Normalization: the layer also writes dx), fitted one epoch on the CPU."""
    pd = pytest.importorskip("pandas")
    rng = np.random.default_rng(4)
    m = 67
    df = pd.DataFrame(
        {
            "x1": rng.normal(size=m),
            "city": rng.choice(list("abcdefg"), m).astype(object),
            "x2": np.where(np.arange(m) % 5 == 0, np.nan, rng.normal(size=m)),
            "x3": rng.normal(size=m),
            "flag": rng.random(m) < 0.5,
            "grade": pd.Categorical(rng.choice(["lo", "mid", "hi"], m), categories=["lo", "mid", "hi"]),
            "x4": rng.normal(size=m),
        }
    )
    y = rng.integers(0, 3, m)
    first = [fm.Normalization()] if normalized else []
    layers = first + [fm.ColumnEmbedding({"city": 5}, fill_missing=True), fm.Dense(8, "tanh"), fm.Dense(3, "softmax")]
    cpu = fm.Sequential(layers, dtype=dtype, seed=1, optimizer="adam")
    cpu.fit(df, y, epochs=1, batch_size=16, verbose=0)
    for table in fm.tabular.find(cpu.layers).embeddings.values():  # tables away from 0: every term matters
        table[...] = rng.normal(size=table.shape)
    return cpu, df, y


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("normalized", [False, True])
def test_column_embedding_forward_gradients_and_steps(dtype, normalized):
    cpu, df, y = _tabular(dtype, normalized)
    gpu = cpu.copy().to("cuda")
    tol = TOL[dtype]
    close(gpu.forward(df), cpu.forward(df), tol, "forward")
    close(gpu.loss(df, y), cpu.loss(df, y), tol, "loss")
    cpu.gradients(df, y)
    gpu.gradients(df, y)
    close(gpu._net.grads, cpu._net.grads, tol * 10, "gradients (tables: the scatter-add kernel)")
    for model in (cpu, gpu):  # one full-batch SGD step: the tables move in place (alpha -rate, beta 1)
        model.optimizer = fm.SGD(0.1)
        model.fit(df, y, epochs=1, batch_size=None, shuffle=False, verbose=False)
    close(gpu.params, cpu.params, tol * 10, "params after an SGD step")
    for model in (cpu, gpu):  # Adam on mini-batches: the gradient buffer (beta 0)
        model.optimizer = fm.Adam(0.01)
        model.fit(df, y, epochs=2, batch_size=16, shuffle=True, seed=0, verbose=False)
    loose = 1e-4 if dtype == "float32" else 1e-10
    close(gpu.params, cpu.params, loose, "params after Adam")
    close(gpu.predict_proba(df), cpu.predict_proba(df), loose, "predict_proba")


@pytest.mark.parametrize("dtype", DTYPES)
def test_column_embedding_codes_out_of_range_give_nan_rows_on_the_gpu(dtype):
    """After a Normalization the codes are checked by the engine's gather: the CPU refuses a bad
    one, the kernels give that row NaN and add nothing for it, never reading or writing outside
    a table (a later call would report an illegal address)."""
    cpu, df, y = _tabular(dtype, normalized=True)
    gpu = cpu.copy().to("cuda")
    X = cpu._X(df).copy()
    bad = [3, 5, 7, 9]
    X[3, 1], X[5, 1], X[7, 5], X[9, 4] = 99, -1, 2.5, 1e9  # city, city, grade, flag
    out = gpu.forward(X)
    assert np.isnan(out[bad]).all()
    good = np.setdiff1d(np.arange(len(X)), bad)
    close(out[good], cpu.forward(X[good]), TOL[dtype], "the other rows")
    gpu.gradients(X, y)  # runs; the bad rows' terms are NaN, nothing is written out of bounds
    close(gpu.forward(X[good]), cpu.forward(X[good]), TOL[dtype], "the model afterwards")


@pytest.mark.parametrize("dtype", DTYPES)
def test_embedding_gradients_with_several_codes_per_row(dtype):
    """fm.Embedding: k = 3 codes per row (gather and scatter-add with row stride k d)."""
    V, D, K = 7, 4, 3
    layers = [fm.Embedding(V, D, input_length=K), fm.Dense(K * D, 6, "tanh"), fm.Dense(6, 3, "softmax")]
    cpu = fm.Sequential(layers, dtype=dtype, seed=0, optimizer="adam")
    rng = np.random.default_rng(10)
    cpu.layers[0].embeddings = rng.normal(size=(V, D))
    gpu = cpu.copy().to("cuda")
    X, y = rng.integers(0, V, size=(41, K)).astype(dtype), rng.integers(0, 3, 41)
    tol = TOL[dtype]
    close(gpu.forward(X), cpu.forward(X), tol, "forward")
    cpu.gradients(X, y)
    gpu.gradients(X, y)
    close(gpu._net.grads, cpu._net.grads, tol * 10, "gradients")
