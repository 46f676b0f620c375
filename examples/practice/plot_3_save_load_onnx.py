"""
Saving and loading: Python, onnxruntime and C++
===============================================

``model.save(path)`` writes a standard `safetensors
<https://github.com/huggingface/safetensors>`_ file: the weights as named
tensors and the architecture in its metadata. Saving is atomic (a failed
save leaves the old file intact) and loading never executes code. The same
file loads in C++, and ``fastmlp.onnx.export`` writes an ONNX graph that
onnxruntime runs.
"""

import json
import pickle
import struct
import tempfile
from pathlib import Path

import numpy as np
from sklearn.datasets import load_iris

import fastmlp as fm

X, y = load_iris(return_X_y=True)
X = (X - X.mean(axis=0)) / X.std(axis=0)
model = fm.Sequential([fm.Dense(4, 16, "relu"), fm.Dense(16, 3, "softmax")], seed=0)
model.fit(X, y, epochs=100, optimizer=fm.SGD(learning_rate=0.1, momentum=0.9), batch_size=16)
print(f"accuracy {model.accuracy(X, y):.3f}")

folder = Path(tempfile.mkdtemp())
path = folder / "iris.safetensors"
model.save(path)
loaded = fm.load(path)
print(loaded)
print("weights bit for bit:", np.array_equal(loaded.params, model.params))
print("same outputs:       ", np.array_equal(loaded.forward(X), model.forward(X)))

# %%
# Pickling goes through the same bytes:
clone = pickle.loads(pickle.dumps(model))
print("pickle round trip:  ", np.array_equal(clone.params, model.params))

# %%
# Inside the file
# ---------------
# 8 bytes of header length, a JSON header, then the raw little-endian
# tensors. Any safetensors reader sees the weights.
raw = path.read_bytes()
(n,) = struct.unpack("<Q", raw[:8])
header = json.loads(raw[8 : 8 + n])
meta = header.pop("__metadata__")
for name, info in header.items():
    print(f"{name:16s} {info['dtype']} {info['shape']}")
print("metadata:", {k: meta[k] for k in ("fastmlp_format", "dtype", "loss", "l2")})
print("layers:  ", json.loads(meta["layers"]))

# %%
# In onnxruntime
# --------------
# One ``Gemm`` and one activation node per layer, with a dynamic batch size.
try:
    import onnxruntime as ort
except ImportError:
    print("onnxruntime is not installed: pip install 'fastmlp[onnx]'")
else:
    import fastmlp.onnx

    fastmlp.onnx.export(model, folder / "iris.onnx", opset=17)
    session = ort.InferenceSession(str(folder / "iris.onnx"), providers=["CPUExecutionProvider"])
    probs = session.run(None, {"input": X.astype(np.float32)})[0]
    print("onnxruntime vs fastmlp, max difference:", float(np.abs(probs - model.forward(X)).max()))

# %%
# In C++
# ------
# The same file loads in a C++ program that links the library (see
# :doc:`/building` for the CMake lines; ``examples/cpp/main.cpp`` is a
# complete program):
#
# .. code-block:: cpp
#
#    #include <fastmlp/fastmlp.hpp>
#    #include <iostream>
#
#    int main() {
#      auto net = fastmlp::load_network<float>("iris.safetensors");
#      fastmlp::Matrix<float> X(1, 4);
#      X << 0.1f, -0.2f, 0.3f, 0.4f;
#      std::cout << net.forward(X) << "\n";       // 1 x 3 probabilities
#      fastmlp::save_network(net, "copy.safetensors");
#    }
