"""Standardization for ``train --standardize`` (the default): ``fm.Normalization`` layers in the
model itself, adapted on the training rows only (never the validation rows): the first layer
standardizes each feature, and for a regression target with a linear output a last
``Normalization(invert=True)`` maps the outputs back to the target's units. The model file, so
``fm.load``, ``predict``, ONNX and the C++ loader, then take raw features and give values in the
target's units; the CLI writes no side file for it.

Models trained by earlier versions kept the mean and scale in their labels file (``Scaler``, read
by ``labels.py``); ``evaluate``, ``predict`` and ``export-onnx`` still apply those.

With ``--no-standardize``, a feature (or a regression target with a linear output) whose training
rows have a standard deviation or an absolute mean above ``UNSCALED_LIMIT`` draws a warning:
gradient descent with the default learning rates and initial weights expects values of order 1.
"""

from __future__ import annotations

from .common import CLIError

#: The warning's rule with --no-standardize: std > this or |mean| > this, on the training rows.
UNSCALED_LIMIT = 10.0


class Scaler:
    """x -> (x - mean) / scale, column by column (float64): an old labels file's scaler, or the
    statistics of a Normalization layer for train's warnings."""

    def __init__(self, mean, scale, std=None):
        import numpy as np

        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        # the population std (a constant column: 0 here, scale 1); only train's warning reads it
        self.std = self.scale if std is None else np.asarray(std, dtype=np.float64)

    @classmethod
    def of(cls, norm) -> Scaler:
        """The statistics of an adapted ``fm.Normalization`` (variance 0: scale 1, as the layer)."""
        import numpy as np

        mean = np.asarray(norm.mean, dtype=np.float64).reshape(-1)
        std = np.sqrt(np.asarray(norm.variance, dtype=np.float64).reshape(-1))
        return cls(mean, np.where(std > 0, std, 1.0), std)

    def transform(self, A):
        import numpy as np

        return (np.asarray(A, dtype=np.float64) - self.mean) / self.scale  # a 1-D target broadcasts

    def inverse(self, A):
        import numpy as np

        return np.asarray(A, dtype=np.float64) * self.scale + self.mean

    def unscaled_columns(self) -> list:
        """Columns that break the rule of UNSCALED_LIMIT."""
        import numpy as np

        return np.flatnonzero((self.std > UNSCALED_LIMIT) | (np.abs(self.mean) > UNSCALED_LIMIT)).tolist()

    @classmethod
    def from_json(cls, obj, width: int, what: str, where: str) -> Scaler:
        """The scaler an old labels file stored, checked: ``width`` finite means, positive scales."""
        import math

        def finite(v) -> bool:
            try:  # a JSON integer too large for a float is not one
                return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            except OverflowError:
                return False

        ok = isinstance(obj, dict) and all(
            isinstance(obj.get(key), list) and len(obj[key]) == width and all(finite(v) for v in obj[key])
            for key in ("mean", "scale")
        )
        if not ok or not all(v > 0 for v in obj["scale"]):
            raise CLIError(
                f"{where}: 'scaler' {what} must hold 'mean' and 'scale', {width} finite numbers each "
                "(scales > 0); delete it or retrain"
            )
        return cls(obj["mean"], obj["scale"])


def read_scalers(entry, model, where: str) -> tuple:
    """(features scaler or None, target scaler or None) from an old labels file's "scaler" entry."""
    if entry is None:
        return None, None
    if not isinstance(entry, dict):
        raise CLIError(f"{where}: 'scaler' must be an object with 'features' and 'target'; delete it or retrain")
    features, target = entry.get("features"), entry.get("target")
    return (
        None if features is None else Scaler.from_json(features, model.n_features_in, "features", where),
        None if target is None else Scaler.from_json(target, model.n_outputs, "target", where),
    )


def describe_unscaled(scaler: Scaler, names) -> str:
    """'x1' (std 1.2e+03, mean 500), ... for the columns that look unscaled."""
    cols = scaler.unscaled_columns()
    shown = [
        f"{names[j] if names else f'column {j}'} (std {scaler.std[j]:.3g}, mean {scaler.mean[j]:.3g})" for j in cols[:5]
    ]
    return ", ".join(shown) + (f" and {len(cols) - 5} more" if len(cols) > 5 else "")


