"""Issue 4: optimizers (SGD momentum / Nesterov / weight decay, Adam, AdamW), their state,
partial_fit and warm starts. Expected values come from torch.optim's formulas in NumPy
(helpers_training.NpSGD / NpAdam) and, when torch is importable, from torch.optim itself."""

import numpy as np
import pytest

import fastmlp as fm
from helpers_training import NpAdam, NpSGD, blobs, dense_model, ref_grad_fn, regression, replay_full_batch

OPTIMIZERS = {
    "sgd": (lambda: fm.SGD(0.1), lambda: NpSGD(0.1)),
    "sgd_wd": (lambda: fm.SGD(0.1, weight_decay=0.05), lambda: NpSGD(0.1, weight_decay=0.05)),
    "momentum": (lambda: fm.SGD(0.1, momentum=0.9), lambda: NpSGD(0.1, momentum=0.9)),
    "momentum_wd": (
        lambda: fm.SGD(0.05, momentum=0.8, weight_decay=0.1),
        lambda: NpSGD(0.05, momentum=0.8, weight_decay=0.1),
    ),
    "nesterov": (lambda: fm.SGD(0.1, momentum=0.9, nesterov=True), lambda: NpSGD(0.1, momentum=0.9, nesterov=True)),
    "nesterov_wd": (
        lambda: fm.SGD(0.1, momentum=0.5, nesterov=True, weight_decay=0.2),
        lambda: NpSGD(0.1, momentum=0.5, nesterov=True, weight_decay=0.2),
    ),
    "adam": (lambda: fm.Adam(0.01), lambda: NpAdam(0.01)),
    "adam_params": (
        lambda: fm.Adam(0.05, beta1=0.8, beta2=0.99, epsilon=1e-6),
        lambda: NpAdam(0.05, beta1=0.8, beta2=0.99, eps=1e-6),
    ),
    "adam_l2": (lambda: fm.Adam(0.01, weight_decay=0.1), lambda: NpAdam(0.01, weight_decay=0.1)),
    "adamw": (
        lambda: fm.Adam(0.01, weight_decay=0.1, decoupled=True),
        lambda: NpAdam(0.01, weight_decay=0.1, decoupled=True),
    ),
    "adamw_factory": (lambda: fm.AdamW(0.02, weight_decay=0.3), lambda: NpAdam(0.02, weight_decay=0.3, decoupled=True)),
}


def _grads(rng, n, steps=3):
    # different magnitudes per step, some exact zeros (Adam must not divide by zero)
    gs = [rng.normal(size=n) * s for s in (1.0, 0.3, 2.0, 0.7)[:steps]]
    gs[0][0] = 0.0
    return gs


