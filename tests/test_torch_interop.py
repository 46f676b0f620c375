"""A saved fastmlp file loads into an equivalent torch.nn.Sequential that reproduces model.forward.

The conversion below reads only the file (safetensors tensors + the "layers" metadata), the
way a PyTorch user would, so it also documents the format: weights are stored (n_in, n_out),
nn.Linear wants (n_out, n_in).
"""

import json

import numpy as np
import pytest

import fastmlp as fm

torch = pytest.importorskip("torch")
safetensors_torch = pytest.importorskip("safetensors.torch")
from safetensors import safe_open  # noqa: E402


class Step(torch.nn.Module):
    def forward(self, z):
        return (z >= 0).to(z.dtype)


def torch_activation(name, alpha):
    nn = torch.nn
    return {
        "linear": lambda: nn.Identity(),
        "sigmoid": lambda: nn.Sigmoid(),
        "tanh": lambda: nn.Tanh(),
        "relu": lambda: nn.ReLU(),
        "leaky_relu": lambda: nn.LeakyReLU(alpha),
        "elu": lambda: nn.ELU(alpha),
        "softplus": lambda: nn.Softplus(),  # torch switches to z above 20: |difference| < e^-20
        "softmax": lambda: nn.Softmax(dim=-1),
        "step": lambda: Step(),
    }[name]()


def torch_from_file(path):
    """torch.nn.Sequential equivalent to the fastmlp model in `path` (in eval mode)."""
    tensors = safetensors_torch.load_file(str(path))
    with safe_open(str(path), "pt") as f:
        meta = f.metadata()
    modules = []
    for i, entry in enumerate(json.loads(meta["layers"])):
        if entry["type"] == "Dropout":
            modules.append(torch.nn.Dropout(entry["rate"]))
            continue
        W, b = tensors[f"layers.{i}.weight"], tensors[f"layers.{i}.bias"]
        linear = torch.nn.Linear(entry["n_in"], entry["n_out"], dtype=W.dtype)
        with torch.no_grad():
            linear.weight.copy_(W.T)  # (n_in, n_out) -> (n_out, n_in)
            linear.bias.copy_(b)
        modules += [linear, torch_activation(entry["activation"], entry.get("alpha"))]
    return torch.nn.Sequential(*modules).eval()


ARCHS = [
    ["relu", "softmax"],
    ["tanh", "sigmoid", "sigmoid"],
    ["leaky_relu", "elu", "softplus", "linear"],
    ["step", "linear"],
]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("acts", ARCHS, ids="-".join)
def test_torch_reproduces_forward(tmp_path, acts, dtype):
    if not all(g in fm.ACTIVATIONS for g in acts):
        pytest.skip("activation not available")
    sizes = [6] + [9] * (len(acts) - 1) + [4]
    layers = []
    for i, (a, b, g) in enumerate(zip(sizes[:-1], sizes[1:], acts)):
        kw = {"alpha": 0.25} if g in ("leaky_relu", "elu") else {}
        layers.append(fm.Dense(a, b, g, **kw))
        if i < len(acts) - 1 and hasattr(fm, "Dropout"):
            layers.append(fm.Dropout(0.2))
    model = fm.Sequential(layers, dtype=dtype, seed=0)
    model.params[...] = np.random.default_rng(1).normal(scale=0.7, size=model.params.shape)
    path = tmp_path / "model.safetensors"
    model.save(path)

    net = torch_from_file(path)
    X = np.random.default_rng(2).normal(size=(31, 6)).astype(dtype)
    with torch.no_grad():
        got = net(torch.from_numpy(X)).numpy()
    assert got.dtype == np.dtype(dtype)
    tol = {"rtol": 1e-5, "atol": 1e-6} if dtype == "float32" else {"rtol": 1e-10, "atol": 1e-12}
    np.testing.assert_allclose(got, model.forward(X), **tol)


def test_trained_model_in_torch(tmp_path):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    y = (X[:, 0] * X[:, 1] > 0).astype(int)
    model = fm.Sequential([fm.Dense(6, 16, "tanh"), fm.Dense(16, 2, "softmax")], seed=3)
    model.fit(X, y, epochs=40, batch_size=32, learning_rate=0.2)
    model.save(tmp_path / "clf.safetensors")
    net = torch_from_file(tmp_path / "clf.safetensors")
    with torch.no_grad():
        probs = net(torch.from_numpy(X)).numpy()
    np.testing.assert_allclose(probs, model.predict_proba(X), rtol=1e-5, atol=1e-6)
    assert (probs.argmax(1) == model.predict(X)).all()
