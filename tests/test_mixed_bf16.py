"""dtype="mixed_bfloat16": bf16 rounding bit for bit against an independent NumPy reference, the mixed
products and a network's forward pass and gradients against a NumPy reference of the mixed arithmetic.
The policy through the API (training, saving, copying, devices, build_info, the warning):
test_mixed_bf16_api.py.

Tolerances. A mixed product sums exact products of bf16 operands in float32, so it differs from the
exact sum of the rounded operands by at most gamma_K sum_p |a_ip| |b_pj| (gamma_K = K u / (1 - K u),
u = 2^-24, Higham's bound for recursive summation; blocked and FMA sums obey it too), plus u |c| for the
final rounding. Through a network the float32 activations before the next rounding differ from the
float64 reference by such amounts, and a bf16 rounding may then fall on the other side of a tie: that
operand moves by one bf16 unit (2^-8 relative) with probability ~ 2^9 x (relative difference) ~ 1e-4 per
element, so a whole layer's result keeps within ~ 2^-8 x (one term) of the reference; the multi-layer
checks use 2e-4 of the scale sum |a| |b|, which the float32 path (no rounding) exceeds ~10-100x.
"""

import math

import numpy as np
import pytest

import fastmlp as fm
from fastmlp import _core
from helpers_bf16 import U32, _data, _net

# --- an independent reference of the rounding: the two bf16 neighbours, the nearer one, ties to even --


def bf16_reference_bits(x) -> np.ndarray:
    """The bits (as float32 bit patterns) of x rounded to the nearest bfloat16, ties to even, computed
    by comparing distances in float64 (not by the integer carry trick the library uses)."""
    x = np.asarray(x, np.float32).ravel()
    u = x.view(U32).astype(np.uint64)
    sign = u & 0x80000000
    mag = u & 0x7FFFFFFF
    lo = mag & 0x7FFF0000  # the bf16 toward zero
    hi = lo + 0x10000  # the next bf16 away from zero (0x7f800000 = inf past the largest)
    with np.errstate(over="ignore", invalid="ignore"):  # NaN and inf lanes, replaced below
        v = np.abs(x.astype(np.float64))
        lo_v = lo.astype(U32).view(np.float32).astype(np.float64)
        hi_v = np.where(hi >= 0x7F800000, 2.0**128, hi.astype(U32).view(np.float32).astype(np.float64))
        d_lo, d_hi = v - lo_v, hi_v - v
    lo_even = ((lo >> 16) & 1) == 0
    pick_hi = (d_hi < d_lo) | ((d_hi == d_lo) & ~lo_even)
    out = np.where(pick_hi, hi, lo) | sign
    out = np.where(mag == 0x7F800000, u, out)  # infinities stay
    nan = mag > 0x7F800000
    out = np.where(nan, (u | 0x00400000) & 0xFFFF0000, out)  # quiet NaN, sign and high payload kept
    return out.astype(U32)


def bf16(x) -> np.ndarray:
    """x rounded to bfloat16 (the reference), as float64."""
    x = np.asarray(x, np.float32)
    return bf16_reference_bits(x).view(np.float32).reshape(x.shape).astype(np.float64)


SPECIAL_BITS = [
    0x00000000,
    0x80000000,  # +-0
    0x7F800000,
    0xFF800000,  # +-inf
    0x7FC00000,
    0xFFC00000,
    0x7F800001,
    0xFF800001,
    0x7FBFFFFF,
    0x7FFFFFFF,  # NaNs (payload low only, ...)
    0x00000001,
    0x80000001,
    0x00007FFF,
    0x00008000,
    0x00008001,
    0x00018000,
    0x007FFFFF,  # subnormals, ties
    0x00800000,
    0x00FF8000,
    0x00FE8000,  # smallest normal, ties at the bottom
    0x3F808000,
    0x3F818000,
    0x3F808001,
    0x3F807FFF,
    0xBF818000,  # ties to even around 1, both signs
    0x3F7FFFFF,
    0x3F7F8000,  # rounds up into the next binade
    0x7F7F7FFF,
    0x7F7F8000,
    0x7F7FFFFF,
    0xFF7FFFFF,  # the largest: below half, the tie (-> inf), past it
]


