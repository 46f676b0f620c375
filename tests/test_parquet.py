"""fm.data.from_parquet (pyarrow, the `data` extra): a folder of Parquet files trains, predicts and evaluates
as the same rows in memory, in file order; shards split the files; bad columns are named."""

import numpy as np
import pytest

import fastmlp as fm

pytest.importorskip("pyarrow")
pd = pytest.importorskip("pandas")

FEATURES = [f"f{j}" for j in range(6)]


def _folder(tmp_path, files=3, rows=200, seed=0):
    """`files` Parquet files of `rows` rows (part-0 .. part-N, the dataset's order), and X, y in that order."""
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(files * rows, 6)), rng.integers(0, 3, size=files * rows)
    folder = tmp_path / "data"
    folder.mkdir()
    for i in range(files):
        part = slice(i * rows, (i + 1) * rows)
        frame = pd.DataFrame(X[part], columns=FEATURES).assign(label=y[part], note="text, not a feature")
        frame.to_parquet(folder / f"part-{i}.parquet")
    return folder, X, y


def _model():
    return fm.Sequential(
        [fm.Dense(6, 16, "relu"), fm.Dense(16, 3, "softmax")], dtype="float64", seed=1, optimizer=fm.SGD(0.05, 0.9)
    )


def test_a_parquet_folder_trains_as_its_rows_in_memory(tmp_path):
    folder, X, y = _folder(tmp_path)
    source = fm.data.from_parquet(folder, features=FEATURES, target="label", chunk_rows=100)
    assert (source.n_rows, source.n_features) == (600, 6)
    a, b = _model(), _model()
    ha = a.fit(X, y, epochs=3, batch_size=50, shuffle=False)
    hb = b.fit(source, epochs=3, batch_size=50, shuffle=False)
    np.testing.assert_array_equal(b.params, a.params)
    assert ha.history == hb.history
    np.testing.assert_array_equal(b.predict_proba(source), a.predict_proba(X))
    np.testing.assert_allclose(b.evaluate(source), a.evaluate(X, y), rtol=1e-12)


def test_shuffled_epochs_are_deterministic_for_a_seed(tmp_path):
    folder, _, _ = _folder(tmp_path)
    models = [_model() for _ in range(3)]
    for model, seed in zip(models, (5, 5, 6)):
        model.fit(fm.data.from_parquet(folder, FEATURES, "label", chunk_rows=64), epochs=2, batch_size=32, seed=seed)
    np.testing.assert_array_equal(models[0].params, models[1].params)
    assert not np.array_equal(models[0].params, models[2].params)


def test_shards_split_the_files(tmp_path):
    folder, _, _ = _folder(tmp_path, files=3, rows=100)
    source = fm.data.from_parquet(folder, FEATURES, "label")
    first, second = source.shard(0, 2), source.shard(1, 2)
    assert (first.n_rows, second.n_rows) == (200, 100)  # files 0 and 2, file 1
    with pytest.raises(ValueError, match="a process would get no Parquet files"):
        source.shard(3, 4)


def test_features_default_to_every_other_column_and_bad_names_are_named(tmp_path):
    folder, _, _ = _folder(tmp_path)
    with pytest.raises(ValueError, match=r"no column\(s\) \['f9'\]"):
        fm.data.from_parquet(folder, ["f0", "f9"], "label")
    with pytest.raises(ValueError, match=r"no column\(s\) \['y'\]"):
        fm.data.from_parquet(folder, FEATURES, "y")
    source = fm.data.from_parquet(folder, features=None, target="label")
    assert source.features == [*FEATURES, "note"]  # every column but the target, text ones too
    unbuilt = fm.Sequential([fm.Dense(16, activation="relu"), fm.Dense(3, activation="softmax")], seed=0)
    with pytest.raises((TypeError, ValueError), match="number"):  # a text column cannot be a feature
        unbuilt.fit(source, epochs=1)
    assert not unbuilt.built
