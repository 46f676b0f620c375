"""
Training on the GPU
===================

A build with ``CMAKE_ARGS="-DFASTMLP_CUDA=ON" pip install .`` adds a CUDA
engine. ``device="cuda"`` (or ``model.to("cuda")``) runs ``fit``, ``forward``,
``loss`` and ``gradients`` there, in the same training loop as on the CPU:
same shuffling, schedules, validation and early stopping, results equal to
rounding. The weights stay readable NumPy arrays on the host.

This page runs the comparison only where ``fm.cuda_available()`` is true; the
documentation is usually built on a machine without a GPU.
"""

import time

import numpy as np

import fastmlp as fm


def train(device):
    rng = np.random.default_rng(0)
    X = rng.random((20_000, 784), dtype=np.float32)
    y = rng.integers(0, 10, size=20_000)
    model = fm.Sequential(
        [fm.Dense(784, 256, "relu"), fm.Dense(256, 128, "relu"), fm.Dense(128, 10, "softmax")], seed=0, device=device
    )
    start = time.perf_counter()
    model.fit(X, y, epochs=3, optimizer=fm.SGD(learning_rate=0.01), batch_size=256)
    return model, time.perf_counter() - start


if fm.cuda_available():
    gpu, t_gpu = train("cuda")
    cpu, t_cpu = train("cpu")
    print(f"GPU {t_gpu:.2f} s, CPU {t_cpu:.2f} s")
    print("largest weight difference:", float(np.abs(gpu.params - cpu.params).max()))  # float32 rounding
else:
    print("No GPU here (fm.cuda_available() is False): the CUDA comparison was skipped.")
    print("build_info:", {k: fm.build_info()[k] for k in ("cuda", "level")})
