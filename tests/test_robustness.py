"""Odd but legal input and odd call orders (found by a user-style review): each either works
as documented or raises a clear error, and a rejected call leaves the model as it was."""

import numpy as np
import pytest

import fastmlp as fm


def _data(m=64, d=4, k=3, seed=0):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(m, d)), rng.integers(0, k, m)


def _model(seed=0, **kw):
    kw.setdefault("optimizer", "sgd")  # the old default, which these tests were written for
    return fm.Sequential([fm.Dense(4, 8, "relu"), fm.Dense(8, 3, "softmax")], dtype="float64", seed=seed, **kw)


def test_a_batch_whose_weights_are_all_zero_counts_for_nothing():
    X, y = _data()
    w = np.ones(len(y))
    w[:4] = 0.0  # the first batch of 4 weighs nothing
    a, b = _model(), _model()
    ha = a.fit(X, y, epochs=1, batch_size=4, shuffle=False, learning_rate=0.1, sample_weight=w)
    b.fit(X[4:], y[4:], epochs=1, batch_size=4, shuffle=False, learning_rate=0.1)
    np.testing.assert_allclose(a.params, b.params, rtol=0, atol=1e-15)  # same steps as without that batch
    assert np.isfinite(ha.loss[0])
    # and the epoch loss is the weighted mean over the samples that count
    hb = _model().fit(X[4:], y[4:], epochs=1, batch_size=4, shuffle=False, learning_rate=0.1)
    assert ha.loss[0] == pytest.approx(hb.loss[0], rel=1e-12)


def test_class_weight_zero_with_small_batches_trains():
    X, y = _data(m=200)
    h = _model().fit(X, y, epochs=3, batch_size=2, class_weight={0: 0.0})
    assert np.all(np.isfinite(h.loss))


@pytest.mark.parametrize("lr", [1e-50, 1e300])
def test_a_learning_rate_the_dtype_cannot_hold_is_rejected_without_changing_the_model(lr):
    X, y = _data()
    model = fm.Sequential([fm.Dense(4, 3, "softmax")], seed=0, optimizer="sgd")  # float32
    before = model.optimizer.learning_rate
    with pytest.raises(ValueError, match="learning_rate"):
        model.fit(X, y, epochs=1, learning_rate=lr, batch_size=None)
    assert model.optimizer.learning_rate == before
    model.fit(X, y, epochs=1, batch_size=None)  # still trains


def test_a_rejected_fit_does_not_replace_the_optimizer():
    X, y = _data()
    model = _model()
    opt = model.optimizer
    with pytest.raises(ValueError, match="sample_weight"):
        model.fit(X, y, optimizer="adam", learning_rate=0.5, sample_weight=-np.ones(len(y)), batch_size=None)
    assert model.optimizer is opt


@pytest.mark.parametrize("answer", ["x", 0, [], np.array([1, 2]), True, None])
def test_only_false_from_the_callback_stops(answer):
    X, y = _data()
    h = _model().fit(X, y, epochs=3, callback=lambda e, logs: answer, batch_size=None)
    assert h.epochs == 3


def test_false_from_the_callback_stops():
    X, y = _data()
    assert _model().fit(X, y, epochs=5, callback=lambda e, logs: np.False_, batch_size=None).epochs == 1


def test_copy_keeps_the_optimizer_settings_and_the_epoch_count():
    X, y = _data()
    model = _model(optimizer=fm.Adam(0.01, beta1=0.8))
    model.fit(X, y, epochs=4, batch_size=None)
    clone = model.copy()
    assert isinstance(clone.optimizer, fm.Adam) and clone.optimizer is not model.optimizer
    assert clone.optimizer.get_config() == model.optimizer.get_config()
    assert clone.epochs_trained == model.epochs_trained == 4


def test_a_failed_sequential_leaves_no_dropout_behind():
    d = fm.Dense(4, 8, "relu")
    with pytest.raises(ValueError):
        fm.Sequential([d, fm.Dropout(0.5), fm.Dense(8, 3, "softmax")], loss="bogus", optimizer="sgd")
    assert d.dropout == 0.0
    fm.Sequential([d, fm.Dense(8, 3, "softmax")], seed=0, optimizer="sgd")
    assert d.dropout == 0.0


@pytest.mark.parametrize("seed", [-5, 2**70, 0])
def test_any_integer_seed_works(seed):
    X, y = _data()
    a, b = _model(seed=seed), _model(seed=seed)
    a.fit(X, y, epochs=2, batch_size=8, seed=seed)
    b.fit(X, y, epochs=2, batch_size=8, seed=seed)
    np.testing.assert_array_equal(a.params, b.params)


