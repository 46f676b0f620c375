"""Data-parallel training equals one process: run under ``mpiexec -n N python tests/mpi/equivalence.py``
(tests/test_mpi.py does, for N = 2 and 3). Every process computes the one-process fit itself and
compares it with the data-parallel one; the exit status is the number of failed scenarios."""

import os
import sys
import tempfile
import traceback

import numpy as np
from mpi4py import MPI

import fastmlp as fm
from fastmlp import distributed

comm = MPI.COMM_WORLD
RANK, SIZE = comm.Get_rank(), comm.Get_size()
TOL = {"float64": 1e-10, "float32": 1e-5}
SCENARIOS = []


def scenario(fn):
    SCENARIOS.append(fn)
    return fn


def data(m=103, d=5, k=3, seed=0, regression=False):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(m, d))
    y = rng.normal(size=(m, 1)) if regression else rng.integers(0, k, size=m)
    return X, y


def model(dtype="float64", optimizer=None, dropout=0.0, l2=0.0, out=3, loss=None, hidden="tanh"):
    layers = [fm.Dense(5, 8, hidden)]
    if dropout:
        layers.append(fm.Dropout(dropout))
    layers.append(fm.Dense(8, out, "softmax" if out > 1 and loss is None else "linear"))
    return fm.Sequential(
        layers, dtype=dtype, seed=7, l2=l2, loss=loss, optimizer=optimizer if optimizer is not None else fm.SGD(0.1)
    )


def close(a, b, dtype, what):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    err = np.max(np.abs(a - b)) / max(1e-300, np.max(np.abs(b)))
    assert err <= TOL[dtype], f"{what}: relative difference {err:.3g} > {TOL[dtype]:g}"


def identical_on_every_rank(params):
    gathered = comm.allgather(np.asarray(params).copy())
    assert all(np.array_equal(gathered[0], p) for p in gathered), "the ranks hold different weights"


def equal_fits(make, X, y, dtype="float64", **kw):
    one, dp = make(), make()
    h1 = one.fit(X, y, **kw)
    h2 = dp.fit(X, y, comm=comm, **kw)
    close(dp.params, one.params, dtype, "weights")
    for key in h1.history:
        close(h2.history[key], h1.history[key], dtype, f"history[{key!r}]")
    assert h1.epochs == h2.epochs and h1.best_epoch == h2.best_epoch and h1.stopped_early == h2.stopped_early
    identical_on_every_rank(dp.params)
    return one, dp


@scenario
def optimizers_and_dtypes():
    X, y = data()
    for dtype in ("float64", "float32"):
        for opt in (
            lambda: fm.SGD(0.1),
            lambda: fm.SGD(0.05, momentum=0.9),
            lambda: fm.SGD(0.05, momentum=0.9, nesterov=True),
            lambda: fm.Adam(0.01),
            lambda: fm.AdamW(0.01, weight_decay=0.1),
        ):
            equal_fits(lambda: model(dtype, opt(), l2=0.01), X, y, dtype, epochs=3, batch_size=16, seed=1)


@scenario
def sample_and_class_weights_short_last_batch():
    X, y = data(m=50)
    w = np.random.default_rng(2).uniform(0, 2, size=50)
    equal_fits(lambda: model(), X, y, epochs=3, batch_size=7, sample_weight=w, seed=3)
    equal_fits(lambda: model(), X, y, epochs=3, batch_size=7, class_weight="balanced", seed=3)
    equal_fits(lambda: model(), X, y, epochs=2, batch_size=2, seed=3)  # batches smaller than the ranks: empty slices


@scenario
def full_batch_and_dropout():
    X, y = data()
    equal_fits(lambda: model(), X, y, epochs=4, batch_size=None)
    equal_fits(lambda: model(dropout=0.3, hidden="relu"), X, y, epochs=3, batch_size=10, seed=4)


