"""
Training from files larger than memory
======================================

Today ``fit`` takes arrays, and a NumPy memmap of a ``.npy`` file is one: the
file is paged in as the epoch touches it, which works while the data fits in
the page cache. Chunked sources (``fm.data``: ``from_npy`` shards,
``from_arrays`` with ``chunk_rows``, Parquet, your own reader), streamed
through the C++ loop with prefetching, are being built; this page runs them
where the installed fastmlp has them.
"""

import tempfile
from pathlib import Path

import numpy as np

import fastmlp as fm

folder = Path(tempfile.mkdtemp())
rng = np.random.default_rng(0)
shards = []
for i in range(4):                                   # four shards of 5,000 rows
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
# All shards as one chunked source (the ``fm.data`` API of the data-sources
# work; skipped where this fastmlp does not have it yet).
if hasattr(fm, "data"):
    source = fm.data.from_npy([str(x) for x, _ in shards], [str(y) for _, y in shards])
    model = new_model()
    model.fit(source, epochs=5, optimizer=fm.SGD(learning_rate=0.1), batch_size=64)
    print("trained from", len(shards), "shards")
else:
    print("fm.data is not in this fastmlp yet: chunked sources are being added (see the scaling page).")
