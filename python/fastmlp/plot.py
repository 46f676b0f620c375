"""Plots with matplotlib (the optional ``demo`` extra), written to image files.

    plot_loss(history, "loss.png")                          J per epoch, training and validation
    plot_decision_boundary(model, X, y, "boundary.png")     2-D inputs: predicted regions and the points
    plot_confusion_matrix(y_true, y_pred, "cm.png")         counts of true class (rows) x predicted class (columns)
    plot_fit(x, y, y_pred, "fit.png")                       1-D regression: data and the model's curve

Each function saves a PNG (or any format matplotlib knows from the file name),
closes its figure and returns the path. On a machine without a display the
Agg backend is used, so nothing opens a window. ``confusion_matrix`` needs only NumPy.
"""

from __future__ import annotations

import os
import warnings

import numpy as np

from ._validation import as_bool, check_class_ids

__all__ = ["plot_loss", "plot_fit", "plot_decision_boundary", "plot_confusion_matrix", "confusion_matrix"]

#: At most this many points are drawn in a scatter plot (a seeded random subset beyond it).
MAX_POINTS = 5000


def _pyplot():
    try:
        import matplotlib
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'fastmlp[demo]'") from e
    if not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")  # headless machines: write files, open no window
    import matplotlib.pyplot as plt

    return plt


def _save(fig, plt, path) -> str:
    fig.tight_layout()
    try:
        fig.savefig(path, dpi=120)
    finally:
        plt.close(fig)
    return os.fspath(path)


def _series(history) -> dict:
    """{"loss": [...], "val_loss": [...], ...} from a History, a dict of lists, or a list of losses."""
    if hasattr(history, "history"):
        return dict(history.history)
    if isinstance(history, dict):
        return dict(history)
    return {"loss": list(history)}


def plot_loss(
    history,
    path,
    title: str = "training loss",
    extra: dict | None = None,
    val_label: str = "validation loss",
    log_scale: bool | None = None,
) -> str:
    """Save the loss J against epochs to ``path``; returns the path.

    ``history`` is what ``fit`` returned (or its ``.history`` dict, or a list of
    losses). The validation loss is drawn too when it was recorded (labelled
    ``val_label``); with early stopping the best epoch is marked. ``extra`` maps
    a label to another per-epoch series (e.g. test accuracy) drawn on a second
    axis. ``log_scale`` None uses a log y axis when the losses are positive and
    span a factor of 10 or more.
    """
    log_scale = as_bool(log_scale, "log_scale", allow_none=True)
    series = _series(history)
    loss = [float(v) for v in series.get("loss", [])]
    if not loss:
        raise ValueError("plot_loss: the history has no loss values")
    val = [float(v) for v in series.get("val_loss", [])]
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.plot(range(1, len(loss) + 1), loss, label="training loss", color="tab:blue")
    if val:
        ax.plot(range(1, len(val) + 1), val, label=val_label, color="tab:green")
    best = getattr(history, "best_epoch", None)
    if best is not None and getattr(history, "stopped_early", False):
        ax.axvline(best + 1, color="gray", linestyle="--", linewidth=1, label=f"best epoch ({best + 1})")
    values = np.array(loss + val)
    values = values[np.isfinite(values)]
    if log_scale is None:  # log when the losses are positive and span at least a factor of 10
        log_scale = bool(values.size and np.all(values > 0) and values.max() >= 10 * values.min())
    if log_scale:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss J")
    ax.set_title(title)
    if len(loss) < 10:
        ax.set_xticks(range(1, len(loss) + 1))
    axes = [ax]
    if extra:
        ax2 = ax.twinx()
        colors = ["tab:orange", "tab:red", "tab:purple", "tab:brown"]
        for i, (name, values) in enumerate(extra.items()):
            ax2.plot(range(1, len(values) + 1), values, label=name, color=colors[i % len(colors)])
        ax2.set_ylabel(", ".join(extra))
        axes.append(ax2)
    # One legend for both axes, under the plot: it never covers a curve.
    handles = [h for a in axes for h in a.get_legend_handles_labels()[0]]
    ax.legend(
        handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=min(len(handles), 4), frameon=False
    )
    return _save(fig, plt, path)


