"""A Sequential to and from a model file, and copied: the model's side of saving.

fastmlp.io is the file format (the safetensors codec of a network and its metadata),
fastmlp._persist what a Sequential keeps in that metadata besides the network. Here: the
metadata of a model (one definition for ``save``, ``to_bytes`` and pickling), a model rebuilt
from what the codec read (``load``, ``from_bytes``, unpickling), and ``copy``, which passes the
same state on without a file. The methods themselves are Sequential's (fastmlp.model).
"""

from __future__ import annotations

import numpy as np

from . import _building, _mixed, _persist
from . import optimizers as _optimizers
from . import quantize as _quantize


def metadata(model) -> dict:
    """What the file holds besides the network: the one definition for save, bytes and pickle."""
    return {
        **_persist.training_metadata(model.seed, model.optimizer, model._epochs_seen),
        **_persist.label_metadata(**extra_state(model)),
        **_mixed.metadata(model.dtype_policy),
    }


def extra_state(model) -> dict:
    """The labels and column names (in the file through _persist.label_metadata; copy() passes
    them on as they are; ``Sequential.__setstate__`` takes them back)."""
    return {"label_classes": model._label_classes, "feature_names_in_": model.feature_names_in_}


def from_file(cls, net, metadata: dict):
    """A new ``cls`` (a Sequential) from the network and metadata that fastmlp.io read: its layers
    and settings from the metadata, its parameters and normalization statistics bit for bit."""
    kwargs, epochs = _persist.model_config(metadata)
    model = cls(**kwargs)
    model._loss = given_loss(model)
    model._net.params[...] = net.params  # the same dtype: a bitwise copy (model.params: read-only if int8)
    model._net.state[...] = net.state  # batch normalization's running statistics
    model._epochs_seen = epochs
    model.__setstate__(_persist.label_state(metadata, model._targets().n_labels(), model.n_features_in))
    return model


def given_loss(model):
    """The loss a model from a file (or a copy) keeps as given: None when it is the one its output
    activation implies, so that ``pop`` / ``add`` of a new output layer infer the loss again, as in a
    fresh model (the file does not say whether the loss was given or inferred); else its loss."""
    return None if _building.output_loss(model, model.layers, None) == model.loss_name else model.loss_name


def copy(model, cls, dtype=None):
    """An independent ``cls`` (a Sequential) with the layers, weights, optimizer settings (fresh
    state), epoch count, labels and column names of ``model`` (cast to ``dtype`` if given), on
    its device."""
    model._require_built()
    # _mixed.policy: the storage dtype of any accepted name ("mixed_bfloat16" is float32), TypeError otherwise
    if dtype is not None and _mixed.policy(dtype)[0] != np.float32 and _quantize.is_quantized(model):
        raise ValueError("a quantized (int8) model is float32: copy(dtype=...) cannot change that")
    layers = [type(layer).from_config(layer.get_config()) for layer in model.layers]
    optimizer = _optimizers.Optimizer.from_config(model.optimizer.get_config())
    clone = cls(
        layers,
        loss=model.loss_name,
        dtype=model.dtype_policy if dtype is None else dtype,
        seed=model.seed,
        l2=model.l2,
        optimizer=optimizer,
    )
    clone._loss = model._loss  # a loss given to the model (not inferred) stays given
    clone._net.params[...] = model.params  # (clone.params is read-only for an int8 model)
    clone._net.state[...] = model._net.state
    clone._epochs_seen = model._epochs_seen  # schedules and default shuffling continue alike
    clone.__setstate__(extra_state(model))
    return clone.to(model.device)
