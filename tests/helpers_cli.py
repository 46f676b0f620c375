"""Helpers shared by the command-line tests (tests/test_cli*.py): run ``python -m fastmlp`` in a
subprocess, read its CSV and plot outputs, and the scaler train put in the model file."""

import csv
import os
import subprocess
import sys

import numpy as np

import fastmlp as fm

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def run(*args, cwd, check=None):
    """Run ``python -m fastmlp *args`` in ``cwd``; returns the CompletedProcess."""
    env = dict(os.environ, MPLBACKEND="Agg")
    env.pop("FASTMLP_DEBUG", None)
    proc = subprocess.run(
        [sys.executable, "-m", "fastmlp", *map(str, args)],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    if check is not None and proc.returncode != check:
        raise AssertionError(
            f"exit status {proc.returncode} (expected {check}) for {args}\n"
            f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
        )
    return proc


def is_png(path) -> bool:
    with open(path, "rb") as f:
        return f.read(8) == PNG_MAGIC and os.path.getsize(path) > 1000


def read_csv(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    return rows[0], rows[1:]


def scaler(folder, stem, part="features"):
    """(mean, scale) of the Normalization layer train put in <stem>.safetensors (None when it did not
    standardize that part): the first layer for the features, the last (invert=True) for the target.
    The statistics are kept in the model's dtype: float32 by default (rtol 1e-7 below)."""
    assert not (folder / f"{stem}.labels.json").exists()  # train writes no side file
    layers = fm.load(folder / f"{stem}.safetensors").layers
    layer = layers[0] if part == "features" else layers[-1]
    if not isinstance(layer, fm.Normalization) or layer.invert != (part == "target"):
        return None
    std = np.sqrt(np.asarray(layer.variance, dtype=np.float64))
    return np.asarray(layer.mean, dtype=np.float64), np.where(std > 0, std, 1.0)
