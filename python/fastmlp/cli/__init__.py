"""Command line: python -m fastmlp <command> (also installed as ``fastmlp``).

    python -m fastmlp train data.csv --layers 64,32 --epochs 50 --out model.safetensors --plot loss.png
    python -m fastmlp evaluate model.safetensors test.csv [--confusion-matrix cm.png]
    python -m fastmlp predict model.safetensors new.csv [--proba] [--out predictions.csv]
    python -m fastmlp export-onnx model.safetensors model.onnx [--opset 17]
    python -m fastmlp demo      train on scikit-learn's digits, print test accuracy, save a loss curve
    python -m fastmlp info      how the C++ core was built (``info model.safetensors``: the model)

Data files: .csv/.tsv/.txt (a header row is detected, or forced with --header yes|no;
the target is a column: ``--target NAME|INDEX``, default the last one) or .npz
(arrays ``X`` and ``y``, renamed with --x-key/--y-key); ``predict`` also reads a .npy of X.
A CSV with a header whose feature columns hold text or empty cells is read with pandas (``frame``):
text columns are categorical, and ``train`` builds the model with ``fm.ColumnEmbedding(
fill_missing=True)`` (after the first ``fm.Normalization()`` under --standardize), so the model
file takes the raw rows; a CSV of numbers only is read as always.

Class labels (strings, or integers that are not 0..k-1) are mapped to ids 0..k-1 in
sorted order; ``train`` keeps the labels and the column names in the model file (the model's
``classes_`` and ``feature_names_in_``, as ``Sequential.fit`` on such labels and a DataFrame
would), so ``evaluate`` / ``predict`` / ``info`` and ``fm.load(path).predict`` give them back.
It writes no side file. A model trained by an earlier version has a ``<model stem>.labels.json``
next to it (label names, task, column names, scaler and the model file's SHA-256): it is still
read (one left over from another model is ignored with a warning).

``train`` standardizes by default (``--no-standardize`` turns it off): each feature, and a
regression target with a linear output, is scaled to mean 0 and std 1 with the mean and std of
the training samples (not the validation ones), by ``fm.Normalization`` layers in the model (the
first one standardizes the features, a last ``Normalization(invert=True)`` maps outputs back to
the target's units). So the model file alone, through ``fm.load``, ``predict``, ONNX or the C++
loader, takes raw features and gives predictions in the target's units. The fit's losses are on
the standardized target (the last layer takes the target's statistics after the fit, so the
default SGD learning rate suits any target's scale); ``evaluate``'s loss, MSE and R^2 are in the
target's units. With
``--no-standardize``, columns whose std or |mean| exceeds 10 draw a warning. ``--validation-split``
holds out the rows ``Sequential.fit(validation_split=...)`` would: seeded, stratified by class.

Errors in the input (a missing file, an unknown column, a shape the model does not
take, text where numbers belong) print one line on stderr and exit with status 2;
a diverging training run exits with 1. Set FASTMLP_DEBUG=1 to see tracebacks.

The package: ``data`` reads data files (``frame``: CSV files with text columns, through pandas),
``labels`` saves a model and reads one (with an old labels file), ``scaling`` the standardization,
``commands`` runs each command (``export``: export-onnx; ``shards``: train on a data set in shards)
and ``parser`` builds the argument parser.
"""

from __future__ import annotations

import os
import sys
import warnings

from .common import EXIT_FAILED, EXIT_USAGE, CLIError, warn
from .parser import build_parser

__all__ = ["main", "build_parser"]


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if os.environ.get("FASTMLP_DEBUG"):
        return args.func(args)
    import fastmlp as fm

    prog = f"fastmlp {args.command}"
    with warnings.catch_warnings():
        # the library's warnings (e.g. a one-class validation set) in the CLI's own one-line form
        warnings.showwarning = lambda message, *rest, **kw: warn(str(message))
        return _run(args, prog, fm)


def _run(args, prog: str, fm) -> int:
    try:
        return args.func(args)
    except BrokenPipeError:  # e.g. `fastmlp predict ... | head`: the reader left; say nothing more
        try:
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
        except OSError:
            pass
        return EXIT_FAILED
    except CLIError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
    except FileNotFoundError as e:
        print(f"{prog}: error: {e.filename or e}: no such file", file=sys.stderr)
    except fm.DivergenceError as e:
        msg = str(e) if "diverged" in str(e) else f"training diverged: {e}"
        hint = "" if "learning rate" in msg else "; try a smaller --learning-rate"
        print(f"{prog}: error: {msg}{hint}", file=sys.stderr)
        return EXIT_FAILED
    except (ValueError, TypeError, OSError, ImportError) as e:  # the library's messages name the problem
        print(f"{prog}: error: {e}", file=sys.stderr)
    except MemoryError as e:  # one line, as for any input too large (not a traceback)
        detail = f" ({e})" if str(e) else ""
        print(
            f"{prog}: error: out of memory{detail}: the model or the data is too large for this machine",
            file=sys.stderr,
        )
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    return EXIT_USAGE
