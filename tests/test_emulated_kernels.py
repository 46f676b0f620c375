"""The CPU kernels for instructions this machine may lack, run under emulation: cpp/src/gemm_int8.cpp's
AVX512-VNNI and AVX-VNNI builds (vpdpbusd) and cpp/src/gemm_bf16_avx512.cpp (AVX512_BF16's vdpbf16ps),
compiled for AVX2 with SIMDe (SIMD Everywhere) standing in for the missing intrinsics (tests/emulated, a
CMake project against the installed package, loaded with ctypes), against the NumPy references of
tests/test_int8.py and tests/test_mixed_bf16.py and against the builds that run here.

int8: the int32 sums, the activations' quantization and the dense rows must be the AVX2 build's, bit for
bit (gemm_int8.hpp: 7-bit weights make every build's sums exact). bf16: the kernel must agree with the
exact product of the bf16-rounded operands to float32 accumulation accuracy, as the emulated path does.

What this shows: the kernels' logic (packing, tiles, tails, epilogues, padding, strides) with the
instructions' arithmetic as SIMDe defines it. What it does not: the instructions on real silicon (the
first run on such a CPU, through tests/test_int8.py and tests/test_mixed_bf16.py, checks that) nor any
timing. SIMDe's vdpbf16ps keeps subnormal operands and results, which the instruction flushes to zero:
the bf16 data here stay clear of subnormal numbers, where the two are defined alike.
"""

import ctypes
import importlib.metadata
import platform

import numpy as np
import pytest

import fastmlp as fm
from cmake_projects import ROOT, cmake_project, have_toolchain
from test_int8 import ref_dense, ref_quantize_rows
from test_mixed_bf16 import _gamma, bf16

# the `build` argument of tests/emulated/int8.cpp's functions
LIB_PORTABLE, LIB_AVX2, EMU_AVXVNNI, EMU_AVX512VNNI, HERE_AVX2 = range(5)
EMULATED = {"avxvnni": EMU_AVXVNNI, "avx512vnni": EMU_AVX512VNNI}


def _why_not() -> str:
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return "the emulated builds are x86-64 ones (AVX2 and SIMDe)"
    if fm.build_info()["level"] not in ("v3", "v4"):
        return "needs a CPU with AVX2 (x86-64-v3)"
    if not have_toolchain():
        return "needs cmake and a C++ compiler"
    try:
        importlib.metadata.version("cmeel-simde")
    except importlib.metadata.PackageNotFoundError:
        return "needs SIMDe's headers: pip install cmeel-simde (in the test extra)"
    return ""


@pytest.fixture(scope="module")
def emu(tmp_path_factory):
    why = _why_not()
    if why:
        pytest.skip(why)
    build = tmp_path_factory.mktemp("emulated")
    cmake_project(ROOT / "tests" / "emulated", build)
    lib = ctypes.CDLL(str(next(build.glob("*emulated_kernels*"))))
    P, I, F = ctypes.c_void_p, ctypes.c_int64, ctypes.c_float
    c_int = ctypes.c_int
    sigs = {
        "emu_int8_isa": ([c_int], ctypes.c_char_p),
        "emu_int8_quantize_rows": ([c_int, P, I, I, I, P, I, P, P], c_int),
        "emu_int8_gemm_s32": ([c_int, P, I, I, P, I, I, P, I], c_int),
        "emu_int8_dense_rows": ([c_int, P, I, I, P, P, I, I, P, P, I, c_int], c_int),
        "emu_int8_chain2": ([c_int, P, I, I, P, P, P, I, I, c_int, P, P, P, I, c_int, P, I], c_int),
        "emu_gemm_bf16": ([c_int, c_int, c_int, I, I, I, F, P, I, P, I, F, P, I], None),
        "emu_gemm_bf16_keep": ([I, I, I, P, I, P, P, I, P, F, F, P], c_int),
        "emu_set_num_threads": ([c_int], c_int),
    }
    for name, (args, res) in sigs.items():
        getattr(lib, name).argtypes, getattr(lib, name).restype = args, res
    return lib


def ptr(a, dtype):
    assert a.dtype == dtype and a.flags.c_contiguous
    return a.ctypes.data


# --- int8 -------------------------------------------------------------------------------------------------


