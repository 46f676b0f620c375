"""What a first data-parallel fit learns of its rows (label classes, a DataFrame's vocabularies)
must be the same on every process: run under ``mpiexec -n 2 python tests/mpi/learned.py``
(tests/test_mpi_learned.py does). Rank 0 prints one line per scenario and process,
``<scenario> rank R: <outcome>``, then ``done``."""

import numpy as np
import pandas as pd
from mpi4py import MPI

import fastmlp as fm

comm = MPI.COMM_WORLD
RANK = comm.Get_rank()


def model():
    return fm.Sequential([fm.Dense(6, "relu"), fm.Dense(2, "softmax")], seed=3)


def frame(categories):
    rng = np.random.default_rng(RANK)
    df = pd.DataFrame({"a": rng.normal(size=40), "c": rng.choice(categories, 40)})
    return df, rng.integers(0, 2, 40)


def other_categories():
    """Rank 0's rows hold categories x, y and rank 1's x, z: the same sizes, other meanings."""
    df, y = frame(["x", "y"] if RANK == 0 else ["x", "z"])
    m = model()
    try:
        m.fit(df, y, epochs=1, comm=comm, sharded=True)
        return f"no error, vocabulary {m.layers[0].columns.columns[1]['categories']}"
    except ValueError as e:
        return f"ValueError: {e} (built: {m.built})"


def other_labels():
    """Rank 0's labels are a, b and rank 1's a, c."""
    X = np.random.default_rng(RANK).normal(size=(40, 3))
    y = np.where(np.arange(40) % 2, "a", "b" if RANK == 0 else "c")
    m = model()
    try:
        m.fit(X, y, epochs=1, comm=comm, sharded=True)
        return f"no error, classes {list(m.classes_)}"
    except ValueError as e:
        return f"ValueError: {e} (built: {m.built})"


def same_categories():
    """Both ranks see x, y: the fit runs, with the same vocabulary everywhere."""
    df, y = frame(["x", "y"])
    m = model()
    m.fit(df, y, epochs=1, comm=comm, sharded=True)
    return f"no error, vocabulary {m.layers[0].columns.columns[1]['categories']}"


for scenario in (other_categories, other_labels, same_categories):
    outcomes = comm.gather(scenario())
    if RANK == 0:
        for rank, outcome in enumerate(outcomes):
            print(f"{scenario.__name__} rank {rank}: {outcome}", flush=True)
if RANK == 0:
    print("done", flush=True)