@pytest.mark.parametrize("seed", ["a", 1.5, True])
def test_a_seed_that_is_not_an_integer_is_a_type_error(seed):
    with pytest.raises(TypeError, match="seed"):
        _model(seed=seed)
    X, y = _data()
    with pytest.raises(TypeError, match="seed"):
        _model().fit(X, y, epochs=1, seed=seed, batch_size=None)


def test_huge_epochs_and_batch_size_name_the_argument():
    X, y = _data()
    for kw in ({"epochs": 2**63}, {"batch_size": 2**63}):
        with pytest.raises(ValueError, match=next(iter(kw))):
            _model().fit(X, y, **kw)


def test_class_weight_keys_must_be_class_ids():
    X, y = _data()
    for cw in ({1.7: 2.0}, {"a": 2.0}):
        with pytest.raises(TypeError, match="class_weight"):
            _model().fit(X, y, epochs=1, class_weight=cw, batch_size=None)


def test_check_gradients_validates_eps():
    X, y = _data(m=5)
    with pytest.raises(ValueError, match="eps"):
        fm.check_gradients(_model(), X, y, eps=0)


def test_save_accepts_a_bytes_path(tmp_path):
    model = _model()
    path = tmp_path / "m.safetensors"
    model.save(bytes(path))
    np.testing.assert_array_equal(fm.load(path).params, model.params)


def test_balanced_class_weight_counts_the_training_part_only():
    from fastmlp.model import _split_rows

    X, y = _data(m=40)
    a, b = _model(), _model()
    tr, va = _split_rows(None, 40, 0.25, a.seed)
    y = y % 2
    y[va[:5]] = 2  # class 2 only in the held-out rows
    a.fit(
        X, y, epochs=1, validation_split=0.25, stratify=False, class_weight="balanced", shuffle=False, batch_size=None
    )
    counts = np.bincount(y[tr], minlength=3).astype(float)
    assert counts[2] == 0
    table = np.ones(3)
    table[counts > 0] = 30 / ((counts > 0).sum() * counts[counts > 0])
    b.fit(X[tr], y[tr], epochs=1, sample_weight=table[y[tr]], shuffle=False, batch_size=None)
    np.testing.assert_allclose(a.params, b.params, rtol=1e-12, atol=1e-15)


def test_layer_views_check_the_index():
    model = _model()
    for name in ("weight", "bias", "grad_weight", "grad_bias"):
        with pytest.raises(IndexError):
            getattr(model._net, name)(2)
        with pytest.raises(IndexError):
            getattr(model._net, name)(-1)


def test_core_fit_checks_the_width_of_X_val():
    from fastmlp import _core

    X, y = _data()
    model = _model()
    with pytest.raises(ValueError, match="X_val"):
        engine = _core.cpu_engine(model._net)
        engine.fit(
            model.optimizer._bind(engine),
            X,
            y.astype(np.int32),
            None,
            np.ones((2, 1)),
            np.zeros(2, np.int32),
            _core.FitOptions(),
            None,
            False,
        )


def test_one_model_used_from_several_threads_at_once():
    import threading

    rng = np.random.default_rng(1)
    model = fm.Sequential([fm.Dense(20, 64, "relu"), fm.Dense(64, 3, "softmax")], seed=0, optimizer="sgd")
    inputs = [rng.normal(size=(m, 20)).astype(np.float32) for m in (1, 7, 300, 2000)]
    expected = [model.forward(x) for x in inputs]
    wrong = []

    def work(x, want):
        for _ in range(30):
            if not np.array_equal(model.forward(x), want):
                wrong.append(x.shape)

    threads = [threading.Thread(target=work, args=pair) for pair in zip(inputs, expected)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_a_decayed_learning_rate_never_underflows_to_zero():
    X, y = _data()
    model = fm.Sequential([fm.Dense(4, 3, "softmax")], seed=0, optimizer="sgd")  # float32
    h = model.fit(X, y, epochs=40, schedule=fm.schedules.ExponentialDecay(gamma=0.01), batch_size=None)
    assert h.epochs == 40


def test_absurd_layer_sizes_are_rejected():
    with pytest.raises(ValueError, match="too large"):
        fm.Sequential([fm.Dense(2**62, 4)], optimizer="sgd")
