"""CPU/GPU parity of the layer kinds beyond Dense on the CUDA engine, which runs the host's
layer loop (LayerStack) over its own operations (cpp/cuda/backend.cu's CudaOps): standalone
Activation layers (a hidden softmax: its Jacobian-vector product; gelu: its g' reads z), a
normalization before the activation, and Residual blocks with normalization and dropout inside.
Skipped where no CUDA device is present."""

import numpy as np
import pytest

import fastmlp as fm

pytestmark = [pytest.mark.gpu, pytest.mark.skipif(not fm.cuda_available(), reason="no CUDA device")]

TOL = {"float32": 1e-5, "float64": 1e-12}
DTYPES = ["float32", "float64"]

MODELS = {
    "batchnorm_then_relu": lambda: [
        fm.Dense(5, 8),
        fm.BatchNormalization(),
        fm.Activation("relu"),
        fm.Dense(8, 3, "softmax"),
    ],
    "hidden_softmax_and_gelu": lambda: [
        fm.Dense(5, 6),
        fm.Activation("softmax"),
        fm.Dense(6, 6),
        fm.Activation("gelu"),
        fm.Dense(6, 3),
        fm.Activation("softmax"),
    ],
    "residual": lambda: [
        fm.Dense(5, 8, "relu"),
        fm.Residual([fm.LayerNormalization(), fm.Dense(8, 8, "silu"), fm.Dropout(0.2), fm.Dense(8, 8)]),
        fm.Residual([fm.BatchNormalization(), fm.Dense(8, 8, "tanh")]),
        fm.Dense(8, 3, "softmax"),
    ],
}


def close(gpu, cpu, tol, what=""):
    gpu, cpu = np.asarray(gpu, dtype=np.float64), np.asarray(cpu, dtype=np.float64)
    assert gpu.shape == cpu.shape, what
    scale = max(1.0, float(np.max(np.abs(cpu))))
    err = float(np.max(np.abs(gpu - cpu)))
    assert err <= tol * scale, f"{what}: max |gpu - cpu| = {err:.3g} > {tol:g} x {scale:.3g}"


def data(m, dtype, seed=0):
    return np.random.default_rng(seed).normal(size=(m, 5)).astype(dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_forward_loss_gradients(name, dtype):
    cpu = fm.Sequential(MODELS[name](), dtype=dtype, seed=1, l2=0.01)
    gpu = cpu.copy().to("cuda")
    X, y = data(37, dtype), np.arange(37) % 3
    tol = TOL[dtype]
    close(gpu.forward(X), cpu.forward(X), tol, "forward")
    close(gpu.loss(X, y), cpu.loss(X, y), tol, "loss")
    for i, ((gw, gb), (cw, cb)) in enumerate(zip(gpu.gradients(X, y), cpu.gradients(X, y))):
        close(gw, cw, tol, f"dW[{i}]")
        close(gb, cb, tol, f"db[{i}]")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name", sorted(MODELS))
def test_minibatch_fit_parity(name, dtype):
    """Same seed: the same batches and dropout masks; every parameter (gamma, beta included) and
    the running statistics agree after training."""
    make = lambda device: fm.Sequential(
        MODELS[name](), dtype=dtype, seed=2, optimizer=fm.SGD(0.05, momentum=0.9), device=device
    )
    cpu, gpu = make("cpu"), make("cuda")
    X, y = data(203, dtype, seed=3), np.arange(203) % 3
    hc, hg = cpu.fit(X, y, epochs=3, batch_size=32), gpu.fit(X, y, epochs=3, batch_size=32)
    tol = 1e-4 if dtype == "float32" else 1e-10
    close(hg.loss, hc.loss, tol, "loss")
    close(gpu.params, cpu.params, tol, "params")
    close(gpu.forward(X), cpu.forward(X), tol, "forward after training (running statistics)")
