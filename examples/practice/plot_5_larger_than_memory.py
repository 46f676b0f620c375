"""
Training from files larger than memory
======================================

``fit``, ``evaluate`` and ``predict`` take chunked sources besides arrays
(``fm.data``: ``from_npy`` shards, ``from_arrays`` over arrays or memmaps with
``chunk_rows``, ``from_parquet``, or a reader of your own). The C++ loop trains
on one chunk while a background thread reads the next, so memory holds a few
chunks, never the data set; chunks of a multiple of ``batch_size`` rows give
exactly the in-memory batches.
"""

import tempfile
from pathlib import Path

import numpy as np

import fastmlp as fm

folder = Path(tempfile.mkdtemp())
rng = np.random.default_rng(0)
shards = []
for i in range(4):  # four shards of 5,000 rows
    X = rng.normal(size=(5_000, 20)).astype(np.float32)
    y = (X[:, :5].sum(axis=1) > 0).astype(np.int64)
    np.save(folder / f"X_{i}.npy", X)
    np.save(folder / f"y_{i}.npy", y)
    shards.append((folder / f"X_{i}.npy", folder / f"y_{i}.npy"))


def new_model():
    return fm.Sequential([fm.Dense(20, 32, "relu"), fm.Dense(32, 1, "sigmoid")], seed=0)


# %%
# A memmap of one shard: rows are read from the file as training needs them.
X0 = np.load(shards[0][0], mmap_mode="r")
y0 = np.load(shards[0][1], mmap_mode="r")
model = new_model()
model.fit(X0, y0, epochs=5, optimizer=fm.SGD(learning_rate=0.1), batch_size=64)
print(f"memmap, one shard: accuracy {model.accuracy(X0, y0):.3f}")

# %%
# All shards as one chunked source: each epoch visits the shards' chunks in a
# seeded order and shuffles the rows inside each chunk.
source = fm.data.from_npy(str(folder / "X_*.npy"), str(folder / "y_*.npy"), chunk_rows=1024)
model = new_model()
history = model.fit(source, epochs=5, optimizer=fm.SGD(learning_rate=0.1), batch_size=64)
print(f"trained from {len(shards)} shards ({source.n_rows} rows): loss {history.loss[-1]:.4f}")
print(f"accuracy over all shards, streamed: {model.accuracy(source):.3f}")

# %%
# Chunks of whole batches and ``shuffle=False`` give the in-memory weights, bit for bit.
a, b = new_model(), new_model()
a.fit(X0, y0, epochs=2, optimizer=fm.SGD(learning_rate=0.1), batch_size=64, shuffle=False)
b.fit(
    fm.data.from_arrays(X0, y0, chunk_rows=640),
    epochs=2,
    optimizer=fm.SGD(learning_rate=0.1),
    batch_size=64,
    shuffle=False,
)
print("same weights as in memory:", np.array_equal(a.params, b.params))
