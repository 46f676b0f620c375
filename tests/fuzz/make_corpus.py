"""Writes the committed seed corpus (tests/fuzz/corpus/) for the model-file fuzzers: the fixtures
and a few dozen hand-made damaged or hostile variants of them, each a few hundred bytes to a few
KiB. The sanitizer job replays them through the C++ loader (fuzz_model_loader.cpp), and
tests/test_fuzz_corpus.py through the Python loader; the fuzzers start from them.

    python tests/fuzz/make_corpus.py      # rewrites tests/fuzz/corpus/ (deterministic)
"""

import json
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parent / "fixtures"
OUT = HERE / "corpus"


def split(raw: bytes):
    n = struct.unpack("<Q", raw[:8])[0]
    return json.loads(raw[8 : 8 + n]), raw[8 + n :]


def join(header, data: bytes, pad: bool = True) -> bytes:
    text = header if isinstance(header, (bytes, str)) else json.dumps(header)
    body = text.encode() if isinstance(text, str) else text
    if pad:
        body += b" " * (-len(body) % 8)
    return struct.pack("<Q", len(body)) + body + data


def variants(raw: bytes):
    header, data = split(raw)
    n = struct.unpack("<Q", raw[:8])[0]
    meta = header["__metadata__"]
    weight = next(k for k in header if k.endswith(".weight"))

    def edit(fn, **meta_changes):
        h = json.loads(json.dumps(header))
        h["__metadata__"].update(meta_changes)
        if fn:
            fn(h)
        return join(h, data)

    yield "truncated_0", b""
    yield "truncated_7", raw[:7]
    yield "truncated_8", raw[:8]
    yield "truncated_header", raw[: 8 + n // 2]
    yield "truncated_data", raw[: len(raw) - 5]
    yield "trailing_bytes", raw + b"\0" * 12
    yield "header_len_huge", struct.pack("<Q", 2**64 - 1) + raw[8:]
    yield "header_len_past_end", struct.pack("<Q", len(raw)) + raw[8:]
    yield "header_len_max_plus_1", struct.pack("<Q", 100000001) + raw[8:]
    yield "header_not_object", join("[1, 2, 3]", data)
    yield "header_not_json", join('{"__metadata__": {', data)
    yield "header_nested_deep", join("[" * 20000 + "]" * 20000, data)
    yield "header_not_utf8", join(b'{"__metadata__": {"dtype": "\xff\xfe"}}', data)
    yield "header_duplicate_keys", join(json.dumps(header)[:-1] + ', "__metadata__": {}}', data)
    yield "metadata_not_object", edit(lambda h: h.update({"__metadata__": [1]}))
    yield "metadata_value_number", edit(None, l2=1.5)
    yield "format_unknown", edit(None, fastmlp_format="99")
    yield "dtype_unknown", edit(None, dtype="float16")
    yield "dtype_mismatch", edit(lambda h: h[weight].update({"dtype": "F16"}))
    yield "loss_unknown", edit(None, loss="hinge")
    yield "l2_nan", edit(None, l2="nan")
    yield "layers_not_list", edit(None, layers='{"a": 1}')
    yield "layers_empty", edit(None, layers="[]")
    yield (
        "layers_huge_width",
        edit(
            None,
            layers=json.dumps([{"type": "Dense", "n_in": 2**40, "n_out": 2**40, "activation": "relu", "alpha": None}]),
        ),
    )
    yield (
        "layers_negative_width",
        edit(None, layers=json.dumps([{"type": "Dense", "n_in": -3, "n_out": 2, "activation": "relu", "alpha": None}])),
    )
    yield (
        "layers_activation_unknown",
        edit(
            None,
            layers=json.dumps(
                [
                    dict(layer, activation="gelu2") if "activation" in layer else layer
                    for layer in json.loads(meta["layers"])
                ]
            ),
        ),
    )
    yield (
        "dropout_rate_2",
        edit(
            None,
            layers=json.dumps(
                json.loads(meta["layers"])[:1] + [{"type": "Dropout", "rate": 2.0}] + json.loads(meta["layers"])[1:]
            ),
        ),
    )
    yield "shape_huge", edit(lambda h: h[weight].update({"shape": [2**62, 2**62]}))
    yield "shape_negative", edit(lambda h: h[weight].update({"shape": [-1, 4]}))
    yield "shape_3d", edit(lambda h: h[weight].update({"shape": [1, 2, 3]}))
    yield "offsets_past_end", edit(lambda h: h[weight].update({"data_offsets": [0, 2**40]}))
    yield "offsets_reversed", edit(lambda h: h[weight].update({"data_offsets": [16, 8]}))

    def overlap(h):  # the first bias moved onto the start of the data, over the first weight
        bias = next(k for k in h if k.endswith(".bias"))
        begin, end = h[bias]["data_offsets"]
        h[bias]["data_offsets"] = [0, end - begin]

    yield "offsets_overlap", edit(overlap)
    yield "tensor_missing", edit(lambda h: h.pop(weight))
    yield "tensor_extra", edit(lambda h: h.update({"extra": {"dtype": "F32", "shape": [0], "data_offsets": [0, 0]}}))
    yield "seed_negative", edit(None, seed="-1")
    yield "seed_huge", edit(None, seed="1" + "0" * 40)
    yield "epochs_near_2_63", edit(None, epochs_trained=str(2**63 - 1))
    yield "epochs_float", edit(None, epochs_trained="1.5")
    yield "optimizer_huge_int", edit(None, optimizer='{"name": "sgd", "learning_rate": 1' + "0" * 400 + "}")
    yield "optimizer_unknown", edit(None, optimizer='{"name": "nadamxx"}')
    yield "data_nan", join(header, b"\xff" * len(data))


def tabular_variants():
    """Hostile vocabularies of a model with a ColumnEmbedding (texts, bools, a median and an
    indicator): the raw-row encoder (fastmlp/raw_rows.hpp) reads them. Needs fastmlp."""
    try:
        import pandas as pd

        import fastmlp as fm
    except ImportError:
        return
    df = pd.DataFrame({"n": [1.0, None, 3.0, 4.0], "t": ["a", "b", None, "a"], "f": [True, False, True, True]})
    model = fm.Sequential([fm.ColumnEmbedding(embedding_sizes=2, fill_missing=True), fm.Dense(1)], loss="mse", seed=0)
    model.fit(df, [0.0, 1.0, 0.0, 1.0], epochs=1, verbose=0)
    header, data = split(model.to_bytes())  # itself valid: not a seed (tests/test_fuzz_corpus.py lists those)

    def vocabulary(edit):
        h = json.loads(json.dumps(header))
        layers = json.loads(h["__metadata__"]["layers"])
        vocab = json.loads(layers[0]["vocabulary"])
        layers[0]["vocabulary"] = edit(vocab)
        h["__metadata__"]["layers"] = json.dumps(layers)
        return join(h, data)

    def categories(cats):
        return lambda v: json.dumps(
            {**v, "columns": [c if c["name"] != "t" else {**c, "categories": cats} for c in v["columns"]]}
        )

    yield "tabular_vocab_not_json", vocabulary(lambda v: '{"columns": [')
    yield "tabular_vocab_nested", vocabulary(categories([[["a"]], {"b": 1}]))
    yield "tabular_vocab_tables", vocabulary(categories(["a"]))
    yield (
        "tabular_vocab_numbers",
        vocabulary(categories([1e308, -9223372036854775808, 18446744073709551615, float("nan")])),
    )
    yield "tabular_vocab_deep", vocabulary(lambda v: "[" * 5000 + "]" * 5000)
    yield (
        "tabular_vocab_indicator",
        vocabulary(
            lambda v: json.dumps(
                {
                    **v,
                    "columns": [{"name": "n", "kind": "number", "median": 1.0, "indicator": "yes"}] + v["columns"][1:],
                }
            )
        ),
    )


def main():
    OUT.mkdir(exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    count = 0
    for fixture in sorted(FIXTURES.glob("*.safetensors")):
        raw = fixture.read_bytes()
        (OUT / fixture.name).write_bytes(raw)
        count += 1
        if "float32" in fixture.name:  # the variants once, from the float32 fixture
            for name, blob in variants(raw):
                (OUT / f"{name}.safetensors").write_bytes(blob)
                count += 1
    for name, blob in tabular_variants():
        (OUT / f"{name}.safetensors").write_bytes(blob)
        count += 1
    print(f"{count} files in {OUT}")


if __name__ == "__main__":
    main()
