"""Issue 13, new math: gelu / silu / mish, mae / huber, RMSprop / Adagrad, gradient clipping,
cosine decay with warm-up. Each against the NumPy reference (reference.py), float64 finite
differences, and PyTorch where it is installed (those tests skip without it)."""

import numpy as np
import pytest

import fastmlp as fm
import reference as ref
from helpers import build, get_params

NEW_ACTS = ("gelu", "silu", "mish")


@pytest.mark.parametrize("g", NEW_ACTS)
def test_activation_forward_and_trace_match_reference(g):
    rng = np.random.default_rng(0)
    X = rng.normal(0, 2, (20, 3))
    model = build([3, 5, 2], [g, "linear"], loss="mse")
    params = get_params(model)
    out = ref.predict_output(params, [g, "linear"], X)
    np.testing.assert_allclose(model.forward(X), out, rtol=1e-12, atol=1e-12)
    z, a = model.trace(X)[0]
    np.testing.assert_allclose(a, ref.activation(g, z), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("g", NEW_ACTS)
@pytest.mark.parametrize("position", ["hidden", "output"])
def test_activation_gradients_match_reference_and_finite_differences(g, position):
    rng = np.random.default_rng(1)
    X = rng.normal(0, 1.5, (12, 3))
    Y = rng.normal(0, 1, (12, 2))
    acts = [g, "tanh"] if position == "hidden" else ["tanh", g]
    model = build([3, 6, 2], acts, loss="mse", l2=0.01)
    grads = model.gradients(X, Y)
    expected = ref.backward(get_params(model), acts, X, Y, "mse", l2=0.01)
    for (dW, db), (eW, eb) in zip(grads, expected):
        np.testing.assert_allclose(dW, eW, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(db, eb, rtol=1e-10, atol=1e-12)
    assert fm.check_gradients(model, X, Y) < 1e-6


def test_new_activations_train_and_float32_agrees():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(200, 4))
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    for g in NEW_ACTS:
        m = fm.Sequential([fm.Dense(4, 16, g), fm.Dense(16, 2, "softmax")], seed=0)
        m.fit(X, y, epochs=100, optimizer=fm.Adam(0.01))
        assert m.accuracy(X, y) > 0.9, g
        m64 = m.copy(dtype="float64")
        np.testing.assert_allclose(m.forward(X), m64.forward(X), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("loss", ["mae", "huber"])
@pytest.mark.parametrize("out", ["linear", "tanh", "silu"])
def test_regression_losses_match_reference(loss, out):
    rng = np.random.default_rng(3)
    X = rng.normal(size=(15, 3))
    Y = rng.normal(0, 2, (15, 2))  # residuals both inside and outside huber's |r| <= 1
    model = build([3, 4, 2], ["relu", out], loss=loss, l2=0.1)
    params = get_params(model)
    assert model.loss(X, Y) == pytest.approx(ref.loss(params, ["relu", out], X, Y, loss, l2=0.1), rel=1e-12)
    for (dW, db), (eW, eb) in zip(model.gradients(X, Y), ref.backward(params, ["relu", out], X, Y, loss, l2=0.1)):
        np.testing.assert_allclose(dW, eW, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(db, eb, rtol=1e-10, atol=1e-12)
    assert fm.check_gradients(model, X, Y) < 1e-5
    w = rng.uniform(0.5, 2, 15)
    Yw = np.repeat(Y, 2, axis=0)
    Xw = np.repeat(X, 2, axis=0)
    assert model.loss(X, Y, sample_weight=np.full(15, 2.0)) == pytest.approx(model.loss(Xw, Yw), rel=1e-12)
    assert np.isfinite(model.loss(X, Y, sample_weight=w))


def test_losses_aliases_and_classifier_flags():
    for name, canon in [("mean_absolute_error", "mae"), ("huber_loss", "huber"), ("mean_squared_error", "mse")]:
        m = fm.Sequential([fm.Dense(2, 1)], loss=name)
        assert m.loss_name == canon and not m.is_classifier
        with pytest.raises(TypeError, match="classification"):
            m.predict_proba(np.zeros((1, 2)))
    X = np.random.default_rng(0).normal(size=(50, 2))
    h = fm.Sequential([fm.Dense(2, 1)], loss="huber", seed=0).fit(X, X[:, 0] * 3, epochs=3)
    assert "accuracy" not in h.history


def _flat_steps(opt, n_steps, seed=0, n=7):
    rng = np.random.default_rng(seed)
    w0 = rng.normal(size=n)
    grads = [rng.normal(0, 3, n) for _ in range(n_steps)]
    core = opt._make("64")
    w = w0.copy()
    for g in grads:
        core.step(w, g.copy())
    return w0, grads, w


@pytest.mark.parametrize("wd", [0.0, 0.1])
def test_rmsprop_and_adagrad_steps_match_reference(wd):
    w0, grads, w = _flat_steps(fm.RMSprop(0.05, rho=0.9, weight_decay=wd), 6)
    np.testing.assert_allclose(w, ref.rmsprop_steps(w0, grads, 0.05, rho=0.9, weight_decay=wd), rtol=1e-13)
    w0, grads, w = _flat_steps(fm.Adagrad(0.1, weight_decay=wd), 6)
    np.testing.assert_allclose(w, ref.adagrad_steps(w0, grads, 0.1, weight_decay=wd), rtol=1e-13)


def test_optimizer_defaults_names_and_ranges():
    r, a = fm.RMSprop(), fm.Adagrad()
    assert (r.learning_rate, r.rho, r.epsilon) == (0.01, 0.99, 1e-8)
    assert (a.learning_rate, a.epsilon) == (0.01, 1e-10)
    assert isinstance(fm.optimizers.get("rmsprop"), fm.RMSprop)
    assert isinstance(fm.optimizers.get("adagrad"), fm.Adagrad)
    for bad, name in [(dict(rho=1.0), "rho"), (dict(epsilon=0.0), "epsilon"), (dict(clip_norm=-1.0), "clip_norm")]:
        with pytest.raises(ValueError, match=name):
            fm.RMSprop(**bad)
    with pytest.raises(ValueError, match="clip_value"):
        fm.SGD(clip_value=float("nan"))
    assert fm.Adam(clip_norm=1.0).get_config()["clip_norm"] == 1.0


def test_rmsprop_adagrad_train_and_save(tmp_path):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(120, 3))
    y = (X.sum(axis=1) > 0).astype(int)
    for opt in (fm.RMSprop(0.01), fm.Adagrad(0.1)):
        m = fm.Sequential([fm.Dense(3, 8, "tanh"), fm.Dense(8, 1, "sigmoid")], seed=0, optimizer=opt)
        h = m.fit(X, y, epochs=30)
        assert h.loss[-1] < h.loss[0] and m.accuracy(X, y) > 0.9
        m.save(tmp_path / "m.safetensors")
        back = fm.load(tmp_path / "m.safetensors")
        assert type(back.optimizer) is type(opt) and back.optimizer.get_config() == opt.get_config()


@pytest.mark.parametrize("clip", [dict(clip_value=0.05), dict(clip_norm=0.1), dict(clip_value=0.05, clip_norm=0.08)])
def test_gradient_clipping_matches_reference(clip):
    rng = np.random.default_rng(5)
    g = rng.normal(0, 1, 40)
    core = fm.SGD(0.1, **clip)._make("64")
    out = g.copy()
    core.clip(out)
    np.testing.assert_allclose(out, ref.clip_gradient(g, **clip), rtol=1e-14)
    # one full-batch SGD step with clipping == w - lr * clip(dJ/dw)
    X = rng.normal(size=(10, 3))
    Y = rng.normal(size=(10, 1))
    m = build([3, 4, 1], ["tanh", "linear"], loss="mse")
    flat = np.concatenate([np.concatenate([W.ravel(), b]) for W, b in m.gradients(X, Y)])
    expected = m.params - 0.1 * ref.clip_gradient(flat, **clip)
    m.fit(X, Y, epochs=1, batch_size=None, optimizer=fm.SGD(0.1, **clip))
    np.testing.assert_allclose(m.params, expected, rtol=1e-12, atol=1e-14)


def test_cosine_schedule_with_warmup():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(30, 2))
    y = X[:, 0]
    m = fm.Sequential([fm.Dense(2, 1)], seed=0, optimizer=fm.SGD(0.1))
    sched = fm.schedules.CosineDecay(decay_epochs=6, warmup_epochs=3, min_lr=0.01)
    h = m.fit(X, y, epochs=12, batch_size=None, schedule=sched)
    expected = [ref.cosine_lr(e, 0.1, 6, 3, 0.01) for e in range(12)]
    np.testing.assert_allclose(h.history["lr"], expected, rtol=1e-6)
    assert fm.schedules.get("cosine").config() == {
        "kind": "cosine",
        "decay_epochs": 100,
        "warmup_epochs": 0,
        "min_lr": 0.0,
    }
    with pytest.raises(ValueError, match="decay_epochs"):
        fm.schedules.CosineDecay(decay_epochs=0)
    with pytest.raises(ValueError, match="warmup_epochs"):
        fm.schedules.CosineDecay(warmup_epochs=-1)


# --- PyTorch, where installed ---


def _torch():
    return pytest.importorskip("torch")


@pytest.mark.parametrize("g", NEW_ACTS)
def test_activations_match_torch(g):
    torch = _torch()
    z = np.linspace(-6, 6, 101)
    t = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    f = {"gelu": torch.nn.functional.gelu, "silu": torch.nn.functional.silu, "mish": torch.nn.functional.mish}[g]
    out = f(t)
    out.sum().backward()
    model = fm.Sequential([fm.Dense(1, 1, g)], dtype="float64", loss="mse", optimizer="sgd")
    model.layers[0].weights = [[1.0]]
    model.layers[0].bias = [0.0]
    np.testing.assert_allclose(model.forward(z[:, None])[:, 0], out.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ref.activation_prime(g, z), t.grad.numpy(), rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("loss", ["mae", "huber"])
def test_losses_match_torch(loss):
    torch = _torch()
    rng = np.random.default_rng(7)
    X = rng.normal(size=(9, 3))
    Y = rng.normal(0, 2, (9, 2))
    model = build([3, 2], ["linear"], loss=loss)
    W, b = get_params(model)[0]
    tW = torch.tensor(W, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    crit = torch.nn.L1Loss() if loss == "mae" else torch.nn.HuberLoss(delta=1.0)
    J = crit(torch.tensor(X) @ tW + tb, torch.tensor(Y))
    J.backward()
    assert model.loss(X, Y) == pytest.approx(J.item(), rel=1e-12)
    ((dW, db),) = model.gradients(X, Y)
    np.testing.assert_allclose(dW, tW.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(db, tb.grad.numpy(), rtol=1e-12)


@pytest.mark.parametrize("kind", ["rmsprop", "adagrad"])
def test_optimizers_match_torch(kind):
    torch = _torch()
    rng = np.random.default_rng(8)
    w0 = rng.normal(size=6)
    grads = [rng.normal(size=6) for _ in range(5)]
    opt = fm.RMSprop(0.03, rho=0.95, weight_decay=0.01) if kind == "rmsprop" else fm.Adagrad(0.2, weight_decay=0.01)
    core = opt._make("64")
    w = w0.copy()
    p = torch.tensor(w0, requires_grad=True)
    t_opt = (
        torch.optim.RMSprop([p], lr=0.03, alpha=0.95, eps=1e-8, weight_decay=0.01)
        if kind == "rmsprop"
        else torch.optim.Adagrad([p], lr=0.2, eps=1e-10, weight_decay=0.01)
    )
    for g in grads:
        core.step(w, g.copy())
        p.grad = torch.tensor(g)
        t_opt.step()
    np.testing.assert_allclose(w, p.detach().numpy(), rtol=1e-12)


def test_clip_norm_matches_torch():
    torch = _torch()
    g = np.random.default_rng(9).normal(0, 2, 30)
    p = torch.zeros(30, dtype=torch.float64, requires_grad=True)
    p.grad = torch.tensor(g)
    torch.nn.utils.clip_grad_norm_([p], 1.5)
    out = g.copy()
    fm.SGD(clip_norm=1.5)._make("64").clip(out)
    np.testing.assert_allclose(out, p.grad.numpy(), rtol=1e-12)


def _counts(rng, m, k=2):
    return rng.poisson(2.0, (m, k)).astype(float)  # zeros included: 0 ln 0 = 0


def test_poisson_loss_matches_reference_and_finite_differences():
    rng = np.random.default_rng(11)
    X = rng.normal(size=(14, 3))
    Y = _counts(rng, 14)
    model = build([3, 5, 2], ["tanh", "exp"], loss="poisson", l2=0.05)
    params = get_params(model)
    assert model.loss(X, Y) == pytest.approx(ref.loss(params, ["tanh", "exp"], X, Y, "poisson", l2=0.05), rel=1e-12)
    for (dW, db), (eW, eb) in zip(model.gradients(X, Y), ref.backward(params, ["tanh", "exp"], X, Y, "poisson", 0.05)):
        np.testing.assert_allclose(dW, eW, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(db, eb, rtol=1e-10, atol=1e-12)
    assert fm.check_gradients(model, X, Y) < 1e-6
    np.testing.assert_allclose(model.forward(X), ref.predict_output(params, ["tanh", "exp"], X), rtol=1e-12)
    w = rng.uniform(0.5, 2, 14)  # sample weights: a weight of 2 is the row twice
    assert model.loss(X, Y, sample_weight=np.full(14, 2.0)) == pytest.approx(
        model.loss(np.repeat(X, 2, axis=0), np.repeat(Y, 2, axis=0)), rel=1e-12
    )
    assert np.isfinite(model.loss(X, Y, sample_weight=w))


def test_poisson_needs_an_exp_output_and_counts():
    with pytest.raises(ValueError, match="exp output"):
        fm.Sequential([fm.Dense(2, 1)], loss="poisson")
    model = fm.Sequential([fm.Dense(2, 1, "exp")], loss="poisson", dtype="float64", seed=0)
    with pytest.raises(ValueError, match=">= 0 for poisson"):
        model.fit(np.zeros((3, 2)), np.array([1.0, -1.0, 2.0]), epochs=1)
    rng = np.random.default_rng(12)  # learns a log-linear rate
    X = rng.normal(size=(400, 2))
    y = rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1] + 0.2)).astype(float)
    model.fit(X, y, epochs=200, batch_size=None, optimizer=fm.SGD(0.3))
    np.testing.assert_allclose(model.layers[0].weights[:, 0], [0.5, -0.3], atol=0.12)


def test_poisson_matches_torch():
    torch = _torch()
    rng = np.random.default_rng(13)
    X = rng.normal(size=(9, 3))
    Y = _counts(rng, 9)
    model = build([3, 2], ["exp"], loss="poisson")
    W, b = get_params(model)[0]
    tW = torch.tensor(W, requires_grad=True)
    tb = torch.tensor(b, requires_grad=True)
    # torch's PoissonNLLLoss(log_input=True) is e^z - y z; ours adds the constant y ln y - y
    J = torch.nn.PoissonNLLLoss(log_input=True, full=False)(torch.tensor(X) @ tW + tb, torch.tensor(Y))
    J.backward()
    const = np.where(Y > 0, Y * np.log(np.where(Y > 0, Y, 1)), 0).mean() - Y.mean()
    assert model.loss(X, Y) == pytest.approx(J.item() + const, rel=1e-12)
    ((dW, db),) = model.gradients(X, Y)
    np.testing.assert_allclose(dW, tW.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(db, tb.grad.numpy(), rtol=1e-12)
