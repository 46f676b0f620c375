"""Blocks nest at most fastmlp.layers.MAX_BLOCK_NESTING (3) deep, the model file's limit (kMaxBlockNesting,
fastmlp/serialize.hpp): a deeper Residual is refused when it is built, so no model is trained that could
not be saved and loaded again; a file that nests deeper is refused by the loader."""

import json

import numpy as np
import pytest

import fastmlp as fm
from helpers_io import assemble, parts


def _nest(depth):
    """A Residual `depth` deep around one Dense(4, 4)."""
    inner = [fm.Dense(4, 4, "relu")]
    for _ in range(depth - 1):
        inner = [fm.Residual(inner)]
    return fm.Residual(inner)


def test_the_limit_is_the_files():
    assert fm.layers.MAX_BLOCK_NESTING == fm._core.MAX_BLOCK_NESTING == 3


def test_a_block_deeper_than_the_limit_is_refused_when_built():
    three = _nest(3)
    with pytest.raises(ValueError, match=r"nest at most 3 deep .* would be 4 deep"):
        fm.Residual([fm.Dense(4, 4), three])
    with pytest.raises(ValueError, match=r"would be 4 deep"):  # the config path builds through __init__
        fm.layers.Residual.from_config({"layers": [{"type": "Residual", **three.get_config()}]})


def test_the_deepest_allowed_block_trains_saves_and_loads(tmp_path):
    model = fm.Sequential([fm.Dense(3, 4, "relu"), _nest(3), fm.Dense(4, 2, "softmax")], seed=0)
    X = np.random.default_rng(0).normal(size=(20, 3))
    model.fit(X, np.arange(20) % 2, epochs=2, verbose=0)
    model.save(tmp_path / "m.safetensors")
    np.testing.assert_array_equal(fm.load(tmp_path / "m.safetensors").forward(X), model.forward(X))


def test_a_file_nesting_deeper_is_refused_by_the_loader():
    model = fm.Sequential([fm.Dense(3, 4, "relu"), _nest(3), fm.Dense(4, 2, "softmax")], seed=0)
    header, data = parts(model)
    layers = json.loads(header["__metadata__"]["layers"])
    entry = layers[1]
    for _ in range(2):
        entry = entry["layers"][0]
    entry["layers"] = [{"type": "Residual", "layers": entry["layers"]}]  # a fourth level
    header["__metadata__"]["layers"] = json.dumps(layers)
    with pytest.raises(ValueError, match=r"not a valid fastmlp model file: .*nests? deeper than"):
        fm.Sequential.from_bytes(assemble(header, data))