def test_reference_rounding_selfcheck():
    # the reference on hand-worked values: 1 + 2^-8 (a tie, 1 is even) stays 1; 1 + 3 2^-8 goes up
    assert bf16(np.float32(1 + 2**-8)) == 1.0
    assert bf16(np.float32(1 + 3 * 2**-8)) == 1 + 4 * 2**-8
    assert bf16(np.float32(1 + 2**-8 + 2**-20)) == 1 + 2**-7
    assert math.isinf(bf16(np.float32(np.finfo(np.float32).max)))


def test_bf16_round_is_bit_exact():
    rng = np.random.default_rng(0)
    bits = np.concatenate([np.array(SPECIAL_BITS, U32), rng.integers(0, 2**32, 200_000, dtype=np.uint64).astype(U32)])
    # every low-half pattern around a few values: all tie and near-tie cases of those bf16s
    low = np.arange(0, 0x10000, 7, dtype=U32)
    bits = np.concatenate([bits, 0x3F800000 | low, 0x3F810000 | low, 0x00010000 | low, 0xC2F70000 | low])
    x = bits.view(np.float32)
    got = _core.bf16_round(x).view(U32)
    want = bf16_reference_bits(x)
    bad = np.flatnonzero(got != want)
    assert bad.size == 0, [(hex(int(bits[i])), hex(int(got[i])), hex(int(want[i]))) for i in bad[:5]]
    assert np.isnan(_core.bf16_round(np.array([0x7F800001], U32).view(np.float32))[0])  # not inf
    even = x[: x.size // 2 * 2].reshape(-1, 2)
    np.testing.assert_array_equal(_core.bf16_round(even).view(U32), got[: even.size].reshape(-1, 2))


def test_bf16_round_agrees_with_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.standard_normal(50_000), rng.standard_normal(50_000) * 1e-39, [1e38, -3e38]])
    x = x.astype(np.float32)
    want = torch.from_numpy(x).to(torch.bfloat16).to(torch.float32).numpy()
    np.testing.assert_array_equal(_core.bf16_round(x).view(U32), want.view(U32))


# --- the products --------------------------------------------------------------------------------------


def _gamma(k):
    u = 2.0**-24
    return (k + 1) * u / (1 - (k + 1) * u)


@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True), (True, True)])
@pytest.mark.parametrize("m, k, n", [(1, 1, 1), (1, 784, 256), (7, 33, 5), (128, 256, 128), (300, 97, 50)])
def test_gemm_bf16_against_the_reference(trans_a, trans_b, m, k, n):
    rng = np.random.default_rng(m * 1000 + k + n)
    A = rng.standard_normal((m, k)).astype(np.float32)
    B = (rng.standard_normal((k, n)) * 0.05).astype(np.float32)
    A_stored = np.ascontiguousarray(A.T) if trans_a else A
    B_stored = np.ascontiguousarray(B.T) if trans_b else B
    C = _core.gemm_bf16(A_stored, B_stored, trans_a, trans_b)
    ref = bf16(A) @ bf16(B)
    bound = _gamma(k) * (np.abs(bf16(A)) @ np.abs(bf16(B))) + 1e-45
    assert np.all(np.abs(C - ref) <= bound)
    emulated = _core.gemm_bf16(A_stored, B_stored, trans_a, trans_b, emulated=True)
    if fm.build_info()["bf16"].startswith("emulated"):
        np.testing.assert_array_equal(C, emulated)  # the same path
    else:  # the AVX512_BF16 kernel: another summation order, the same bound
        assert np.all(np.abs(emulated - ref) <= bound)
    if k >= 33:  # the rounding happens: float32 operands miss the bf16 reference by far more than the bound
        plain = A.astype(np.float64) @ B.astype(np.float64)
        assert np.max(np.abs(plain - ref) / (bound + 1e-30)) > 4


