"""Data-parallel training (fastmlp.distributed): the equivalence scenarios of tests/mpi/equivalence.py
under mpiexec with 2 and 3 processes, and a one-process communicator changing nothing."""

import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import fastmlp as fm

pytestmark = pytest.mark.mpi
HERE = Path(__file__).resolve().parent


def mpi_env(**extra) -> dict:
    """The environment of an mpiexec job here: Open MPI refuses root and more processes than cores
    unless told (CI runs as root on 2 cores; MPICH ignores these), one thread per process."""
    allow = dict(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMPI_MCA_rmaps_base_oversubscribe="1")
    return dict(os.environ, **allow, OMP_NUM_THREADS="1", **extra)


def _mpiexec():
    pytest.importorskip("mpi4py", reason="needs the [mpi] extra (pip install 'fastmlp[mpi]')")
    found = shutil.which("mpiexec") or shutil.which("mpiexec", path=str(Path(sys.executable).parent))
    if found is None:
        pytest.skip("needs mpiexec (pip install 'fastmlp[mpi]' brings mpich's)")
    return found


@pytest.mark.parametrize("n", [2, 3])
def test_data_parallel_fit_equals_one_process(n):
    mpiexec = _mpiexec()
    env = mpi_env()
    done = subprocess.run(
        [mpiexec, "-n", str(n), sys.executable, str(HERE / "mpi" / "equivalence.py")],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"on {n} processes, 0 failures" in done.stdout


def test_one_process_comm_is_bit_identical():
    pytest.importorskip("mpi4py", reason="needs the [mpi] extra (pip install 'fastmlp[mpi]')")
    from mpi4py import MPI

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(60, 4)), rng.integers(0, 3, size=60)
    for optimizer in (lambda: fm.SGD(0.1), lambda: fm.Adam(0.01)):
        make = lambda: fm.Sequential(
            [fm.Dense(4, 6, "relu"), fm.Dropout(0.2), fm.Dense(6, 3, "softmax")], seed=1, optimizer=optimizer()
        )
        a, b = make(), make()
        ha = a.fit(X, y, epochs=3, batch_size=8, validation_split=0.2)
        hb = b.fit(X, y, epochs=3, batch_size=8, validation_split=0.2, comm=MPI.COMM_SELF)
        np.testing.assert_array_equal(a.params, b.params)
        assert ha.history == hb.history
        np.testing.assert_array_equal(a.predict(X), b.predict(X, comm=MPI.COMM_SELF))


def test_comm_must_be_a_communicator():
    X, y = np.ones((4, 2)), np.array([0, 1, 0, 1])
    model = fm.Sequential([fm.Dense(2, 2, "softmax")], seed=0)
    with pytest.raises(TypeError, match="comm"):
        model.fit(X, y, epochs=1, comm="world")
    with pytest.raises(ValueError, match="sharded"):
        model.fit(X, y, epochs=1, sharded=True)


def test_cli_train_under_mpiexec(tmp_path):
    """`mpiexec -n 2 python -m fastmlp train`: both processes train, rank 0 alone prints and writes."""
    mpiexec = _mpiexec()
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 3))
    np.savetxt(
        tmp_path / "d.csv",
        np.column_stack([X, (X[:, 0] > 0).astype(int)]),
        delimiter=",",
        header="a,b,c,label",
        comments="",
    )
    env = mpi_env(MPLBACKEND="Agg")
    done = subprocess.run(
        [
            mpiexec,
            "-n",
            "2",
            sys.executable,
            "-m",
            "fastmlp",
            "train",
            "d.csv",
            "--target",
            "label",
            "--epochs",
            "3",
            "--batch-size",
            "16",
            "--no-progress",
            "--out",
            "m.safetensors",
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("model saved to m.safetensors") == 1  # rank 0 only
    assert fm.Sequential.load(tmp_path / "m.safetensors").n_features_in == 3


def _run_bounded(args, timeout):
    """Runs `args` in a session of its own; on timeout kills the whole group (mpiexec and its
    ranks) and returns None, so a hang fails the test instead of hanging the suite."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=mpi_env(),
                            start_new_session=True)  # fmt: skip
    try:
        return proc.communicate(timeout=timeout)[0]
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return None


@pytest.mark.parametrize(
    ("scenario", "rank1", "rank0"),
    [
        ("nan_in_unsampled_row", "ValueError: .*(NaN|finite)", "rank 1"),
        ("nan_sharded", "ValueError: .*(NaN|finite)", "rank 1"),
        ("callback_raises", "RuntimeError: callback failed on purpose", "rank 1 .*callback"),
        ("fine", "no error", "no error"),
    ],
)
def test_an_error_on_one_rank_reaches_every_rank(scenario, rank1, rank0):
    """Audit F1: a NaN that only rank 1's data holds (past the start-up fingerprint), or a callback
    raising on rank 1, used to leave rank 0 waiting in an Allreduce forever."""
    out = _run_bounded([_mpiexec(), "-n", "2", sys.executable, str(HERE / "mpi" / "failures.py"), scenario], 90)
    assert out is not None, f"{scenario}: the job hung (killed after 90 s)"
    lines = {int(m.group(1)): m.group(2) for m in re.finditer(r"^rank (\d): (.*)$", out, re.M)}
    assert set(lines) == {0, 1}, out
    assert re.search(rank1, lines[1]), out
    assert re.search(rank0, lines[0]), out
