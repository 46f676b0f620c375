"""Under mpiexec: predict / predict_proba / forward / evaluate with comm when the processes pass
different X (issue 28, F9): a ValueError on every process, never outputs that differ from the
local ones; the same X on every process gives the local results."""

import numpy as np
from mpi4py import MPI

import fastmlp as fm

comm = MPI.COMM_WORLD
rank = comm.Get_rank()
model = fm.Sequential([fm.Dense(4, 8, "relu"), fm.Dense(8, 3, "softmax")], seed=0)
rng = np.random.default_rng(0)
X, y = rng.normal(size=(40, 4)), rng.integers(0, 3, size=40)
failures = 0

np.testing.assert_allclose(model.predict_proba(X, comm=comm), model.predict_proba(X), rtol=1e-6)

mine = X[: 10 + 3 * rank]  # different row counts per rank
for name, call in [
    ("predict_proba", lambda: model.predict_proba(mine, comm=comm)),
    ("predict", lambda: model.predict(mine, comm=comm)),
    ("forward", lambda: model.forward(mine, comm=comm)),
    ("evaluate", lambda: model.evaluate(mine, y[: len(mine)], comm=comm)),
    ("same count, other rows", lambda: model.predict_proba(X[rank : rank + 10], comm=comm)),
]:
    try:
        call()
        print(f"rank {rank}: {name} with different X per rank gave no error", flush=True)
        failures += 1
    except ValueError as e:
        if "every process must pass the same X" not in str(e):
            print(f"rank {rank}: {name}: unexpected message {e}", flush=True)
            failures += 1

failures = comm.allreduce(failures)
if rank == 0:
    print(f"on {comm.Get_size()} processes, {failures} failures", flush=True)