@scenario
def regression_validation_early_stopping_plateau_tol():
    X, y = data(regression=True)
    make = lambda: model(out=1, loss="mse", optimizer=fm.SGD(0.05))
    equal_fits(
        make,
        X,
        y,
        epochs=30,
        batch_size=16,
        validation_split=0.25,
        early_stopping=fm.EarlyStopping(patience=2, min_delta=1e-3),
        schedule=fm.schedules.ReduceOnPlateau(factor=0.5, patience=1, monitor="val_loss"),
        seed=5,
    )
    equal_fits(make, X, y, epochs=200, batch_size=None, tol=1e-3)


@scenario
def divergence_on_every_rank():
    X, y = data(regression=True)
    X, y = X * 100, y * 1e3
    errors = []
    for use_comm in (False, True):
        m = model(out=1, loss="mse", optimizer=fm.SGD(1e3))
        try:
            m.fit(X, y, epochs=50, batch_size=16, comm=comm if use_comm else None)
        except fm.DivergenceError as e:
            errors.append((e.epoch, m.params.copy()))
    assert len(errors) == 2, "both fits must diverge"
    assert errors[0][0] == errors[1][0]
    close(errors[1][1], errors[0][1], "float64", "restored weights")
    identical_on_every_rank(errors[1][1])


@scenario
def sharded_equals_interleaved():
    """Equal shards: the sharded fit equals a one-process fit (shuffle=False) on the rows interleaved
    batch by batch; uneven shards train too (the last global batches hold the longer shards' rows)."""
    X, y = data(m=23 * SIZE)
    shards = [np.arange(r * 23, (r + 1) * 23) for r in range(SIZE)]
    local_batch = 4
    order = np.concatenate(shards)[distributed.interleave([X[s] for s in shards], local_batch)]
    for make in (lambda: model(dropout=0.2, hidden="relu"), lambda: model(optimizer=fm.Adam(0.01))):
        one, dp = make(), make()
        one.fit(X[order], y[order], epochs=3, batch_size=local_batch * SIZE, shuffle=False)
        mine = shards[RANK]
        dp.fit(X[mine], y[mine], epochs=3, batch_size=local_batch * SIZE, shuffle=False, comm=comm, sharded=True)
        close(dp.params, one.params, "float64", "sharded weights")
        identical_on_every_rank(dp.params)
    uneven = np.arange(0, 10 + 5 * RANK)
    for shuffle in (False, True):
        dp = model()
        h = dp.fit(
            X[uneven], y[uneven], epochs=2, batch_size=local_batch * SIZE, shuffle=shuffle, comm=comm, sharded=True
        )
        identical_on_every_rank(dp.params)
        assert np.isfinite(h.loss).all()


@scenario
def predictions_and_loss_with_comm():
    X, y = data(m=11)
    m = model()
    np.testing.assert_array_equal(m.predict(X, comm=comm), m.predict(X))
    close(m.forward(X, comm=comm), m.forward(X), "float64", "forward")
    close(m.loss(X, y, comm=comm), m.loss(X, y), "float64", "loss")


@scenario
def bad_use_is_a_clear_error_on_every_rank():
    X, y = data()

    def expect(fn, match):
        try:
            fn()
        except ValueError as e:
            assert match in str(e), str(e)
        else:
            raise AssertionError(f"no ValueError ({match})")

    bad_seed = fm.Sequential([fm.Dense(5, 3, "softmax")], seed=RANK)  # different weights per rank
    expect(lambda: bad_seed.fit(X, y, epochs=1, comm=comm), "model")
    expect(lambda: model().fit(X, y, epochs=1 + RANK, comm=comm), "options")
    expect(lambda: model().fit(X[: 50 + RANK], y[: 50 + RANK], epochs=1, comm=comm), "rows")
    empty = slice(0, 0) if RANK == SIZE - 1 else slice(None)
    expect(
        lambda: model().fit(X[empty], y[empty], epochs=1, comm=comm, sharded=True),
        f"rank {SIZE - 1} rejected" if RANK != SIZE - 1 else "empty",
    )
    expect(lambda: model().fit(X, y, epochs=1, batch_size=SIZE * 3 + 1, comm=comm, sharded=True), "multiple")


