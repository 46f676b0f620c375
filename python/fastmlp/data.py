"""Data larger than memory: chunked sources for fit, evaluate, predict and predict_proba.

    model.fit(fm.data.from_npy("shards/X_*.npy", "shards/y_*.npy"), epochs=5, batch_size=256)
    model.fit(fm.data.from_arrays(np.load("X.npy", mmap_mode="r"), y, chunk_rows=65536), ...)
    model.fit(fm.data.from_parquet("data/", features=["a", "b"], target="label"), ...)
    model.fit(my_reader, ...)       # any object that yields (X, y) or (X, y, sample_weight) chunks

How it runs: the C++ training loop trains on one chunk with the GIL released while a background
thread reads and converts the next ones (a bounded queue of ``prefetch`` chunks), so reading and
training overlap; memory holds the model, the queue and a few chunks, never the whole data set.

Shuffling (``shuffle=True``), deterministic for a seed: each epoch visits the chunks in a seeded
random order (sources that know their chunks: arrays, .npy shards, Parquet fragments; a reader
of your own keeps its own order), optionally concatenates ``mix`` consecutive chunks into one
(a mixing buffer), and the loop shuffles the rows inside each chunk. Batches do not straddle
chunks: a chunk's last batch holds the rows left in it, so chunks of a multiple of ``batch_size``
rows give exactly the in-memory batches (``shuffle=False``: the same weights as ``fit`` on arrays).

Every chunk is checked (width, dtype, NaN/inf, labels) and an error names it (its index and file);
the model keeps the weights of the last completed step, as after Ctrl-C. Targets must be numbers
(class ids, one-hot rows or regression values); class_weight="balanced" makes one counting pass
over the targets first.

With MPI (``fit(source, comm=comm, sharded=True)``) each process reads its own share of a source:
``Source.shard(rank, size)``, every size-th shard file (or chunk) from the rank-th on.

Arrays in memory enter fit as a source too (``as_source(X, y)``: one chunk, ``InMemory``); the
loop keeps that one chunk (on the model's device) for every epoch instead of reading it again.
``Inputs`` is what a model takes as X (dtype, width, a DataFrame's column names): it lives in
fastmlp._arrays with forward's ``out``, and is imported here.
"""

from __future__ import annotations

import collections.abc
import copy
import glob
import itertools
import mmap
import os
import queue
import stat
import threading

import numpy as np

# Inputs, mappable, column_names and forward's out (fastmlp._arrays): fit, predict and the layers
# take them from here (fastmlp.data.Inputs, ...).
from ._arrays import Inputs, _check_out, column_names, forward_chunks, mappable  # noqa: F401
from ._interrupt import interruptible_get
from ._validation import as_2d

# The public API (the docs' reference); InMemory, Inputs and the other helpers serve fit and predict.
__all__ = [
    "Source",
    "ArraySource",
    "NpySource",
    "ParquetSource",
    "IterableSource",
    "Prefetcher",
    "from_arrays",
    "from_npy",
    "from_parquet",
    "as_source",
]

_END = object()
CHUNK_BYTES = 32 << 20  # the default chunk: about 32 MB of X


