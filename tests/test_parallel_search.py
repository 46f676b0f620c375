"""Many fits at once: scikit-learn searches over fastmlp.sklearn estimators with joblib (loky
processes) and with joblib's Dask backend, without oversubscription: fastmlp's default thread
count follows OMP_NUM_THREADS and threadpoolctl's limits, and fm.set_num_threads still wins."""

import os
import subprocess
import sys

import numpy as np
import pytest

sklearn = pytest.importorskip("sklearn")
from sklearn.datasets import load_iris  # noqa: E402
from sklearn.model_selection import GridSearchCV  # noqa: E402

from fastmlp.sklearn import MLPClassifier  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
GRID = {"hidden_layer_sizes": [(8,), (16,)], "alpha": [1e-4, 1e-2]}


def _search(**kw):
    X, y = load_iris(return_X_y=True)
    est = MLPClassifier(max_iter=30, random_state=0, solver="sgd", learning_rate_init=0.05)
    return GridSearchCV(est, GRID, cv=2, **kw).fit(X, y)


def _threads_in(env: dict, code: str = "") -> int:
    script = f"import fastmlp as fm\n{code}\nprint(fm.get_num_threads())"
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120, env={**os.environ, **env}
    )
    assert out.returncode == 0, out.stderr
    return int(out.stdout.strip().splitlines()[-1])


def test_default_threads_follow_the_openmp_limits():
    assert _threads_in({"OMP_NUM_THREADS": "1"}) == 1
    pytest.importorskip("threadpoolctl")
    limited = (
        "from threadpoolctl import threadpool_limits\nfm.set_num_threads(2)\n"
        "with threadpool_limits(1, user_api='openmp'):\n    print(fm.get_num_threads())"
    )
    assert _threads_in({"OMP_NUM_THREADS": "2"}, limited + "\n") == 2  # restored after the block
    inner = subprocess.run(
        [sys.executable, "-c", "import fastmlp as fm\n" + limited],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "OMP_NUM_THREADS": "2"},
    )
    assert inner.stdout.split()[0] == "1"  # inside the block: threadpoolctl's limit
    assert _threads_in({"OMP_NUM_THREADS": "1"}, "fm.set_num_threads(2)") == 2  # an explicit setting wins


def test_grid_search_with_loky_processes():
    serial = _search(n_jobs=1)
    parallel = _search(n_jobs=2)
    assert parallel.best_params_ == serial.best_params_
    np.testing.assert_allclose(parallel.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"])


def test_grid_search_on_a_dask_cluster():
    pytest.importorskip("dask.distributed", reason="needs the [dask] extra")
    import joblib
    from dask.distributed import Client, LocalCluster

    serial = _search(n_jobs=1)
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster,
        Client(cluster) as client,
        joblib.parallel_backend("dask"),
    ):
        on_dask = _search(n_jobs=-1)
        # every worker ran within its one thread: fastmlp saw the limit joblib / dask set there
        threads = client.run(lambda: __import__("fastmlp").get_num_threads())
    assert on_dask.best_params_ == serial.best_params_
    np.testing.assert_allclose(on_dask.cv_results_["mean_test_score"], serial.cv_results_["mean_test_score"])
    assert set(threads.values()) == {1}, threads  # dask's workers set OMP_NUM_THREADS=1
