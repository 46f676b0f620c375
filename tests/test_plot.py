"""fastmlp.plot: every plot writes a readable, non-blank image; confusion_matrix counts right."""

import numpy as np
import pytest

import fastmlp as fm
from fastmlp import plot

pytest.importorskip("matplotlib")


def read_image(path):
    import matplotlib.image as mpimg

    with open(path, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 100 and img.shape[1] > 100
    assert img[..., :3].std() > 0.01  # not a blank canvas
    return img


def n_colors(img) -> int:
    return len(np.unique((img[..., :3] * 255).astype(np.uint8).reshape(-1, 3), axis=0))


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(0)
    centers = np.array([[0.0, 0.0], [3.0, 0.0], [0.0, 3.0]])
    ids = rng.integers(0, 3, size=90)
    return centers[ids] + rng.normal(scale=0.5, size=(90, 2)), ids


def test_plot_loss_training_and_validation(tmp_path, blobs):
    X, y = blobs
    model = fm.Sequential([fm.Dense(2, 8, "relu"), fm.Dense(8, 3, "softmax")], seed=0, optimizer="adam")
    history = model.fit(
        X,
        y,
        epochs=15,
        batch_size=16,
        validation_split=0.2,
        early_stopping=fm.EarlyStopping(patience=2, min_delta=10.0),
    )  # stops early: best epoch drawn
    assert history.stopped_early
    path = plot.plot_loss(history, tmp_path / "loss.png", title="blobs")
    assert path == str(tmp_path / "loss.png")
    read_image(path)
    # the dict of a History, a plain list, and a second axis of extra series
    extra = {"val acc": history.history["val_accuracy"]}
    read_image(plot.plot_loss(history.history, tmp_path / "dict.png", extra=extra))
    read_image(plot.plot_loss([1.0, 0.5, 0.25], tmp_path / "list.png"))
    read_image(plot.plot_loss([0.5, 0.0, -1.0], tmp_path / "nonpositive.png"))  # no log scale for these
    with pytest.raises(ValueError, match="no loss values"):
        plot.plot_loss([], tmp_path / "empty.png")


def test_decision_boundary_softmax_with_label_names(tmp_path, blobs):
    X, y = blobs
    model = fm.Sequential([fm.Dense(2, 8, "relu"), fm.Dense(8, 3, "softmax")], seed=0, optimizer="adam")
    model.fit(X, y, epochs=30, batch_size=16, learning_rate=0.05)
    path = plot.plot_decision_boundary(
        model, X, y, tmp_path / "b.png", labels=["cat", "dog", "emu"], feature_names=["width", "height"]
    )
    img = read_image(path)
    assert n_colors(img) > 10  # three regions, points, boundaries
    # label values in y (not ids) work too when labels fixes their order
    names = np.array(["cat", "dog", "emu"])[y]
    read_image(plot.plot_decision_boundary(model, X, names, tmp_path / "names.png", labels=["cat", "dog", "emu"]))


def test_decision_boundary_single_sigmoid_and_regression(tmp_path):
    rng = np.random.default_rng(1)
    X = rng.normal(size=(120, 2))
    y = (X[:, 0] ** 2 + X[:, 1] ** 2 < 1).astype(int)
    clf = fm.Sequential([fm.Dense(2, 8, "tanh"), fm.Dense(8, 1, "sigmoid")], seed=0, optimizer="adam")
    clf.fit(X, y, epochs=20, batch_size=16, learning_rate=0.05)
    read_image(plot.plot_decision_boundary(clf, X, y, tmp_path / "circle.png"))

    reg = fm.Sequential([fm.Dense(2, 8, "tanh"), fm.Dense(8, 1)], seed=0)
    t = X[:, 0] - X[:, 1]
    reg.fit(X, t, epochs=5, learning_rate=0.05)
    read_image(plot.plot_decision_boundary(reg, X, t, tmp_path / "surface.png"))


def test_decision_boundary_many_points_and_bad_input(tmp_path, monkeypatch):
    model = fm.Sequential([fm.Dense(2, 2, "softmax")], seed=0)
    X = np.random.default_rng(2).normal(size=(300, 2))
    y = (X[:, 0] > 0).astype(int)
    monkeypatch.setattr(plot, "MAX_POINTS", 50)
    read_image(plot.plot_decision_boundary(model, X, y, tmp_path / "many.png", resolution=50))
    with pytest.raises(ValueError, match=r"shape \(m, 2\)"):
        plot.plot_decision_boundary(model, np.zeros((5, 3)), np.zeros(5), tmp_path / "x.png")
    with pytest.raises(ValueError, match="y has 4 samples but X has 5"):
        plot.plot_decision_boundary(model, np.zeros((5, 2)), np.zeros(4), tmp_path / "x.png")
    wide = fm.Sequential([fm.Dense(3, 2, "softmax")], seed=0)
    with pytest.raises(ValueError, match="a model with 2 inputs"):
        plot.plot_decision_boundary(wide, np.zeros((5, 2)), np.zeros(5, int), tmp_path / "x.png")


def test_confusion_matrix_counts():
    t = [0, 0, 1, 1, 2, 2, 2]
    p = [0, 1, 1, 1, 2, 0, 2]
    cm = plot.confusion_matrix(t, p)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 0], [1, 0, 2]])
    assert plot.confusion_matrix(t, p, n_classes=4).shape == (4, 4)
    with pytest.raises(ValueError, match="7 samples but y_pred has 6"):
        plot.confusion_matrix(t, p[:-1])
    with pytest.raises(ValueError, match="n_classes is 2"):
        plot.confusion_matrix(t, p, n_classes=2)