def test_the_emulated_builds_are_the_vnni_ones(emu):
    names = [emu.emu_int8_isa(b).decode() for b in range(5)]
    assert names == ["portable", "avx2", "avxvnni", "avx512vnni", "avx2"]
    assert emu.emu_int8_isa(5) is None


def _gemm_s32(emu, build, Q, Wq, pad=3):
    m, ldq = Q.shape
    d, k = Wq.shape
    C = np.full((m, k + pad), -7, dtype=np.int32)  # the columns past k must stay as they are
    W = np.ascontiguousarray(Wq, dtype=np.float32)
    rc = emu.emu_int8_gemm_s32(build, ptr(Q, np.uint8), m, ldq, ptr(W, np.float32), d, k, ptr(C, np.int32), k + pad)
    assert rc == 0
    assert (C[:, k:] == -7).all(), build
    return C[:, :k]


@pytest.mark.parametrize("isa", EMULATED)
@pytest.mark.parametrize("d,k", [(1, 1), (5, 15), (13, 16), (31, 17), (64, 33), (785, 70)])
def test_int32_sums_bit_exact(emu, isa, d, k):
    rng = np.random.default_rng(d * 100 + k)
    d4 = (d + 3) // 4 * 4
    for m in (1, 2, 3, 4, 5, 6, 7, 8, 9, 17, 63, 64, 65, 70):
        # Q's columns past d meet zero weights (the packing pads them): any bytes there, and a longer row stride
        Q = rng.integers(0, 256, size=(m, d4 + 5), dtype=np.uint8)
        Wq = rng.integers(-63, 64, size=(d, k))
        want = Q[:, :d].astype(np.int64) @ Wq
        got = _gemm_s32(emu, EMULATED[isa], Q, Wq)
        np.testing.assert_array_equal(got, want, err_msg=f"{isa} m={m}")
        for other in (LIB_AVX2, LIB_PORTABLE, HERE_AVX2):
            np.testing.assert_array_equal(_gemm_s32(emu, other, Q, Wq), got, err_msg=f"build {other} m={m}")


@pytest.mark.parametrize("isa", EMULATED)
def test_int32_sums_at_the_extremes(emu, isa):
    # every 4-term group at +-4 * 255 * 63, over 65536 inputs: the largest sums int32 holds
    d, k = 1 << 16, 18
    Q = np.full((5, d), 255, dtype=np.uint8)
    Wq = np.where(np.arange(k) % 2 == 0, 63, -63)[None, :].repeat(d, axis=0)
    C = _gemm_s32(emu, EMULATED[isa], Q, Wq)
    assert C[0, 0] == d * 255 * 63 and C[0, 1] == -d * 255 * 63
    np.testing.assert_array_equal(C, Q.astype(np.int64) @ Wq)