def plot_fit(x, y, y_pred, path, title: str = "data and predictions") -> str:
    """Save a 1-D regression plot: the data points and the model's curve."""
    plt = _pyplot()
    order = np.argsort(np.ravel(x))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(np.ravel(x), np.ravel(y), s=8, alpha=0.5, label="data")
    ax.plot(np.ravel(x)[order], np.ravel(y_pred)[order], color="tab:red", label="model")
    ax.set_title(title)
    ax.legend()
    return _save(fig, plt, path)


# ----------------------------------------------------------------------------- classifiers


def _is_classifier(model) -> bool:
    return bool(getattr(model, "is_classifier", getattr(model, "loss_name", "mse") != "mse"))


def _class_ids(model, X: np.ndarray) -> np.ndarray:
    """Class ids: threshold 0.5 for one output, arg-max for several (softmax, or one-vs-rest sigmoids)."""
    a = np.asarray(model.forward(X))
    if a.ndim == 1 or a.shape[1] == 1:
        return (a.reshape(-1) >= 0.5).astype(np.int64)
    return a.argmax(axis=1)


def _encode(y, labels):
    """(ids 0..k-1, names) for labels y; ``labels`` (names of ids, or the values in y) fixes the order."""
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] > 1:  # one-hot / probability rows
        y = y.argmax(axis=1)
    y = y.reshape(-1)
    if labels is not None:
        names = list(labels)
        index = {v: i for i, v in enumerate(names)}
        if all(v in index for v in y.tolist()):
            return np.array([index[v] for v in y.tolist()], dtype=np.int64), names
        if y.dtype.kind in "iub" and (y.size == 0 or (y.min() >= 0 and y.max() < len(names))):
            return y.astype(np.int64), names
        raise ValueError(f"y holds values that are neither in labels {names} nor ids in [0, {len(names)})")
    if y.dtype.kind in "iub" and (y.size == 0 or y.min() >= 0):
        k = int(y.max()) + 1 if y.size else 0
        return y.astype(np.int64), list(range(k))
    names, ids = np.unique(y, return_inverse=True)
    return ids.astype(np.int64), names.tolist()


def _ids(values, name: str) -> np.ndarray:
    """Class ids as int64: integers, or floats / bools holding integers (ValueError, TypeError else)."""
    a = np.asarray(values).reshape(-1)
    if a.dtype == object and a.size:  # e.g. a pandas object column of integers: judged by its values
        try:
            a = np.asarray(a.tolist())
        except (TypeError, ValueError):
            pass  # ragged or mixed: the dtype check below names it
    check_class_ids(a, name)  # the rule fit's targets follow too (fastmlp._validation)
    return a.astype(np.int64)


def confusion_matrix(y_true, y_pred, n_classes: int | None = None) -> np.ndarray:
    """Counts C[i, j] = number of samples of true class i predicted as class j (integer ids)."""
    t, p = (_ids(v, name) for v, name in ((y_true, "y_true"), (y_pred, "y_pred")))
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} samples but y_pred has {p.size}")
    if t.size and (t.min() < 0 or p.min() < 0):
        raise ValueError("confusion_matrix needs class ids >= 0")
    k = n_classes if n_classes is not None else (int(max(t.max(), p.max())) + 1 if t.size else 0)
    if t.size and max(t.max(), p.max()) >= k:
        raise ValueError(f"class ids reach {int(max(t.max(), p.max()))} but n_classes is {k}")
    if k > 2**14:  # k x k counts: 2 GiB of them at 2^14
        raise ValueError(f"a confusion matrix of {k} classes would hold {k}^2 counts; class ids must be below 2^14")
    return np.bincount(t * k + p, minlength=k * k).reshape(k, k)


