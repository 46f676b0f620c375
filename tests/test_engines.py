"""The one training loop behind every engine (CPU, and CUDA where a GPU is present):
the rules at the loop's boundaries hold on each engine, and the options cross into
C++ as typed structs whose defaults and ranges live there once."""

import numpy as np
import pytest

import fastmlp as fm
from fastmlp import _core

DEVICES = ["cpu"] + (["cuda"] if fm.cuda_available() else [])


def _regression(m=16, d=3, seed=0, scale=1.0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, d)) * scale, rng.normal(size=m) * scale


@pytest.mark.parametrize("device", DEVICES)
def test_last_step_divergence_raises_on_every_engine(device):
    """J is measured before each step, so a step that leaves non-finite weights on the very last
    batch is caught after the loop: DivergenceError, the weights of the last epoch's start."""
    X, y = _regression(scale=1e5)  # J ~ 1e10 (finite), the step lr * dJ/dW ~ 1e310 (not)
    model = fm.Sequential([fm.Dense(3, 1)], dtype="float64", seed=1, device=device, optimizer="sgd")
    start = model.params.copy()
    with pytest.raises(fm.DivergenceError) as info:
        model.fit(X, y, epochs=1, learning_rate=1e300, shuffle=False, batch_size=None)
    assert info.value.epoch == 0 and isinstance(info.value.epoch, int)
    np.testing.assert_array_equal(model.params, start)
    assert model.epochs_trained == 0


@pytest.mark.parametrize("device", DEVICES)
def test_last_step_divergence_after_some_epochs(device):
    """After an epoch that trained: the last step of the next fit blows up; its weights go back to that
    fit's start and the completed epoch still counts."""
    X, y = _regression(seed=2, scale=1e5)
    model = fm.Sequential([fm.Dense(3, 1)], dtype="float64", seed=3, device=device, optimizer="sgd")
    seen = []
    model.fit(
        X,
        y,
        epochs=1,
        learning_rate=1e-12,
        callback=lambda e, logs: seen.append(model.params.copy()),
        shuffle=False,
        batch_size=None,
    )
    with pytest.raises(fm.DivergenceError) as info:
        model.fit(X, y, epochs=1, learning_rate=1e300, shuffle=False, batch_size=None)
    assert info.value.epoch == 0
    np.testing.assert_array_equal(model.params, seen[-1])
    assert model.epochs_trained == 1


@pytest.mark.parametrize("device", DEVICES)
def test_the_model_has_one_engine_on_its_device(device):
    model = fm.Sequential([fm.Dense(3, 2, "softmax")], seed=0, device=device, optimizer="sgd")
    assert model._engine.name == model.device == device
    engine = model._engine
    model.to(device)
    assert model._engine is engine  # same device: the engine (and the optimizer state) stays


@pytest.mark.gpu
def test_record_gradients_unsupported_is_one_clear_error():
    """An engine that cannot record gradient norms refuses in one place (the loop), before training."""
    assert issubclass(_core.NotSupported, NotImplementedError)
    if "cuda" not in DEVICES:
        pytest.skip("needs an engine without gradient norms (CUDA)")
    model = fm.Sequential([fm.Dense(4, 3, "softmax")], device="cuda", seed=0, optimizer="sgd")
    before = model.params.copy()
    with pytest.raises(NotImplementedError, match="record_gradients"):
        model.fit(np.ones((5, 4)), [0, 1, 2, 0, 1], epochs=1, record_gradients=True, batch_size=None)
    np.testing.assert_array_equal(model.params, before)


def test_python_defaults_are_the_cores():
    sgd, adam = _core.OptimizerSpec.sgd(), _core.OptimizerSpec.adam()
    assert fm.SGD().get_config() == {
        "name": "sgd",
        "learning_rate": sgd.learning_rate,
        "momentum": sgd.momentum,
        "nesterov": sgd.nesterov,
        "weight_decay": sgd.weight_decay,
        "clip_norm": sgd.clip_norm,
        "clip_value": sgd.clip_value,
    }
    rms, ada = _core.OptimizerSpec.rmsprop(), _core.OptimizerSpec.adagrad()
    assert (fm.RMSprop().learning_rate, fm.RMSprop().rho) == (rms.learning_rate, rms.rho)
    assert (fm.Adagrad().learning_rate, fm.Adagrad().epsilon) == (ada.learning_rate, ada.epsilon)
    assert fm.Adam().learning_rate == adam.learning_rate and fm.Adam().epsilon == adam.epsilon
    assert fm.schedules.ExponentialDecay().gamma == _core.Schedule("exponential").gamma == 0.95
    assert fm.schedules.StepDecay().gamma == _core.Schedule("step_decay").gamma
    assert fm.EarlyStopping().patience == _core.EarlyStoppingSpec().patience


@pytest.mark.parametrize(
    "bad, match",
    [
        (dict(epochs=0), "epochs"),
        (dict(epochs=_core.MAX_EPOCHS + 1), "epochs"),
        (dict(batch_size=0), "batch_size"),
        (dict(tol=-1.0), "tol"),
        (dict(epoch_offset=-1), "epoch_offset"),
    ],
)
def test_fit_options_are_checked_in_cpp(bad, match):
    options = _core.FitOptions()
    for k, v in bad.items():
        setattr(options, k, v)
    with pytest.raises(ValueError, match=match):
        _core.validate_fit_options(options)


def test_epoch_counts_cannot_overflow():
    """F2: the epoch counter of a model is bounded, so epoch_offset + epoch never overflows."""
    X, y = _regression()
    model = fm.Sequential([fm.Dense(3, 1)], dtype="float64", seed=0, optimizer="sgd")
    model.epochs_trained = 2**62
    model.fit(X, y, epochs=1, batch_size=None)  # the last epoch that may start
    with pytest.raises(ValueError, match="epoch_offset"):
        model.fit(X, y, epochs=1, batch_size=None)
    with pytest.raises(ValueError, match="epochs_trained"):
        model.epochs_trained = 2**62 + 5
    model.epochs_trained = 5
    assert len(model.fit(X, y, epochs=2, batch_size=None).loss) == 2


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: fm.SGD(10**400), "learning_rate"),
        (lambda: fm.SGD(0.1, momentum="a"), "momentum"),
        (lambda: fm.Adam(beta1=True), "beta1"),
        (lambda: fm.SGD(nesterov=1), "nesterov"),
    ],
)
def test_optimizer_arguments_type_errors_name_the_argument(make, match):
    with pytest.raises((TypeError, ValueError), match=match):
        make()


def test_float32_learning_rate_checked_in_the_models_dtype():
    X, y = _regression()
    model = fm.Sequential([fm.Dense(3, 1)], dtype="float32", seed=0, optimizer="sgd")
    with pytest.raises(ValueError, match="learning_rate"):
        model.fit(X, y, epochs=1, learning_rate=1e-50, batch_size=None)  # 0 in float32
    fm.Sequential([fm.Dense(3, 1)], dtype="float64", seed=0, optimizer="sgd").fit(
        X, y, epochs=1, learning_rate=1e-50, batch_size=None
    )
