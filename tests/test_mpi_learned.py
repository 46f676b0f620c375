"""A data-parallel fit whose processes learned other label classes or DataFrame vocabularies from
their own rows (sharded=True) is refused on every process (tests/mpi/learned.py under mpiexec)."""

import subprocess
import sys

import pytest

from test_mpi import HERE, _mpiexec, mpi_env

pytestmark = pytest.mark.mpi


def test_processes_that_learned_other_classes_or_categories_are_refused():
    done = subprocess.run(
        [_mpiexec(), "-n", "2", sys.executable, str(HERE / "mpi" / "learned.py")],
        capture_output=True,
        text=True,
        timeout=120,
        env=mpi_env(),
    )
    out = done.stdout
    assert done.returncode == 0 and out.rstrip().endswith("done"), out + done.stderr
    for scenario in ("other_categories", "other_labels"):
        for rank in (0, 1):  # every process refuses (none goes on to a sum the other never makes)
            line = next(x for x in out.splitlines() if x.startswith(f"{scenario} rank {rank}:"))
            assert "ValueError: data-parallel fit: rank(s) [1] learned other label classes" in line, out
            assert line.endswith("(built: False)"), out  # the refused fit left the model as it was
    assert "same_categories rank 1: no error, vocabulary ['x', 'y']" in out
