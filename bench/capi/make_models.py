"""The networks of bench_capi (issue 29): each saved as a fastmlp model file and exported to ONNX.

    python bench/capi/make_models.py OUT_DIR

8-32-32-2 tanh (a control loop), 64-64-64-8 relu (an audio effect), 784-256-128-10 relu + softmax
(bench_mlp.py's net); float32, weights from their seeded initialisation (latency does not depend on
their values)."""

import sys
from pathlib import Path

import fastmlp as fm
import fastmlp.onnx

NETS = {
    "8-32-32-2_tanh": [fm.Dense(8, 32, "tanh"), fm.Dense(32, 32, "tanh"), fm.Dense(32, 2)],
    "64-64-64-8_relu": [fm.Dense(64, 64, "relu"), fm.Dense(64, 64, "relu"), fm.Dense(64, 8)],
    "784-256-128-10_relu": [fm.Dense(784, 256, "relu"), fm.Dense(256, 128, "relu"), fm.Dense(128, 10, "softmax")],
}


def main(out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name, layers in NETS.items():
        loss = "categorical_crossentropy" if name.startswith("784") else "mse"
        model = fm.Sequential(layers, loss=loss, dtype="float32", seed=0)
        model.save(out / f"{name}.safetensors")
        fastmlp.onnx.export(model, out / f"{name}.onnx")
        print(name, out / f"{name}.safetensors", out / f"{name}.onnx")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "bench/capi/models"))
