"""The table of optimizers (cpp/include/fastmlp/optimizer_rules.hpp) is the one place an optimizer
is written: the Python classes follow it (keywords, defaults, validation), a kind without a
hand-written class gets one made from it, and RAdam, added to the table alone, trains on every
engine. Expected values: tests/reference.py's NumPy RAdam and, when importable, torch.optim.RAdam."""

import numpy as np
import pytest

import fastmlp as fm
import reference as ref
from fastmlp import _core, optimizers
from helpers_training import blobs, dense_model


def test_every_kind_of_the_table_has_a_class_that_follows_it():
    assert list(optimizers.OPTIMIZERS) == [row["name"] for row in _core.OPTIMIZERS]
    for row in _core.OPTIMIZERS:
        cls = optimizers.OPTIMIZERS[row["name"]]
        assert cls.__name__ == row["class_name"] and getattr(fm, cls.__name__) is cls
        config = cls().get_config()
        expected = {"name": row["name"], "learning_rate": row["learning_rate"], **dict(row["params"])}
        assert config == {**expected, "clip_norm": 0.0, "clip_value": 0.0}
        for name, default in row["params"]:
            assert getattr(cls(), name) == default and type(getattr(cls(), name)) is type(default)
        assert cls(learning_rate=0.5)._make("32").learning_rate == 0.5


def test_a_class_must_name_a_kind_of_the_table():
    with pytest.raises(TypeError, match="no optimizer 'nadam' in the core's table"):

        class Nadam(fm.Optimizer):
            _kind = "nadam"


def test_the_spec_has_exactly_its_kinds_hyper_parameters():
    spec = _core.OptimizerSpec.defaults("radam")
    assert (spec.kind, spec.learning_rate, spec.beta2, spec.weight_decay) == ("radam", 1e-3, 0.999, 0.0)
    with pytest.raises(AttributeError, match="radam has no hyper-parameter momentum"):
        spec.momentum
    with pytest.raises(AttributeError):
        spec.momentum = 0.9
    with pytest.raises(ValueError, match="unknown optimizer 'nadam' \\(expected one of: sgd, adam, rmsprop"):
        _core.OptimizerSpec.defaults("nadam")


@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
def test_radam_matches_the_numpy_reference(weight_decay):
    """12 steps: the first five are momentum steps (rho_t <= 5), then the rectified ones."""
    rng = np.random.default_rng(0)
    w0 = rng.normal(size=11)
    grads = [rng.normal(0, s, size=11) for s in (1.0, 3.0, 0.2, 1.0, 0.5, 2.0, 1.0, 0.1, 1.0, 4.0, 1.0, 0.3)]
    grads[0][0] = 0.0
    opt = fm.RAdam(0.05, beta1=0.8, beta2=0.99, epsilon=1e-6, weight_decay=weight_decay)
    core = opt._make("64")
    w = w0.copy()
    for g in grads:
        core.step(w, g)
    expect = ref.radam_steps(w0, grads, 0.05, beta1=0.8, beta2=0.99, eps=1e-6, weight_decay=weight_decay)
    np.testing.assert_allclose(w, expect, rtol=1e-13, atol=1e-15)
    assert core.steps == 12 and core.state("m").shape == (11,) and core.state("v").min() > 0
    w32 = w0.astype(np.float32)
    core32 = opt._make("32")
    for g in grads:
        core32.step(w32, g.astype(np.float32))
    np.testing.assert_allclose(w32, expect, rtol=2e-5, atol=1e-6)


def test_radam_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    p = rng.normal(size=13)
    tp = torch.tensor(p.copy(), dtype=torch.float64, requires_grad=True)
    topt = torch.optim.RAdam([tp], lr=0.01, betas=(0.9, 0.99), eps=1e-8, weight_decay=0.1)
    core = fm.RAdam(0.01, beta2=0.99, weight_decay=0.1)._make("64")
    for _ in range(10):
        g = rng.normal(size=13)
        core.step(p, g)
        tp.grad = torch.tensor(g, dtype=torch.float64)
        topt.step()
        np.testing.assert_allclose(p, tp.detach().numpy(), rtol=1e-12, atol=1e-14)


def test_radam_trains_keeps_its_state_and_round_trips(tmp_path):
    X, y = blobs(m=60, d=3, k=3, seed=2)
    a = dense_model([3, 8, 3], ["tanh", "softmax"], seed=3, optimizer=optimizers.create("radam", learning_rate=0.02))
    b = dense_model([3, 8, 3], ["tanh", "softmax"], seed=3, optimizer=fm.RAdam(0.02))
    h = a.fit(X, y, epochs=20, batch_size=8, shuffle=False)
    assert h.loss[-1] < 0.5 * h.loss[0]
    for _ in range(20):  # the state runs on through partial_fit calls
        b.partial_fit(X, y, batch_size=8, shuffle=False)
    np.testing.assert_array_equal(a.params, b.params)
    a.save(tmp_path / "m.safetensors")
    again = fm.load(tmp_path / "m.safetensors")
    assert isinstance(again.optimizer, fm.RAdam) and again.optimizer.get_config() == a.optimizer.get_config()
    assert optimizers.get("RAdam").get_config() == fm.RAdam().get_config()


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(beta1=1.0), r"beta1 must be a finite number in \[0, 1\), got 1"),
        (dict(epsilon=0.0), r"epsilon must be a finite number in \(0, "),
        (dict(learning_rate=-1.0), "learning_rate"),
        (dict(weight_decay=float("nan")), "weight_decay"),
    ],
)
def test_radam_checks_its_values(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fm.RAdam(**kwargs)


def test_radam_keywords():
    with pytest.raises(TypeError):
        fm.RAdam(momentum=0.9)
    assert fm.RAdam(0.02, 0.8).get_config()["beta1"] == 0.8  # positional, in the table's order


@pytest.mark.gpu
@pytest.mark.skipif(not fm.cuda_available(), reason="no CUDA device")
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_radam_on_cuda_matches_the_cpu(dtype):
    rng = np.random.default_rng(4)
    X, y = rng.normal(size=(37, 5)).astype(dtype), np.arange(37) % 3
    layers = [fm.Dense(5, 8, "relu"), fm.Dense(8, 3, "softmax")]
    cpu = fm.Sequential(layers, dtype=dtype, seed=12, optimizer=fm.RAdam(0.01))
    gpu = cpu.copy().to("cuda")
    gpu.optimizer = fm.RAdam(0.01)
    for _ in range(2):
        hc, hg = cpu.fit(X, y, epochs=5), gpu.fit(X, y, epochs=5)
        tol = 1e-4 if dtype == "float32" else 1e-11
        np.testing.assert_allclose(hg.loss, hc.loss, rtol=tol, atol=tol)
        np.testing.assert_allclose(gpu.params, cpu.params, rtol=tol, atol=tol)