def plot_confusion_matrix(
    y_true, y_pred, path, labels=None, title: str = "confusion matrix", normalize: bool = False
) -> str:
    """Save the confusion matrix (rows: true class, columns: predicted class) with the counts written in.

    ``y_true`` and ``y_pred`` are class ids 0..k-1 (then ``labels`` names them) or
    label values (then ``labels``, if given, fixes their order). ``normalize``
    colours by the fraction of each true class (each row sums to 1); the cells show
    counts and, when normalized, percentages.
    """
    normalize = as_bool(normalize, "normalize")
    t, p = np.asarray(y_true).reshape(-1), np.asarray(y_pred).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} samples but y_pred has {p.size}")
    if labels is None:
        names, both = np.unique(np.concatenate([t, p]), return_inverse=True)
        names = names.tolist()
        ids_t, ids_p = both[: t.size], both[t.size :]
    else:
        ids_t, names = _encode(t, labels)
        ids_p, _ = _encode(p, labels)
    k = len(names)
    cm = confusion_matrix(ids_t, ids_p, k)
    rows = cm.sum(axis=1, keepdims=True)
    frac = np.divide(cm, rows, out=np.zeros(cm.shape), where=rows > 0)
    shown = frac if normalize else cm

    plt = _pyplot()
    size = min(3.0 + 0.5 * k, 14.0)
    fig, ax = plt.subplots(figsize=(size + 1.0, size))
    im = ax.imshow(shown, cmap="Blues", vmin=0, vmax=1 if normalize else max(int(cm.max()), 1))
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="fraction of true class" if normalize else "count")
    ax.set_xticks(range(k))
    ax.set_yticks(range(k))
    ax.set_xticklabels([str(n) for n in names], rotation=45 if k > 4 else 0, ha="right" if k > 4 else "center")
    ax.set_yticklabels([str(n) for n in names])
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    acc = np.trace(cm) / cm.sum() if cm.sum() else float("nan")
    ax.set_title(f"{title} (accuracy {acc:.3f})")
    if k <= 30:
        threshold = (1.0 if normalize else cm.max()) / 2
        for i in range(k):
            for j in range(k):
                text = f"{cm[i, j]}\n{frac[i, j]:.0%}" if normalize else f"{cm[i, j]}"
                ax.text(
                    j,
                    i,
                    text,
                    ha="center",
                    va="center",
                    fontsize=9 if k <= 10 else 6,
                    color="white" if shown[i, j] > threshold else "black",
                )
    return _save(fig, plt, path)


