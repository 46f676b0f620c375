"""Model-file helpers shared by tests/test_io*.py: small models to save and compare, and the
makers of malformed files (BAD_FILES) and of fuzz mutations."""

import json
import struct

import numpy as np

import fastmlp as fm


def make_model(dtype="float32", seed=0):
    layers = [fm.Dense(4, 6, "tanh"), fm.Dense(6, 5, "relu"), fm.Dense(5, 3, "softmax")]
    return fm.Sequential(layers, dtype=dtype, seed=seed, l2=1e-3, optimizer="sgd")


ARCHS = [
    ([4, 3], ["linear"], "mse"),
    ([4, 7, 1], ["sigmoid", "sigmoid"], None),
    ([4, 8, 6, 3], ["relu", "tanh", "softmax"], None),
    ([4, 5, 2], ["step", "linear"], "mse"),
    ([4, 5, 3], ["tanh", "softmax"], "mse"),
    ([4, 3, 2], ["relu", "sigmoid"], "binary_crossentropy"),
]


def build(sizes, acts, loss, dtype, seed=3, l2=0.0):
    return fm.Sequential(
        [fm.Dense(a, b, g) for a, b, g in zip(sizes[:-1], sizes[1:], acts)],
        loss=loss,
        dtype=dtype,
        seed=seed,
        l2=l2,
        optimizer="sgd",
    )


def assert_same_model(a, b):
    assert type(a) is type(b)
    assert repr(a) == repr(b)
    assert a.loss_name == b.loss_name and a.dtype == b.dtype and a.l2 == b.l2
    assert len(a.layers) == len(b.layers)
    for la, lb in zip(a.layers, b.layers):
        assert type(la) is type(lb)
        if isinstance(la, fm.Dense):
            assert (la.n_in, la.n_out, la.activation) == (lb.n_in, lb.n_out, lb.activation)
            assert getattr(la, "alpha", None) == getattr(lb, "alpha", None)
            assert la.weights.dtype == lb.weights.dtype
            assert la.weights.tobytes() == lb.weights.tobytes()  # bitwise
            assert la.bias.tobytes() == lb.bias.tobytes()
        else:
            assert la.rate == lb.rate
    assert a.params.tobytes() == b.params.tobytes()
    if hasattr(a, "optimizer"):
        assert type(a.optimizer) is type(b.optimizer)
        assert a.optimizer.get_config() == b.optimizer.get_config()
    assert getattr(a, "_epochs_seen", 0) == getattr(b, "_epochs_seen", 0)


def randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    model.params[...] = rng.normal(size=model.params.shape)


# ----------------------------------------------------------------------------- malformed files


def parts(model=None):
    """(header dict, data bytes) of a valid file, to edit."""
    raw = (model or make_model("float32")).to_bytes()
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def assemble(header, data, n=None):
    h = json.dumps(header).encode() if isinstance(header, dict) else header
    return struct.pack("<Q", len(h) if n is None else n) + h + data


def meta_edit(**changes):
    header, data = parts()
    for k, v in changes.items():
        if v is None:
            del header["__metadata__"][k]
        else:
            header["__metadata__"][k] = v
    return assemble(header, data)


def tensor_edit(name, **changes):
    header, data = parts()
    header[name].update(changes)
    return assemble(header, data)


def layers_edit(fn):
    header, data = parts()
    layers = json.loads(header["__metadata__"]["layers"])
    fn(layers)
    header["__metadata__"]["layers"] = json.dumps(layers)
    return assemble(header, data)


def _drop_tensor():
    header, data = parts()
    del header["layers.2.bias"]
    return assemble(header, data)


def _overlap():
    header, data = parts()
    header["layers.0.bias"]["data_offsets"] = header["layers.0.weight"]["data_offsets"][:]
    header["layers.0.bias"]["data_offsets"][1] = header["layers.0.bias"]["data_offsets"][0] + 4 * 6
    return assemble(header, data)


def _extra_tensor():
    header, data = parts()
    header["extra"] = {"dtype": "F32", "shape": [1], "data_offsets": [len(data), len(data) + 4]}
    return assemble(header, data + b"\0\0\0\0")


def _dtype_mismatch():
    header, data = parts()
    header["__metadata__"]["dtype"] = "float64"  # tensors stay F32
    return assemble(header, data)


def _nan_weight():
    header, data = parts()
    b = header["layers.1.weight"]["data_offsets"][0]
    data = data[:b] + struct.pack("<f", float("nan")) + data[b + 4 :]
    return assemble(header, data)


