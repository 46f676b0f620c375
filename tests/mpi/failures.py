"""An error on one process reaches every process, in bounded time (never a hang in a sum): run
under ``mpiexec -n 2 python tests/mpi/failures.py SCENARIO`` (tests/test_mpi.py does). Every
process's outcome, ``<exception type>: <message>`` or ``no error``, is printed by rank 0 as
``rank R: <outcome>``."""

import sys

import numpy as np
from mpi4py import MPI

import fastmlp as fm

comm = MPI.COMM_WORLD
RANK = comm.Get_rank()


def model():
    return fm.Sequential([fm.Dense(4, 6, "tanh"), fm.Dense(6, 3, "softmax")], seed=3, optimizer=fm.SGD(0.1))


def data(m=64):
    rng = np.random.default_rng(0)
    return rng.normal(size=(m, 4)), rng.integers(0, 3, size=m)


def nan_in_unsampled_row():
    """The fingerprint samples the first and last rows; rank 1's row 30 holds a NaN."""
    X, y = data()
    if RANK == 1:
        X[30, 2] = np.nan
    model().fit(X, y, epochs=3, batch_size=8, comm=comm)


def nan_sharded():
    X, y = data(32 + 8 * RANK)
    if RANK == 1:
        X[5, 0] = np.nan
    model().fit(X, y, epochs=3, batch_size=8, comm=comm, sharded=True)


def callback_raises():
    X, y = data()

    def cb(epoch, logs):
        if RANK == 1 and epoch == 1:
            raise RuntimeError("callback failed on purpose")

    model().fit(X, y, epochs=5, batch_size=8, comm=comm, callback=cb)


def fine():
    X, y = data()
    model().fit(X, y, epochs=2, batch_size=8, comm=comm, callback=lambda epoch, logs: None)


if __name__ == "__main__":
    try:
        globals()[sys.argv[1]]()
        outcome = "no error"
    except Exception as e:
        outcome = f"{type(e).__name__}: {e}".replace("\n", " ")
    outcomes = comm.gather(outcome)  # rank 0 prints them all (the ranks' own prints may interleave)
    for r, line in enumerate(outcomes or []):
        print(f"rank {r}: {line}", flush=True)