def shared_folder():
    """A temporary folder every rank sees (rank 0 makes it)."""
    return comm.bcast(tempfile.mkdtemp(prefix="fastmlp-mpi-") if RANK == 0 else None)


def write_shards(folder, X, y, sizes):
    """Rank 0 writes X_i.npy / y_i.npy holding consecutive rows of X, y (sizes[i] rows each)."""
    if RANK == 0:
        start = 0
        for i, n in enumerate(sizes):
            np.save(os.path.join(folder, f"X_{i:02d}.npy"), X[start : start + n])
            np.save(os.path.join(folder, f"y_{i:02d}.npy"), y[start : start + n])
            start += n
    comm.Barrier()
    return os.path.join(folder, "X_*.npy"), os.path.join(folder, "y_*.npy")


@scenario
def sharded_sources_equal_sharded_arrays():
    """Each rank reads its own .npy files (every SIZE-th, from its rank on): with chunks of whole
    local batches and shuffle=False, the same weights as a sharded fit on those rows as arrays."""
    folder, b = shared_folder(), 4
    X, y = data(m=2 * SIZE * 3 * b)
    xs, ys = write_shards(folder, X, y, [3 * b] * (2 * SIZE))
    mine = np.concatenate([np.arange(i * 3 * b, (i + 1) * 3 * b) for i in (RANK, RANK + SIZE)])
    for make in (lambda: model(dropout=0.2, hidden="relu"), lambda: model(optimizer=fm.Adam(0.01))):
        arrays, source = make(), make()
        ha = arrays.fit(X[mine], y[mine], epochs=3, batch_size=b * SIZE, shuffle=False, comm=comm, sharded=True)
        hs = source.fit(fm.data.from_npy(xs, ys), epochs=3, batch_size=b * SIZE, shuffle=False, comm=comm, sharded=True)
        close(source.params, arrays.params, "float64", "weights from sharded files")
        close(hs.loss, ha.loss, "float64", "loss history")
        identical_on_every_rank(source.params)


@scenario
def sharded_sources_uneven_shuffled_validated_balanced():
    """Ranks with different numbers and sizes of chunks (the longer ones train on while the others
    give no rows), shuffled, dropout, a validation source, class_weight="balanced" counted over all
    ranks: every rank ends with the same weights, the same as with the global class weights given."""
    folder = shared_folder()
    X, y = data(m=200, seed=3)
    y = np.where(np.arange(200) % 3 == 0, 0, y)  # unbalanced classes
    sizes = [30, 17, 25, 9, 41, 23, 55][: 2 * SIZE + 1]
    xs, ys = write_shards(folder, X, y, sizes)
    Xv, yv = data(m=40, seed=4)
    counts = np.bincount(y[: sum(sizes)], minlength=3)
    balanced = {c: sum(sizes) / (3 * n) for c, n in enumerate(counts)}
    val = fm.data.from_arrays(Xv, yv, chunk_rows=7)
    fits = []
    for cw in ("balanced", balanced):
        m = model(dropout=0.2, hidden="relu")
        h = m.fit(
            fm.data.from_npy(xs, ys),
            epochs=3,
            batch_size=2 * SIZE,
            comm=comm,
            sharded=True,
            validation_data=val,
            class_weight=cw,
            seed=5,
        )
        identical_on_every_rank(m.params)
        assert np.isfinite(h.loss).all() and np.isfinite(h.history["val_loss"]).all()
        fits.append((m.params.copy(), h))
    close(fits[0][0], fits[1][0], "float64", "balanced counted over the ranks")
    one = model()
    close(one.evaluate(val)[0], one.evaluate(Xv, yv)[0], "float64", "validation source")
    # the validation loss the loop reports is that of the whole validation set
    m = model()
    h = m.fit(fm.data.from_npy(xs, ys), epochs=1, batch_size=2 * SIZE, comm=comm, sharded=True, validation_data=val)
    close(h.history["val_loss"][-1], m.loss(Xv, yv), "float64", "val_loss over every rank's validation chunks")