def _trailing_bytes():
    header, data = parts()
    return assemble(header, data + b"\0" * 8)


def _dup_keys():
    header, data = parts()
    text = json.dumps(header)
    text = text[:-1] + ', "__metadata__": {}}'
    return assemble(text.encode(), data)


def _deep():
    header, data = parts()
    header["__metadata__"]["junk"] = "x"
    text = json.dumps(header)[:-1] + ', "deep": ' + "[" * 5000 + "]" * 5000 + "}"
    return assemble(text.encode(), data)


def _leading_dropout():
    header, data = parts()
    layers = json.loads(header["__metadata__"]["layers"])
    header["__metadata__"]["layers"] = json.dumps([{"type": "Dropout", "rate": 0.5}] + layers)
    renamed = {}
    for k, v in header.items():
        if k.startswith("layers."):
            i, rest = k[len("layers.") :].split(".", 1)
            k = f"layers.{int(i) + 1}.{rest}"
        renamed[k] = v
    return assemble(renamed, data)


def _dropout_rate(rate, **extra):
    model = fm.Sequential([fm.Dense(4, 6, "tanh"), fm.Dropout(0.5), fm.Dense(6, 3, "softmax")], seed=0, optimizer="sgd")
    header, data = parts(model)
    layers = json.loads(header["__metadata__"]["layers"])
    layers[1].update(rate=rate, **extra)
    header["__metadata__"]["layers"] = json.dumps(layers)
    return assemble(header, data)


def _valid():
    return make_model().to_bytes()


BAD_FILES = {
    "empty": (lambda: b"", "fewer than the 8-byte"),
    "only length": (lambda: _valid()[:8], "larger than"),
    "truncated header": (lambda: _valid()[:40], "larger than"),
    "truncated data": (lambda: _valid()[:-3], "cover|outside|needs"),
    "huge header length": (lambda: struct.pack("<Q", 2**63) + b"{}" * 8, "larger than"),
    "header too short": (lambda: struct.pack("<Q", 1) + b"{", "too small"),
    "header length past end": (lambda: struct.pack("<Q", 5) + b"{}", "larger than"),
    "bad json": (lambda: assemble(b'{"a": [1, 2', b""), "not valid JSON"),
    "not an object": (lambda: assemble(b"[1, 2, 3]", b""), "JSON object"),
    "not utf8": (lambda: assemble(b'{"\xff\xfe": 1}', b""), "UTF-8"),
    "nan constant": (lambda: assemble(b'{"a": NaN}', b""), "not valid JSON .*invalid literal"),
    "no metadata": (
        lambda: assemble({"layers.0.weight": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}, b""),
        "__metadata__",
    ),
    "metadata not strings": (lambda: meta_edit(dtype=5), "strings to strings"),
    "unknown version": (lambda: meta_edit(fastmlp_format="2"), "unsupported fastmlp_format"),
    "no version": (lambda: meta_edit(fastmlp_format=None), "lacks fastmlp_format"),
    "bad dtype meta": (lambda: meta_edit(dtype="float16"), "dtype"),
    "bad loss": (lambda: meta_edit(loss="hinge"), "unknown loss"),
    "bad l2": (lambda: meta_edit(l2="-1"), "l2"),
    "l2 not json": (lambda: meta_edit(l2="zero"), "not valid JSON"),
    "bad seed": (lambda: meta_edit(seed="-4"), "seed"),
    "layers not json": (lambda: meta_edit(layers="[{"), "not valid JSON"),
    "layers empty": (lambda: meta_edit(layers="[]"), "non-empty"),
    "layers not list": (lambda: meta_edit(layers='{"a": 1}'), "non-empty JSON list"),
    "unknown layer": (lambda: layers_edit(lambda L: L.append({"type": "Conv2D"})), "unknown type"),
    "unknown activation": (lambda: layers_edit(lambda L: L[0].update(activation="swishy")), "activation"),
    "bad size": (lambda: layers_edit(lambda L: L[0].update(n_in=-3)), "n_in"),
    "size is float": (lambda: layers_edit(lambda L: L[0].update(n_in=4.0)), "n_in"),
    "absurd size": (lambda: layers_edit(lambda L: L[0].update(n_in=10**30)), "n_in"),
    "architecture vs tensor": (lambda: layers_edit(lambda L: L[1].update(n_out=6)), "shape"),
    "unknown layer field": (lambda: layers_edit(lambda L: L[0].update(__class__="os.system")), "unknown fields"),
    "missing tensor": (_drop_tensor, "missing|gap|cover"),
    "extra tensor": (_extra_tensor, "unexpected tensors"),
    "dtype mismatch": (_dtype_mismatch, "dtype"),
    "tensor dtype": (lambda: tensor_edit("layers.0.bias", dtype="I64"), "F32 or F64"),
    "absurd shape": (lambda: tensor_edit("layers.0.weight", shape=[2**62, 2**62]), "needs"),
    "negative shape": (lambda: tensor_edit("layers.0.weight", shape=[-4, -6]), "invalid shape"),
    "wrong shape": (lambda: tensor_edit("layers.0.weight", shape=[6, 4]), "shape"),
    "offsets out of range": (lambda: tensor_edit("layers.2.bias", data_offsets=[10**6, 10**6 + 12]), "outside"),
    "offsets reversed": (lambda: tensor_edit("layers.0.bias", data_offsets=[120, 96]), "outside"),
    "offsets not ints": (lambda: tensor_edit("layers.0.bias", data_offsets=[96.0, 120.0]), "outside"),
    "overlapping offsets": (_overlap, "overlaps|needs"),
    "tensor extra key": (lambda: tensor_edit("layers.0.bias", note="x"), "exactly"),
    "nan weight": (_nan_weight, "NaN"),
    "trailing bytes": (_trailing_bytes, "cover"),
    "duplicate keys": (_dup_keys, "repeats"),
    "deep nesting": (_deep, "deep|nest"),
    "leading dropout": (_leading_dropout, "must follow"),
    "dropout rate 1": (lambda: _dropout_rate(1.0), "rate"),
    "dropout rate negative": (lambda: _dropout_rate(-0.5), "rate"),
    "dropout extra field": (lambda: _dropout_rate(0.5, p=2), "unknown fields|exactly"),
    "chain mismatch": (
        lambda: layers_edit(
            lambda L: L.insert(1, {"type": "Dense", "n_in": 2, "n_out": 2, "activation": "relu", "alpha": None})
        ),
        "missing|shape|chain|inputs",
    ),
}


