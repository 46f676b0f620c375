"""CI's rule on skipped tests (a pytest plugin; tests/conftest.py loads its hooks).

With FASTMLP_REQUIRE_ALL_TESTS=1 (.ci/run sets it) the run fails when any test skips, unless the
test is marked ``@pytest.mark.gpu``: it needs a CUDA device (or the CUDA toolkit), which CI's
machine does not have. A missing optional package (torch, pandas, mpi4py, the docs extra ...)
thus fails CI instead of silently dropping its tests. Without the variable, skips are skips.

Every skip is seen, wherever it happens: a skip mark or ``pytest.skip`` in a test or a fixture
(test reports, any phase) and a module-level ``pytest.importorskip`` (collect reports, which
carry no markers: such a skip is never a GPU one). xfail results are not skips. The tests
themselves run to the end; the offending skips are listed in one section of the summary, and
the exit status becomes 1.
"""

from __future__ import annotations

import os

import pytest

ENV = "FASTMLP_REQUIRE_ALL_TESTS"
MARKER = "gpu"


def _required() -> bool:
    return os.environ.get(ENV, "") not in ("", "0")


def _reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:  # (path, line, "Skipped: reason")
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)


_forbidden: list = []  # (node id, reason) of each skip that is not a GPU test's


def pytest_configure(config):
    config.addinivalue_line("markers", f"{MARKER}: needs a CUDA device or toolkit; the only tests CI may skip")


def _note(report, is_gpu: bool) -> None:
    if _required() and report.skipped and not hasattr(report, "wasxfail") and not is_gpu:
        _forbidden.append((report.nodeid, _reason(report)))


def pytest_runtest_logreport(report):
    _note(report, MARKER in report.keywords)


def pytest_collectreport(report):
    _note(report, False)


def pytest_terminal_summary(terminalreporter):
    if _forbidden:
        terminalreporter.section(f"skipped outside the GPU tests ({ENV}=1: they must run)", red=True)
        for nodeid, reason in _forbidden:
            terminalreporter.line(f"{nodeid}: {reason}")


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session):
    if _forbidden and session.exitstatus == 0:
        session.exitstatus = 1
