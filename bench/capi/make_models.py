"""The networks of bench_capi (issue 29): each saved as a fastmlp model file and exported to ONNX.

    python bench/capi/make_models.py OUT_DIR

8-32-32-2 tanh (a control loop), 64-64-64-8 relu (an audio effect), 784-256-128-10 relu + softmax
(bench_mlp.py's net); float32, weights from their seeded initialisation (latency does not depend on
their values). The bench net also quantized (model.quantize("int8")): its fastmlp file, fastmlp's ONNX
export of it (MatMulInteger, the same integer arithmetic as fastmlp's kernel) and onnxruntime's own
dynamic quantization of the float32 export (quantize_dynamic, QInt8 weights: its fused int8 MatMul).
Prints, per bench row: NAME MODEL.safetensors MODEL.onnx (the arguments of bench_capi)."""

import sys
from pathlib import Path

import fastmlp as fm
import fastmlp.onnx

NETS = {
    "8-32-32-2_tanh": [fm.Dense(8, 32, "tanh"), fm.Dense(32, 32, "tanh"), fm.Dense(32, 2)],
    "64-64-64-8_relu": [fm.Dense(64, 64, "relu"), fm.Dense(64, 64, "relu"), fm.Dense(64, 8)],
    "784-256-128-10_relu": [fm.Dense(784, 256, "relu"), fm.Dense(256, 128, "relu"), fm.Dense(128, 10, "softmax")],
}
BENCH = "784-256-128-10_relu"


def main(out: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    out.mkdir(parents=True, exist_ok=True)
    for name, layers in NETS.items():
        loss = "categorical_crossentropy" if name == BENCH else "mse"
        model = fm.Sequential(layers, loss=loss, dtype="float32", seed=0)
        model.save(out / f"{name}.safetensors")
        fastmlp.onnx.export(model, out / f"{name}.onnx")
        print(name, out / f"{name}.safetensors", out / f"{name}.onnx")
    model = fm.load(out / f"{BENCH}.safetensors")
    model.quantize("int8")
    q8 = out / f"{BENCH}_int8.safetensors"
    model.save(q8)
    fastmlp.onnx.export(model, out / f"{BENCH}_int8.onnx")
    quantize_dynamic(out / f"{BENCH}.onnx", out / f"{BENCH}_ort_dynamic.onnx", weight_type=QuantType.QInt8)
    print(f"{BENCH}_int8/ort_int8_export", q8, out / f"{BENCH}_int8.onnx")
    print(f"{BENCH}_int8/ort_quantize_dynamic", q8, out / f"{BENCH}_ort_dynamic.onnx")
    print(f"{BENCH}_int8/ort_float32", q8, out / f"{BENCH}.onnx")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "bench/capi/models"))