@pytest.mark.parametrize("trans_a, trans_b", [(False, False), (True, False), (False, True), (True, True)])
def test_gemm_bf16_packs_subnormals_and_nans_as_bf16_round(trans_a, trans_b):
    # The AVX512_BF16 kernel converts with vcvtne2ps2bf16, which takes subnormal inputs as zeros; its
    # packers round 32 floats that hold a subnormal or a NaN with bf16_round instead. The largest
    # subnormal, 0x007FFFFF, rounds up to the smallest normal 2^-126, which vdpbf16ps keeps: times 2^100
    # it must give 2^-26, not 0. Every other product here is exact, so the whole of C is known.
    m, k, n = 5, 40, 33
    A, B = np.zeros((m, k), np.float32), np.zeros((k, n), np.float32)
    A[0, 3], B[3, 0] = np.array([0x007FFFFF], U32).view(np.float32)[0], 2.0**100
    A[2, 10], B[10, 2] = 2.0**100, np.array([0x807FFFFF], U32).view(np.float32)[0]
    A[1, 7], B[7, 1] = np.array([0x7F800001], U32).view(np.float32)[0], 1.0  # a NaN whose payload bf16 drops
    A[4, 12], B[12, 5] = 1.0, np.array([0xFF800001], U32).view(np.float32)[0]
    A[3, 20], B[20, 4] = 1.5, 3.0
    want = np.zeros((m, n), np.float32)
    want[0, 0], want[2, 2], want[3, 4] = 2.0**-26, -(2.0**-26), 4.5
    want[1, :] = want[:, 5] = np.nan  # NaN times 0 is NaN: A's row 1, B's column 5
    A_stored = np.ascontiguousarray(A.T) if trans_a else A
    B_stored = np.ascontiguousarray(B.T) if trans_b else B
    for emulated in (False, True):
        C = _core.gemm_bf16(A_stored, B_stored, trans_a, trans_b, emulated=emulated)
        np.testing.assert_array_equal(C, want, f"emulated={emulated} ({fm.build_info()['bf16']})")


@pytest.mark.parametrize("trans_a", [False, True])
def test_gemm_bf16_in_slices(trans_a):
    # more than 4096 rows (a forward pass over a large X) or a K that long (a weight gradient over a large
    # batch) run in slices, so that the rounded copies stay bounded: the same product, within the bound
    rng = np.random.default_rng(9)
    long, short = 9000, 20
    A = rng.standard_normal((long, short) if not trans_a else (short, long)).astype(np.float32)
    B = rng.standard_normal((A.shape[1], 7)).astype(np.float32)
    C = _core.gemm_bf16(np.ascontiguousarray(A.T) if trans_a else A, B, trans_a)
    ref = bf16(A) @ bf16(B)
    bound = _gamma(A.shape[1]) * (np.abs(bf16(A)) @ np.abs(bf16(B)))
    assert C.shape == ref.shape and np.all(np.abs(C - ref) <= bound)


