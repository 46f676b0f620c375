"""predict_proba / predict / forward / evaluate with comm when the processes pass different X
(issue 28, F9): tests/mpi/predict_rows.py under mpiexec with 2 processes."""

import subprocess
import sys

import pytest

from test_mpi import HERE, _mpiexec, mpi_env

pytestmark = pytest.mark.mpi


def test_different_rows_per_rank_are_an_error_on_every_rank():
    done = subprocess.run(
        [_mpiexec(), "-n", "2", sys.executable, str(HERE / "mpi" / "predict_rows.py")],
        capture_output=True,
        text=True,
        timeout=300,
        env=mpi_env(),
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "on 2 processes, 0 failures" in done.stdout