def test_plot_confusion_matrix_ids_names_and_normalized(tmp_path):
    t = np.array([0, 0, 1, 1, 2, 2, 2])
    p = np.array([0, 1, 1, 1, 2, 0, 2])
    read_image(plot.plot_confusion_matrix(t, p, tmp_path / "ids.png", labels=["cat", "dog", "emu"]))
    names = np.array(["cat", "dog", "emu"])
    read_image(plot.plot_confusion_matrix(names[t], names[p], tmp_path / "values.png"))  # labels from the values
    read_image(plot.plot_confusion_matrix(t, p, tmp_path / "norm.png", normalize=True))
    with pytest.raises(ValueError, match="neither in labels"):
        plot.plot_confusion_matrix(["x", "y"], ["x", "x"], tmp_path / "bad.png", labels=["a", "b"])


def test_plot_fit(tmp_path):
    x = np.linspace(-1, 1, 30)
    read_image(plot.plot_fit(x, x**2, x**2 + 0.1, tmp_path / "fit.png"))


def test_confusion_matrix_refuses_what_is_not_class_ids():
    """Audit: 0.5 was counted as class 0, strings gave "invalid literal for int()", an id of 2^40 an
    OverflowError (and one of 2^20 asked bincount for 2^40 counts)."""
    with pytest.raises(ValueError, match="y_true must hold integer class ids, got non-integral"):
        plot.confusion_matrix([0.5, 1], [0, 1])
    with pytest.raises(TypeError, match="y_pred must hold integer class ids, got dtype <U1"):
        plot.confusion_matrix([0, 1], ["a", "b"])
    with pytest.raises(ValueError, match="class ids must be below 2"):
        plot.confusion_matrix([2**20], [0])
    np.testing.assert_array_equal(plot.confusion_matrix([0.0, 1.0], [0, True]), [[1, 0], [0, 1]])


def test_confusion_matrix_takes_an_object_array_of_integers():
    """Review: a pandas object column of integers (dtype object) was refused by its dtype."""
    t, p = np.array([0, 1, 1, 0], dtype=object), np.array([0, 1, 0, 0], dtype=object)
    np.testing.assert_array_equal(plot.confusion_matrix(t, p), [[2, 0], [1, 1]])
    with pytest.raises(TypeError, match="y_true must hold integer class ids, got dtype"):
        plot.confusion_matrix(np.array(["a", 1], dtype=object), [0, 1])
