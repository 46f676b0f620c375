"""Issue 13: what Keras users expect on a first try (defaults, callbacks, conveniences,
validation splits, labels and DataFrame columns)."""

import csv
import os
import pickle
import warnings

import numpy as np
import pytest

import fastmlp as fm
from fastmlp import callbacks as cbs


def _blobs(n=300, k=3, d=4, seed=0):
    rng = np.random.default_rng(seed)
    centers = rng.normal(0, 3, (k, d))
    y = np.repeat(np.arange(k), n // k)  # sorted: the classic validation_split trap
    X = centers[y] + rng.normal(0, 1, (len(y), d))
    return X, y


def _model(k=3, d=4, seed=0, **kw):
    return fm.Sequential([fm.Dense(d, 16, "relu"), fm.Dense(16, k, "softmax")], seed=seed, **kw)


# --- 1. defaults ---
def test_defaults_are_adam_and_batches_of_32():
    model = _model()
    assert isinstance(model.optimizer, fm.Adam) and model.optimizer.learning_rate == pytest.approx(1e-3)
    X, y = _blobs()
    a, b = _model(), _model()
    a.fit(X, y, epochs=3, seed=1)
    b.fit(X, y, epochs=3, seed=1, batch_size=32, optimizer=fm.Adam(1e-3))
    np.testing.assert_array_equal(a.params, b.params)
    c = _model()
    c.fit(X, y, epochs=3, seed=1, batch_size=None)  # full batch: one step per epoch, differs
    assert not np.array_equal(a.params, c.params)


def test_first_try_on_digits_learns():
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    X, y = load_digits(return_X_y=True)
    Xtr, Xte, ytr, yte = train_test_split(X / 16.0, y, test_size=0.25, random_state=0, stratify=y)
    model = fm.Sequential([fm.Dense(64, "relu"), fm.Dense(10, "softmax")], seed=0)
    model.fit(Xtr, ytr, epochs=50)  # the first try: 52% with the old defaults (SGD 0.01, full batch)
    assert model.accuracy(Xte, yte) > 0.95


# --- 2. conveniences ---
def test_dense_units_inferred_at_first_fit():
    X, y = _blobs()
    model = fm.Sequential(
        [fm.Dense(16, activation="relu"), fm.Dropout(0.1), fm.Dense(8, "tanh"), fm.Dense(3, "softmax")], seed=0
    )
    assert not model.built and model.n_features_in is None
    assert "not built" in model.summary(print_fn=None)
    with pytest.raises(RuntimeError, match="not built"):
        model.predict(X)
    model.fit(X, y, epochs=2)
    assert model.built and model.n_features_in == 4
    assert [l.n_in for l in model.dense_layers] == [4, 16, 8]
    assert model.num_params == 4 * 16 + 16 + 16 * 8 + 8 + 8 * 3 + 3
    with pytest.raises(ValueError, match="features"):
        model.fit(X[:, :3], y, epochs=1)
    built = fm.Sequential([fm.Dense(5, "relu", input_dim=4), fm.Dense(3, "softmax")])
    assert built.built and built.dense_layers[0].n_in == 4
    with pytest.raises(TypeError, match="activation given twice"):
        fm.Dense(5, "relu", "tanh")


def test_summary_evaluate_call_len_weights():
    X, y = _blobs()
    model = _model()
    text = model.summary(print_fn=None)
    assert "Total params: 131" in text and "dense_1 (Dense)" in text and "(None, 16)" in text
    model.fit(X, y, epochs=2)
    loss, acc = model.evaluate(X, y)
    assert loss == pytest.approx(model.loss(X, y)) and acc == model.accuracy(X, y)
    assert model.evaluate(X, y, return_dict=True) == {"loss": loss, "accuracy": acc}
    reg = fm.Sequential([fm.Dense(4, 1)], seed=0)
    assert isinstance(reg.evaluate(X, y.astype(float)), float)
    np.testing.assert_array_equal(model(X), model.forward(X))
    assert len(model) == 2 and len(fm.Sequential([fm.Dense(4, 3), fm.Dropout(0.5), fm.Dense(3, 1)])) == 3
    w = model.get_weights()
    assert [a.shape for a in w] == [(4, 16), (16,), (16, 3), (3,)]
    w[0][...] = 0  # copies
    assert not np.all(model.dense_layers[0].weights == 0)
    other = _model(seed=5)
    other.set_weights(model.get_weights())
    np.testing.assert_array_equal(other.params, model.params)
    before = other.params.copy()
    with pytest.raises(ValueError, match=r"weights\[2\]"):
        other.set_weights([w[0], w[1], np.zeros((3, 16)), w[3]])
    with pytest.raises(ValueError, match="4 arrays"):
        other.set_weights(w[:2])
    np.testing.assert_array_equal(other.params, before)  # nothing changed


def test_sparse_categorical_crossentropy_alias_and_lazy_modules():
    model = _model(loss="sparse_categorical_crossentropy")
    assert model.loss_name == "categorical_crossentropy"
    with pytest.raises(ValueError, match="loss must be one of"):
        _model(loss="hinge")
    assert fm.sklearn.MLPClassifier is not None
    assert callable(fm.onnx.export)
    with pytest.raises(AttributeError):
        fm.no_such_thing


class Recorder(cbs.Callback):
    def __init__(self):
        self.events = []

    def on_train_begin(self, logs=None):
        self.events.append(("train_begin", self.params["epochs"], self.params["validation"]))

    def on_epoch_begin(self, epoch, logs=None):
        self.events.append(("begin", epoch))

    def on_epoch_end(self, epoch, logs=None):
        self.events.append(("end", epoch, sorted(logs)))
        if epoch == 2:
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        self.events.append(("train_end", sorted(logs)))


def test_callback_hooks_order_and_stop_training():
    X, y = _blobs()
    rec = Recorder()
    seen = []
    history = _model().fit(X, y, epochs=10, validation_split=0.2, callbacks=[rec, lambda e, logs: seen.append(e)])
    keys = ["accuracy", "loss", "lr", "val_accuracy", "val_loss"]
    assert rec.events == [
        ("train_begin", 10, True),
        ("begin", 0),
        ("end", 0, keys),
        ("begin", 1),
        ("end", 1, keys),
        ("begin", 2),
        ("end", 2, keys),
        ("train_end", keys),
    ]
    assert seen == [0, 1, 2] and history.epochs == 3 and history.stopped_early
    with pytest.raises(TypeError, match=r"callbacks\[0\]"):
        _model().fit(X, y, epochs=1, callbacks=[3])
    # a callable returning False stops too
    assert _model().fit(X, y, epochs=10, callbacks=[lambda e, logs: e < 1]).epochs == 2


def test_lambda_callback_and_csv_logger(tmp_path):
    X, y = _blobs()
    ends = []
    path = tmp_path / "log.csv"
    _model().fit(
        X,
        y,
        epochs=4,
        validation_split=0.25,
        callbacks=[cbs.LambdaCallback(on_epoch_end=lambda e, logs: ends.append(logs["val_loss"])), cbs.CSVLogger(path)],
    )
    rows = list(csv.DictReader(open(path)))
    assert [int(r["epoch"]) for r in rows] == [0, 1, 2, 3]
    assert [float(r["val_loss"]) for r in rows] == pytest.approx(ends)
    _model().fit(X, y, epochs=2, callbacks=[cbs.CSVLogger(path, append=True)])
    assert len(list(csv.DictReader(open(path)))) == 6
    with pytest.raises(TypeError, match="on_epoch_end"):
        cbs.LambdaCallback(on_epoch_end=3)


def test_early_stopping_as_callback_on_val_accuracy():
    X, y = _blobs(seed=1)
    model = _model(optimizer=fm.SGD(0.5))
    es = fm.EarlyStopping(monitor="val_accuracy", patience=3)
    assert es.mode == "auto"
    accs = []
    h = model.fit(X, y, epochs=200, validation_split=0.3, callbacks=[es, lambda e, l: accs.append(l["val_accuracy"])])
    assert h.stopped_early and h.epochs < 200
    best = int(np.argmax(accs))  # first maximum: later equal values are no improvement
    assert h.best_epoch == best and h.epochs == best + 1 + 3
    with pytest.raises(ValueError, match="two early stoppings"):
        model.fit(X, y, epochs=1, early_stopping=fm.EarlyStopping(), callbacks=[fm.EarlyStopping()])
    with pytest.raises(ValueError, match="needs validation"):
        model.fit(X, y, epochs=1, callbacks=[fm.EarlyStopping(monitor="val_accuracy")])
    with pytest.raises(ValueError, match="classification"):
        fm.Sequential([fm.Dense(4, 1)]).fit(
            X, y.astype(float), epochs=1, callbacks=[fm.EarlyStopping(monitor="accuracy")]
        )
    with pytest.raises(ValueError, match="mode"):
        fm.EarlyStopping(mode="up")
    with pytest.raises(ValueError, match="monitor"):
        fm.EarlyStopping(monitor="val_auc")


def test_early_stopping_mode_max_restores_best_weights():
    X, y = _blobs(seed=2)
    model = _model(optimizer=fm.SGD(0.3))
    snapshots = []
    h = model.fit(
        X,
        y,
        epochs=40,
        validation_split=0.3,
        callbacks=[
            fm.EarlyStopping(monitor="accuracy", mode="max", patience=40),
            lambda e, l: snapshots.append((l["accuracy"], model.params.copy())),
        ],
    )
    best = int(np.argmax([a for a, _ in snapshots]))
    assert h.best_epoch == best
    np.testing.assert_array_equal(model.params, snapshots[best][1])


def test_model_checkpoint_best_only(tmp_path):
    X, y = _blobs(seed=3)
    path = tmp_path / "best.safetensors"
    model = _model(optimizer=fm.SGD(0.2))
    losses, params = [], []
    ck = cbs.ModelCheckpoint(path, monitor="val_loss")
    model.fit(
        X,
        y,
        epochs=12,
        validation_split=0.3,
        callbacks=[lambda e, l: (losses.append(l["val_loss"]), params.append(model.params.copy())), ck],
    )
    improvements = [i for i in range(len(losses)) if losses[i] < min(losses[:i], default=np.inf)]
    assert len(ck.saved) == len(improvements) and ck.best == min(losses)
    np.testing.assert_array_equal(fm.load(path).params, params[improvements[-1]])
    every = cbs.ModelCheckpoint(tmp_path / "m-{epoch:02d}.safetensors", save_best_only=False)
    model.fit(X, y, epochs=2, callbacks=[every])
    assert [p.rsplit("/", 1)[-1] for p in every.saved] == ["m-01.safetensors", "m-02.safetensors"]
    with pytest.raises(ValueError, match="needs validation"):
        model.fit(X, y, epochs=1, callbacks=[cbs.ModelCheckpoint(path)])


def test_reduce_lr_on_plateau_callback():
    X, y = _blobs()
    h = _model(optimizer=fm.SGD(0.1)).fit(
        X, y, epochs=12, callbacks=[cbs.ReduceLROnPlateau(monitor="loss", patience=1, min_delta=10.0, factor=0.5)]
    )
    assert h.history["lr"][0] == pytest.approx(0.1) and h.history["lr"][-1] < 0.1 * 0.5**3
    with pytest.raises(ValueError, match="schedule"):
        _model().fit(X, y, epochs=1, schedule="exponential", callbacks=[cbs.ReduceLROnPlateau()])


# --- 3. validation_split ---
def test_validation_split_is_shuffled_stratified_and_seeded():
    X, y = _blobs(n=150)  # sorted classes, as iris
    model = _model(seed=4)
    seen = []
    model.fit(X, y, epochs=1, validation_split=0.2, callbacks=[lambda e, l: seen.append(l["val_accuracy"])])
    from fastmlp.model import _split_rows

    train, val = _split_rows(y, 150, 0.2, 4)
    assert len(val) == 30 and np.bincount(y[val]).tolist() == [10, 10, 10]
    assert set(train) | set(val) == set(range(150)) and not set(train) & set(val)
    again = _split_rows(y, 150, 0.2, 4)
    np.testing.assert_array_equal(again[1], val)
    assert not np.array_equal(_split_rows(y, 150, 0.2, 5)[1], val)
    plain = _split_rows(None, 150, 0.2, 4)[1]
    assert len(plain) == 30 and plain.max() > 30  # not the last rows
    # uneven classes keep their proportions
    yu = np.array([0] * 90 + [1] * 10)
    assert np.bincount(yu[_split_rows(yu, 100, 0.2, 0)[1]]).tolist() == [18, 2]
    with pytest.raises(ValueError, match="stratify=True needs a classification loss"):
        fm.Sequential([fm.Dense(4, 1)]).fit(X, y.astype(float), epochs=1, validation_split=0.2, stratify=True)


def test_warning_for_a_one_class_validation_set():
    X, y = _blobs(n=150)
    with pytest.warns(fm.OneClassValidationWarning, match="single class"):
        _model().fit(X, y, epochs=1, validation_data=(X[-20:], y[-20:]))
    with warnings.catch_warnings():
        warnings.simplefilter("error", fm.OneClassValidationWarning)
        _model().fit(X, y, epochs=1, validation_split=0.2)


# --- 4. labels and columns ---
def test_string_labels_round_trip():
    X, y = _blobs()
    names = np.array(["setosa", "versicolor", "virginica"])[y]
    model = _model()
    model.fit(X, names, epochs=20, validation_split=0.2)
    assert model.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    pred = model.predict(X)
    assert pred.dtype.kind == "U" and set(pred) <= set(names)
    assert model.accuracy(X, names) == np.mean(pred == names) > 0.8
    assert model.evaluate(X, list(names))[1] == model.accuracy(X, names)
    with pytest.raises(ValueError, match="does not know"):
        model.accuracy(X[:3], ["setosa", "rose", "setosa"])
    clone = pickle.loads(pickle.dumps(model))
    assert clone.predict(X[:5]).tolist() == pred[:5].tolist()
    assert model.copy().classes_.tolist() == model.classes_.tolist()
    binary = fm.Sequential([fm.Dense(4, 1, "sigmoid")], seed=0)
    yb = np.where(y == 0, "no", "yes")
    binary.fit(X, yb, epochs=5)
    assert set(binary.predict(X)) <= {"no", "yes"} and binary.classes_.tolist() == ["no", "yes"]
    with pytest.raises(ValueError, match="4 classes"):
        _model().fit(X, np.array(list("abcd"))[np.arange(len(y)) % 4], epochs=1)
    assert _model().classes_.tolist() == [0, 1, 2]


def test_pandas_categorical_labels_and_columns():
    pd = pytest.importorskip("pandas")
    X, y = _blobs()
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    labels = pd.Series(pd.Categorical(np.array(["x", "y", "z"])[y]))
    model = _model()
    model.fit(df, labels, epochs=5)
    assert model.feature_names_in_.tolist() == ["a", "b", "c", "d"]
    assert model.classes_.tolist() == ["x", "y", "z"]
    np.testing.assert_array_equal(model.predict(df), model.predict(X))
    with pytest.raises(ValueError, match="same names in another order"):
        model.predict(df[["b", "a", "c", "d"]])
    with pytest.raises(ValueError, match=r"missing \['d'\]"):
        model.predict(df[["a", "b", "c"]].assign(e=1.0))
    assert pickle.loads(pickle.dumps(model)).feature_names_in_.tolist() == ["a", "b", "c", "d"]


@pytest.mark.parametrize("template", ["m-{epoch:q}.safetensors", "m-{}.safetensors"])
def test_a_checkpoint_template_that_cannot_be_formatted_fails_before_training(tmp_path, template):
    """Audit: IndexError or ValueError after the first epoch had trained; now a ValueError naming the
    template and the names it may use, the model unchanged."""
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.arange(40) % 3
    model = fm.Sequential([fm.Dense(3, "softmax")], seed=0)
    model.fit(X, y, epochs=1)
    before = model.get_weights()
    checkpoint = fm.callbacks.ModelCheckpoint(tmp_path / template)
    with pytest.raises(ValueError, match=r"ModelCheckpoint: filepath .* cannot be formatted .* val_accuracy, lr"):
        model.fit(X, y, epochs=2, validation_split=0.2, callbacks=[checkpoint])
    assert model.epochs_trained == 1 and list(tmp_path.iterdir()) == []
    for a, b in zip(before, model.get_weights()):
        np.testing.assert_array_equal(a, b)
    good = fm.callbacks.ModelCheckpoint(tmp_path / "m-{epoch:02d}-{val_accuracy:.2f}-{lr}.safetensors")
    model.fit(X, y, epochs=2, validation_split=0.2, callbacks=[good])
    assert len(list(tmp_path.iterdir())) >= 1


def test_a_checkpoint_name_the_fit_does_not_log_warns_before_training(tmp_path):
    """Keras 2's val_acc: a warning before the first epoch (another callback may log it, as Keras
    allows), and if none does, the first save is a ValueError naming it (it was a bare KeyError)."""
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.arange(40) % 3
    model = fm.Sequential([fm.Dense(3, "softmax")], seed=0)
    checkpoint = fm.callbacks.ModelCheckpoint(tmp_path / "m-{val_acc:.2f}.safetensors", monitor="loss")
    with pytest.warns(UserWarning, match=r"names val_acc, which this fit does not log .* val_accuracy, lr"):
        with pytest.raises(ValueError, match=r"names 'val_acc', which the logs of epoch 1 lack"):
            model.fit(X, y, epochs=2, validation_split=0.2, callbacks=[checkpoint])
    assert list(tmp_path.iterdir()) == []

    class LogsIt(fm.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            logs["val_acc"] = logs["val_accuracy"]

    checkpoint = fm.callbacks.ModelCheckpoint(tmp_path / "m-{val_acc:.2f}.safetensors", monitor="loss")
    with pytest.warns(UserWarning, match="unless another callback adds them"):
        model.fit(X, y, epochs=1, validation_split=0.2, callbacks=[LogsIt(), checkpoint])
    assert len(list(tmp_path.iterdir())) == 1


def test_val_names_are_logged_for_a_validation_source(tmp_path):
    """Review: with validation_data a data source, {val_loss} formats and monitor='val_loss' works (the
    callbacks' params said there was no validation)."""
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.arange(40) % 3
    model = fm.Sequential([fm.Dense(3, "softmax")], seed=0)
    checkpoint = fm.callbacks.ModelCheckpoint(tmp_path / "m-{epoch}-{val_loss:.3f}.safetensors", monitor="val_loss")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        model.fit(X, y, epochs=2, validation_data=fm.data.from_arrays(X[:10], y[:10]), callbacks=[checkpoint])
    assert len(checkpoint.saved) >= 1 and all("-" in p for p in checkpoint.saved)


def test_a_refused_fit_leaves_an_existing_csv_log_as_it_was(tmp_path):
    """Audit: CSVLogger emptied its file at on_train_begin ("w"), so a fit that a later callback's
    on_train_begin refused (ModelCheckpoint on val_loss without validation data) lost the old log."""
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.arange(40) % 3
    log = tmp_path / "log.csv"
    log.write_text("epoch,loss\n0,1.0\n")
    model = fm.Sequential([fm.Dense(3, "softmax")], seed=0)
    checkpoint = cbs.ModelCheckpoint(tmp_path / "m.safetensors", monitor="val_loss")
    with pytest.raises(ValueError, match="needs validation_data"):
        model.fit(X, y, epochs=2, callbacks=[cbs.CSVLogger(log), checkpoint])
    assert log.read_text() == "epoch,loss\n0,1.0\n"
    model.fit(X, y, epochs=2, callbacks=[cbs.CSVLogger(log)])  # a fit that trains starts the log afresh
    rows = list(csv.DictReader(log.open()))
    assert [r["epoch"] for r in rows] == ["0", "1"] and "accuracy" in rows[0]


@pytest.mark.parametrize("append", [False, True])
def test_csv_logger_writes_to_a_pipe(tmp_path, append):
    """Review: a pipe cannot seek (tell, truncate), as /dev/stdout; the log goes there as before."""
    import threading

    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    got = []
    reader = threading.Thread(target=lambda: got.append(open(fifo).read()), daemon=True)
    reader.start()
    X = np.random.default_rng(0).normal(size=(40, 3))
    y = np.arange(40) % 3
    model = fm.Sequential([fm.Dense(3, "softmax")], seed=0)
    model.fit(X, y, epochs=2, callbacks=[fm.callbacks.CSVLogger(fifo, append=append)])
    reader.join(timeout=30)
    assert got, "the log was not written to the pipe"
    rows = list(csv.DictReader(got[0].splitlines()))
    assert [r["epoch"] for r in rows] == ["0", "1"]
