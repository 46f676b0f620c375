"""``model.quantize("int8")`` (Keras 3's name): int8 inference for a trained float32 model.

What changes (in place, as in Keras 3: the model object is the quantized model afterwards; keep
``model.copy()`` first for the float32 one):

- every Dense layer (Residual blocks' too) gets int8 weights, one scale per output column:
  ``s_j = max_i |W_ij| / 63``, ``Wq = rint(W / s_j)`` in [-63, 63] (symmetric, per output channel,
  7 bits: AVX2's u8 x s8 multiply then never saturates; fastmlp/gemm_int8.hpp);
- at each prediction, each row of a Dense layer's input is quantized on its own (dynamic
  quantization, like onnxruntime's ``quantize_dynamic``): ``s_r = (hi - lo) / 255`` over
  ``[lo, hi] = [min(0, min x), max(0, max x)]``, a zero point ``zp_r = rint(-lo / s_r)`` and
  ``q = clamp(rint(x / s_r) + zp_r, 0, 255)`` (u8). Dynamic, not calibrated: an MLP's hidden
  activations change range from row to row, and a per-row range needs no calibration set;
- the product is exact in int32 (``C = (q - zp) Wq``), then ``z = C s_r s_j + b``;
- every other layer (normalizations, Activation, Dropout, Residual's sum, Embedding, the input
  Normalization) runs in float32 around them, as before.

A quantized model predicts (``forward``, ``predict``, ``predict_proba``, ``evaluate``, ``loss``,
``accuracy``, one sample or a batch), saves and loads (Wq as I8 tensors, the scales as
"weight_scale"), loads in the C++ API and exports to ONNX (fastmlp._onnx_int8). It cannot be
trained (``fit``, ``partial_fit``, ``gradients``: RuntimeError), nor run on CUDA
(NotImplementedError), nor be quantized again (ValueError); its weights, and ``model.params``,
are read-only (the kernels pack Wq at the first prediction and would not see a write).
"""

from __future__ import annotations

import numpy as np

from . import _building, _core, _layer, _stack

#: The modes ``quantize`` takes.
MODES = ("int8",)
#: The most inputs an int8 Dense layer takes (kInt8MaxInputs, fastmlp/gemm_int8.hpp: int32 never overflows).
MAX_INPUTS = _core.INT8_MAX_INPUTS


def quantized_layers(model) -> list:
    """The quantized Dense layers of a model (depth first)."""
    from .layers import Dense

    return [layer for _, layer in _layer.walk(model.layers) if isinstance(layer, Dense) and layer.quantization_mode]


def is_quantized(model) -> bool:
    return bool(model.layers) and bool(quantized_layers(model))


def require_trainable(model, what: str) -> None:
    """RuntimeError when ``model`` is quantized: ``what`` ("fit", ...) needs a float model."""
    if is_quantized(model):
        raise RuntimeError(
            f"{what}: this model is quantized (int8) and predicts only; train the float32 model "
            "(quantize a copy: model.copy().quantize('int8'))"
        )


def params_view(model, params: np.ndarray) -> np.ndarray:
    """``model.params``: read-only for a quantized model. Its int8 Dense layers pack Wq for the
    kernel at the first prediction (cpp/src/layers/dense_int8.cpp); a later write to the buffer
    would be silently ignored, so numpy refuses it ("assignment destination is read-only")."""
    if is_quantized(model):
        params.flags.writeable = False
    return params


def require_float_device(model, device: str) -> None:
    if device == "cuda" and is_quantized(model):
        raise NotImplementedError("a quantized (int8) model runs on the CPU only; device='cuda' is not supported")


def quantize(model, mode) -> None:
    """Quantize ``model``'s Dense layers in place (see the module's docstring). Every check
    comes first: on an error the model is unchanged."""
    from .layers import Dense

    if not isinstance(mode, str):
        raise TypeError(f"mode must be a string such as 'int8', got {type(mode).__name__}")
    if mode not in MODES:
        raise ValueError(f"unsupported quantization mode {mode!r}: fastmlp quantizes to {', '.join(map(repr, MODES))}")
    model._require_built()
    _building.require_idle(model, "quantize")
    if is_quantized(model):
        raise ValueError("this model is already quantized (int8); quantize a float32 model (a copy made before)")
    if model.dtype != np.float32:
        raise ValueError(f"quantize needs a float32 model, this one is {model.dtype.name}: model.copy(dtype='float32')")
    if model.device == "cuda":
        raise NotImplementedError("quantize: a quantized (int8) model runs on the CPU only; model.to('cpu') first")
    dense = [layer for _, layer in _layer.walk(model.layers) if isinstance(layer, Dense)]
    for where, layer in _layer.walk(model.layers):
        if isinstance(layer, Dense) and layer.n_in > MAX_INPUTS:
            raise ValueError(f"{where}: an int8 Dense layer takes at most {MAX_INPUTS} inputs, got {layer.n_in}")
    # Each layer's own arrays (a Residual's are its layers'), the Dense layers' quantized: [Wq, b, s].
    leaves = [layer for _, layer in _layer.walk(model.layers) if not layer.sublayers]
    arrays = []
    for layer in leaves:
        own = [view.copy() for view, _ in layer.weight_views()]
        if isinstance(layer, Dense):
            Wq, s = _core.quantize_weights_int8(np.ascontiguousarray(own[0], dtype=np.float32))
            own = [Wq.astype(np.float32), own[1], s]
        arrays.append(own)
    before = (model._net, model._engine, model._device)
    for layer in dense:
        layer._quantize = mode
    try:
        net = _stack.network(model)  # the int8 Dense layers' configs; the layers bound to it
        for layer, own in zip(leaves, arrays):
            for (view, _), w in zip(layer.weight_views(), own):
                view[...] = w
        model._net, model._engine, model._device = net, None, None
        model.to("cpu")
    except BaseException:
        for layer in dense:
            layer._quantize = None
        model._net, model._engine, model._device = before
        _layer.bind(model.layers, model._net, "layers.")
        raise
