"""The argument parser: argument types, the commands' options and help."""

from __future__ import annotations

import argparse
import math

from . import commands, export, scaling


def positive_int(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def _float_arg(ok, what: str):
    """An argparse type: a float for which ok(v) holds, else an error saying `what` was expected."""

    def parse(text: str) -> float:
        try:
            v = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
        if not ok(v):
            raise argparse.ArgumentTypeError(f"expected {what}, got {text}")
        return v

    return parse


_positive_float = _float_arg(lambda v: math.isfinite(v) and v > 0, "a finite number > 0")
_nonnegative_float = _float_arg(lambda v: math.isfinite(v) and v >= 0, "a finite number >= 0")
_fraction = _float_arg(lambda v: 0 < v < 1, "a number in (0, 1)")


def layer_sizes(text: str) -> list:
    """ "64,32" -> [64, 32]; "" or "none" -> [] (no hidden layer)."""
    if text.strip().lower() in ("", "none"):
        return []
    sizes = []
    for part in text.split(","):
        try:
            n = int(part)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected comma-separated layer sizes like 64,32, got {text!r}") from None
        if n < 1:
            raise argparse.ArgumentTypeError(f"layer sizes must be >= 1, got {n} in {text!r}")
        sizes.append(n)
    return sizes


def batch_size_arg(text: str):
    if text.strip().lower() == "full":
        return None
    return positive_int(text)


def _add_data_options(p, role: str) -> None:
    p.add_argument(
        "--target",
        metavar="COL",
        help="CSV: the target column, by header name or index (negative from the end); "
        + {
            "train": "default: the last column",
            "evaluate": "default: the training target's name if the header has it, else the last column",
            "predict": "this column is ignored (the training target's name is dropped "
            "automatically when the header has it)",
        }[role],
    )
    p.add_argument(
        "--header",
        choices=("auto", "yes", "no"),
        default="auto",
        help="CSV: whether the first row holds column names (default: detect)",
    )
    p.add_argument(
        "--delimiter",
        default=None,
        metavar="CHAR",
        help="CSV: the field separator (default: tab for .tsv, else ',' or what the first line uses: ';' or tab)",
    )
    p.add_argument("--x-key", default="X", metavar="KEY", help=".npz: the features array (default X)")
    if role != "predict":
        p.add_argument("--y-key", default="y", metavar="KEY", help=".npz: the targets array (default y)")


def build_parser() -> argparse.ArgumentParser:
    import fastmlp as fm
    from fastmlp.model import DEFAULT_BATCH_SIZE, DEFAULT_OPTIMIZER

    from .commands import DEMO_EPOCHS

    parser = argparse.ArgumentParser(
        prog="fastmlp",
        description="fastmlp: small, fast multi-layer perceptrons",
        epilog="examples:\n"
        "  python -m fastmlp train iris.csv --target species --layers 16 --epochs 200 --plot loss.png\n"
        "  python -m fastmlp evaluate model.safetensors test.csv --confusion-matrix cm.png\n"
        "  python -m fastmlp predict model.safetensors new.csv --out predictions.csv\n"
        "  python -m fastmlp export-onnx model.safetensors model.onnx\n"
        "  python -m fastmlp demo",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"fastmlp {fm.__version__}")
    parser.add_argument(
        "--cmake-dir",
        action=PrintAndExit,
        text=fm.cmake_dir,
        help="print the folder of fastmlpConfig.cmake (for -Dfastmlp_DIR=...) and exit",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    train = sub.add_parser(
        "train",
        help="train a model on a .csv or .npz file and save it",
        description="Train an MLP on a data file and save it (safetensors, with its class labels and feature names).",
    )
    train.add_argument(
        "data",
        help="training data: .csv/.tsv (features and a target column), .npz (X, y), or a "
        "folder or glob of shards: X*.npy with y*.npy, or .parquet (with --target)",
    )
    _add_data_options(train, "train")
    train.add_argument(
        "--task",
        choices=("classify", "regress"),
        default=None,
        help="default: classify when the target is text, or integers with few distinct values "
        f"(at most {commands.MAX_INFERRED_CLASSES}, and at most half the number of samples); "
        "else regress",
    )
    train.add_argument(
        "--layers",
        type=layer_sizes,
        default=[64],
        metavar="N,N,...",
        help="hidden layer sizes, e.g. 64,32; 'none' for no hidden layer (default 64)",
    )
    train.add_argument(
        "--activation",
        choices=fm.ACTIVATIONS,
        default="relu",
        metavar="NAME",
        help=f"hidden layers: {', '.join(fm.ACTIVATIONS)} (default relu)",
    )
    train.add_argument(
        "--output-activation",
        choices=fm.ACTIVATIONS,
        default=None,
        metavar="NAME",
        help="default: softmax for >2 classes, sigmoid for 2, linear for regression",
    )
    train.add_argument(
        "--loss",
        choices=fm.LOSSES,
        default=None,
        metavar="NAME",
        help=f"{', '.join(fm.LOSSES)}; default: the cross-entropy of the output activation "
        "for classes, mse for regression",
    )
    names = fm.optimizers.names()  # the optimizer registry
    train.add_argument(
        "--optimizer",
        choices=names,
        default=DEFAULT_OPTIMIZER,
        help=f"{', '.join(names)} (default {DEFAULT_OPTIMIZER})",
    )
    rates = ", ".join(f"{name} {fm.optimizers.create(name).learning_rate:g}" for name in names)
    train.add_argument(
        "--learning-rate",
        type=_positive_float,
        default=None,
        metavar="LR",
        help=f"default: the optimizer's ({rates})",
    )
    train.add_argument(
        "--momentum", type=_nonnegative_float, default=None, metavar="BETA", help="sgd momentum (default 0)"
    )
    train.add_argument(
        "--l2",
        type=_nonnegative_float,
        default=0.0,
        metavar="LAMBDA",
        help="L2 penalty lambda on the weights (default 0)",
    )
    train.add_argument("--epochs", type=positive_int, default=100, metavar="N", help="default 100")
    train.add_argument(
        "--batch-size",
        type=batch_size_arg,
        default=DEFAULT_BATCH_SIZE,
        metavar="N|full",
        help=f"mini-batch size, or 'full' for full-batch gradient descent (default {DEFAULT_BATCH_SIZE})",
    )
    train.add_argument(
        "--standardize",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="scale each feature to mean 0, std 1 (the mean and std of the training samples, in a first "
        "fm.Normalization layer of the model); --no-standardize trains on the values as "
        "they are and warns when a column's std or |mean| is above "
        f"{scaling.UNSCALED_LIMIT:g} (default: standardize)",
    )
    train.add_argument(
        "--standardize-target",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="regression with a linear output: scale the target likewise (a last "
        "Normalization(invert=True) layer maps outputs back: predictions, MSE and R^2 stay in its units) "
        "(default: as --standardize)",
    )
    train.add_argument(
        "--validation-split",
        type=_fraction,
        default=0.0,
        metavar="FRACTION",
        help="hold out this fraction to report val_loss on: the rows fit(validation_split=...) holds out "
        "(at random, seeded by --seed; stratified by class for classification)",
    )
    train.add_argument(
        "--early-stopping",
        type=positive_int,
        default=None,
        metavar="PATIENCE",
        help="stop when val_loss (or loss, without validation) has not improved for PATIENCE "
        "epochs; keeps the best weights",
    )
    train.add_argument(
        "--seed",
        type=int,
        default=0,
        metavar="N",
        help="seeds the weights, the shuffling and the validation split (default 0)",
    )
    train.add_argument("--dtype", choices=("float32", "float64"), default="float32")
    train.add_argument(
        "--out",
        default="model.safetensors",
        metavar="PATH",
        help="model file (default model.safetensors)",
    )
    train.add_argument(
        "--plot",
        default=None,
        metavar="PNG",
        help="save the loss curves; with 2 features and classes also <stem>_boundary.png",
    )
    train.add_argument(
        "--verbose",
        type=int,
        choices=(0, 1, 2),
        default=1,
        metavar="{0,1,2}",
        help="as Keras's: 1 a progress bar, each epoch's metrics on a line above it; 2 one line per epoch; "
        "0 silent (default 1)",
    )
    train.add_argument("--no-progress", action="store_true", help="same as --verbose 0")
    train.set_defaults(func=commands.train)

    ev = sub.add_parser(
        "evaluate",
        help="print the loss and accuracy (or MSE and R^2) of a model on data",
        description="Evaluate a saved model: loss and accuracy for classifiers, MSE and R^2 for regression "
        "(in the target's units, as the model's loss). A model trained by an earlier version "
        "gets the scaling of its labels file.",
    )
    ev.add_argument("model", help="model file written by train (or model.save)")
    ev.add_argument("data", help=".csv/.tsv or .npz with features and targets")
    _add_data_options(ev, "evaluate")
    ev.add_argument("--confusion-matrix", default=None, metavar="PNG", help="classifiers: save a confusion matrix")
    ev.add_argument("--json", action="store_true", help="print the results as one JSON object")
    ev.set_defaults(func=commands.evaluate)

    pr = sub.add_parser(
        "predict",
        help="write a model's predictions for data to .csv or .npy",
        description="Predict with a saved model: class labels (or probabilities) or values (in the "
        "target's units) from the features as they are. A model trained by an earlier version gets the "
        "scaling of its labels file.",
    )
    pr.add_argument("model", help="model file written by train (or model.save)")
    pr.add_argument("data", help=".csv/.tsv of features (a target column is dropped), .npz (X) or .npy")
    _add_data_options(pr, "predict")
    pr.add_argument("--out", default=None, metavar="PATH", help=".csv, .tsv or .npy (default: CSV on stdout)")
    pr.add_argument("--proba", action="store_true", help="classifiers: class probabilities instead of labels")
    pr.set_defaults(func=commands.predict)

    demo = sub.add_parser("demo", help="train on the digits data set, print accuracy, save a loss curve")
    # The demo trains with fit's defaults (optimizer, learning rate, batch size): what a first try gets.
    demo.add_argument("--epochs", type=positive_int, default=DEMO_EPOCHS, help=f"default {DEMO_EPOCHS}")
    demo.add_argument(
        "--batch-size", type=positive_int, default=DEFAULT_BATCH_SIZE, help=f"default {DEFAULT_BATCH_SIZE}"
    )
    demo.add_argument(
        "--learning-rate", type=_positive_float, default=None, help="default: the optimizer's (adam 0.001)"
    )
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--plot", default="fastmlp_demo_loss.png", help="where to save the loss curve (PNG)")
    demo.set_defaults(func=commands.demo)

    onnx = sub.add_parser(
        "export-onnx",
        help="write a saved model as an ONNX file (needs the onnx extra)",
        description="Export a saved model to ONNX (fastmlp.onnx.export). Where train standardized, the graph "
        "standardizes its input itself (and scales a standardized regression target back), so it takes the "
        "features as they are and gives what predict gives: probabilities for a classifier, values for regression.",
    )
    onnx.add_argument("model", help="model file written by train (or model.save)")
    onnx.add_argument("out", metavar="OUT.onnx", help="the ONNX file to write")
    onnx.add_argument("--opset", type=positive_int, default=17, metavar="N", help="ONNX opset (default 17)")
    onnx.set_defaults(func=export.export_onnx)

    info = sub.add_parser("info", help="print how the C++ core was built, or describe a model file")
    info.add_argument("model", nargs="?", default=None, help="a model file to describe")
    info.set_defaults(func=commands.info)
    return parser


class PrintAndExit(argparse.Action):
    """Like action="version": print text() and exit, whatever else is on the command line."""

    def __init__(self, option_strings, dest, text, **kwargs):
        super().__init__(option_strings, dest, nargs=0, default=argparse.SUPPRESS, **kwargs)
        self.text = text

    def __call__(self, parser, namespace, values, option_string=None):
        print(self.text())
        parser.exit()
