"""fastmlp's thread pool as a threadpoolctl library, so that threadpoolctl's limits (and joblib's,
which sets them in its workers) reach fastmlp like OpenMP libraries: registered at import when
threadpoolctl is installed (scikit-learn brings it)."""

from __future__ import annotations


def register() -> None:
    try:
        import threadpoolctl
    except ImportError:
        return
    from . import _core

    class FastmlpController(threadpoolctl.LibController):
        user_api = "openmp"  # limits given for OpenMP apply to fastmlp's pool too
        internal_api = "fastmlp"
        filename_prefixes = ("_core.", "_core_")

        def get_num_threads(self):
            return _core.get_num_threads()

        def set_num_threads(self, num_threads):
            _core.set_num_threads(min(max(1, int(num_threads)), _core.max_num_threads()))

        def get_version(self):
            return None

    threadpoolctl.register(FastmlpController)
