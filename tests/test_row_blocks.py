"""A training step on a large batch runs as row blocks (Network::train_step, network.cpp): each block's
forward pass, output error and backward pass in turn, the gradients summed over the blocks, then one
update. These tests hold it to the batch's gradient computed in one pass (model.gradients, which never
splits) and, for plain SGD, to the NumPy reference's epochs; both splits are checked to happen."""

import numpy as np
import pytest

import fastmlp as fm
import reference as ref
from helpers import acts_of, get_params, make_labels

# width 300: float64 blocks of 208 rows, float32 of 432 (the rule: 512 KB of the widest layer's outputs)
SIZES = [12, 300, 40]


def _model(dtype, k, out, loss=None, l2=0.0, optimizer="sgd", activation_layer=False):
    layers = [fm.Dense(SIZES[0], SIZES[1], "relu")]
    layers += (
        [fm.Dense(SIZES[1], SIZES[2], "linear"), fm.Activation("tanh")]
        if activation_layer
        else [fm.Dense(SIZES[1], SIZES[2], "tanh")]
    )
    layers.append(fm.Dense(SIZES[2], k, out))
    return fm.Sequential(layers, loss=loss, dtype=dtype, seed=4, l2=l2, optimizer=optimizer)


def _grads(model):
    net = model._net
    return [(net.grad_weight(i).astype(np.float64), net.grad_bias(i).astype(np.float64)) for i in range(3)]


def test_the_rule_splits_large_batches_of_row_wise_layers_only():
    m32 = _model("float32", 3, "softmax")
    m64 = _model("float64", 3, "softmax")
    for model in (m32, m64):
        model.build(SIZES[0])
    assert m64._net.block_rows(1000) == 208 and m32._net.block_rows(1000) == 336  # 5 and 3 equal blocks
    assert m32._net.block_rows(648) == 648 and m32._net.block_rows(649) < 649  # up to 1.5 blocks: one
    for m in (1, 17, 2048, 100_000):
        b = m64._net.block_rows(m)
        assert b % 16 == 0 or b == m
    # batch statistics and per-batch masks: never split
    for extra in (fm.BatchNormalization(), fm.Dropout(0.2)):
        other = fm.Sequential([fm.Dense(SIZES[0], SIZES[1], "relu"), extra, fm.Dense(SIZES[1], 3, "softmax")], seed=0)
        other.build(SIZES[0])
        assert other._net.block_rows(5000) == 5000


CASES = [
    ("float64", "categorical_crossentropy", "softmax", 0.0, False, 1e-11),
    ("float64", "mse", "linear", 0.03, True, 1e-11),
    ("float64", "binary_crossentropy", "sigmoid", 0.0, False, 1e-11),
    ("float32", "categorical_crossentropy", "softmax", 0.02, True, 2e-5),
    ("float32", "mse", "sigmoid", 0.0, False, 2e-5),
    ("mixed_bfloat16", "categorical_crossentropy", "softmax", 0.0, False, 2e-4),
    ("mixed_bfloat16", "binary_crossentropy", "sigmoid", 0.01, True, 2e-4),
]


@pytest.mark.parametrize("dtype,loss,out,l2,activation_layer,tol", CASES)
@pytest.mark.parametrize("weighted", [False, True])
def test_blocked_step_has_the_batch_gradient_and_loss(dtype, loss, out, l2, activation_layer, tol, weighted):
    """fit(batch_size=m) with Adam (its step reads the gradient buffer): after one step the buffer holds
    the sum over the blocks, which must equal the one-pass gradient at the same weights; the epoch loss
    must equal the loss there (with sample weights: their weighted mean over the whole batch)."""
    rng = np.random.default_rng(5)
    m, k = 1000, 4 if out == "softmax" else 2
    X = rng.normal(size=(m, SIZES[0]))
    y, Y = make_labels(rng, loss, m, k)
    w = rng.uniform(0.0, 3.0, size=m) if weighted else None
    if weighted:
        w[:300] = 0.0  # the first block's rows count for nothing, the others still by the batch's sum
    model = _model(dtype, k, out, loss, l2, fm.Adam(1e-3), activation_layer)
    twin = _model(dtype, k, out, loss, l2, fm.Adam(1e-3), activation_layer)
    model.build(SIZES[0])
    twin.build(SIZES[0])
    assert model._net.block_rows(m) < m
    expect = twin.gradients(X, y, sample_weight=w)
    J = twin.loss(X, y, sample_weight=w)
    hist = model.fit(X, y, epochs=1, batch_size=m, shuffle=False, sample_weight=w)
    for i, ((dW, db), (eW, eb)) in enumerate(zip(_grads(model), expect)):
        scale = max(np.abs(eW).max(), np.abs(eb).max())
        np.testing.assert_allclose(dW, eW, rtol=tol, atol=tol * scale, err_msg=f"dW[{i}]")
        np.testing.assert_allclose(db, eb, rtol=tol, atol=tol * scale, err_msg=f"db[{i}]")
    np.testing.assert_allclose(hist.loss[0], J, rtol=tol)
    assert not np.array_equal(model.dense_layers[0].weights, twin.dense_layers[0].weights)  # and Adam stepped


@pytest.mark.parametrize("dtype", ["float64", "float32"])
@pytest.mark.parametrize("l2", [0.0, 0.02])
def test_blocked_sgd_epochs_match_the_reference(dtype, l2):
    """Plain SGD (fused into backprop where a batch is one block, applied after the last block where it is
    several): two epochs of batches of 1000 rows (split) and a last batch of 230 (not split)."""
    rng = np.random.default_rng(8)
    m, k = 2230, 4
    model = _model(dtype, k, "softmax", l2=l2)
    X = rng.normal(size=(m, SIZES[0])).astype(dtype)
    y, Y = make_labels(rng, "categorical_crossentropy", m, k)
    params = get_params(model)
    assert model._net.block_rows(1000) < 1000 and model._net.block_rows(230) == 230
    hist = model.fit(X, y, epochs=2, batch_size=1000, learning_rate=0.2, shuffle=False)
    losses = []
    for _ in range(2):
        params, J = ref.sgd_epoch(
            params, acts_of(model), X.astype(np.float64), Y, "categorical_crossentropy", 0.2, 1000, l2
        )
        losses.append(J)
    tol = dict(rtol=1e-10, atol=1e-12) if dtype == "float64" else dict(rtol=2e-4, atol=2e-5)
    for i, ((W, b), (rW, rb)) in enumerate(zip(get_params(model), params)):
        np.testing.assert_allclose(W, rW, **tol, err_msg=f"W[{i}]")
        np.testing.assert_allclose(b, rb, **tol, err_msg=f"b[{i}]")
    np.testing.assert_allclose(hist.loss, losses, rtol=tol["rtol"])
