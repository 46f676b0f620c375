"""ONNX nodes of a quantized (int8) Dense layer (``model.quantize("int8")``; fastmlp.quantize): the
same arithmetic as the C++ kernel, in standard operators that onnxruntime runs:

    lo = min(0, ReduceMin(x)), hi = max(0, ReduceMax(x))   per row
    s  = (hi - lo) / 255   (1 for a row of zeros),  inv = 1 / s
    zp = Clip(Round(-lo * inv), 0, 255),  q = Cast<uint8>(Clip(Round(x * inv) + zp, 0, 255))
    C  = MatMulInteger(q, Wq) - zp * colsum(Wq)            int32, exact
    z  = Cast<float>(C) * (s * s_j) + b,  then the activation's nodes

Round is round-half-to-even, as the kernel's; so the integer product is the kernel's, and z agrees
to float rounding. onnxruntime's MatMulInteger multiplies u8 by s8 with vpmaddubsw on AVX2 CPUs
without VNNI, whose int16 pair sums saturate above 32767: the weights' 7 bits (|Wq| <= 63, as
fastmlp's kernel needs for the same reason: fastmlp/gemm_int8.hpp) keep every pair below that.
"""

from __future__ import annotations

import numpy as np

_TINY = np.float32(np.finfo(np.float32).tiny)  # the kernel's test for a row of zeros


def int8_dense_nodes(ctx, layer, x: str, prefix: str, out: str | None = None) -> tuple:
    """(nodes, initializers, output name) of a quantized Dense layer on ``x``."""
    import onnx

    h, nh, P = ctx.helper, ctx.numpy_helper, prefix
    Wq = np.asarray(layer.weights).astype(np.int8)
    sw = np.asarray(layer.weight_scale, dtype=np.float32)
    inits = [
        nh.from_array(Wq, f"{P}.weight"),
        nh.from_array(sw.reshape(1, -1), f"{P}.weight_scale"),
        nh.from_array(np.asarray(layer.bias, dtype=np.float32), f"{P}.bias"),
        nh.from_array(Wq.astype(np.int32).sum(axis=0, keepdims=True, dtype=np.int32), f"{P}.col_sums"),
        # q_*: not the activation's "zero" / "one" (ctx.activation names its constants f"{P}.<name>" too)
        nh.from_array(np.array(0, dtype=np.float32), f"{P}.q_zero"),
        nh.from_array(np.array(1, dtype=np.float32), f"{P}.q_one"),
        nh.from_array(np.array(255, dtype=np.float32), f"{P}.q_max"),
        nh.from_array(_TINY.reshape(()), f"{P}.tiny"),
    ]
    nodes = []

    def node(op, inputs, name, **attrs):
        nodes.append(h.make_node(op, inputs, [f"{P}.{name}"], name=f"{P}.{name}", **attrs))
        return f"{P}.{name}"

    def reduce(op, name):
        if ctx.opset >= 18:  # axes became an input
            if not any(t.name == f"{P}.axes" for t in inits):
                inits.append(nh.from_array(np.array([1], dtype=np.int64), f"{P}.axes"))
            return node(op, [x, f"{P}.axes"], name, keepdims=1)
        return node(op, [x], name, axes=[1], keepdims=1)

    lo = node("Min", [reduce("ReduceMin", "row_min"), f"{P}.q_zero"], "lo")
    hi = node("Max", [reduce("ReduceMax", "row_max"), f"{P}.q_zero"], "hi")
    s = node("Div", [node("Sub", [hi, lo], "range"), f"{P}.q_max"], "s_raw")
    s = node("Where", [node("Less", [s, f"{P}.tiny"], "zero_row"), f"{P}.q_one", s], "s")
    inv = node("Div", [f"{P}.q_one", s], "inv")
    zp_raw = node("Round", [node("Mul", [node("Neg", [lo], "neg_lo"), inv], "zp_raw")], "zp_round")
    zp = node("Clip", [zp_raw, f"{P}.q_zero", f"{P}.q_max"], "zp")
    q = node("Add", [node("Round", [node("Mul", [x, inv], "x_inv")], "x_round"), zp], "q_raw")
    q = node("Clip", [q, f"{P}.q_zero", f"{P}.q_max"], "q_clip")
    q = node("Cast", [q], "q", to=onnx.TensorProto.UINT8)
    C = node("MatMulInteger", [q, f"{P}.weight"], "C")
    zp32 = node("Cast", [zp], "zp_int", to=onnx.TensorProto.INT32)
    C = node("Sub", [C, node("Mul", [zp32, f"{P}.col_sums"], "zp_colsum")], "C_centered")
    Cf = node("Cast", [C], "C_float", to=onnx.TensorProto.FLOAT)
    scale = node("Mul", [s, f"{P}.weight_scale"], "scale")
    z = node("Add", [node("Mul", [Cf, scale], "z_nobias"), f"{P}.bias"], "z")
    act_nodes, act_inits, a = ctx.activation(layer.activation, z, P, out, float(layer.alpha or 0.0))
    return nodes + act_nodes, inits + act_inits, a
