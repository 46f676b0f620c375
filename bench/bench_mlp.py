#!/usr/bin/env python3
"""fastmlp benchmark harness (issue 3).

Compares fastmlp with PyTorch (CPU, eager), a plain NumPy implementation and
scikit-learn's MLPClassifier on an MNIST-shaped MLP 784-256-128-10
(ReLU hidden layers, softmax + categorical cross-entropy, float32, plain SGD),
plus a time-to-97%-accuracy task on sklearn's digits data set.

    python bench/bench_mlp.py [--quick] [--reps N] [--threads 1 2] [--out bench/RESULTS.md]

Design
------
* Every contender runs in its own persistent worker subprocess, one per
  (contender, thread count).  The parent sends JSON commands over a pipe and
  alternates contenders within each repetition (the starting contender rotates
  from one repetition to the next), so slow drifts of the machine hit all
  contenders alike.
* Workers run with a copy of the environment from which OPENBLAS_CORETYPE and
  OPENBLAS_L2_SIZE are removed (they can slow OpenBLAS down), and with
  OPENBLAS_NUM_THREADS / OMP_NUM_THREADS / MKL_NUM_THREADS set to the thread
  count; NumPy/sklearn workers additionally use threadpoolctl, PyTorch uses
  torch.set_num_threads, fastmlp uses fm.set_num_threads when it exists.
* Each timing is sized (per contender, in a calibration pass that also warms
  up) to take about --target-time seconds (default 1 s).
* Before every timed training run the model is reset to the same initial
  weights (outside the timed region), so every repetition does identical work.

See bench/README.md for what every row means. The code is in bench/mlp/ (its rooms: mlp/__init__.py);
this file is the command line.
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:  # the mlp package, also when this file is imported by its path
    sys.path.insert(0, HERE)

from mlp.cli import main, parse_args  # noqa: E402
from mlp.report import run_lines, write_reports  # noqa: E402
from mlp.tables import pct_of_limit  # noqa: E402
from mlp.workload import NumpyMLP, forward_flops, train_flops  # noqa: E402

__all__ = [
    "NumpyMLP",
    "forward_flops",
    "main",
    "parse_args",
    "pct_of_limit",
    "run_lines",
    "train_flops",
    "write_reports",
]

if __name__ == "__main__":
    sys.exit(main())