@pytest.mark.parametrize("m, d", [(1, 1), (7, 33), (128, 784), (301, 97), (4096, 40), (4097, 9)])
def test_gemm_bf16_kept_pair_is_the_two_products(m, d):
    # a training step converts the model's input once (gemm_bf16.hpp, Bf16Input): X W keeps X^T's bf16
    # words for X^T D. The same floats as the two products apart, subnormals and NaNs too (bf16_round's
    # rule); kept wherever the AVX512_BF16 kernel runs and X has at most 4096 rows
    rng = np.random.default_rng(m + d)
    X = rng.standard_normal((m, d)).astype(np.float32)
    X.flat[:: max(1, X.size // 5)] = np.array([0x007FFFFF], U32).view(np.float32)[0]  # a subnormal
    X.flat[3 % X.size] = np.nan
    W = (rng.standard_normal((d, 19)) * 0.05).astype(np.float32)
    D = rng.standard_normal((m, 21)).astype(np.float32)
    Z, C, kept = _core.gemm_bf16_kept_pair(X, W, D)
    np.testing.assert_array_equal(Z, _core.gemm_bf16(X, W))
    np.testing.assert_array_equal(C, _core.gemm_bf16(X, D, True, False))
    assert kept == (fm.build_info()["bf16"] == "avx512_bf16" and m <= 4096)
    finite = np.isfinite(X).all(axis=0)  # the columns of X^T D away from the NaN
    ref = bf16(X).T @ bf16(D)
    bound = _gamma(m) * (np.abs(bf16(X)).T @ np.abs(bf16(D)))
    assert np.all(np.abs(C[finite] - ref[finite]) <= bound[finite]) and np.isnan(C[~finite]).all()


def test_gemm_bf16_keeps_special_values():
    A = np.array([[np.inf, 1.0], [np.nan, 1.0], [1e-40, 0.0]], np.float32)
    B = np.array([[1.0], [2.0]], np.float32)
    C = _core.gemm_bf16(A, B, emulated=True)
    assert C[0, 0] == np.inf and np.isnan(C[1, 0])
    assert C[2, 0] == np.float32(bf16(np.float32(1e-40)))  # subnormals are rounded, not flushed (emulated)


# --- a network: forward and gradients against a NumPy reference of the mixed arithmetic ------------------


def _relu(z):
    return np.maximum(z, 0)


def _mixed_reference(Ws, bs, X, Y):
    """Forward (relu hidden layers, softmax output) and the cross-entropy gradients, in float64, with
    every product's operands rounded to bf16 as the library does: Z = bf16(a) bf16(W) + b;
    dW = bf16(a)^T bf16(delta); delta_prev = (bf16(delta) bf16(W)^T) * relu'(z)."""
    a, As, Zs = X.astype(np.float64), [X.astype(np.float64)], []
    for i, (W, b) in enumerate(zip(Ws, bs)):
        z = bf16(a) @ bf16(W) + b
        Zs.append(z)
        if i + 1 < len(Ws):
            a = _relu(z)
        else:
            e = np.exp(z - z.max(axis=1, keepdims=True))
            a = e / e.sum(axis=1, keepdims=True)
        As.append(a)
    m = X.shape[0]
    delta = (As[-1] - Y) / m
    grads = []
    for i in reversed(range(len(Ws))):
        dW = bf16(As[i]).T @ bf16(delta)
        db = delta.sum(axis=0)
        grads.append((dW, db))
        if i > 0:
            delta = (bf16(delta) @ bf16(Ws[i]).T) * (Zs[i - 1] > 0)
    return As[-1], grads[::-1], As


def test_forward_and_gradients_match_the_mixed_reference():
    X, y, Y = _data()
    mixed = _net("mixed_bfloat16")
    plain = _net("float32")
    plain.set_weights(mixed.get_weights())
    Ws = [layer.weights.astype(np.float64) for layer in mixed.dense_layers]
    bs = [layer.bias.astype(np.float64) for layer in mixed.dense_layers]
    P, grads, As = _mixed_reference(Ws, bs, X, Y)
    got, got_plain = mixed.forward(X), plain.forward(X)
    err, err_plain = np.max(np.abs(got - P)), np.max(np.abs(got_plain - P))
    assert err <= 2e-4 * np.max(np.abs(P)), err
    assert err_plain > 5 * err  # float32 products are measurably not the mixed ones
    for (dW, db), (rW, rb), a in zip(mixed.gradients(X, y), grads, As):
        scale = (np.abs(bf16(a)).T @ np.ones((X.shape[0], rW.shape[1]))).max() / X.shape[0]
        assert np.max(np.abs(dW - rW)) <= 2e-4 * scale + 1e-7, np.max(np.abs(dW - rW))
        np.testing.assert_allclose(db, rb, rtol=1e-4, atol=1e-6)
    # the C++ trace's z of the first layer is exactly a float32 product of the rounded operands
    z1 = mixed.trace(X)[0][0]
    assert np.max(np.abs(z1 - (bf16(X) @ bf16(Ws[0]) + bs[0]))) <= 1e-5 * np.max(np.abs(z1))


def test_single_sample_sgd_step_is_the_mixed_one():
    # batch 1 with plain SGD: float32 fuses the update into one pass (sgd_rank1); mixed runs the products
    X, y, _ = _data(m=1)
    mixed = _net("mixed_bfloat16")
    W0 = mixed.get_weights()
    mixed.compile(optimizer=fm.SGD(learning_rate=0.1))
    mixed.fit(X, y, epochs=1, batch_size=1, shuffle=False, verbose=0)
    grads = _net("mixed_bfloat16").gradients(X, y)
    for (dW, db), W, b, layer in zip(grads, W0[0::2], W0[1::2], mixed.dense_layers):
        np.testing.assert_allclose(layer.weights, W - np.float32(0.1) * dW, rtol=0, atol=2e-7)
        np.testing.assert_allclose(layer.bias, b - np.float32(0.1) * db, rtol=0, atol=2e-7)
