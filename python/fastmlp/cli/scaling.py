"""Standardization for ``train --standardize`` (the default): each feature, and a regression
target with a linear output, is scaled to mean 0 and standard deviation 1, as scikit-learn's
StandardScaler does (population std; a constant column keeps scale 1). The mean and scale come
from the training rows only (never the validation rows) and are kept in the model's labels file,
so ``evaluate`` and ``predict`` apply them and report predictions in the original units.

With ``--no-standardize``, a feature (or a regression target with a linear output) whose training
rows have a standard deviation or an absolute mean above ``UNSCALED_LIMIT`` draws a warning:
gradient descent with the default learning rates and initial weights expects values of order 1.
"""

from __future__ import annotations

from .common import CLIError

#: The warning's rule with --no-standardize: std > this or |mean| > this, on the training rows.
UNSCALED_LIMIT = 10.0


class Scaler:
    """x -> (x - mean) / scale, column by column (float64)."""

    def __init__(self, mean, scale, std=None):
        import numpy as np

        self.mean = np.asarray(mean, dtype=np.float64)
        self.scale = np.asarray(scale, dtype=np.float64)
        # the population std (a constant column: 0 here, scale 1); only train's warning reads it
        self.std = self.scale if std is None else np.asarray(std, dtype=np.float64)

    @classmethod
    def fit(cls, A) -> Scaler:
        """The scaler of the rows of A (2-D, or 1-D: one column)."""
        moments = Moments()
        moments.add(A)
        return moments.scaler()

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

    def to_json(self) -> dict:
        # JSON numbers written by repr() read back bit for bit
        return {"mean": self.mean.tolist(), "scale": self.scale.tolist()}

    @classmethod
    def from_json(cls, obj, width: int, what: str, where: str) -> Scaler:
        """The scaler stored as ``to_json`` wrote it, checked: ``width`` finite means, positive scales."""
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


class Moments:
    """Row count, mean and sum of squared deviations of the columns of arrays added chunk by chunk
    (Chan et al.'s pairwise update, stable in float64), so shards need a single pass."""

    def __init__(self):
        self.n, self.mean, self.m2 = 0, None, None

    def add(self, A) -> None:
        import numpy as np

        A = np.asarray(A, dtype=np.float64)
        A = A.reshape(len(A), -1)
        if len(A) == 0:
            return
        nb, mb = len(A), A.mean(axis=0)
        m2b = ((A - mb) ** 2).sum(axis=0)
        if self.mean is None:
            self.n, self.mean, self.m2 = nb, mb, m2b
            return
        delta, total = mb - self.mean, self.n + nb
        self.mean = self.mean + delta * (nb / total)
        self.m2 = self.m2 + m2b + delta**2 * (self.n * nb / total)
        self.n = total

    def scaler(self) -> Scaler:
        import numpy as np

        if self.mean is None:
            raise CLIError("no training rows to standardize")
        n, mean, var = self.n, self.mean, self.m2 / self.n
        # scikit-learn's test for a constant column (rounding leaves a tiny variance): scale 1 there
        eps = np.finfo(np.float64).eps
        constant = var <= n * eps * var + (n * mean * eps) ** 2
        std = np.where(constant, 0.0, np.sqrt(var))
        return Scaler(mean, np.where(constant, 1.0, std), std)


def scaler_entry(features: Scaler | None, target: Scaler | None):
    """The labels file's "scaler" entry (None: the model takes the data as it is)."""
    if features is None and target is None:
        return None
    return {
        "features": None if features is None else features.to_json(),
        "target": None if target is None else target.to_json(),
    }


def read_scalers(entry, model, where: str) -> tuple:
    """(features scaler or None, target scaler or None) from the labels file's "scaler" entry."""
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


def scaled_source(source, features: Scaler | None, target: Scaler | None):
    """``source`` (a fastmlp.data source) with each chunk standardized as it is read."""
    import fastmlp as fm

    def scale(X, y, w, name):
        return (
            X if features is None else features.transform(X),
            y if target is None else target.transform(y),
            w,
            name,
        )

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
            return scaled_source(source.shard(rank, size), features, target)

    return Scaled()


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
