"""The Embedding layer (Keras's ``Embedding`` followed by ``Flatten``): X holds k integer codes
per row, and each code is replaced by its row of a learned table E (input_dim x output_dim), the
k rows side by side. Its C++ body is cpp/src/layers/embedding.cpp (Ops::gather_rows and
Ops::scatter_add_rows: CPU and CUDA); fastmlp.layers exports it with the other layer kinds.
"""

from __future__ import annotations

import numpy as np

from ._layer import Layer, _count, input_size
from ._validation import as_int

#: Keras's names of the tables' initializers the C++ core knows: "uniform" in [-0.05, 0.05]
#: (Keras's default), "normal" with std 0.05, and the Dense inits with fans (input_dim, output_dim).
INITIALIZERS = ("uniform", "normal", "glorot_uniform", "glorot_normal", "he_uniform", "he_normal")


class Embedding(Layer):
    """A learned vector per category: ``Embedding(input_dim, output_dim)``, Keras's contract on
    2-D batches. X (m x k) holds integer codes 0 .. input_dim - 1 (as numbers of the model's
    dtype); the output (m x k * output_dim) is, for each row, the k rows of the table E
    (``embeddings``, shape (input_dim, output_dim)) at its codes, side by side (Keras's
    Embedding then Flatten). Training adds each output row's gradient into E's row of its code
    (codes repeated in a batch add up).

    It is a model's first layer (codes are inputs, not differentiable), e.g.
    ``Sequential([Embedding(1000, 8), Dense(32, "relu"), Dense(3, "softmax")])``. A code that is
    not an integer in [0, input_dim) is a ValueError naming X's column. k comes from the data of
    the first fit, or ``input_length`` (or Keras's ``input_shape=(k,)``). float32 models take
    input_dim up to 2**24 (the integers float32 holds exactly).

    embeddings_initializer: "uniform" (in [-0.05, 0.05], Keras's default), "normal" (std 0.05),
      "glorot_uniform", "glorot_normal", "he_uniform" or "he_normal" (fans input_dim, output_dim).
    No L2 penalty applies to E (Keras's default: no regularizer).
    """

    def __init__(
        self,
        input_dim: int,
        output_dim: int,
        embeddings_initializer: str = "uniform",
        *,
        input_length: int | None = None,
        input_shape=None,
    ):
        if input_shape is not None:  # Keras: any first layer takes input_shape=(k,), here as input_length=k
            if input_length is not None:
                raise TypeError("give input_length or input_shape, not both")
            input_length = input_size(input_shape)
        input_dim, output_dim = as_int(input_dim, "input_dim"), as_int(output_dim, "output_dim")
        for name, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            if not 1 <= value < 2**31:
                raise ValueError(f"{name} must be in [1, 2**31 - 1], got {value}")
        if not isinstance(embeddings_initializer, str):
            raise TypeError(f"embeddings_initializer must be a string, got {embeddings_initializer!r}")
        if embeddings_initializer not in INITIALIZERS:
            raise ValueError(
                f"embeddings_initializer must be one of {', '.join(INITIALIZERS)}, got {embeddings_initializer!r}"
            )
        self.input_dim, self.output_dim = input_dim, output_dim
        self.embeddings_initializer = embeddings_initializer
        self.n_in = None
        if input_length is not None:
            self._set_n_in(input_length)

    def _set_n_in(self, n_in: int) -> None:
        n_in = as_int(n_in, "input_length")
        if not 1 <= n_in or n_in * self.output_dim >= 2**31:
            raise ValueError(
                f"input_length must be >= 1 with input_length * output_dim < 2**31, got {n_in} x {self.output_dim}"
            )
        self.n_in = n_in

    input_length = property(lambda self: self.n_in, doc="k, the codes per row (None until known)")

    @property
    def n_out(self) -> int | None:
        """k * output_dim (None until k is known)."""
        return None if self.n_in is None else self.n_in * self.output_dim

    @property
    def num_params(self) -> int:
        return self.input_dim * self.output_dim

    # --- config and the model file ---
    def get_config(self) -> dict:
        """input_dim, output_dim, embeddings_initializer, input_length (None until known)."""
        return {
            "input_dim": self.input_dim,
            "output_dim": self.output_dim,
            "embeddings_initializer": self.embeddings_initializer,
            "input_length": self.n_in,
        }

    def file_entry(self) -> dict:
        entry = {"type": "Embedding", "n_in": self.n_in, "input_dim": self.input_dim, "output_dim": self.output_dim}
        if self.embeddings_initializer != "uniform":  # the file names an init only when it is not the default
            entry["init"] = self.embeddings_initializer
        return entry

    @classmethod
    def _from_file_config(cls, config: dict) -> Embedding:
        """From a file entry's fields (n_in, init: the C++ core's names) or get_config's."""
        config = dict(config)
        for file_key, key in (("n_in", "input_length"), ("init", "embeddings_initializer")):
            if file_key in config:
                if key in config:
                    raise ValueError(f"an Embedding entry has both {file_key!r} and {key!r}")
                config[key] = config.pop(file_key)
        init = config.get("embeddings_initializer")
        if init is None:
            config.pop("embeddings_initializer", None)
        elif init in ("xavier_uniform", "xavier_normal", "kaiming_uniform", "kaiming_normal"):  # the C++ aliases
            config["embeddings_initializer"] = init.replace("xavier", "glorot").replace("kaiming", "he")
        known = {"input_dim", "output_dim", "embeddings_initializer", "input_length"}
        if set(config) - known:
            raise ValueError(f"an Embedding entry has unknown fields: {sorted(set(config) - known)}")
        if "input_dim" not in config or "output_dim" not in config:
            raise ValueError("an Embedding entry needs input_dim and output_dim")
        return cls(**config)

    # --- its place in a model ---
    def _check_place(self, where: str, before, last: bool) -> None:
        if before is not None:
            raise ValueError(
                f"{where}: an Embedding must be the model's first layer (it reads integer codes from X and has "
                "no input gradient), not after another layer or inside a Residual"
            )
        if last:
            raise ValueError(
                f"{where}: an Embedding cannot be the last layer (the output layer is a Dense or an Activation); "
                "add e.g. Dense(n_outputs) after it"
            )

    def _chain(self, where: str, n_in: int | None, deferred: list) -> int | None:
        if self.n_in is None:
            if n_in is not None:
                deferred.append((self, n_in))
                return n_in * self.output_dim
            return None
        if n_in is not None and n_in != self.n_in:
            raise ValueError(f"{where}: this Embedding takes {self.n_in} codes per row but is given {n_in}")
        return self.n_out

    # --- its weights ---
    @property
    def embeddings(self) -> np.ndarray:
        """E, shape (input_dim, output_dim): a writable view into the model's parameter buffer."""
        if self._net is None:
            raise RuntimeError("this Embedding has no table until it is part of a built Sequential model")
        return self._net.tensor(self._prefix + "embeddings")

    @embeddings.setter
    def embeddings(self, value) -> None:
        view = self.embeddings
        arr = np.asarray(value, dtype=view.dtype)
        if arr.shape != view.shape:
            raise ValueError(f"embeddings must have shape {view.shape}, got {arr.shape}")
        if not np.isfinite(arr).all():
            raise ValueError("embeddings contains NaN or infinity")
        view[...] = arr

    def weight_views(self) -> list:
        return [(self.embeddings, "embeddings")]

    # --- summary, notebook, ONNX ---
    def summary_row(self, index: int, input_shape: str) -> tuple:
        shape = f"(None, {'?' if self.n_out is None else self.n_out})"
        return (f"embedding_{index} (Embedding)", shape, _count(self.num_params), "")

    def html_row(self) -> list:
        return [repr(self), f"({self.input_dim}, {self.output_dim})", "", _count(self.num_params)]

    def onnx_nodes(self, ctx, x: str, prefix: str, out: str | None = None) -> tuple:
        """Cast the codes to int64, Gather E's rows (batch, k, output_dim), Reshape to (batch, k * output_dim).
        A code that is not an integer in [0, input_dim) (negative, fractional, NaN) becomes input_dim, which
        Gather refuses, as fastmlp refuses it: Gather alone would take -1 as the last row and Cast 2.5 as 2."""
        from onnx import TensorProto

        E = ctx.tensor(f"{prefix}.embeddings", self.embeddings)
        p, node = prefix, ctx.node
        consts = [
            ctx.numpy_helper.from_array(np.array([0, -1], dtype=np.int64), f"{p}.shape"),
            ctx.numpy_helper.from_array(np.array(0, dtype=np.int64), f"{p}.code_zero"),
            ctx.numpy_helper.from_array(np.array(self.input_dim, dtype=np.int64), f"{p}.code_bad"),
        ]
        y = out or f"{p}.y"
        nodes = [
            node("Cast", [x], [f"{p}.cast_codes"], name=f"{p}.cast", to=TensorProto.INT64),
            node("Cast", [f"{p}.cast_codes"], [f"{p}.codes_back"], name=f"{p}.cast_back", to=ctx.elem),
            node("Equal", [f"{p}.codes_back", x], [f"{p}.whole"], name=f"{p}.whole"),  # false for 2.5, NaN
            node("Less", [f"{p}.cast_codes", f"{p}.code_zero"], [f"{p}.negative"], name=f"{p}.negative"),
            node("Not", [f"{p}.whole"], [f"{p}.fraction"], name=f"{p}.fraction"),
            node("Or", [f"{p}.negative", f"{p}.fraction"], [f"{p}.bad"], name=f"{p}.bad"),
            node("Where", [f"{p}.bad", f"{p}.code_bad", f"{p}.cast_codes"], [f"{p}.codes"], name=f"{p}.codes"),
            node("Gather", [E.name, f"{p}.codes"], [f"{p}.rows"], name=f"{p}.gather", axis=0),
            node("Reshape", [f"{p}.rows", f"{p}.shape"], [y], name=f"{p}.reshape"),
        ]
        return nodes, [E, *consts], y

    def __repr__(self) -> str:
        extra = "" if self.embeddings_initializer == "uniform" else f", {self.embeddings_initializer!r}"
        extra += "" if self.n_in is None else f", input_length={self.n_in}"
        return f"Embedding({self.input_dim}, {self.output_dim}{extra})"