# --- what train standardizes, and what it says about it ---
def target_scalable(task: str, out_act: str) -> bool:
    """A target can be standardized for regression with a linear output; a bounded output
    (sigmoid, tanh, relu, ...) must see the values as they are."""
    return task == "regress" and out_act == "linear"


def standardizes_target(args, task: str, out_act: str) -> bool:
    """Whether train standardizes the target: by default where it can (--standardize)."""
    if args.standardize_target is None:
        return args.standardize and target_scalable(task, out_act)
    if args.standardize_target and not target_scalable(task, out_act):
        raise CLIError(
            "--standardize-target needs regression with a linear output; "
            f"this model {'classifies' if task == 'classify' else f'has a {out_act} output'}"
        )
    return args.standardize_target


def report_scaling(args, say, note, x_scaler, y_scaler, target_scaled: bool, names, n_train: int) -> None:
    """Say what was standardized; with --no-standardize, warn (``note``) about columns that look
    unscaled (UNSCALED_LIMIT). ``y_scaler``: the target's, when it could have been scaled."""
    done = (["features"] if args.standardize else []) + (["target"] if target_scaled else [])
    if done:
        say(f"standardized: {' and '.join(done)} (mean and std of the {n_train} training samples)")
    if not args.standardize and x_scaler.unscaled_columns():
        note(
            f"--no-standardize: features look unscaled: {describe_unscaled(x_scaler, names)}; "
            "training may be slow or fail (drop --no-standardize to standardize them)"
        )
    if not target_scaled and y_scaler is not None and y_scaler.unscaled_columns():
        note(
            f"the regression target is not standardized and looks unscaled: "
            f"{describe_unscaled(y_scaler, ['target'] if len(y_scaler.mean) == 1 else None)}; "
            "training may be slow or fail (standardize it with --standardize-target)"
        )


def standardization_layers(args, task: str, out_act: str) -> tuple:
    """The Normalization layers train puts around the MLP, not yet adapted: (first, last), lists
    of at most one layer (first: --standardize; last, invert=True: a standardized target). Until
    its statistics are written (``set_target_units``, after the fit) the last one is the identity:
    the model trains on the standardized target, as SGD's default learning rate needs."""
    import fastmlp as fm

    first = [fm.Normalization()] if args.standardize else []
    last = [fm.Normalization(invert=True)] if standardizes_target(args, task, out_act) else []
    return first, last


def adapt_target(args, task: str, out_act: str, x_norm, y_data, say, note, names, n_train: int):
    """The target's statistics (a Normalization(invert=True) adapted on ``y_data``, the training
    targets: an array, or the fm.data source; None where the target cannot be standardized), and
    say what is standardized. ``x_norm``: a Normalization adapted on the training features, in the
    model or not (its statistics feed the --no-standardize warning)."""
    import fastmlp as fm

    y_norm = fm.Normalization(invert=True).adapt(y_data) if target_scalable(task, out_act) else None
    y_stats = None if y_norm is None else Scaler.of(y_norm)
    report_scaling(
        args, say, note, Scaler.of(x_norm), y_stats, standardizes_target(args, task, out_act), names, n_train
    )
    return y_norm


def set_target_units(last: list, y_norm) -> None:
    """After the fit on the standardized target: the model's last layer (``last``, from
    standardization_layers) takes the target's statistics, so the model gives its units."""
    if last:
        layer = last[0]
        layer.mean[...], layer.variance[...] = y_norm.mean, y_norm.variance


def target_scaled_source(source, y_stats: Scaler):
    """``source`` (a fastmlp.data source) with each chunk's target standardized as it is read."""
    import fastmlp as fm

    def scale(X, y, w, name):
        return X, y_stats.transform(y), w, name

    class Scaled(fm.data.Source):
        n_rows, n_features, mix = source.n_rows, source.n_features, getattr(source, "mix", 1)

        def chunk_count(self):
            return source.chunk_count()

        def chunks(self, epoch, seed, shuffle):  # the source's own order and shuffling
            for chunk in source.chunks(epoch, seed, shuffle):
                yield scale(*chunk)

        def read(self, i):
            return scale(*source.read(i))

        def shard(self, rank, size):  # a data-parallel fit: each process scales its own part
            return target_scaled_source(source.shard(rank, size), y_stats)

    return Scaled()