def pick(rng, options):
    return options[int(rng.integers(0, len(options)))]


def _mutations(valid: bytes, rng: np.random.Generator, count: int):
    n = struct.unpack("<Q", valid[:8])[0]
    header = valid[8 : 8 + n].decode()
    numbers = [i for i, c in enumerate(header) if c.isdigit()]
    for k in range(count):
        kind = k % 6
        raw = bytearray(valid)
        if kind == 0:  # bit flips anywhere
            for _ in range(int(rng.integers(1, 9))):
                pos = int(rng.integers(0, len(raw)))
                raw[pos] ^= 1 << int(rng.integers(0, 8))
        elif kind == 1:  # truncation
            raw = raw[: int(rng.integers(0, len(raw)))]
        elif kind == 2:  # bit flips inside the header only
            for _ in range(int(rng.integers(1, 4))):
                pos = 8 + int(rng.integers(0, n))
                raw[pos] ^= 1 << int(rng.integers(0, 8))
        elif kind == 3:  # a digit of the header replaced by a random number (sizes, offsets, shapes)
            pos = numbers[int(rng.integers(0, len(numbers)))]
            repl = str(pick(rng, [0, 1, 2, 7, 255, 2**31, 2**32 + 1, 2**63, 2**64 + 5, 10**40]))
            h = header[:pos] + repl + header[pos + 1 :]
            raw = bytearray(struct.pack("<Q", len(h)) + h.encode() + valid[8 + n :])
        elif kind == 4:  # random bytes inserted into / deleted from the header, length kept or fixed
            pos = 8 + int(rng.integers(0, n))
            if rng.random() < 0.5:
                raw[pos:pos] = bytes(rng.integers(0, 256, size=int(rng.integers(1, 5)), dtype=np.uint8))
            else:
                del raw[pos : pos + int(rng.integers(1, 5))]
            if rng.random() < 0.5:
                raw[:8] = struct.pack("<Q", n + len(raw) - len(valid))
        else:  # the header length field itself
            raw[:8] = struct.pack(
                "<Q", pick(rng, [0, 1, n - 1, n + 1, n + 8, len(raw), 2**64 - 1, int(rng.integers(0, 2**63))])
            )
        yield bytes(raw)
