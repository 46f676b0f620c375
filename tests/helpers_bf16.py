"""Helpers shared by the mixed_bfloat16 tests (tests/test_mixed_bf16*.py): the network and data they
train, and U32 for bit patterns."""

import numpy as np

import fastmlp as fm

U32 = np.uint32


def _net(dtype, seed=3):
    return fm.Sequential(
        [
            fm.Dense(64, activation="relu", input_dim=40),
            fm.Dense(32, activation="relu"),
            fm.Dense(5, activation="softmax"),
        ],
        dtype=dtype,
        seed=seed,
    )


def _data(m=96, d=40, k=5, seed=4):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((m, d)).astype(np.float32)
    y = rng.integers(0, k, m)
    return X, y, np.eye(k)[y]
