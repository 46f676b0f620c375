"""The model asks its layers (fastmlp.layers.Layer's methods) instead of checking their kind:
summary rows, copies (get_config / from_config), weight views; one table of loss names."""

import numpy as np

import fastmlp as fm
from fastmlp import _targets, losses
from fastmlp import model as fm_model


class _TaggedDense(fm.Dense):
    """A Dense whose summary row, config and weight views are its own (a leading "_" keeps it out
    of the LAYERS registry)."""

    def __init__(self, *args, tag: str = "t", **kwargs):
        super().__init__(*args, **kwargs)
        self.tag = tag

    def get_config(self) -> dict:
        return {**super().get_config(), "tag": self.tag}

    def summary_row(self, index: int, input_shape: str) -> tuple:
        name, shape, params, activation = super().summary_row(index, input_shape)
        return (f"tagged_{index}_{self.tag} (in {input_shape})", shape, params, activation)

    def weight_views(self) -> list:
        return [(self.weights, "W")]  # the bias is not listed: e.g. a frozen one


def _model():
    return fm.Sequential([_TaggedDense(3, 4, "relu", tag="x"), fm.Dropout(0.2), fm.Dense(4, 2, "softmax")], seed=0)


def test_loss_tables_are_defined_once():
    assert fm_model.LOSSES is losses.LOSSES
    assert fm.LOSSES is losses.LOSSES
    assert _targets.CLASSIFICATION_LOSSES is losses.CLASSIFICATION_LOSSES
    assert fm_model.CLASSIFICATION_LOSSES is losses.CLASSIFICATION_LOSSES


def test_summary_rows_come_from_the_layers_with_the_input_shape_chained():
    text = _model().summary(print_fn=None)
    assert "tagged_0_x (in (None, 3))" in text  # the first row's input shape: the model's inputs
    assert "dropout_1 (Dropout 0.2)" in text
    lines = text.splitlines()
    dropout = next(line for line in lines if line.startswith("dropout_1"))
    assert dropout.split()[3:5] == ["(None,", "4)"]  # the row before's output shape


def test_copy_makes_each_layer_from_its_config():
    model = _model()
    clone = model.copy()
    assert type(clone.layers[0]) is _TaggedDense and clone.layers[0].tag == "x"
    assert [type(la) for la in clone.layers] == [type(la) for la in model.layers]
    assert clone.layers[1].rate == 0.2
    np.testing.assert_array_equal(clone.params, model.params)


def test_copy_makes_the_optimizer_from_its_config():
    model = fm.Sequential([fm.Dense(3, 2, "softmax")], seed=0, optimizer=fm.RMSprop(learning_rate=0.02, rho=0.8))
    clone = model.copy()
    assert type(clone.optimizer) is fm.RMSprop and clone.optimizer is not model.optimizer
    assert clone.optimizer.get_config() == model.optimizer.get_config()


def test_weight_views_come_from_the_layers():
    model = _model()
    weights = model.get_weights()
    assert len(weights) == 3  # W of the tagged layer, then W, b of the last
    np.testing.assert_array_equal(weights[0], model.layers[0].weights)
    np.testing.assert_array_equal(weights[2], model.layers[2].bias)
    new = [w + 1 for w in weights]
    model.set_weights(new)
    np.testing.assert_array_equal(model.layers[0].weights, new[0])
