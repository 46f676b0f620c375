"""fastmlp: small, fast multi-layer perceptrons. C++/Eigen core, Pythonic Model/Layer API.

    import fastmlp as fm
    model = fm.Sequential([fm.Dense(64, 32, "relu"), fm.Dense(32, 10, "softmax")], seed=0)
    model.fit(X, y, epochs=20, batch_size=32, learning_rate=0.1)
    model.predict(X)
"""
from ._core import build_info as _core_build_info
from .gradcheck import check_gradients
from .model import ACTIVATIONS, LOSSES, Dense, History, Sequential

__version__ = "0.1.0"

__all__ = ["Dense", "Sequential", "History", "check_gradients", "build_info", "ACTIVATIONS", "LOSSES", "__version__"]


def build_info() -> dict:
    """How the C++ core was built: SIMD level, Eigen version, CUDA on/off."""
    info = dict(_core_build_info())
    info["version"] = __version__
    return info