def _default_rows(n_features: int, itemsize: int) -> int:
    return max(1, CHUNK_BYTES // max(1, n_features * itemsize))


def _chunk_rows(chunk_rows, n_features: int, itemsize: int) -> int:
    """``chunk_rows`` checked (a positive integer), or the default for None."""
    if chunk_rows is None:
        return _default_rows(n_features, itemsize)
    if isinstance(chunk_rows, bool) or not isinstance(chunk_rows, (int, np.integer)):
        raise TypeError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    if chunk_rows < 1:
        raise ValueError(f"chunk_rows must be a positive integer, got {chunk_rows!r}")
    return int(chunk_rows)


def _open_regular(path: str):
    """The shard ``path`` opened for reading when it is a regular file. A FIFO, a device or a folder
    (say a shard replaced by a FIFO mid-fit) is a ValueError at once, never a read that blocks:
    O_NONBLOCK opens a FIFO without waiting for a writer, and fstat then tells what was opened."""
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_BINARY", 0)
    try:
        fd = os.open(path, flags)
    except FileNotFoundError:
        raise FileNotFoundError(f"shard {path} does not exist") from None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise ValueError(f"shard {path} is not a regular file (a FIFO, a device or a folder?)")
        os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def _npy_header(f, path: str):
    """(shape, fortran_order, dtype) from the header of the .npy file open as ``f``, which must hold
    all the data the header announces."""
    try:
        version = np.lib.format.read_magic(f)
        read = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read(f)
    except (ValueError, OSError) as e:
        raise ValueError(f"shard {path} is not a readable .npy file (truncated?): {e}") from None
    need = f.tell() + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    size = os.fstat(f.fileno()).st_size
    if size < need:
        raise ValueError(f"shard {path} is truncated: its header announces {need} bytes, the file has {size}")
    return shape, fortran, dtype


class Source:
    """Base class: a data set in chunks. Subclasses give ``chunk_names`` (or None when the
    chunks are only known by reading) and ``read(i)``, or override ``chunks``."""

    n_rows: int | None = None  # when known (progress, counting)
    n_features: int | None = None

    def chunk_count(self) -> int | None:
        return None

    def width(self) -> int | None:
        """The number of features, for a model that is built by its first fit."""
        return self.n_features

    def chunks(self, epoch: int, seed: int, shuffle: bool):
        """Yields (X, y, sample_weight or None, name) for one pass."""
        n = self.chunk_count()
        order = np.arange(n)
        if shuffle:
            order = np.random.default_rng([seed, epoch]).permutation(n)
        for i in order:
            yield self.read(int(i))

    def read(self, i: int):
        raise NotImplementedError

    def shard(self, rank: int, size: int) -> Source:
        """The part of this source that process ``rank`` of ``size`` reads in a data-parallel fit
        (``comm=``): every size-th chunk, from the rank-th on. ValueError when it would be empty."""
        n = self.chunk_count()
        if n is None:
            raise TypeError(f"{type(self).__name__} cannot be split between processes")
        return _Shard(self, list(range(rank, n, size)), f"{n} chunks for {size} processes")


class _Shard(Source):
    """Chunks `indices` of `base`, in that order (what one process reads of a shared source)."""

    def __init__(self, base: Source, indices: list, what: str):
        if not indices:
            raise ValueError(f"a process would get no chunks ({what}): use fewer processes or smaller chunks")
        self.base, self.indices = base, indices
        self.n_features = base.n_features
        self.mix = getattr(base, "mix", 1)

    def chunk_count(self) -> int:
        return len(self.indices)

    def read(self, i: int):
        return self.base.read(self.indices[i])


def _drop_pages(array) -> None:
    """Tell the kernel the pages of a memmap already read are not needed (they stay in the page
    cache), so the resident memory of the process stays bounded by its chunks."""
    mm = getattr(array, "_mmap", None)
    if mm is None and isinstance(getattr(array, "base", None), np.memmap):
        mm = getattr(array.base, "_mmap", None)
    if mm is not None and hasattr(mm, "madvise"):
        try:
            mm.madvise(mmap.MADV_DONTNEED)
        except (OSError, ValueError):
            pass


def _rows(array, a: int, b: int):
    """Rows [a, b) of an array or memmap (a copy), or of a pandas DataFrame / Series by position
    (kept a DataFrame, so that its column names are checked as fit's and predict's are)."""
    return array.iloc[a:b] if hasattr(array, "iloc") else np.array(array[a:b])


class ArraySource(Source):
    def __init__(self, X, y, sample_weight=None, chunk_rows: int | None = None, name: str = "arrays"):
        if not hasattr(X, "shape") or len(X.shape) != 2:
            raise ValueError(f"X must be a 2-D array or memmap, got {type(X).__name__}")
        if y is None or len(y) != X.shape[0]:
            raise ValueError(f"y must have one entry per row of X ({X.shape[0]})")
        if sample_weight is not None and len(sample_weight) != X.shape[0]:
            raise ValueError(f"sample_weight must have one entry per row of X ({X.shape[0]})")
        itemsize = X.dtype.itemsize if hasattr(X, "dtype") else 8  # a DataFrame: 8-byte numbers
        chunk_rows = _chunk_rows(chunk_rows, X.shape[1], itemsize)
        self.X, self.y, self.w, self.chunk_rows, self.name = X, y, sample_weight, chunk_rows, name
        self.n_rows, self.n_features = int(X.shape[0]), int(X.shape[1])

    def chunk_count(self) -> int:
        return -(-self.n_rows // self.chunk_rows)

    def read(self, i: int):
        a, b = i * self.chunk_rows, min((i + 1) * self.chunk_rows, self.n_rows)
        X, y = _rows(self.X, a, b), _rows(self.y, a, b)
        w = None if self.w is None else _rows(self.w, a, b)
        for arr in (self.X, self.y, self.w):
            _drop_pages(arr)
        return X, y, w, f"chunk {i} (rows {a}:{b} of {self.name})"


class NpySource(Source):
    def __init__(self, x_files: list, y_files: list, chunk_rows: int | None):
        if len(x_files) != len(y_files):
            raise ValueError(f"{len(x_files)} X shards but {len(y_files)} y shards")
        if not x_files:
            raise ValueError("no .npy shards given (or the pattern matched none)")
        _chunk_rows(chunk_rows, 1, 1)  # a wrong chunk_rows says so before any shard is read
        self.x_files, self.y_files = list(x_files), list(y_files)
        shapes = [self._shape(f) for f in self.x_files]
        widths = {s[1] if len(s) == 2 else None for s in shapes}
        if len(widths) != 1 or None in widths:
            raise ValueError(
                "every X shard must be 2-D with the same number of columns; got shapes "
                + ", ".join(f"{os.path.basename(f)} {s}" for f, s in zip(self.x_files, shapes))
            )
        self.n_features = widths.pop()
        self.rows = [s[0] for s in shapes]
        self.n_rows = int(sum(self.rows))
        with _open_regular(self.x_files[0]) as f:
            itemsize = _npy_header(f, self.x_files[0])[2].itemsize
        self.chunk_rows = _chunk_rows(chunk_rows, self.n_features, itemsize)
        per = [-(-r // self.chunk_rows) for r in self.rows]
        self.index = [(f, c) for f, n in enumerate(per) for c in range(n)]

    @staticmethod
    def _shape(path):
        with _open_regular(path) as f:
            return _npy_header(f, path)[0]

    def shard(self, rank: int, size: int) -> Source:
        """Every size-th shard file from the rank-th on, so each process reads whole files of its own
        (when there are fewer files than processes: every size-th chunk)."""
        if len(self.x_files) < size:
            return super().shard(rank, size)
        part = NpySource(self.x_files[rank::size], self.y_files[rank::size], self.chunk_rows)
        part.mix = getattr(self, "mix", 1)
        return part

    def chunk_count(self) -> int:
        return len(self.index)

    @staticmethod
    def _rows(path, a: int, b: int) -> np.ndarray:
        """Rows [a, b) of a C-ordered .npy file, read (not mapped) into a new array: the kernel copies
        from its page cache with the GIL released, and the process holds only what it asked for."""
        with _open_regular(path) as f:
            shape, fortran, dtype = _npy_header(f, path)
            if fortran or dtype.hasobject:
                raise ValueError(f"shard {path} must be a C-ordered numeric .npy")
            row = int(np.prod(shape[1:], dtype=np.int64)) * dtype.itemsize
            out = np.empty((b - a, *shape[1:]), dtype=dtype)
            f.seek(f.tell() + a * row)
            if f.readinto(memoryview(out).cast("B")) != out.nbytes:
                raise ValueError(f"shard {path} is truncated: rows {a}:{b} are not all there")
        return out

    def read(self, i: int):
        f, c = self.index[i]
        n, ny = self.rows[f], self._shape(self.y_files[f])[0]
        if ny != n:
            raise ValueError(f"shard {self.y_files[f]} has {ny} rows but {self.x_files[f]} has {n}")
        a, b = c * self.chunk_rows, min((c + 1) * self.chunk_rows, n)
        X, y = self._rows(self.x_files[f], a, b), self._rows(self.y_files[f], a, b)
        return X, y, None, f"chunk {i} ({os.path.basename(self.x_files[f])} rows {a}:{b})"


class ParquetSource(Source):
    def __init__(self, path, features, target, chunk_rows: int):
        if isinstance(features, str) or not (features is None or hasattr(features, "__iter__")):
            raise TypeError(f"features must be a list of column names (or None: all but target), got {features!r}")
        features = None if features is None else list(features)  # once: a generator is read here only
        if not isinstance(target, str):
            raise TypeError(f"target must be a column name, got {target!r}")
        if features is not None and target in features:
            raise ValueError(f"features holds the target column {target!r}: the model would see its own labels")
        _chunk_rows(chunk_rows, 1, 1)
        try:
            import pyarrow.dataset as ds
        except ImportError as e:
            raise ImportError("from_parquet needs pyarrow: pip install 'fastmlp[data]'") from e
        self.dataset = ds.dataset(path, format="parquet")
        names = self.dataset.schema.names
        self.features = features if features is not None else [n for n in names if n != target]
        missing = [c for c in self.features + [target] if c not in names]
        if missing:
            raise ValueError(f"{path}: no column(s) {missing}; the data set has {names}")
        self.target, self.chunk_rows = target, _chunk_rows(chunk_rows, 1, 1)
        self.fragments = list(self.dataset.get_fragments())
        self.n_features = len(self.features)
        self.n_rows = int(self.dataset.count_rows())

    def shard(self, rank: int, size: int) -> Source:
        """Every size-th Parquet fragment (file) from the rank-th on."""
        part = copy.copy(self)
        part.fragments = self.fragments[rank::size]
        if not part.fragments:
            raise ValueError(
                f"a process would get no Parquet files ({len(self.fragments)} for {size} processes): "
                "use fewer processes or split the data into more files"
            )
        part.n_rows = int(sum(f.count_rows() for f in part.fragments))
        return part

    def chunks(self, epoch, seed, shuffle):
        order = np.arange(len(self.fragments))
        if shuffle:
            order = np.random.default_rng([seed, epoch]).permutation(len(order))
        for i in order:
            frag = self.fragments[int(i)]
            for j, batch in enumerate(
                frag.to_batches(columns=self.features + [self.target], batch_size=self.chunk_rows)
            ):
                X = np.column_stack([batch.column(c).to_numpy(zero_copy_only=False) for c in self.features])
                y = batch.column(self.target).to_numpy(zero_copy_only=False)
                yield X, y, None, f"chunk {j} of {os.path.basename(frag.path)}"


class IterableSource(Source):
    """A reader of your own: a function returning an iterator per epoch, or a re-iterable object,
    yielding (X, y) or (X, y, sample_weight)."""

    def __init__(self, reader, n_features: int | None = None, n_rows: int | None = None):
        if not (callable(reader) or hasattr(reader, "__iter__")):
            raise TypeError(
                f"a data source must be iterable or a function returning an iterator, got {type(reader).__name__}"
            )
        self.reader, self.n_features, self.n_rows = reader, n_features, n_rows

    def chunks(self, epoch, seed, shuffle):
        items = self.reader() if callable(self.reader) else iter(self.reader)
        got = False
        for i, item in enumerate(items):
            got = True
            if not isinstance(item, (tuple, list)) or len(item) not in (2, 3):
                raise ValueError(
                    f"chunk {i}: a reader must yield (X, y) or (X, y, sample_weight) (y may be None for predict), "
                    f"got {type(item).__name__}"
                )
            yield item[0], item[1], item[2] if len(item) == 3 else None, f"chunk {i}"
        if not got:
            raise ValueError(
                f"the data source gave no chunks in epoch {epoch}"
                + (
                    " (a generator can be read only once: pass a function that returns a new iterator)"
                    if self.one_shot
                    else ""
                )
            )

    def shard(self, rank: int, size: int) -> Source:
        """A reader of your own is taken as this process's share already (e.g. it opens the files of
        ``comm.Get_rank()``)."""
        return self

    @property
    def one_shot(self) -> bool:
        """Whether the reader is an iterator (a generator), which gives its chunks once."""
        # (an Iterator has __next__; iter() is not called: on a torch DataLoader it would start its workers)
        return not callable(self.reader) and isinstance(self.reader, collections.abc.Iterator)

    def first_width(self) -> int:
        """The width of the first chunk. A one-shot iterator (a generator, ``iter(chunks)``) gets
        that chunk put back in front, so that the fit that asked still reads every chunk."""
        if self.one_shot:
            try:
                first = next(self.reader)
            except StopIteration:
                raise ValueError("the data source is empty") from None
            self.reader = itertools.chain([first], self.reader)
            return IterableSource([first]).first_width()
        for X, *_ in self.chunks(0, 0, False):
            return int(np.shape(X)[1])
        raise ValueError("the data source is empty")

    def width(self) -> int:
        return self.n_features or self.first_width()


class InMemory(Source):
    """Arrays X, y (and sample weights) as they were given to fit (lists, DataFrames, ...): one
    chunk, the whole data set. Each process of a data-parallel fit holds its own (``shard``)."""

    def __init__(self, X, y, sample_weight=None):
        self.X, self.y, self.w = X, y, sample_weight

    def chunk_count(self) -> int:
        return 1

    def read(self, i: int):
        return self.X, self.y, self.w, "X"

    def width(self) -> int:
        if np.ndim(self.X) != 2:
            as_2d(self.X, "X", np.float64)  # raises the error that names X (not 2-D, not numbers)
        return np.shape(self.X)[1]

    def shard(self, rank: int, size: int) -> Source:
        return self


def from_arrays(X, y, sample_weight=None, chunk_rows: int | None = None) -> ArraySource:
    """In-memory arrays, ``np.load(..., mmap_mode="r")`` memmaps or pandas DataFrames / Series (their
    column names checked as fit checks them), read ``chunk_rows`` rows at a time (default: about 32 MB
    of X)."""
    return ArraySource(X, y, sample_weight, chunk_rows)


def from_npy(x_paths, y_paths, chunk_rows: int | None = None) -> NpySource:
    """.npy shards: lists of files or glob patterns (sorted), X and y shard by shard, in chunks of
    ``chunk_rows`` rows (default: about 32 MB of X; chunks do not cross shards)."""

    def files(p):
        if isinstance(p, (str, os.PathLike)):
            found = sorted(glob.glob(os.fspath(p)))
            return found if any(ch in os.fspath(p) for ch in "*?[") else [os.fspath(p)]
        return [os.fspath(f) for f in p]

    return NpySource(files(x_paths), files(y_paths), chunk_rows)


def from_parquet(path, features=None, target: str = "target", chunk_rows: int = 65536) -> ParquetSource:
    """A Parquet file or folder (pyarrow): ``features`` columns (default: all but ``target``)."""
    return ParquetSource(path, features, target, chunk_rows)


def as_source(data, y=None, sample_weight=None) -> Source:
    """Training data as a source: a Source as it is, arrays X, y as one in-memory chunk, and
    anything else iterable (y=None) as a reader of your own."""
    if not isinstance(data, Source) and (y is not None or hasattr(data, "shape")):
        return InMemory(data, y, sample_weight)
    if y is not None:
        raise TypeError("with a data source (fastmlp.data), the targets come from the source: pass y=None")
    if sample_weight is not None:
        raise TypeError(
            "with a data source (fastmlp.data), the sample weights come from its chunks (X, y, sample_weight): "
            "pass sample_weight=None"
        )
    return data if isinstance(data, Source) else IterableSource(data)


def chunked(X) -> Source | None:
    """X as a source for predict and evaluate when it is one: a Source, or a reader of your own (a
    function returning an iterator of chunks, or an iterator such as a generator); None for the
    samples themselves (arrays, DataFrames, lists of rows)."""
    if isinstance(X, Source):
        return X
    if callable(X) or (hasattr(X, "__next__") and iter(X) is X):
        return IterableSource(X)
    return None


def _concatenate(parts):
    """Chunks joined (a source's ``mix``): pandas objects with pandas, so that a DataFrame keeps its
    column names (checked against the model's) and nullable dtypes; arrays with NumPy."""
    if all(hasattr(p, "iloc") for p in parts):
        import pandas as pd

        return pd.concat(parts, ignore_index=True)
    return np.concatenate(parts)


def converter(inputs: Inputs, targets, class_weight=None):
    """The function that turns a chunk (X, y, sample_weight, name) into the arrays the core maps:
    X by ``inputs``, y and the weights (times ``class_weight``) by ``targets`` (a TargetSpec; None:
    X alone, for forward, which reads no y)."""

    def convert(X, y, w, name):
        X = inputs.convert(X, "X")
        if targets is None:
            return X, None, None, name
        Y = targets.convert(y, X.shape[0], "y")
        return X, Y, targets.weights(w, class_weight, Y, part=True), name

    return convert


def one_pass(source, convert, y=None, sample_weight=None):
    """The converted chunks of a source, in order, once (predict, evaluate); a y or sample_weight
    given beside it is a TypeError (the source brings its own)."""
    return iter(Prefetcher(as_source(source, y, sample_weight), convert, 0, False))


class Prefetcher:
    """What the C++ loop reads from: ``start_epoch(e)`` starts a thread that reads and converts
    the epoch's chunks into a bounded queue; ``next_chunk(stopped)`` hands them over (None at the
    end; a wait polls ``stopped``, the loop's Ctrl-C flag) and re-raises, naming the chunk,
    whatever went wrong while reading or converting."""

    def __init__(self, source: Source, convert, seed: int, shuffle: bool, prefetch: int = 2, mix: int = 1):
        self.source, self.convert, self.seed, self.shuffle = source, convert, seed, shuffle
        self.prefetch, self.mix = max(1, int(prefetch)), max(1, int(mix))
        self.thread, self.queue, self.stop = None, None, threading.Event()
        self.epochs_started = 0  # epochs begun (Ctrl-C while waiting: the epochs before it count)
        self.chunks_given = 0  # chunks handed to the loop: none, no step (a refused fit is rolled back)

    def _produce(self, epoch: int) -> None:
        def put(item):
            while not self.stop.is_set():
                try:
                    self.queue.put(item, timeout=0.1)
                    return True
                except queue.Full:
                    continue
            return False

        try:
            pending = []
            for X, y, w, name in self.source.chunks(epoch, self.seed, self.shuffle):
                pending.append((X, y, w, name))
                if len(pending) < self.mix:
                    continue
                if not put(self._merge(pending)):
                    return
                pending = []
            if pending and not put(self._merge(pending)):
                return
            put(_END)
        except BaseException as e:  # handed to the loop, which raises it
            put(e)

    def _merge(self, pending):
        name = pending[0][3] if len(pending) == 1 else f"{pending[0][3]} + {len(pending) - 1} more"
        try:
            if len(pending) == 1:
                X, y, w = pending[0][:3]
            else:
                X = _concatenate([p[0] for p in pending])
                y = _concatenate([p[1] for p in pending])
                w = None  # with weights in some chunks: 1 for each row of a chunk without
                if any(p[2] is not None for p in pending):
                    w = np.concatenate([np.ones(len(p[1])) if p[2] is None else p[2] for p in pending])
            if len(X) == 0:
                raise ValueError("the chunk is empty")
            return self.convert(X, y, w, name)
        except (ValueError, TypeError) as e:
            raise type(e)(f"{name}: {e}") from None

    def start_epoch(self, epoch: int) -> None:
        self.close()
        self.epochs_started += 1
        self.stop.clear()
        self.queue = queue.Queue(maxsize=self.prefetch)
        self.thread = threading.Thread(target=self._produce, args=(int(epoch),), daemon=True, name="fastmlp-prefetch")
        self.thread.start()

    def next_chunk(self, stopped=None):
        try:
            item = interruptible_get(self.queue, stopped)
        except KeyboardInterrupt:
            # The reader may block for long (a slow network share, a FIFO): the thread is told to
            # stop and left to end when its read returns (it is a daemon), never waited for here.
            self.stop.set()
            self.thread = None
            raise
        if item is _END:
            return None
        if isinstance(item, BaseException):
            raise item
        self.chunks_given += 1
        return item

    def close(self) -> None:
        if self.thread is not None:
            self.stop.set()
            self.thread.join()
            self.thread = None

    def __iter__(self):  # a whole pass, for predict and evaluate
        self.start_epoch(0)
        try:
            while (item := self.next_chunk()) is not None:
                yield item
        finally:
            self.close()
