"""Plots with matplotlib (optional extra): J against epochs, data against predictions."""
from __future__ import annotations

import os


def _pyplot():
    try:
        import matplotlib
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("plotting needs matplotlib: pip install 'fastmlp[demo]'") from e
    if not os.environ.get("DISPLAY") and not os.environ.get("MPLBACKEND"):
        matplotlib.use("Agg")  # headless machines: write files, open no window
    import matplotlib.pyplot as plt
    return plt


def plot_loss(history, path: str, title: str = "training loss", extra: dict | None = None) -> str:
    """Save J against epochs (the lecture's convergence plot) to ``path``; returns the path.

    ``extra`` maps a label to another per-epoch series (e.g. test accuracy) drawn on a second axis.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    epochs = range(1, len(history.loss) + 1)
    ax.plot(epochs, history.loss, label="loss J", color="tab:blue")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss J")
    ax.set_yscale("log")
    ax.set_title(title)
    if extra:
        ax2 = ax.twinx()
        for name, values in extra.items():
            ax2.plot(range(1, len(values) + 1), values, label=name, color="tab:orange")
            ax2.set_ylabel(name)
        ax2.legend(loc="center right")
    ax.legend(loc="lower left")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def plot_fit(x, y, y_pred, path: str, title: str = "data and predictions") -> str:
    """Save a 1-D regression plot: the data points and the model's curve."""
    import numpy as np

    plt = _pyplot()
    order = np.argsort(np.ravel(x))
    fig, ax = plt.subplots(figsize=(6, 4))
    ax.scatter(np.ravel(x), np.ravel(y), s=8, alpha=0.5, label="data")
    ax.plot(np.ravel(x)[order], np.ravel(y_pred)[order], color="tab:red", label="model")
    ax.set_title(title)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