def plot_decision_boundary(
    model,
    X,
    y,
    path,
    labels=None,
    title: str | None = None,
    resolution: int = 300,
    padding: float = 0.1,
    feature_names=None,
) -> str:
    """Save the model's predictions over the plane of 2-D inputs, with the points (X, y) on top.

    Classifiers: each region is coloured by its predicted class, the boundaries
    drawn as lines (for one sigmoid output the p = 0.5 line, with p shaded).
    Regression models (loss mse): the predicted value as a colour map, the
    points coloured by their target. ``labels`` names the class ids 0..k-1 (or
    fixes the order of the label values in y). The plane spans the data plus
    ``padding`` of its range on every side, sampled on a ``resolution`` square grid.
    ``feature_names`` label the axes (default x[0], x[1]).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_decision_boundary needs 2-D inputs X of shape (m, 2), got shape {X.shape}")
    if X.shape[0] == 0:
        raise ValueError("plot_decision_boundary: X is empty")
    y = np.asarray(y)
    if y.shape[0] != X.shape[0]:
        raise ValueError(f"y has {y.shape[0]} samples but X has {X.shape[0]}")
    n_in = getattr(model, "n_features_in", 2)
    if n_in != 2:
        raise ValueError(f"plot_decision_boundary needs a model with 2 inputs, this one has {n_in}")

    lo, hi = X.min(axis=0), X.max(axis=0)
    span = np.where(hi > lo, hi - lo, 1.0)
    lo, hi = lo - padding * span, hi + padding * span
    g0, g1 = np.meshgrid(np.linspace(lo[0], hi[0], resolution), np.linspace(lo[1], hi[1], resolution))
    grid = np.column_stack([g0.ravel(), g1.ravel()])

    if len(X) > MAX_POINTS:  # draw a subset; the regions use the model, not the points
        keep = np.random.default_rng(0).choice(len(X), MAX_POINTS, replace=False)
        X, y = X[keep], y[keep]

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 5))
    with warnings.catch_warnings():  # a plane of one class has no boundary line to draw
        warnings.simplefilter("ignore", UserWarning)
        default_title = _draw_regions(fig, ax, plt, model, X, y, g0, g1, grid, labels)
    ax.set_xlim(lo[0], hi[0])
    ax.set_ylim(lo[1], hi[1])
    names = list(feature_names) if feature_names is not None else ["x[0]", "x[1]"]
    ax.set_xlabel(str(names[0]))
    ax.set_ylabel(str(names[1]))
    ax.set_title(title or default_title)
    return _save(fig, plt, path)


def _draw_regions(fig, ax, plt, model, X, y, g0, g1, grid, labels) -> str:
    from matplotlib.colors import BoundaryNorm, ListedColormap

    if _is_classifier(model):
        out = np.asarray(model.forward(grid))
        k = 2 if out.shape[1] == 1 else out.shape[1]
        ids, names = _encode(y, labels if labels is not None else list(range(k)) if y.dtype.kind in "iub" else None)
        k = max(k, len(names))
        base = plt.get_cmap("tab10" if k <= 10 else "tab20")
        colors = [base(i % base.N) for i in range(k)]
        if out.shape[1] == 1:  # one sigmoid output: shade p, draw p = 0.5
            p = out[:, 0].reshape(g0.shape)
            shades = ListedColormap([_mix(colors[0], colors[1], t) for t in np.linspace(0, 1, 10)])
            ax.contourf(g0, g1, p, levels=np.linspace(0, 1, 11), cmap=shades, alpha=0.45)
            ax.contour(g0, g1, p, levels=[0.5], colors="k", linewidths=1.5)
        else:
            pred = _class_ids(model, grid).reshape(g0.shape)
            ax.contourf(
                g0,
                g1,
                pred,
                levels=np.arange(-0.5, k),
                cmap=ListedColormap(colors),
                norm=BoundaryNorm(np.arange(-0.5, k), k),
                alpha=0.35,
            )
            ax.contour(g0, g1, pred, levels=np.arange(0.5, k - 1), colors="k", linewidths=1.0)
        for c in range(k):
            sel = ids == c
            if sel.any():
                ax.scatter(
                    X[sel, 0],
                    X[sel, 1],
                    s=18,
                    color=colors[c],
                    edgecolors="k",
                    linewidths=0.4,
                    label=str(names[c]) if c < len(names) else str(c),
                )
        ax.legend(title="class", loc="best", fontsize=8)
        return "decision boundary"
    out = np.asarray(model.forward(grid))[:, 0].reshape(g0.shape)
    target = y.reshape(len(y), -1)[:, 0].astype(np.float64)
    vmin, vmax = min(out.min(), target.min()), max(out.max(), target.max())
    cs = ax.contourf(g0, g1, out, levels=20, cmap="viridis", vmin=vmin, vmax=vmax, alpha=0.8)
    ax.scatter(X[:, 0], X[:, 1], c=target, cmap="viridis", vmin=vmin, vmax=vmax, s=18, edgecolors="k", linewidths=0.4)
    fig.colorbar(cs, ax=ax, label="prediction")
    return "predictions"


def _mix(a, b, t: float):
    """The colour t of the way from a to b (RGBA tuples)."""
    return tuple((1 - t) * np.asarray(a) + t * np.asarray(b))