def _rows(rng, m, d):
    """Rows of every kind quantize_rows tells apart; the non-finite ones at several places along a row."""
    X = rng.normal(size=(m, d)).astype(np.float32)
    kinds = [
        lambda x: 0.0 * x,  # zeros: s = 1, zp = 0
        np.abs,  # a ReLU output: zp = 0
        lambda x: -np.abs(x) - 1,  # all negative: zp = 255
        lambda x: x * np.float32(1e30),
        lambda x: x * np.float32(1e-30),
        lambda x: x * np.float32(1e-40),  # subnormal: treated as zeros
        lambda x: np.where(np.arange(d) == d - 1, np.float32(np.nan), x),  # in the scalar tail
        lambda x: np.where(np.arange(d) == 0, np.float32(np.inf), x),  # in the first vector
        lambda x: np.where(np.arange(d) == d // 2, np.float32(-np.inf), x),
    ]
    for r, kind in zip(rng.permutation(m)[: len(kinds)], kinds):
        X[r] = kind(X[r])
    return X


def _quantize(emu, build, X, d):
    m = X.shape[0]
    ldq = (d + 3) // 4 * 4 + 4
    Q = np.full((m, ldq), 0xAB, dtype=np.uint8)  # every byte is written: q, then zeros to the row's end
    s = np.full(m, -1.0, dtype=np.float32)
    zp = np.full(m, -1, dtype=np.int32)
    rc = emu.emu_int8_quantize_rows(
        build, ptr(X, np.float32), m, d, X.shape[1], ptr(Q, np.uint8), ldq, ptr(s, np.float32), ptr(zp, np.int32)
    )
    assert rc in (0, 1)
    return Q, s, zp, bool(rc)


@pytest.mark.parametrize("isa", EMULATED)
@pytest.mark.parametrize("d", [1, 3, 8, 13, 16, 31, 32, 33, 64, 785])
def test_rows_quantized_as_the_avx2_build(emu, isa, d):
    rng = np.random.default_rng(d)
    for m in (1, 9, 12):
        X = np.ascontiguousarray(np.pad(_rows(rng, m, d), ((0, 0), (0, 5)), constant_values=np.nan))  # ldx = d + 5
        Q, s, zp, finite = _quantize(emu, EMULATED[isa], X, d)
        for other in (LIB_AVX2, LIB_PORTABLE, HERE_AVX2):
            Qo, so, zpo, fo = _quantize(emu, other, X, d)
            np.testing.assert_array_equal(Q, Qo)
            np.testing.assert_array_equal(s.view(np.uint32), so.view(np.uint32))
            np.testing.assert_array_equal(zp, zpo)
            assert finite == fo
        ok = np.isfinite(X[:, :d]).all(axis=1)
        assert finite == ok.all()
        assert np.isnan(s[~ok]).all() and (zp[~ok] == 0).all() and (Q[~ok] == 0).all()
        Q_ref, s_ref, zp_ref = ref_quantize_rows(X[ok, :d])
        np.testing.assert_array_equal(Q[ok, : Q_ref.shape[1]], Q_ref)
        assert (Q[ok, Q_ref.shape[1] :] == 0).all()
        np.testing.assert_array_equal(s[ok], s_ref)
        np.testing.assert_array_equal(zp[ok], zp_ref)


def _dense(emu, build, X, d, Wq, sw, b, relu, pad=2):
    m, ldx = X.shape
    k = Wq.shape[1]
    Z = np.full((m, k + pad), 3.5, dtype=np.float32)
    W = np.ascontiguousarray(Wq, dtype=np.float32)
    bias = None if b is None else ptr(b, np.float32)
    rc = emu.emu_int8_dense_rows(
        build, ptr(X, np.float32), m, ldx, ptr(W, np.float32), ptr(sw, np.float32), d, k, bias,
        ptr(Z, np.float32), k + pad, int(relu),
    )  # fmt: skip
    assert rc in (0, 1)
    assert (Z[:, k:] == 3.5).all()
    return Z[:, :k], bool(rc)


@pytest.mark.parametrize("isa", EMULATED)
@pytest.mark.parametrize("relu", [False, True])
@pytest.mark.parametrize("d,k,with_bias", [(50, 21, True), (13, 16, False), (785, 70, True), (7, 1, True)])
def test_dense_rows_as_the_avx2_build(emu, isa, relu, d, k, with_bias):
    rng = np.random.default_rng(d + k)
    Wq = rng.integers(-63, 64, size=(d, k)).astype(np.float32)
    sw = (rng.random(k) * 0.02 + 0.001).astype(np.float32)
    b = rng.normal(size=k).astype(np.float32) if with_bias else None
    for m in (1, 2, 3, 4, 5, 12, 63, 64, 65, 70):  # every tile shape, and past one block of 64 rows
        X = _rows(rng, m, d)
        Z, finite = _dense(emu, EMULATED[isa], X, d, Wq, sw, b, relu)
        # the same source with the same compiler: the same bits (the sums are; the epilogue is the AVX2 one)
        Zh, fh = _dense(emu, HERE_AVX2, X, d, Wq, sw, b, relu)
        np.testing.assert_array_equal(Z.view(np.uint32), Zh.view(np.uint32), err_msg=f"m={m}")
        assert finite == fh == np.isfinite(X).all()
        ok = np.isfinite(X).all(axis=1)
        assert np.isnan(Z[~ok]).all()
        want = ref_dense(X[ok], Wq.astype(np.int8), sw, np.zeros(k, np.float32) if b is None else b)
        if relu:
            want = np.maximum(want, 0)
        np.testing.assert_allclose(Z[ok], want, rtol=1e-5, atol=1e-5)
        # the library's AVX2 build (maybe another compiler, which may fuse the epilogue's multiply-add otherwise)
        Zl, fl = _dense(emu, LIB_AVX2, X, d, Wq, sw, b, relu)
        assert fl == finite
        np.testing.assert_allclose(Zl, Z, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("isa", EMULATED)
@pytest.mark.parametrize("d,h,k", [(13, 7, 3), (785, 70, 10)])
def test_chain_of_two_layers_as_layer_by_layer(emu, isa, d, h, k):
    """chain_rows (the path every int8 model takes: blocks of rows through each layer, the hidden
    activations in the scratch) gives the bits of two dense_rows calls, in the emulated builds and here."""
    rng = np.random.default_rng(d + h)
    Wq1 = rng.integers(-63, 64, size=(d, h)).astype(np.float32)
    Wq2 = rng.integers(-63, 64, size=(h, k)).astype(np.float32)
    s1, s2 = ((rng.random(n) * 0.02 + 0.001).astype(np.float32) for n in (h, k))
    b1, b2 = (rng.normal(size=n).astype(np.float32) for n in (h, k))
    for m in (1, 3, 63, 65, 130):  # one row, a partial tile, and past one and two blocks of 64 rows
        X = _rows(rng, m, d)
        A1, f1 = _dense(emu, HERE_AVX2, X, d, Wq1, s1, b1, True)
        want, _ = _dense(emu, HERE_AVX2, np.ascontiguousarray(A1), h, Wq2, s2, b2, False)
        for build in (EMULATED[isa], HERE_AVX2):
            Z = np.full((m, k + 2), 3.5, dtype=np.float32)
            rc = emu.emu_int8_chain2(
                build, ptr(X, np.float32), m, X.shape[1], ptr(Wq1, np.float32), ptr(s1, np.float32),
                ptr(b1, np.float32), d, h, 1, ptr(Wq2, np.float32), ptr(s2, np.float32), ptr(b2, np.float32), k, 0,
                ptr(Z, np.float32), k + 2,
            )  # fmt: skip
            assert rc == int(f1) and (Z[:, k:] == 3.5).all()
            np.testing.assert_array_equal(Z[:, :k].view(np.uint32), want.view(np.uint32), err_msg=f"m={m}")


# --- bf16 -------------------------------------------------------------------------------------------------


def _gemm_bf16(emu, kernel, ta, tb, A, B, C, alpha, beta, m, n, k):
    """Runs one kernel on stored A, B (ld = their row length) and a copy of C (ld likewise)."""
    C = C.copy()
    emu.emu_gemm_bf16(
        kernel, int(ta), int(tb), m, n, k, alpha, ptr(A, np.float32), A.shape[1], ptr(B, np.float32), B.shape[1],
        beta, ptr(C, np.float32), C.shape[1],
    )  # fmt: skip
    return C


def _operands(rng, ta, tb, m, n, k, pad=3, zero_row=None):
    """op(A) (m x k) and op(B) (k x n), stored (transposed where asked) inside rows longer by `pad`."""
    A = rng.standard_normal((m, k)).astype(np.float32)
    if zero_row is not None:
        A[zero_row] = 0.0  # that row of C: beta C alone
    B = (rng.standard_normal((k, n)) * 0.05).astype(np.float32)
    stored = []
    for X, t in ((A, ta), (B, tb)):
        S = X.T if t else X
        buf = np.full((S.shape[0], S.shape[1] + pad), np.nan, dtype=np.float32)  # never read
        buf[:, : S.shape[1]] = S
        stored.append(buf)
    return A, B, stored[0], stored[1]


@pytest.mark.parametrize("ta, tb", [(False, False), (True, False), (False, True), (True, True)])
def test_bf16_kernel_against_the_reference(emu, ta, tb):
    rng = np.random.default_rng(int(ta) * 2 + int(tb))
    scalars = [(1.0, 0.0), (-0.5, 1.5), (2.0, 1.0), (1.0, -1.0)]
    cases = 0
    for m in (1, 7, 8, 9, 70):
        for n in (1, 15, 16, 17, 33, 47):
            for k in (0, 1, 2, 3, 33, 257):
                alpha, beta = scalars[cases % len(scalars)]
                cases += 1
                A, B, As, Bs = _operands(rng, ta, tb, m, n, k, zero_row=m // 2 if m > 1 else None)
                C0 = rng.standard_normal((m, n + 2)).astype(np.float32)
                if beta == 0:
                    C0[:] = np.nan  # beta 0: C is not read
                S = np.abs(bf16(A)) @ np.abs(bf16(B))
                ref = alpha * (bf16(A) @ bf16(B)) + (beta * C0[:, :n] if beta != 0 else 0.0)
                bound = _gamma(k + 2) * (abs(alpha) * S + abs(beta * C0[:, :n] if beta != 0 else 0.0)) + 1e-38
                for kernel in (1, 0):  # the AVX512_BF16 kernel, the library's emulated path
                    C = _gemm_bf16(emu, kernel, ta, tb, As, Bs, C0, alpha, beta, m, n, k)
                    where = f"kernel {kernel} m={m} n={n} k={k} alpha={alpha} beta={beta}"
                    assert np.all(np.abs(C[:, :n] - ref) <= bound), where
                    np.testing.assert_array_equal(C[:, n:].view(np.uint32), C0[:, n:].view(np.uint32), where)


@pytest.mark.parametrize("m, k", [(1, 1), (2, 3), (15, 8), (16, 31), (17, 33), (33, 70), (70, 257)])
def test_bf16_kernel_keeps_x_for_the_weight_gradient(emu, m, k):
    # a training step's Z = X W writes X^T's words (pack_rows_and_columns) and X^T D reads them: the same
    # floats as X^T D packing X^T itself; the kept buffer starts as NaN words, so a word left unwritten
    # (an odd m's last pair, the lanes past k) would show
    rng = np.random.default_rng(m * 1000 + k)
    n, n2, pad = 17, 20, 3
    Xs = np.full((m, k + pad), np.nan, dtype=np.float32)  # row stride k + pad: the padding is never read
    Xs[:, :k] = rng.standard_normal((m, k))
    W = (rng.standard_normal((k, n)) * 0.05).astype(np.float32)
    D = rng.standard_normal((m, n2)).astype(np.float32)
    C0 = rng.standard_normal((k, n2)).astype(np.float32)
    Z, C = np.empty((m, n), np.float32), C0.copy()
    finite = emu.emu_gemm_bf16_keep(
        m, n, k, ptr(Xs, np.float32), Xs.shape[1], ptr(W, np.float32), ptr(Z, np.float32), n2, ptr(D, np.float32),
        -0.5, 1.0, ptr(C, np.float32),
    )  # fmt: skip
    assert finite == 1  # the padding past k (NaN) is never read
    Z_apart = _gemm_bf16(emu, 1, False, False, Xs, W, np.zeros((m, n), np.float32), 1.0, 0.0, m, n, k)
    C_apart = _gemm_bf16(emu, 1, True, False, Xs, D, C0, -0.5, 1.0, k, n2, m)
    np.testing.assert_array_equal(Z, Z_apart)
    np.testing.assert_array_equal(C, C_apart)
    X = Xs[:, :k]
    ref = -0.5 * (bf16(X).T @ bf16(D)) + C0
    assert np.all(np.abs(C - ref) <= _gamma(m + 2) * (0.5 * (np.abs(bf16(X)).T @ np.abs(bf16(D))) + np.abs(C0)))


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf], ids=["nan", "inf", "-inf"])
def test_bf16_kernel_keeping_x_finds_a_non_finite_x(emu, value):
    # the conversion that keeps X notes a NaN or an infinity anywhere in it (the first epoch's check of a
    # fit, Network::checks_in_training); subnormals and the largest floats are finite
    rng = np.random.default_rng(3)
    m, k, n = 37, 70, 5
    X = rng.standard_normal((m, k)).astype(np.float32)
    X[0, 0], X[1, 1], X[2, 2] = np.array([0x007FFFFF], np.uint32).view(np.float32)[0], 3.4e38, -3.4e38
    W, D = rng.standard_normal((k, n)).astype(np.float32), rng.standard_normal((m, n)).astype(np.float32)

    def finite(X):
        Z, C = np.empty((m, n), np.float32), np.zeros((k, n), np.float32)
        return emu.emu_gemm_bf16_keep(
            m, n, k, ptr(X, np.float32), k, ptr(W, np.float32), ptr(Z, np.float32), n, ptr(D, np.float32), 1.0, 0.0,
            ptr(C, np.float32),
        )  # fmt: skip

    assert finite(X) == 1
    for r, c in ((0, 0), (17, 33), (m - 1, k - 1)):
        bad = X.copy()
        bad[r, c] = value
        assert finite(bad) == 0, (r, c)


def test_bf16_kernel_rounds_its_operands(emu):
    # float32 operands miss the bf16 product by far more than the bound: the kernel did round them
    rng = np.random.default_rng(5)
    m, n, k = 9, 40, 301
    A, B, As, Bs = _operands(rng, False, False, m, n, k)
    C = _gemm_bf16(emu, 1, False, False, As, Bs, np.zeros((m, n), np.float32), 1.0, 0.0, m, n, k)
    ref = bf16(A) @ bf16(B)
    bound = _gamma(k) * (np.abs(bf16(A)) @ np.abs(bf16(B)))
    assert np.all(np.abs(C - ref) <= bound)
    plain = A.astype(np.float64) @ B.astype(np.float64)
    assert np.max(np.abs(C - plain) / bound) > 4


@pytest.mark.parametrize("k", [31, 32])  # odd K: the last pair padded with zeros
def test_bf16_kernel_keeps_special_values_as_the_emulated_path(emu, k):
    rng = np.random.default_rng(k)
    m, n = 11, 37
    A, B, As, Bs = _operands(rng, False, False, m, n, k)
    As[0, k - 1] = np.inf  # the last element of A's row: paired with padding when K is odd
    As[1, 0] = -np.inf
    As[2, 5] = np.nan
    As[3, 3] = As[3, 4] = np.inf  # +inf twice: inf or NaN by the signs of B's rows 3 and 4
    Bs[7, 20] = np.inf  # a column of C: +-inf from each row's sign, inf - inf = NaN
    args = (As, Bs, np.zeros((m, n), np.float32), 1.0, 0.0, m, n, k)
    C = _gemm_bf16(emu, 1, False, False, *args)
    E = _gemm_bf16(emu, 0, False, False, *args)
    np.testing.assert_array_equal(np.isnan(C), np.isnan(E))
    np.testing.assert_array_equal(np.isinf(C), np.isinf(E))
    np.testing.assert_array_equal(C[np.isinf(C)], E[np.isinf(E)])
    assert np.isnan(C[2]).all() and not np.isfinite(C[:2]).any()
    finite = np.isfinite(E)
    assert finite.sum() > m * n // 2
    bound = _gamma(k) * (np.abs(bf16(As[:, :k])) @ np.abs(bf16(Bs[:, :n])))
    assert np.all(np.abs(C[finite] - E[finite]) <= 2 * bound[finite])


@pytest.mark.parametrize("ta, tb", [(False, False), (True, False), (False, True), (True, True)])
def test_bf16_kernel_same_bits_on_any_thread_count(emu, ta, tb):
    # The kernel packs both operands and computes C across the pool (C's row panels where M > N, else its
    # column blocks), each element of C summed by one thread in one order: 1, 2 and 3 threads give the same
    # bits. Products past the pool's threshold (kParallelMinFlops, 4e6 flops), with tails: M % 8, N % 16, odd K.
    rng = np.random.default_rng(40 + 2 * int(ta) + int(tb))
    before = emu.emu_set_num_threads(0)
    try:
        for m, n, k in ((203, 45, 301), (37, 170, 401)):
            assert 2 * m * n * k > 4e6
            A, B, As, Bs = _operands(rng, ta, tb, m, n, k)
            C0 = rng.standard_normal((m, n + 2)).astype(np.float32)
            ref = 0.5 * (bf16(A) @ bf16(B)) + 1.5 * C0[:, :n]
            bound = _gamma(k + 2) * (0.5 * (np.abs(bf16(A)) @ np.abs(bf16(B))) + 1.5 * np.abs(C0[:, :n]))
            results = []
            for threads in (1, 2, 3):
                emu.emu_set_num_threads(threads)
                C = _gemm_bf16(emu, 1, ta, tb, As, Bs, C0, 0.5, 1.5, m, n, k)
                where = f"m={m} n={n} k={k} threads={threads}"
                assert np.all(np.abs(C[:, :n] - ref) <= bound), where
                np.testing.assert_array_equal(C[:, n:].view(np.uint32), C0[:, n:].view(np.uint32), where)
                results.append(C)
            for threads, C in zip((2, 3), results[1:]):
                np.testing.assert_array_equal(C.view(np.uint32), results[0].view(np.uint32), f"threads={threads}")
    finally:
        emu.emu_set_num_threads(before)
