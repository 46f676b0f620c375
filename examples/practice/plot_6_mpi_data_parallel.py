"""
Data-parallel training with ``mpiexec``
=======================================

With MPI, every process (rank) computes the gradient of its share of each
mini-batch, one all-reduce sums them, and every rank takes the same optimizer
step, so N processes train the model one process would. The script below is
what you run as ``mpiexec -n 2 python train.py``; this page writes it to a
file and runs it when ``mpiexec``, ``mpi4py`` and a fastmlp whose ``fit``
takes ``comm`` are all present, and otherwise says which is missing.
"""

import importlib.util
import inspect
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import fastmlp as fm

TRAIN = """
import numpy as np
from mpi4py import MPI
import fastmlp as fm

comm = MPI.COMM_WORLD
rng = np.random.default_rng(0)                  # the same data on every rank
X = rng.normal(size=(4096, 20))
y = (X[:, :5].sum(axis=1) > 0).astype(np.int64)

model = fm.Sequential([fm.Dense(20, 32, "relu"), fm.Dense(32, 1, "sigmoid")], seed=0)
history = model.fit(X, y, epochs=5, optimizer=fm.SGD(learning_rate=0.1), batch_size=256, comm=comm)
if comm.rank == 0:                              # every rank holds the same weights
    print(f"{comm.size} ranks: loss {history.loss[-1]:.4f}, accuracy {model.accuracy(X, y):.3f}")
"""
print(TRAIN)

# %%
# Run it on two processes where everything needed is here:
missing = [
    what
    for what, ok in (
        ("mpiexec", shutil.which("mpiexec") is not None),
        ("mpi4py", importlib.util.find_spec("mpi4py") is not None),
        ("fit(comm=...)", "comm" in inspect.signature(fm.Sequential.fit).parameters),
    )
    if not ok
]
if missing:
    print("Not run here; missing:", ", ".join(missing))
else:
    script = Path(tempfile.mkdtemp()) / "train.py"
    script.write_text(TRAIN)
    out = subprocess.run(
        ["mpiexec", "-n", "2", sys.executable, str(script)], capture_output=True, text=True, timeout=300
    )
    print(out.stdout, out.stderr)
    out.check_returncode()
