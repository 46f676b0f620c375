"""Data-parallel training over MPI (mpi4py), Horovod's design: every process holds the model,
computes the gradient of its rows of each global mini-batch, one all-reduce sums the flat
gradient buffer (plus the step's weight, loss and accuracy sums: a few numbers), and every
process applies the same optimizer step, so all hold bit-identical weights.

    mpiexec -n 4 python train.py          # model.fit(X, y, ..., comm=MPI.COMM_WORLD)

How the all-reduce is reached: the C++ training loop calls back into Python once per step
(with the GIL taken for that call only) and mpi4py's ``Allreduce`` runs on NumPy views of the
C++ buffers (no copies); the rest of the step runs in C++ without the GIL. The cost of the hook
is measured in ``bench/bench_distributed.py``.

Two ways to hold the data (``sharded``):
  - False: every process holds the same X, y (arrays, or a memmap of the same file) and uses
    the same seed; the result equals a one-process ``fit`` with the same arguments, to rounding.
  - True: each process holds its own rows; each global batch is the concatenation, in rank
    order, of every process's next ``batch_size / size`` rows. With ``shuffle=False`` this equals
    a one-process fit on the rows so interleaved (see ``interleave``).
    A chunked source (fastmlp.data) is split the same way: each process reads every N-th shard
    file (or chunk) from its rank on (``Source.shard``); per chunk the processes exchange their
    chunk sizes, and one through its chunks takes part in the others' steps with no rows.
Only rank 0 writes files (``Sequential.save`` on other ranks does nothing) and shows progress.
Bad use (different models, options or data shapes on different processes, a process with no
rows, processes whose first fit learned other label classes or DataFrame vocabularies from their
own rows) raises the same ValueError on every process, checked once before training, never a hang.
An error on one process after those checks (its rows hold a NaN the checks did not sample, its
callback raises, a chunk cannot be read) is raised there and, naming that rank, on every other
process: the C++ loop agrees on failures at its start, at each chunk and at each epoch's end.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("comm= needs mpi4py: pip install 'fastmlp[mpi]' (mpi4py and an MPI such as mpich)") from e
    return MPI


def check_comm(comm):
    """`comm` if it is an mpi4py communicator, else TypeError."""
    if not all(hasattr(comm, name) for name in ("Get_rank", "Get_size", "Allreduce", "allgather")):
        raise TypeError(f"comm must be an mpi4py communicator (e.g. MPI.COMM_WORLD), got {type(comm).__name__}")
    return comm


def parallel(comm):
    """The checked communicator when there is work to split (two processes or more), else None."""
    return None if comm is None or check_comm(comm).Get_size() == 1 else comm


def is_root(comm) -> bool:
    """True on the process that writes files and prints: rank 0, or always without comm."""
    return comm is None or comm.Get_rank() == 0


class together:
    """``with together(comm): <checks>``: an exception in the block on any process becomes an
    exception on every process (the process's own, or a ValueError naming the failing rank), so
    that no process goes on to a collective call the others never make. No-op without comm."""

    def __init__(self, comm):
        self.comm = comm

    def __enter__(self):
        return self

    def __exit__(self, kind, error, tb):
        if self.comm is None:
            return False
        mine = None if error is None else f"{kind.__name__}: {error}"
        reports = self.comm.allgather(mine)
        if error is not None:
            return False  # this process raises its own error
        failed = [(r, m) for r, m in enumerate(reports) if m is not None]
        if failed:
            rank, message = failed[0]
            raise ValueError(f"data-parallel fit: rank {rank} rejected the call: {message}")
        return False


def total(array, comm):
    """The sum of `array` over the processes (a new array, the same on every process)."""
    return comm.allreduce(array)


def allreduce_in_place(comm):
    """sum(array): adds `array` over the processes, in place (the same result on every process)."""
    MPI = _mpi()

    def allreduce(array):
        comm.Allreduce(MPI.IN_PLACE, array, op=MPI.SUM)

    return allreduce


def digest(*parts) -> str:
    """A short fingerprint of JSON-able parts and arrays (compared across processes)."""
    h = hashlib.sha1()
    for part in parts:
        if isinstance(part, np.ndarray):
            h.update(np.ascontiguousarray(part).view(np.uint8).data)
        else:
            h.update(json.dumps(part, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def agree(comm, what: dict) -> list:
    """Gathers `what` from every process; ValueError on every process naming the first entry that
    differs. Returns the gathered list (one dict per rank)."""
    gathered = comm.allgather(what)
    for key in what:
        values = [g.get(key) for g in gathered]
        if any(v != values[0] for v in values):
            per_rank = ", ".join(f"rank {r}: {v}" for r, v in enumerate(values))
            raise ValueError(
                f"data-parallel fit: the processes disagree on {key} ({per_rank}); every process must "
                "pass the same model, options and data shapes"
            )
    return gathered


def collective(comm, rows: int, sharded: bool) -> tuple:
    """What the C++ loop takes: (rank, size, sharded, rows_per_rank, allreduce)."""
    rows_per_rank = [int(r) for r in comm.allgather(int(rows))]
    empty = [r for r, n in enumerate(rows_per_rank) if n == 0]
    if empty:
        raise ValueError(f"data-parallel fit: rank(s) {empty} hold no training rows")
    return comm.Get_rank(), comm.Get_size(), bool(sharded), rows_per_rank, allreduce_in_place(comm)


def shard(source, comm, sharded: bool):
    """This process's part of a training source: with ``sharded``, its share of the chunks
    (``Source.shard``; in-memory arrays are this process's own already), else all of it."""
    return source.shard(comm.Get_rank(), comm.Get_size()) if comm is not None and sharded else source


def shard_validation(source, comm):
    """A validation source split between the processes (each evaluates its share and the loop
    sums); one with fewer chunks than processes is evaluated whole by each (the same means)."""
    if comm is not None and (source.chunk_count() or 0) >= comm.Get_size():
        return source.shard(comm.Get_rank(), comm.Get_size())
    return source


def agree_to_fit(model, comm, sharded: bool, X, Y, W, X_val, options, schedule, early_stopping, source=None):
    """Every process must bring the same model, options and data shapes (and, unless sharded,
    the same rows): ValueError on every process otherwise. Returns the collective for the C++
    loop. With a chunked source, the rows per process are known chunk by chunk (the loop
    exchanges them)."""
    _same_learned(model, comm)
    es = None if early_stopping is None else repr(early_stopping)
    what = {
        "model": digest(repr(model), model.l2, model.optimizer.get_config(), model.epochs_trained, model.params),
        "options": digest(
            options.epochs,
            options.batch_size,
            options.tol,
            options.shuffle,
            options.seed,
            repr(schedule),
            es,
            options.record_grad_norms,
            X_val is None,
        ),
        "sharded": sharded,
        "features": X.shape[1],
        "targets": (Y.dtype.str, Y.shape[1:]),
        "sample weights": W is None,
    }
    if source is not None:
        what["source"] = type(source).__name__
        if not sharded:
            what["rows"] = (source.n_rows, source.chunk_count())
    elif not sharded:  # the same rows: their count and a sample of them
        what["rows"] = X.shape[0]
        what["data"] = digest(X[:2], X[-2:], Y[:2], Y[-2:])
    agree(comm, what)
    return collective(comm, 1 if source is not None else X.shape[0], sharded)


def _same_learned(model, comm) -> None:
    """What a first fit learns of its data (the label classes; a DataFrame's vocabularies and medians,
    a first Normalization's statistics: the layers' configs) must be the same on every process: with
    sharded=True each learns from its own rows, and a category or label that is code 3 on one process
    and another's code 3 elsewhere would train one embedding row on both. ValueError on every process."""
    classes = None if model._label_classes is None else [repr(c) for c in model._label_classes]
    learned = comm.allgather(digest(classes, [layer.get_config() for layer in model.layers]))
    if any(d != learned[0] for d in learned):
        differ = [r for r, d in enumerate(learned) if d != learned[0]]
        raise ValueError(
            f"data-parallel fit: rank(s) {differ} learned other label classes or DataFrame columns (vocabularies, "
            "medians, a first Normalization's statistics) from their rows than rank 0: learn them from the same "
            "data on every process first (a fit with sharded=False, or a first fit on a sample that holds every "
            "class and category), or give class ids and numeric columns"
        )


def same_rows(comm, what: str, *arrays) -> None:
    """forward / loss with comm split the rows of arrays every process holds alike: ValueError on
    every process when their shapes (or a sample of their rows) differ, never a wrong result."""
    mine = (tuple(a.shape for a in arrays), digest(*[part for a in arrays for part in (a[:2], a[-2:])]))
    gathered = comm.allgather(mine)
    if any(g != gathered[0] for g in gathered):
        per_rank = ", ".join(f"rank {r}: {g[0][0][0]} rows" for r, g in enumerate(gathered))
        raise ValueError(
            f"{what} with comm: every process must pass the same X (and y), the processes split its "
            f"rows; got different data ({per_rank}). For rows of its own on each process, call it without comm"
        )


def forward(engine, X: np.ndarray, comm, n_outputs: int) -> np.ndarray:
    """The engine's outputs for every row of X on every process, each process computing its
    share of the rows (MPI Allgatherv); without comm (or with one process), the engine's own."""
    if (comm := parallel(comm)) is None:
        return engine.forward(X)
    same_rows(comm, "forward / predict", X)
    start, stop, counts = share(X.shape[0], comm)
    mine = engine.forward(X[start:stop]) if stop > start else np.empty((0, n_outputs), X.dtype)
    out = np.empty((X.shape[0], n_outputs), X.dtype)
    comm.Allgatherv(mine, [out, [c * n_outputs for c in counts]])
    return out


def objective(engine, X: np.ndarray, Y: np.ndarray, W, comm) -> float:
    """The (weighted) mean loss J over every row, each process computing its share of the rows;
    without comm (or with one process), the engine's own."""
    if (comm := parallel(comm)) is None:
        return engine.objective(X, Y, W)
    same_rows(comm, "loss / evaluate", X, Y)
    start, stop, _ = share(X.shape[0], comm)
    w = (stop - start if W is None else float(W[start:stop].sum())) if stop > start else 0.0
    J = engine.objective(X[start:stop], Y[start:stop], None if W is None else W[start:stop]) if w else 0.0
    total = comm.allreduce(np.array([w, w * J]))
    return float(total[1] / total[0])


def share(n: int, comm):
    """This process's near-equal share [start, stop) of n rows, and every process's count
    (the split the C++ loop uses for batches and validation)."""
    size, rank = comm.Get_size(), comm.Get_rank()
    counts = [n // size + (1 if r < n % size else 0) for r in range(size)]
    start = sum(counts[:rank])
    return start, start + counts[rank], counts


def interleave(shards: list, local_batch: int) -> list:
    """The rows of per-process shards in the order a sharded fit sees them with shuffle=False:
    batch j is shards[0][j b:(j+1) b], shards[1][j b:(j+1) b], ... (b = local_batch). Returns the
    row indices into np.concatenate(shards)."""
    offsets = np.cumsum([0] + [len(s) for s in shards])
    longest = max(len(s) for s in shards)
    out = []
    for start in range(0, longest, local_batch):
        for r, s in enumerate(shards):
            stop = min(start + local_batch, len(s))
            out.extend(range(offsets[r] + start, offsets[r] + stop) if start < len(s) else [])
    return out
