"""Issue 4: learning-rate schedules, recorded per epoch in history["lr"] and actually used."""

import numpy as np
import pytest

import fastmlp as fm
from fastmlp import schedules as S
from helpers_training import NpSGD, dense_model, ref_grad_fn, regression, replay_full_batch, simulate_plateau

LR0 = 0.08


def _fit_lrs(schedule, epochs=9, calls=1, **kw):
    X, y = regression(m=20, d=3, seed=0)
    model = dense_model([3, 1], ["linear"], seed=0)
    lrs = []
    for _ in range(calls):
        h = model.fit(X, y, epochs=epochs, learning_rate=LR0, schedule=schedule, **kw)
        lrs += h.history["lr"]
    return np.array(lrs), model


@pytest.mark.parametrize(
    "schedule,formula",
    [
        (S.Constant(), lambda e: LR0 + 0 * e),
        (None, lambda e: LR0 + 0 * e),
        ("constant", lambda e: LR0 + 0 * e),
        (S.StepDecay(3, 0.5), lambda e: LR0 * 0.5 ** (e // 3)),
        (S.StepDecay(1, 0.9), lambda e: LR0 * 0.9**e),
        (S.StepDecay(4, 1.0), lambda e: LR0 + 0 * e),
        (S.ExponentialDecay(0.8), lambda e: LR0 * 0.8**e),
        (S.InverseScaling(), lambda e: LR0 / (e + 1) ** 0.5),
        (S.InverseScaling(power=1.5), lambda e: LR0 / (e + 1) ** 1.5),
        (S.InverseScaling(power=0.0), lambda e: LR0 + 0 * e),
        ("invscaling", lambda e: LR0 / (e + 1) ** 0.5),
    ],
)
def test_recorded_lr_follows_formula(schedule, formula):
    lrs, _ = _fit_lrs(schedule, epochs=9)
    e = np.arange(9)
    np.testing.assert_allclose(lrs, formula(e), rtol=1e-14, atol=0)


@pytest.mark.parametrize(
    "schedule,formula",
    [
        (S.StepDecay(3, 0.5), lambda e: LR0 * 0.5 ** (e // 3)),
        (S.ExponentialDecay(0.8), lambda e: LR0 * 0.8**e),
        (S.InverseScaling(power=0.7), lambda e: LR0 / (e + 1) ** 0.7),
    ],
)
def test_schedule_continues_across_fit_calls(schedule, formula):
    lrs, model = _fit_lrs(schedule, epochs=4, calls=3)
    np.testing.assert_allclose(lrs, formula(np.arange(12)), rtol=1e-14, atol=0)
    assert model.epochs_trained == 12


def test_schedule_continues_across_partial_fit():
    X, y = regression(m=20, d=3, seed=1)
    model = dense_model([3, 1], ["linear"], seed=1)
    lrs = [
        model.partial_fit(X, y, learning_rate=0.1, schedule=S.ExponentialDecay(0.5), batch_size=None).history["lr"][0]
        for _ in range(4)
    ]
    np.testing.assert_allclose(lrs, 0.1 * 0.5 ** np.arange(4), rtol=1e-15)


def test_scheduled_lr_is_the_one_used():
    """The schedule is not just recorded: a NumPy replay with those learning rates gives the same weights."""
    X, y = regression(m=20, d=3, seed=2)
    for schedule, lr_of in (
        (S.StepDecay(2, 0.25), lambda e: 0.1 * 0.25 ** (e // 2)),
        (S.InverseScaling(1.0), lambda e: 0.1 / (e + 1)),
    ):
        model = dense_model([3, 3, 1], ["tanh", "linear"], seed=2, optimizer=fm.SGD(0.1, momentum=0.5))
        p0 = model.params.copy()
        model.fit(X, y, epochs=5, shuffle=False, schedule=schedule, batch_size=None)
        expect = replay_full_batch(p0, ref_grad_fn(model, X, y), NpSGD(0.1, 0.5), 5, lrs=[lr_of(e) for e in range(5)])
        np.testing.assert_allclose(model.params, expect[-1], rtol=1e-10, atol=1e-13)
        # constant-lr training ends elsewhere, so the check has teeth
        const = replay_full_batch(p0, ref_grad_fn(model, X, y), NpSGD(0.1, 0.5), 5)
        assert np.abs(const[-1] - expect[-1]).max() > 1e-4


def test_schedule_does_not_change_optimizer_base_lr():
    X, y = regression(m=20, d=3, seed=3)
    model = dense_model([3, 1], ["linear"], seed=3, optimizer=fm.SGD(0.1))
    model.fit(X, y, epochs=5, schedule=S.ExponentialDecay(0.5), batch_size=None)
    assert model.optimizer.learning_rate == 0.1


def test_lr_in_callback_logs():
    X, y = regression(m=20, d=3, seed=4)
    model = dense_model([3, 1], ["linear"], seed=4)
    seen = []
    h = model.fit(
        X,
        y,
        epochs=5,
        learning_rate=0.2,
        schedule=S.StepDecay(2, 0.5),
        callback=lambda e, logs: seen.append(logs["lr"]),
        batch_size=None,
    )
    assert seen == h.history["lr"]


# ----------------------------------------------------------------------------- reduce on plateau
def test_plateau_on_loss_reduces_every_patience_epochs():
    """min_delta huge: only epoch 0 counts as an improvement, so the lr is cut every `patience` epochs."""
    lrs, _ = _fit_lrs(S.ReduceOnPlateau(factor=0.5, patience=3, min_delta=1e9), epochs=12)
    expect = LR0 * np.array([1, 1, 1, 1, 0.5, 0.5, 0.5, 0.25, 0.25, 0.25, 0.125, 0.125])
    np.testing.assert_allclose(lrs, expect, rtol=1e-15)


def test_plateau_never_reduces_while_improving():
    lrs, _ = _fit_lrs(S.ReduceOnPlateau(factor=0.5, patience=1, min_delta=0.0), epochs=10)
    np.testing.assert_allclose(lrs, LR0, rtol=0)


def test_plateau_min_lr_floor():
    lrs, _ = _fit_lrs(S.ReduceOnPlateau(factor=0.1, patience=1, min_delta=1e9, min_lr=LR0 / 50), epochs=6)
    # epoch 0 improves (from inf); epoch 1 does not -> cut for epoch 2; epoch 2 -> cut (floored) for epoch 3
    np.testing.assert_allclose(lrs, [LR0, LR0, LR0 / 10, LR0 / 50, LR0 / 50, LR0 / 50], rtol=1e-14)


def _diverging_validation(seed=5):
    """Training targets y = x; validation targets y = -x: as training improves, val_loss grows."""
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(30, 2))
    Xv = rng.normal(size=(10, 2))
    w = np.array([1.0, -2.0])
    return X, X @ w, Xv, -(Xv @ w)


def test_plateau_on_val_loss():
    X, y, Xv, yv = _diverging_validation()
    model = dense_model([2, 1], ["linear"], seed=5)
    model.dense_layers[0].weights = np.zeros((2, 1))
    sched = S.ReduceOnPlateau(factor=0.5, patience=2, min_delta=0.0, monitor="val_loss")
    h = model.fit(
        X, y, epochs=9, learning_rate=0.05, shuffle=False, schedule=sched, validation_data=(Xv, yv), batch_size=None
    )
    val = h.history["val_loss"]
    assert all(b > a for a, b in zip(val, val[1:])), "construction: val_loss must rise every epoch"
    assert all(b < a for a, b in zip(h.loss, h.loss[1:])), "construction: the training loss falls"
    expect = simulate_plateau(val, 0.05, 0.5, 2, 0.0)
    np.testing.assert_allclose(h.history["lr"], expect, rtol=1e-15)
    np.testing.assert_allclose(
        h.history["lr"], 0.05 * np.array([1, 1, 1, 0.5, 0.5, 0.25, 0.25, 0.125, 0.125]), rtol=1e-15
    )


def test_plateau_on_loss_with_oscillating_loss():
    """A learning rate so large that the loss does not improve: reductions until it does."""
    X, y = regression(m=20, d=3, seed=6, noise=0.0)
    model = dense_model([3, 1], ["linear"], seed=6)
    sched = S.ReduceOnPlateau(factor=0.5, patience=2, min_delta=0.0)
    # lr well above 2 / lambda_max of the quadratic: the loss grows until reduced
    h = model.fit(X, y, epochs=14, learning_rate=3.0, shuffle=False, schedule=sched, batch_size=None)
    lrs = h.history["lr"]
    assert lrs[-1] < lrs[0]
    np.testing.assert_allclose(lrs, simulate_plateau(h.loss, 3.0, 0.5, 2, 0.0), rtol=1e-15)


def test_plateau_val_loss_needs_validation():
    X, y = regression(m=20, d=3, seed=7)
    model = dense_model([3, 1], ["linear"], seed=7)
    with pytest.raises(ValueError):
        model.fit(X, y, epochs=2, schedule=S.ReduceOnPlateau(monitor="val_loss"), batch_size=None)


# ----------------------------------------------------------------------------- argument checks
@pytest.mark.parametrize(
    "bad",
    [
        lambda: S.StepDecay(0, 0.5),
        lambda: S.StepDecay(2, 0.0),
        lambda: S.StepDecay(2, 1.5),
        lambda: S.ExponentialDecay(0),
        lambda: S.ExponentialDecay(1.01),
        lambda: S.InverseScaling(-1),
        lambda: S.ReduceOnPlateau(factor=1.0),
        lambda: S.ReduceOnPlateau(factor=0),
        lambda: S.ReduceOnPlateau(patience=0),
        lambda: S.ReduceOnPlateau(min_delta=-1),
        lambda: S.ReduceOnPlateau(monitor="accuracy"),
        lambda: S.ReduceOnPlateau(min_lr=-1),
    ],
)
def test_schedule_argument_errors(bad):
    with pytest.raises(ValueError):
        bad()


def test_unknown_schedule_name():
    X, y = regression(m=10, d=3, seed=8)
    model = dense_model([3, 1], ["linear"])
    with pytest.raises(ValueError, match="schedule"):
        model.fit(X, y, epochs=1, schedule="one_cycle", batch_size=None)
    with pytest.raises(TypeError):
        model.fit(X, y, epochs=1, schedule=0.5, batch_size=None)