# ----------------------------------------------------------------------------- the C++ objects directly
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_core_optimizer_first_three_steps_match_formula(name):
    make_fm, make_np = OPTIMIZERS[name]
    rng = np.random.default_rng(1)
    p = rng.normal(size=17)
    core = make_fm()._make("64")
    npo = make_np()
    expect = p.copy()
    for g in _grads(rng, p.size):
        core.step(p, g)
        expect = npo.step(expect, g)
        np.testing.assert_allclose(p, expect, rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", ["momentum", "nesterov_wd", "adam", "adamw"])
def test_core_optimizer_float32(name):
    make_fm, make_np = OPTIMIZERS[name]
    rng = np.random.default_rng(2)
    p64 = rng.normal(size=11)
    p = p64.astype(np.float32)
    core = make_fm()._make("32")
    npo = make_np()
    for g in _grads(rng, p.size):
        core.step(p, g.astype(np.float32))
        p64 = npo.step(p64, g.astype(np.float32).astype(np.float64))
    assert p.dtype == np.float32
    np.testing.assert_allclose(p, p64, rtol=2e-5, atol=1e-6)


def test_sgd_hand_values():
    """Tiny hand computation: p=1, g=1,1,1, lr=0.1, momentum 0.9 -> v = 1, 1.9, 2.71."""
    core = fm.SGD(0.1, momentum=0.9)._make("64")
    p = np.array([1.0])
    out = []
    for _ in range(3):
        core.step(p, np.array([1.0]))
        out.append(p[0])
    np.testing.assert_allclose(out, [0.9, 0.9 - 0.19, 0.9 - 0.19 - 0.271], rtol=1e-15)
    nes = fm.SGD(0.1, momentum=0.9, nesterov=True)._make("64")
    p = np.array([1.0])
    nes.step(p, np.array([1.0]))  # v = 1, update g + mu v = 1.9
    np.testing.assert_allclose(p, [1.0 - 0.19], rtol=1e-15)


def test_adam_first_step_is_lr_times_sign():
    """With bias correction the first Adam step is lr * g / (|g| + eps) ~ lr * sign(g)."""
    core = fm.Adam(0.01)._make("64")
    p = np.zeros(4)
    g = np.array([3.0, -1e-3, 0.5, 0.0])
    core.step(p, g)
    np.testing.assert_allclose(p, -0.01 * g / (np.abs(g) + 1e-8), rtol=1e-12, atol=0)
    assert core.steps == 1


@pytest.mark.parametrize("name", ["momentum", "adam"])
def test_core_reset_forgets_state(name):
    make_fm, make_np = OPTIMIZERS[name]
    rng = np.random.default_rng(3)
    g1, g2 = rng.normal(size=5), rng.normal(size=5)
    core = make_fm()._make("64")
    p = np.ones(5)
    core.step(p, g1)
    core.reset()
    q = p.copy()
    core.step(q, g2)
    fresh = make_fm()._make("64")
    r = p.copy()
    fresh.step(r, g2)
    np.testing.assert_array_equal(q, r)
    # and without the reset the state matters
    core2 = make_fm()._make("64")
    s = np.ones(5)
    core2.step(s, g1)
    core2.step(s, g2)
    assert not np.array_equal(s, r)


def test_core_learning_rate_settable():
    core = fm.SGD(0.1)._make("64")
    core.learning_rate = 0.5
    p = np.array([1.0])
    core.step(p, np.array([2.0]))
    assert p[0] == 0.0


# ----------------------------------------------------------------------------- against torch.optim
@pytest.mark.parametrize(
    "name,torch_ctor",
    [
        ("sgd", lambda t, params: t.optim.SGD(params, lr=0.1)),
        ("momentum_wd", lambda t, params: t.optim.SGD(params, lr=0.05, momentum=0.8, weight_decay=0.1)),
        ("nesterov_wd", lambda t, params: t.optim.SGD(params, lr=0.1, momentum=0.5, nesterov=True, weight_decay=0.2)),
        ("adam_params", lambda t, params: t.optim.Adam(params, lr=0.05, betas=(0.8, 0.99), eps=1e-6)),
        ("adam_l2", lambda t, params: t.optim.Adam(params, lr=0.01, weight_decay=0.1)),
        ("adamw", lambda t, params: t.optim.AdamW(params, lr=0.01, weight_decay=0.1)),
    ],
)
def test_core_optimizer_matches_torch(name, torch_ctor):
    torch = pytest.importorskip("torch")
    make_fm, _ = OPTIMIZERS[name]
    rng = np.random.default_rng(4)
    p = rng.normal(size=13)
    tp = torch.tensor(p.copy(), dtype=torch.float64, requires_grad=True)
    topt = torch_ctor(torch, [tp])
    core = make_fm()._make("64")
    for g in _grads(rng, p.size, steps=4):
        core.step(p, g)
        tp.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_fit_adam_matches_torch_training_loop():
    """A whole (tiny) model trained by fit vs the same model trained by torch with torch.optim.Adam."""
    torch = pytest.importorskip("torch")
    X, y = blobs(m=24, d=3, k=3, seed=5)
    model = dense_model([3, 5, 3], ["tanh", "softmax"], optimizer=fm.Adam(0.03), seed=2)
    Ws = [torch.tensor(np.array(l.weights), requires_grad=True) for l in model.dense_layers]
    bs = [torch.tensor(np.array(l.bias), requires_grad=True) for l in model.dense_layers]
    opt = torch.optim.Adam([t for pair in zip(Ws, bs) for t in pair], lr=0.03)
    Xt, yt = torch.tensor(X), torch.tensor(y)
    for _ in range(4):
        opt.zero_grad()
        h = torch.tanh(Xt @ Ws[0] + bs[0])
        loss = torch.nn.functional.cross_entropy(h @ Ws[1] + bs[1], yt)
        loss.backward()
        opt.step()
    model.fit(X, y, epochs=4, batch_size=None, shuffle=False)
    for layer, W, b in zip(model.dense_layers, Ws, bs):
        np.testing.assert_allclose(layer.weights, W.detach().numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(layer.bias, b.detach().numpy(), rtol=1e-10, atol=1e-12)


# ----------------------------------------------------------------------------- through model.fit
@pytest.mark.parametrize("name", ["sgd", "momentum", "nesterov_wd", "adam", "adam_l2", "adamw"])
def test_fit_full_batch_replays_formula(name):
    make_fm, make_np = OPTIMIZERS[name]
    X, y = blobs(m=30, d=3, k=3, seed=6)
    model = dense_model([3, 4, 3], ["sigmoid", "softmax"], seed=3, optimizer=make_fm())
    p0 = model.params.copy()
    expect = replay_full_batch(p0, ref_grad_fn(model, X, y), make_np(), steps=3)
    seen = []
    model.fit(X, y, epochs=3, batch_size=None, shuffle=False, callback=lambda e, logs: seen.append(model.params.copy()))
    assert len(seen) == 3
    for got, want in zip(seen, expect):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-13)


def test_fit_with_model_l2_and_momentum():
    """The model's l2 enters the gradient; the optimizer's weight decay is separate (biases too)."""
    X, y = regression(m=20, d=3, seed=7)
    model = dense_model(
        [3, 4, 1], ["tanh", "linear"], seed=4, l2=0.1, optimizer=fm.SGD(0.05, momentum=0.9, weight_decay=0.01)
    )
    p0 = model.params.copy()
    expect = replay_full_batch(p0, ref_grad_fn(model, X, y, l2=0.1), NpSGD(0.05, 0.9, weight_decay=0.01), steps=3)
    model.fit(X, y, epochs=3, shuffle=False, batch_size=None)
    np.testing.assert_allclose(model.params, expect[-1], rtol=1e-10, atol=1e-13)


def test_fit_learning_rate_overrides_optimizer():
    X, y = regression(m=20, d=3, seed=8)
    model = dense_model([3, 1], ["linear"], seed=5, optimizer=fm.SGD(0.5, momentum=0.9))
    p0 = model.params.copy()
    h = model.fit(X, y, epochs=2, learning_rate=0.02, shuffle=False, batch_size=None)
    assert model.optimizer.learning_rate == 0.02
    assert h.history["lr"] == [0.02, 0.02]
    expect = replay_full_batch(p0, ref_grad_fn(model, X, y), NpSGD(0.02, 0.9), steps=2)
    np.testing.assert_allclose(model.params, expect[-1], rtol=1e-10, atol=1e-13)


def test_optimizer_strings_and_defaults():
    m = dense_model([2, 1], ["linear"], optimizer="adam")
    assert isinstance(m.optimizer, fm.Adam)
    assert (m.optimizer.learning_rate, m.optimizer.beta1, m.optimizer.beta2, m.optimizer.epsilon) == (
        0.001,
        0.9,
        0.999,
        1e-8,
    )
    assert not m.optimizer.decoupled and m.optimizer.weight_decay == 0.0
    m = dense_model([2, 1], ["linear"])
    assert isinstance(m.optimizer, fm.SGD) and m.optimizer.learning_rate == 0.01
    assert m.optimizer.momentum == 0.0 and not m.optimizer.nesterov
    m = dense_model([2, 1], ["linear"], optimizer="sgd")
    X, y = regression(m=10, d=2, seed=9)
    m.fit(X, y, epochs=1, optimizer="adam", batch_size=None)
    assert isinstance(m.optimizer, fm.Adam)
    w = fm.AdamW()
    assert w.decoupled and w.weight_decay == 0.01


@pytest.mark.parametrize(
    "bad",
    [
        lambda: fm.SGD(0.0),
        lambda: fm.SGD(-1.0),
        lambda: fm.SGD(0.1, momentum=1.0),
        lambda: fm.SGD(0.1, momentum=-0.1),
        lambda: fm.SGD(0.1, nesterov=True),
        lambda: fm.SGD(0.1, weight_decay=-1),
        lambda: fm.Adam(0.1, beta1=1.0),
        lambda: fm.Adam(0.1, beta2=-0.1),
        lambda: fm.Adam(0.1, epsilon=0),
        lambda: fm.Adam(float("nan")),
    ],
)
def test_optimizer_argument_errors(bad):
    with pytest.raises(ValueError):
        bad()


def test_unknown_optimizer_name():
    with pytest.raises(ValueError, match="optimizer"):
        dense_model([2, 1], ["linear"], optimizer="lion")
    with pytest.raises(TypeError):
        dense_model([2, 1], ["linear"], optimizer=3)


def test_learning_rate_setter_validates():
    opt = fm.SGD(0.1)
    opt.learning_rate = 0.3
    assert opt.learning_rate == 0.3
    with pytest.raises(ValueError):
        opt.learning_rate = 0


# ----------------------------------------------------------------------------- state across fit calls
@pytest.mark.parametrize(
    "make", [lambda: fm.SGD(0.1, momentum=0.9), lambda: fm.Adam(0.05), lambda: fm.SGD(0.1, momentum=0.9, nesterov=True)]
)
def test_partial_fit_twice_equals_fit_two_epochs(make):
    X, y = blobs(m=30, d=3, k=3, seed=10)
    a = dense_model([3, 4, 3], ["tanh", "softmax"], seed=6, optimizer=make())
    b = dense_model([3, 4, 3], ["tanh", "softmax"], seed=6, optimizer=make())
    ha = a.fit(X, y, epochs=2, batch_size=None, shuffle=False)
    h1 = b.partial_fit(X, y, batch_size=None, shuffle=False)
    h2 = b.partial_fit(X, y, batch_size=None, shuffle=False)
    assert h1.epochs == h2.epochs == 1
    np.testing.assert_array_equal(a.params, b.params)
    assert ha.loss == h1.loss + h2.loss
    assert b.epochs_trained == 2


@pytest.mark.parametrize(
    "make,np_make",
    [
        (lambda: fm.SGD(0.1, momentum=0.9), lambda: NpSGD(0.1, momentum=0.9)),
        (lambda: fm.Adam(0.05), lambda: NpAdam(0.05)),
    ],
)
def test_optimizer_reset_between_fits(make, np_make):
    X, y = blobs(m=30, d=3, k=3, seed=11)
    model = dense_model([3, 4, 3], ["tanh", "softmax"], seed=7, optimizer=make())
    grad = ref_grad_fn(model, X, y)
    p0 = model.params.copy()
    model.partial_fit(X, y, shuffle=False, batch_size=None)
    model.optimizer.reset()
    model.partial_fit(X, y, shuffle=False, batch_size=None)
    p1 = replay_full_batch(p0, grad, np_make(), 1)[-1]
    p2 = replay_full_batch(p1, grad, np_make(), 1)[-1]  # fresh state for the second step
    np.testing.assert_allclose(model.params, p2, rtol=1e-10, atol=1e-13)
    # without reset it is the continued trajectory, which differs
    cont = replay_full_batch(p0, grad, np_make(), 2)[-1]
    assert np.abs(cont - p2).max() > 1e-6


def test_passing_a_new_optimizer_replaces_state():
    X, y = blobs(m=30, d=3, k=3, seed=12)
    model = dense_model([3, 4, 3], ["tanh", "softmax"], seed=8, optimizer=fm.SGD(0.1, momentum=0.9))
    grad = ref_grad_fn(model, X, y)
    p0 = model.params.copy()
    model.fit(X, y, epochs=2, shuffle=False, batch_size=None)
    new = fm.SGD(0.1, momentum=0.9)
    model.fit(X, y, epochs=1, shuffle=False, optimizer=new, batch_size=None)
    assert model.optimizer is new
    p2 = replay_full_batch(p0, grad, NpSGD(0.1, 0.9), 2)[-1]
    p3 = replay_full_batch(p2, grad, NpSGD(0.1, 0.9), 1)[-1]
    np.testing.assert_allclose(model.params, p3, rtol=1e-10, atol=1e-13)


@pytest.mark.parametrize("make", [lambda: fm.SGD(0.05), lambda: fm.SGD(0.05, momentum=0.9), lambda: fm.Adam(0.01)])
def test_warm_start_fit_continues(make):
    """fit(3) then fit(2) == fit(5) (full batch, no shuffle): weights and optimizer state carry over."""
    X, y = regression(m=25, d=3, seed=13)
    a = dense_model([3, 4, 1], ["relu", "linear"], seed=9, optimizer=make())
    b = dense_model([3, 4, 1], ["relu", "linear"], seed=9, optimizer=make())
    ha = a.fit(X, y, epochs=5, shuffle=False, batch_size=None)
    hb1 = b.fit(X, y, epochs=3, shuffle=False, batch_size=None)
    hb2 = b.fit(X, y, epochs=2, shuffle=False, batch_size=None)
    np.testing.assert_array_equal(a.params, b.params)
    assert ha.loss == hb1.loss + hb2.loss
    # the second fit started from the first fit's end: its first loss is the loss there
    assert b.epochs_trained == 5


def test_warm_start_loss_starts_where_previous_ended():
    X, y = regression(m=25, d=3, seed=14)
    model = dense_model([3, 4, 1], ["tanh", "linear"], seed=10)
    model.fit(X, y, epochs=3, learning_rate=0.1, batch_size=None)
    before = model.loss(X, y)
    h = model.fit(X, y, epochs=1, learning_rate=0.1, batch_size=None)
    assert h.loss[0] == pytest.approx(before, rel=1e-12)


def test_partial_fit_rejects_epochs():
    X, y = regression(m=10, d=2, seed=15)
    model = dense_model([2, 1], ["linear"])
    with pytest.raises(TypeError):
        model.partial_fit(X, y, epochs=3, batch_size=None)


def test_minibatch_partial_fit_matches_numpy_replay():
    """partial_fit with mini-batches (no shuffle) and momentum: state runs through the batches and epochs."""
    X, y = regression(m=12, d=3, seed=16)
    model = dense_model([3, 2, 1], ["tanh", "linear"], seed=11, optimizer=fm.SGD(0.05, momentum=0.9))
    p = model.params.copy()
    npo = NpSGD(0.05, 0.9)
    for _ in range(2):
        for s in range(0, 12, 5):  # batches of 5, 5, 2
            p = npo.step(p, ref_grad_fn(model, X[s : s + 5], y[s : s + 5])(p))
        model.partial_fit(X, y, batch_size=5, shuffle=False)
    np.testing.assert_allclose(model.params, p, rtol=1e-10, atol=1e-13)