@scenario
def same_source_on_every_rank_equals_one_process():
    """sharded=False: every rank reads the whole source and computes its slice of each batch."""
    X, y = data(m=90)
    source = lambda: fm.data.from_arrays(X, y, chunk_rows=30)
    val = fm.data.from_arrays(*data(m=20, seed=9), chunk_rows=6)
    one, dp = model(dropout=0.2, hidden="relu"), model(dropout=0.2, hidden="relu")
    h1 = one.fit(source(), epochs=3, batch_size=10, validation_data=val)
    h2 = dp.fit(source(), epochs=3, batch_size=10, validation_data=val, comm=comm)
    close(dp.params, one.params, "float64", "weights")
    close(h2.history["val_loss"], h1.history["val_loss"], "float64", "val_loss")
    identical_on_every_rank(dp.params)


@scenario
def source_errors_reach_every_rank():
    X, y = data(m=60)

    def reader():  # rank 1's reader fails at its second chunk
        for i in range(3):
            if RANK == 1 and i == 1:
                raise OSError("disk on fire")
            yield X[i * 20 : (i + 1) * 20], y[i * 20 : (i + 1) * 20]

    try:
        model().fit(reader, epochs=1, batch_size=4 * SIZE, comm=comm, sharded=True)
    except Exception as e:  # noqa: BLE001 - which error depends on the rank
        assert ("disk on fire" if RANK == 1 else "rank 1 could not read") in str(e), str(e)
    else:
        raise AssertionError("no error")

    def val_reader():  # rank 1's validation reader fails
        if RANK == 1:
            raise OSError("validation disk on fire")
        yield X[:10], y[:10]

    try:
        model().fit(X, y, epochs=1, batch_size=4 * SIZE, comm=comm, validation_data=fm.data.IterableSource(val_reader))
    except Exception as e:  # noqa: BLE001 - which error depends on the rank
        assert ("validation disk on fire" if RANK == 1 else "rank 1 could not evaluate") in str(e), str(e)
    else:
        raise AssertionError("no error")
    try:  # one chunk cannot be split between the processes
        model().fit(fm.data.from_arrays(X, y), epochs=1, comm=comm, sharded=True)
    except ValueError as e:
        assert "no chunks" in str(e), str(e)
    else:
        raise AssertionError("no ValueError")


@scenario
def layer_norm_equals_one_process_batch_norm_refused():
    """LayerNormalization works row by row: data parallelism changes nothing. BatchNormalization
    would need synchronized batch statistics: NotImplementedError on every rank, before training."""
    X, y = data()

    def make(norm):
        layers = [fm.Dense(5, 8, "tanh"), norm, fm.Dense(8, 3, "softmax")]
        return fm.Sequential(layers, dtype="float64", seed=7, optimizer=fm.SGD(0.1))

    equal_fits(lambda: make(fm.LayerNormalization()), X, y, epochs=3, batch_size=16, seed=1)
    try:
        make(fm.BatchNormalization()).fit(X, y, epochs=1, comm=comm)
    except NotImplementedError as e:
        assert "synchronized" in str(e), str(e)
    else:
        raise AssertionError("no NotImplementedError")


def main():
    failed = 0
    for fn in SCENARIOS:
        try:
            fn()
        except Exception:  # report every scenario, keep the ranks in step
            failed += 1
            print(f"[rank {RANK}] FAILED {fn.__name__}\n{traceback.format_exc()}", file=sys.stderr, flush=True)
        comm.Barrier()
    total = comm.allreduce(failed)
    if RANK == 0:
        print(f"{len(SCENARIOS)} scenarios on {SIZE} processes, {total} failures (summed over ranks)", flush=True)
    return min(total, 100)


if __name__ == "__main__":
    sys.exit(main())
