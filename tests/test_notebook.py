"""Notebook display: _repr_html_ of Sequential and History, and the progress bar's tqdm."""

import numpy as np
import pytest

import fastmlp as fm


def _model():
    return fm.Sequential([fm.Dense(3, 5, "relu"), fm.Dropout(0.5), fm.Dense(5, 2, "softmax")], seed=0)


def test_sequential_html_lists_layers_and_parameter_counts():
    html = _model()._repr_html_()
    assert html.startswith("<div>") and "<table" in html
    assert "Dense" in html and "Dropout(0.5)" in html and "relu" in html and "softmax" in html
    assert "(3, 5)" in html and "(5, 2)" in html
    assert ">20<" in html and ">12<" in html and ">32<" in html  # 3*5+5, 5*2+2, total
    assert "categorical_crossentropy" in html


def test_history_html_shows_the_last_metrics():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(40, 3)), rng.integers(0, 2, 40)
    history = _model().fit(
        X, y, epochs=3, optimizer=fm.SGD(learning_rate=0.1), batch_size=8, validation_split=0.25, record_gradients=True
    )
    html = history._repr_html_()
    assert "3 epochs" in html
    for key in ("loss", "accuracy", "val_loss", "val_accuracy", "lr"):
        assert f">{key}<" in html
    assert f"{history.loss[-1]:.4g}" in html
    assert "||dW||" in html


def test_html_escapes_names():
    model = _model()
    model.loss_name = "<script>"  # never happens; the table must still be inert
    assert "<script>" not in model._repr_html_()


def test_progress_bar_is_tqdm_auto():
    """verbose=True uses tqdm.auto: the notebook widget in Jupyter (with ipywidgets), text elsewhere."""
    tqdm_auto = pytest.importorskip("tqdm.auto")
    from fastmlp.callbacks import ProgressBar

    bar = ProgressBar(2)
    try:
        assert isinstance(bar.bar, tqdm_auto.tqdm)
    finally:
        bar.close()
