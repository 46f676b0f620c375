"""``train`` on a data set in shards: a folder or glob of .npy files (X*.npy with matching y*.npy)
or .parquet files (--target), read chunk by chunk as a fastmlp.data source, never all in memory.

One pass over the chunks finds the task (class ids 0..k-1, or regression) while the first
``fm.Normalization`` layer adapts on the features (a second pass adapts the target's layer, for
regression with a linear output); the fit then reads the chunks once per epoch: the model
standardizes the features inside, and a standardized target is scaled as it is read (the model's
last layer takes its statistics after the fit).
One data file is trained on in memory instead (``commands.train``).
"""

from __future__ import annotations

import os

from .common import EXIT_OK, CLIError, check_model_fits, progress_callbacks, warn
from .labels import save_model
from .scaling import Scaler, adapt_target, set_target_units, standardization_layers, target_scaled_source


def shard_source(path: str, args):
    """A folder or glob of .npy shards (X*.npy with matching y*.npy) or .parquet files (--target):
    a fastmlp.data source, or None when `path` is one data file."""
    import glob

    import fastmlp as fm

    pattern = os.path.join(path, "*") if os.path.isdir(path) else path
    if not (os.path.isdir(path) or any(ch in path for ch in "*?[")):
        return None
    files = sorted(glob.glob(pattern))
    npy_x = [f for f in files if f.endswith(".npy") and os.path.basename(f).startswith("X")]
    parquet = [f for f in files if f.endswith(".parquet")]
    if npy_x:
        npy_y = [os.path.join(os.path.dirname(f), "y" + os.path.basename(f)[1:]) for f in npy_x]
        missing = [f for f in npy_y if not os.path.exists(f)]
        if missing:
            raise CLIError(f"{path}: no target shard {missing[0]} for {npy_x[npy_y.index(missing[0])]}")
        return fm.data.from_npy(npy_x, npy_y)
    if parquet:
        if args.target is None:
            raise CLIError(f"{path}: Parquet shards need --target COLUMN")
        return fm.data.from_parquet(parquet, target=args.target)
    raise CLIError(f"{path}: no X*.npy (with y*.npy) or .parquet shards there")


def train_on_shards(args, source, optimizer) -> int:
    """train on a data set in shards: classes (or regression) and the scaler from one pass;
    ``optimizer`` the one --optimizer names (a new object, for this model alone)."""
    import numpy as np

    import fastmlp as fm
    from fastmlp.layers import dense_stack

    uniques = []

    class Noting(fm.data.Source):  # the source, noting each chunk's target values as adapt reads it
        n_rows, n_features = source.n_rows, source.n_features

        def chunks(self, epoch, seed, shuffle):
            for chunk in source.chunks(epoch, seed, shuffle):
                uniques.append(np.unique(chunk[1]))
                yield chunk

    x_norm = fm.Normalization().adapt(Noting())
    values = np.unique(np.concatenate(uniques))
    task = args.task or ("classify" if values.dtype.kind in "iub" else "regress")
    if args.validation_split:
        raise CLIError("--validation-split needs one data file; with shards, train on them all")
    if task == "classify":
        if values.dtype.kind not in "iub" or values.min() < 0:
            raise CLIError(f"{args.data}: classification from shards needs class ids 0..k-1 as targets")
        k = int(values.max()) + 1
        out_act = args.output_activation or ("softmax" if k > 2 else "sigmoid")
        n_out = 1 if (out_act == "sigmoid" and k == 2) else k
        classes = list(range(k))
    else:
        out_act, n_out, classes = args.output_activation or "linear", 1, None
    check_model_fits([source.n_features, *args.layers, n_out], args.dtype)
    first, last = standardization_layers(args, task, out_act)
    first = [x_norm] if first else []  # adapted already, in the pass above
    model = fm.Sequential(
        first + dense_stack(source.n_features, args.layers, n_out, args.activation, out_act) + last,
        loss=args.loss or (None if task == "classify" else "mse"),
        dtype=args.dtype,
        seed=args.seed,
        l2=args.l2,
        optimizer=optimizer,
    )
    print(
        f"data: {args.data}: {source.n_rows} samples in shards, {source.n_features} features, "
        f"{'classification, ' + str(len(classes)) + ' classes' if classes else 'regression'}"
    )
    y_norm = adapt_target(args, task, out_act, x_norm, source, print, warn, None, source.n_rows)
    fit_source = target_scaled_source(source, Scaler.of(y_norm)) if last else source  # loss: standardized target
    history = model.fit(
        fit_source,
        epochs=args.epochs,
        batch_size=args.batch_size,
        seed=args.seed,
        callbacks=progress_callbacks(args, True),
    )
    set_target_units(last, y_norm)
    on = "  (on the standardized target)" if last else ""
    print(f"trained {history.epochs} epochs in {history.seconds:.2f}s: loss {history.loss[-1]:.4f}{on}")
    save_model(model, args.out, None, None)  # the classes are the ids 0..k-1
    print(f"model saved to {args.out}")
    return EXIT_OK
