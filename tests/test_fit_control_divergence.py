"""Issue 4: divergence (the error, its epoch, the restored parameters), gradient-norm recording and
the vanishing-gradient warning."""

import re
import warnings

import numpy as np
import pytest

import fastmlp as fm
from helpers_training import ParamRecorder, _clf, blobs, dense_model


# ============================================================================= divergence
def _exploding(seed=29, scale=100.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(20, 3)) * scale
    y = rng.normal(size=20) * scale
    return X, y


def test_divergence_full_batch():
    X, y = _exploding()
    model = dense_model([3, 4, 1], ["linear", "linear"], seed=20)
    rec = ParamRecorder(model)
    with pytest.raises(fm.DivergenceError) as info:
        model.fit(X, y, epochs=500, learning_rate=1.0, callback=rec, batch_size=None)
    assert isinstance(info.value, FloatingPointError)
    assert len(rec.epochs) >= 1
    done = len(rec.epochs)  # epochs completed; the diverging epoch is the next one
    nums = [int(s) for s in re.findall(r"epoch (\d+)", str(info.value))]
    assert nums and nums[0] in (done, done + 1), str(info.value)  # 0- or 1-based
    # Full batch: J is measured before each step, so the non-finite J of epoch `done` was caused by
    # the step of epoch done-1; the weights go back to that epoch's start = the end of epoch done-2.
    assert done >= 2
    np.testing.assert_array_equal(model.params, rec.params[-2])
    assert np.isfinite(model.loss(X, y))


def test_divergence_minibatch_restores_epoch_start():
    """Mini-batches: the loss blows up mid-epoch; the weights go back to that epoch's start (finite)."""
    X, y = _exploding(30, scale=1.0)
    model = dense_model([3, 8, 1], ["relu", "linear"], seed=21, optimizer=fm.SGD(0.5, momentum=0.9))
    rec = ParamRecorder(model)
    with pytest.raises(fm.DivergenceError, match="epoch"):
        model.fit(X, y, epochs=500, batch_size=4, callback=rec)
    assert len(rec.params) >= 1, "construction: at least one epoch completes before the blow-up"
    np.testing.assert_array_equal(model.params, rec.params[-1])
    assert np.isfinite(model.params).all()
    # the model is usable afterwards: a sane learning rate trains it
    model.optimizer = fm.SGD(1e-6)
    h = model.fit(X, y, epochs=2, batch_size=4)
    assert np.isfinite(h.loss).all()


def test_divergence_error_is_exported():
    assert issubclass(fm.DivergenceError, FloatingPointError)


# ============================================================================= gradient norms
def test_grad_norms_full_batch_equal_gradients():
    X, y = blobs(m=30, seed=31)
    model = dense_model([3, 5, 4, 3], ["tanh", "relu", "softmax"], seed=22, l2=0.01)
    grads = model.gradients(X, y)
    h = model.fit(X, y, epochs=1, record_gradients=True, batch_size=None)
    assert h.grad_norms.shape == (1, 3)
    np.testing.assert_allclose(h.grad_norms[0], [np.linalg.norm(dW) for dW, _ in grads], rtol=1e-12)


def test_grad_norms_mean_over_minibatches():
    X, y = blobs(m=23, seed=32)
    model = dense_model([3, 4, 3], ["sigmoid", "softmax"], seed=23)
    shadow = model.copy()
    h = model.fit(X, y, epochs=2, batch_size=10, learning_rate=0.5, shuffle=False, record_gradients=True)
    expect = []
    for _ in range(2):
        norms = []
        for s in range(0, 23, 10):
            g = shadow.gradients(X[s : s + 10], y[s : s + 10])
            norms.append([np.linalg.norm(dW) for dW, _ in g])
            for layer, (dW, db) in zip(shadow.dense_layers, g):
                layer.weights = layer.weights - 0.5 * dW
                layer.bias = layer.bias - 0.5 * db
        expect.append(np.mean(norms, axis=0))
    assert h.grad_norms.shape == (2, 2)
    np.testing.assert_allclose(h.grad_norms, expect, rtol=1e-10)
    np.testing.assert_allclose(model.params, shadow.params, rtol=1e-12, atol=1e-14)


def test_grad_norms_absent_by_default_and_shape_with_dropout():
    X, y = blobs(m=30, seed=33)
    assert _clf().fit(X, y, epochs=2, batch_size=None).grad_norms is None
    model = fm.Sequential([fm.Dense(3, 8, "relu"), fm.Dropout(0.3), fm.Dense(8, 3, "softmax")], seed=0, optimizer="sgd")
    h = model.fit(X, y, epochs=3, record_gradients=True, batch_size=10)
    assert h.grad_norms.shape == (3, 2) and np.all(h.grad_norms > 0)


def _deep_sigmoid(depth, bias):
    """depth sigmoid hidden layers; hidden biases = bias (large -> saturated units, sigmoid' ~ e^-bias)."""
    sizes = [4] + [16] * depth + [3]
    model = dense_model(sizes, ["sigmoid"] * depth + ["softmax"], seed=24)
    for layer in model.dense_layers[:-1]:
        layer.bias = np.full(layer.n_out, float(bias))
    return model


def test_vanishing_gradient_warning():
    X, y = blobs(m=40, d=4, seed=34)
    model = _deep_sigmoid(5, 4.0)
    with pytest.warns(fm.VanishingGradientWarning):
        h = model.fit(X, y, epochs=2, record_gradients=True, batch_size=None)
    assert h.grad_norms[-1, 0] < 1e-3 * h.grad_norms[-1, -1]


def test_no_vanishing_warning_for_healthy_net_or_without_recording():
    X, y = blobs(m=40, d=4, seed=35)
    with warnings.catch_warnings():
        warnings.simplefilter("error", fm.VanishingGradientWarning)
        h = _deep_sigmoid(3, 0.0).fit(X, y, epochs=2, record_gradients=True, batch_size=None)
        assert h.grad_norms[-1, 0] >= 1e-3 * h.grad_norms[-1, -1]
        h = _clf(seed=25).fit(X[:, :3], y, epochs=2, record_gradients=True, batch_size=None)
        assert h.grad_norms.shape == (2, 2)
        _deep_sigmoid(5, 4.0).fit(X, y, epochs=2, batch_size=None)  # the rule needs recorded norms


def test_divergence_error_carries_the_epoch_and_counts_completed_epochs():
    X, y = _exploding()
    model = dense_model([3, 4, 1], ["linear", "linear"], seed=20)
    done = []
    with pytest.raises(fm.DivergenceError) as info:
        model.fit(X, y, epochs=500, learning_rate=1.0, callback=lambda e, logs: done.append(e), batch_size=None)
    assert info.value.epoch == len(done)  # counted from 0: the first epoch that did not complete
    assert model.epochs_trained == len(done)
