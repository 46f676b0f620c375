"""``export-onnx MODEL OUT.onnx``: a saved model as an ONNX file (fastmlp.onnx.export).

The file gives what ``fastmlp predict`` gives: the graph takes the features as they are and
standardizes them first where ``train`` standardized, and a standardized regression target is
scaled back to its units at the end (the model's Normalization layers; for a model from an earlier
version, the scaler of its labels file, added around the graph here). The output is the model's
``forward``: class probabilities for a classifier (one column, p(class 1), for a sigmoid output),
values for regression; a classifier's second output ``label`` is the predicted class
(fastmlp.onnx), its labels those of the model file (or of an old labels file).
"""

from __future__ import annotations

from .common import EXIT_OK, CLIError, check_writable
from .frame import model_columns
from .labels import classes_of, load_model, scalers_of, task_of


def _onnx_modules():
    try:
        import onnx
        from onnx import helper, numpy_helper
    except ImportError:
        raise CLIError("export-onnx needs the 'onnx' package: pip install 'fastmlp[onnx]'") from None
    return onnx, helper, numpy_helper


def _with_scaling(proto, model, x_scaler, y_scaler, onnx, helper, numpy_helper):
    """The graph of ``to_onnx(model, input_name="input.standardized", output_name=...)`` with
    (x - mean) / scale in front and, for a scaled target, a * scale + mean behind, in the model's dtype."""
    import numpy as np

    graph = proto.graph
    dtype = np.dtype(model.dtype)

    def const(name, values):
        graph.initializer.append(numpy_helper.from_array(np.asarray(values, dtype=dtype), name))
        return name

    nodes = []
    if x_scaler is not None:
        inner = graph.input[0]
        outer = onnx.ValueInfoProto()
        outer.CopyFrom(inner)
        outer.name = "input"
        nodes += [
            helper.make_node("Sub", ["input", const("scaler.x.mean", x_scaler.mean)], ["input.centered"]),
            helper.make_node("Div", ["input.centered", const("scaler.x.scale", x_scaler.scale)], [inner.name]),
        ]
        graph.input.remove(inner)
        graph.input.append(outer)
    tail = []
    if y_scaler is not None:
        inner = graph.output[0]
        outer = onnx.ValueInfoProto()
        outer.CopyFrom(inner)
        outer.name = "output"
        tail += [
            helper.make_node("Mul", [inner.name, const("scaler.y.scale", y_scaler.scale)], ["output.scaled"]),
            helper.make_node("Add", ["output.scaled", const("scaler.y.mean", y_scaler.mean)], ["output"]),
        ]
        graph.output.remove(inner)
        graph.output.append(outer)
    all_nodes = nodes + list(graph.node) + tail
    del graph.node[:]
    graph.node.extend(all_nodes)
    onnx.checker.check_model(proto)
    return proto


def _labels_of_old_file(model, meta) -> None:
    """The class labels of an old labels file on the model, as ``train`` now keeps them in the model
    file: the ONNX label output gives them (the model file is not changed)."""
    import numpy as np

    if task_of(model, meta) == "classify" and model._label_classes is None and model._targets().n_labels():
        classes = classes_of(model, meta)
        if classes != list(range(len(classes))):
            model._label_classes = np.asarray(classes)


def export_onnx(args) -> int:
    onnx, helper, numpy_helper = _onnx_modules()
    import fastmlp as fm
    import fastmlp.onnx
    from fastmlp.io import write_atomic

    check_writable(args.out, "OUT", args.model)
    fastmlp.onnx.check_path(args.out)
    model, meta = load_model(args.model)
    x_scaler, y_scaler = scalers_of(meta)
    norms = [layer for layer in model.layers if isinstance(layer, fm.Normalization)]
    x_scaled = x_scaler is not None or any(not layer.invert for layer in norms)
    _labels_of_old_file(model, meta)
    y_scaled = y_scaler is not None or any(layer.invert for layer in norms)
    if x_scaler is None and y_scaler is None:
        fm.onnx.export(model, args.out, opset=args.opset)
    else:
        proto = fm.onnx.to_onnx(
            model,
            opset=args.opset,
            input_name="input" if x_scaler is None else "input.standardized",
            output_name="output" if y_scaler is None else "output.standardized",
        )
        proto = _with_scaling(proto, model, x_scaler, y_scaler, onnx, helper, numpy_helper)
        write_atomic(args.out, proto.SerializeToString())
    if task_of(model, meta) == "classify":
        classes = classes_of(model, meta)
        what = (
            f"p({classes[1]}) for classes {', '.join(map(str, classes))}"
            if model.n_outputs == 1
            else f"the probabilities of {', '.join(map(str, classes))}"
        ) + "; output 'label': the predicted class"
    else:
        what = f"{model.n_outputs} value{'s' if model.n_outputs > 1 else ''}" + (
            " in the target's units" if y_scaled else ""
        )
    scaled = " (standardized in the graph, as train did)" if x_scaled else ""
    columns = model_columns(model)
    if columns is None:
        inputs = f"input 'input' (batch, {model.n_features_in}) {model.dtype} features{scaled}"
    else:  # fastmlp.onnx: one input per DataFrame column, strings for the categorical ones
        inputs = f"inputs {', '.join(map(repr, columns.names))}, (batch, 1) each (text: strings){scaled}"
    print(f"ONNX model written to {args.out}: {inputs}; output 'output': {what}")
    return EXIT_OK
