"""predict_proba / predict / forward / evaluate with comm when the processes pass different X
(issue 28, F9): tests/mpi/predict_rows.py under mpiexec with 2 processes."""

import os
import subprocess
import sys

import pytest

from test_mpi import HERE, _mpiexec

pytestmark = pytest.mark.mpi


def test_different_rows_per_rank_are_an_error_on_every_rank():
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1", OMP_NUM_THREADS="1")
    env["OMPI_MCA_rmaps_base_oversubscribe"] = "1"
    done = subprocess.run(
        [_mpiexec(), "-n", "2", sys.executable, str(HERE / "mpi" / "predict_rows.py")],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "on 2 processes, 0 failures" in done.stdout
