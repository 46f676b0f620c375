"""The README and docs/ tell the truth: the defaults, limits, names and accuracies they state, checked
against the code (accuracies with a tolerance). Their code blocks run in tests/test_doc_blocks.py.

Speed figures are not here: they come from bench/RESULTS*.md, which the docs quote.
"""

import ast
import contextlib
import inspect
import io
import json
import math
import re
import statistics
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest

import fastmlp as fm

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
DOCS = ROOT / "docs"


def page(name: str) -> str:
    return (DOCS / name).read_text()


def python_blocks(text: str) -> list:
    return re.findall(r"```python\n(.*?)```", text, flags=re.S)


def run_code(code: str, where: str) -> dict:
    scope: dict = {}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        exec(compile(code, where, "exec"), scope)
    return scope


def stated(pattern: str, text: str) -> str:
    found = re.search(pattern, text, flags=re.S)
    assert found, f"the docs no longer say {pattern!r}: update this test with them"
    return found.group(1)


# ----------------------------------------------------------------------------- defaults and names


def _api_cells() -> list:
    """The first cell of each row of the README's API table."""
    section = README.split("## API", 1)[1].split("### Training", 1)[0]
    return [row.split("|")[1] for row in section.splitlines() if row.startswith("| `")]


def _resolve(name: str):
    parts = name.split(".")
    if parts[0] == "fm":
        parts = parts[1:]
    elif parts == ["model"]:
        parts = ["Sequential", "__call__"]  # model(X)
    elif parts[0] == "model":
        parts[0] = "Sequential"
    for home in (fm, fm.schedules, fm.callbacks, fm.Sequential):
        obj = home
        try:
            for p in parts:
                obj = getattr(obj, p)
        except AttributeError:
            continue
        return obj
    return None


def _args(text: str) -> list:
    return [a.strip() for a in text.split(",") if a.strip()]


def _signatures(text: str):
    """Each `name(arg, key=value, ...)` in backquotes (single or double)."""
    for span in re.findall(r"`+([^`]+?)`+", text):
        found = re.fullmatch(r"([\w.]+)\((.*)\)", span.strip())
        if found:
            yield span, found.group(1), _args(found.group(2))


KERAS_NAMES = {("Dense", "units")}  # fm.Dense(units, ...): Keras's name for the first argument


def _check_signature(span, name, args, problems):
    obj = _resolve(name)
    if obj is None or not callable(obj):
        return False
    params = inspect.signature(obj).parameters
    open_kwargs = any(p.kind is p.VAR_KEYWORD for p in params.values())
    for arg in args:
        if arg == "...":
            continue
        key, _, value = arg.partition("=")
        key = key.strip()
        if key not in params:
            if not open_kwargs and (name.split(".")[-1], key) not in KERAS_NAMES:
                problems.append(f"{span}: {name} has no argument {key!r} (it has {list(params)})")
            continue
        if value:
            want, have = ast.literal_eval(value.strip()), params[key].default
            same = (
                math.isclose(want, have, rel_tol=1e-12)
                if isinstance(want, (int, float)) and isinstance(have, (int, float)) and not isinstance(want, bool)
                else want == have
            )
            if not same:
                problems.append(f"{span}: the default of {key} is {have!r}, not {want!r}")
    return True


def test_the_readme_api_table_states_the_real_names_and_defaults():
    problems, checked = [], 0
    for cell in _api_cells():
        for span, name, args in _signatures(cell):
            checked += _check_signature(span, name, args, problems)
    assert checked >= 30, checked
    assert not problems, "\n".join(problems)


def test_the_python_api_page_schedule_table_states_the_real_defaults():
    table = page("api/python.rst").split("learning rate in epoch", 1)[1].split(".. autoclass", 1)[0]
    problems, checked = [], 0
    for span, name, args in _signatures(table):
        checked += _check_signature(span, "schedules." + name, args, problems)
    assert checked >= 5 and not problems, problems


def test_the_stated_training_defaults():
    """README: "the defaults are Adam (learning rate 1e-3) on mini-batches of 32"."""
    stated(r"the defaults are Adam \(learning rate (1e-3)\) on mini-batches of (32)", README)
    model = fm.Sequential([fm.Dense(2, 1, "sigmoid")])
    assert isinstance(model.optimizer, fm.Adam) and model.optimizer.learning_rate == pytest.approx(1e-3)
    assert inspect.signature(fm.Sequential.fit).parameters["batch_size"].default == 32
    assert inspect.signature(fm.Sequential.fit).parameters["epochs"].default == 100  # fit(..., epochs=100, ...)


def test_the_cli_defaults_the_docs_state():
    from fastmlp.cli.parser import build_parser

    args = build_parser().parse_args(["train", "data.csv"])
    assert args.optimizer == stated(r"`--optimizer [a-z|]+`\s+\(default (\w+)\)", README)
    choices = stated(r"`--optimizer ([a-z|]+)`", README).split("|")
    assert sorted(choices) == sorted(fm.optimizers.names())
    for name in choices:
        assert build_parser().parse_args(["train", "data.csv", "--optimizer", name]).optimizer == name
    assert args.verbose == int(stated(r"`--verbose` follows Keras: (\d) \(default\)", page("api/cli.md")))


def test_activation_and_loss_constants():
    """leaky_relu's slope 0.01, elu's alpha 1.0 and huber's delta 1 (README's API table, math.md)."""
    assert stated(r"`leaky_relu` \(slope `alpha`, ([0-9.]+)\)", README) == "0.01"
    assert stated(r"`elu` \(`alpha`, ([0-9.]+)\)", README) == "1.0"
    assert stated(r"`huber` \(delta (\d)\)", README) == "1"
    z = np.array([[-2.0], [-1.0], [0.5]])
    for activation, want in (("leaky_relu", np.where(z > 0, z, 0.01 * z)), ("elu", np.where(z > 0, z, np.expm1(z)))):
        model = fm.Sequential([fm.Dense(1, 1, activation)], dtype="float64", loss="mse")
        model.layers[0].weights = [[1.0]]
        model.layers[0].bias = [0.0]
        np.testing.assert_allclose(model.forward(z), want, rtol=1e-12)
    model = fm.Sequential([fm.Dense(1, 1, "linear")], dtype="float64", loss="huber")
    model.layers[0].weights = [[1.0]]
    model.layers[0].bias = [0.0]
    r = np.array([-3.0, -0.5, 0.25, 2.0])  # residuals a - y with y = 0
    want = np.mean(np.where(np.abs(r) <= 1, r**2 / 2, np.abs(r) - 0.5))
    assert model.loss(r[:, None], np.zeros((4, 1))) == pytest.approx(want, rel=1e-12)


def test_dense_parameter_count():
    """math.md: "A Dense(n_in, n_out) layer has n_in * n_out + n_out parameters"."""
    assert fm.Sequential([fm.Dense(7, 5, "relu")]).num_params == 7 * 5 + 5


def test_the_embedding_width_rule():
    """README: width min(600, round(1.6 V**0.56)) for V = categories + 2 (fastai's rule)."""
    pd = pytest.importorskip("pandas")
    stated(r"`(min\(600, round\(1\.6 V\*\*0\.56\)\))` for `V` = categories \+ 2", README)
    for v in (2, 3, 7, 50, 1000, 10**5, 10**7):
        assert fm.tabular.embedding_size(v) == min(600, round(1.6 * v**0.56)), v
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=60), "c": pd.Categorical(rng.choice(list("abcde"), size=60))})
    model = fm.Sequential([fm.Dense(8, "relu"), fm.Dense(2, "softmax")], seed=0)
    model.fit(df, rng.integers(0, 2, size=60), epochs=1)
    (table,) = model.layers[0].embeddings.values()
    assert table.shape == (5 + 2, min(600, round(1.6 * 7**0.56)))


def test_the_vanishing_gradient_threshold():
    """README: "below 1e-3 of the last layer's"; reliability.md: "below 1/1000"."""
    stated(r"the first layer's is below (1e-3) of the last layer's", README)
    stated(r"mean `\|\|dW\|\|` is below (1/1000) of the last layer's", page("reliability.md"))
    assert fm.training.VANISHING_RATIO == 1e-3


def test_the_data_chunk_default():
    """README and scaling.md: chunks of about 32 MB each by default."""
    stated(r"about three chunks \((32) MB each by default\)", README)
    stated(r"a few chunks \(about (32) MB each by default\)", page("scaling.md"))
    source = fm.data.from_arrays(np.zeros((100_000, 784), np.float32), np.zeros(100_000, int))
    chunk_bytes = source.chunk_rows * 784 * 4
    assert 30e6 <= chunk_bytes <= 34e6, chunk_bytes


def test_the_thread_thresholds_scaling_states():
    """scaling.md: at most 8 threads by default, 4 MFLOP (training) and 0.1 MFLOP (inference) before
    a product splits, 32,768 elements for the elementwise passes, 200 µs of polling."""
    text = page("scaling.md")
    hpp = (ROOT / "cpp/include/fastmlp/threads.hpp").read_text()
    cpp = (ROOT / "cpp/src/threads.cpp").read_text()
    assert stated(r"the\s+CPUs the process may use, at most (\d+);", text) == stated(
        r"kMaxDefaultThreads = (\d+);", cpp
    )
    assert float(stated(r"products under about (\d+) MFLOP", text)) * 1e6 == float(
        stated(r"kParallelMinFlops = ([0-9.e]+);", hpp)
    )
    assert float(stated(r"splits products\s+from ([0-9.]+) MFLOP on", text)) * 1e6 == float(
        stated(r"kParallelMinFlopsReadOnly = ([0-9.e]+);", hpp)
    )
    assert stated(r"split by rows\s+from ([0-9,]+) elements on", text).replace(",", "") == stated(
        r"kParallelMinElements = (\d+);", hpp
    )
    assert stated(r"poll for (\d+) µs before they sleep", text) == stated(r"passive \? 0 : (\d+)\)", cpp)


def test_residual_blocks_nest_three_deep_and_no_deeper():
    """file_format.md: "blocks nest at most three deep"; a model of that depth saves and loads."""
    assert stated(r"blocks nest\s+at most (\w+) deep", page("file_format.md")) == "three"

    def nested(depth):
        inner = [fm.Dense(4, 4, "relu")]
        for _ in range(depth - 1):
            inner = [fm.Residual(inner)]
        return fm.Sequential([fm.Dense(3, 4, "relu"), fm.Residual(inner), fm.Dense(4, 2, "softmax")], seed=0)

    model = nested(3)
    X = np.random.default_rng(0).normal(size=(5, 3)).astype(np.float32)
    loaded = fm.Sequential.from_bytes(model.to_bytes())
    np.testing.assert_array_equal(loaded.forward(X), model.forward(X))
    with pytest.raises(ValueError, match="nest"):
        fm.Sequential.from_bytes(nested(4).to_bytes())


def _with_metadata(data: bytes, **entries) -> bytes:
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header["__metadata__"].update(entries)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    return struct.pack("<Q", len(text)) + text + data[8 + n :]


def test_a_label_dtype_may_be_at_most_256_characters_wider():
    """file_format.md: "the width may exceed the longest label by at most 256 characters"."""
    extra = int(stated(r"the width may exceed the longest label by at most (\d+) characters", page("file_format.md")))
    X = np.random.default_rng(0).normal(size=(20, 2))
    model = fm.Sequential([fm.Dense(2, 2, "softmax")], seed=0)
    model.fit(X, np.where(X[:, 0] > 0, "b", "a"), epochs=1)
    data = model.to_bytes()
    values = ["a", "b"]
    ok = _with_metadata(data, classes=json.dumps({"dtype": f"<U{1 + extra}", "values": values}))
    assert fm.Sequential.from_bytes(ok).classes_.dtype == np.dtype(f"<U{1 + extra}")
    too_wide = _with_metadata(data, classes=json.dumps({"dtype": f"<U{2 + extra}", "values": values}))
    with pytest.raises(ValueError, match="wider"):
        fm.Sequential.from_bytes(too_wide)


def test_int8_limits():
    """math.md: 7-bit weights in [-63, 63] per output column, at most 65,536 inputs."""
    text = page("math.md")
    assert stated(r"\\in \[-(\d+), \d+\]\$ \(7 bits", text) == "63"
    assert int(stated(r"\(at most ([0-9,]+) inputs\)", text).replace(",", "")) == fm.quantize.MAX_INPUTS == 65536
    X = np.random.default_rng(0).normal(size=(30, 6)).astype(np.float32)
    model = fm.Sequential([fm.Dense(6, 5, "relu"), fm.Dense(5, 3, "softmax")], seed=0)
    model.quantize("int8")
    W = np.asarray(model.layers[0].weights)  # the integers W_q
    assert np.array_equal(W, np.rint(W)) and np.abs(W).max(axis=0).tolist() == [63] * 5
    assert model.forward(X).shape == (30, 3)


def test_the_row_block_rule_the_math_page_states():
    """math.md (Training): blocks of 512 rows of a 256-wide layer in float32, a batch of up to 1.5 blocks is one."""
    text = " ".join(page("math.md").split())
    assert "512 rows of a 256-wide layer in float32; a batch of up to 1.5 blocks is one" in text
    model = fm.Sequential([fm.Dense(784, 256, "relu"), fm.Dense(256, 10, "softmax")], dtype="float32", seed=0)
    net = model.build(784)._net
    assert net.block_rows(2048) == 512 and net.block_rows(768) == 768 and net.block_rows(769) < 769


def test_every_metadata_key_and_layer_type_is_in_the_file_format_page(tmp_path):
    """Each key fastmlp writes into a file's metadata, and each layer entry's type, has its row."""
    pd = pytest.importorskip("pandas")
    text = page("file_format.md")
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"x": rng.normal(size=40), "c": rng.choice(["u", "v"], size=40)})
    tabular = fm.Sequential([fm.Dense(8, "relu"), fm.Dense(2, "softmax")], seed=0)
    tabular.fit(df, rng.choice(["no", "yes"], size=40), epochs=1)
    layers = [fm.Normalization(), fm.Dense(4, "relu"), fm.BatchNormalization(), fm.Dropout(0.5)]
    layers += [fm.Residual([fm.Dense(4, 4, "relu"), fm.LayerNormalization()]), fm.Dense(4, 1), fm.Activation("sigmoid")]
    wide = fm.Sequential(layers, seed=0)
    wide.fit(rng.normal(size=(40, 3)), rng.integers(0, 2, size=40), epochs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", fm.Bf16EmulationWarning)
        mixed = fm.Sequential([fm.Embedding(10, 3, input_length=2), fm.Dense(2, "softmax")], dtype="mixed_bfloat16")
        mixed.fit(rng.integers(0, 10, size=(20, 2)).astype(np.float32), rng.integers(0, 2, size=20), epochs=1)
    keys, types = set(), set()
    for model in (tabular, wide, mixed):
        data = model.to_bytes()
        (n,) = struct.unpack("<Q", data[:8])
        meta = json.loads(data[8 : 8 + n])["__metadata__"]
        keys |= set(meta)
        types |= {entry["type"] for entry in json.loads(meta["layers"])}
    assert {"classes", "feature_names_in", "dtype_policy"} <= keys
    for key in keys:
        assert f"`{key}`" in text, f"metadata key {key!r} is not on docs/file_format.md"
    for kind in types:
        assert f'{{"type": "{kind}"' in text, f"layer type {kind!r} has no row on docs/file_format.md"


# ----------------------------------------------------------------------------- tolerances the docs quote


def test_the_tolerances_quoted_for_mpi_and_cuda_are_the_tests():
    readme_mpi = stated(r"tested within (1e-\d+) relative in float64 and (?:1e-\d+) in float32", README)
    readme_mpi32 = stated(r"tested within 1e-\d+ relative in float64 and (1e-\d+) in float32", README)
    tol = stated(r"TOL = (\{[^}]*\})", (ROOT / "tests/mpi/equivalence.py").read_text())
    assert ast.literal_eval(tol) == {"float64": float(readme_mpi), "float32": float(readme_mpi32)}
    cuda = re.search(r"float32 ~(1e-\d+), float64 ~(1e-\d+)", README)
    tol = ast.literal_eval(stated(r"TOL = (\{[^}]*\})", (ROOT / "tests/test_cuda.py").read_text()))
    assert tol == {"float32": float(cuda.group(1)), "float64": float(cuda.group(2))}


def test_the_fuzzing_time_the_readme_states():
    seconds = stated(r"fuzzes for `FASTMLP_FUZZ_SECONDS` \((\d+)\) seconds", README)
    assert f"FASTMLP_FUZZ_SECONDS:-{seconds}" in (ROOT / ".ci/sanitize").read_text()


def test_the_readme_lists_every_public_header():
    listed = set(re.findall(r"`(\w+\.hh?p?p?)`", README.split("Headers (", 1)[1].split("\n\n", 1)[0]))
    present = {p.name for p in (ROOT / "cpp/include/fastmlp").iterdir()}
    assert listed == present, listed ^ present


# ----------------------------------------------------------------------------- accuracies


def test_mixed_bfloat16_accuracy_on_digits_and_the_bench_net():
    """math.md: digits 64-64-10, median 97.98% (mixed) against 97.73% (float32) over 5 seeds; the
    bench net on a generated 10-class set 93.58% against 93.53%; within 0.5 points of float32
    (bench/bench_bf16_accuracy.py's runs, repeated here)."""
    pytest.importorskip("sklearn")
    import importlib.util

    spec = importlib.util.spec_from_file_location("bench_bf16_accuracy", ROOT / "bench/bench_bf16_accuracy.py")
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    text = page("math.md")
    found = re.search(
        r"digits 64-64-10: median\s+([0-9.]+)% against ([0-9.]+)%, (\d) seeds; the bench net on a generated"
        r" 10-class set: ([0-9.]+)% against ([0-9.]+)%",
        text,
    )
    assert found, "math.md's bf16 accuracy sentence changed: update this test"
    mixed_digits, f32_digits, seeds, mixed_net, f32_net = (float(g) for g in found.groups())
    points = float(stated(r"test accuracy stays within ([0-9.]+) points of float32", text))

    def medians(task, data, hidden, epochs, batch):
        Xtr, ytr, Xte, yte = data
        acc = {"float32": [], "mixed_bfloat16": []}
        for seed in range(int(seeds)):
            for dtype in acc:
                layers = [fm.Dense(h, activation="relu") for h in hidden] + [fm.Dense(10, activation="softmax")]
                model = fm.Sequential(layers, dtype=dtype, seed=seed)
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", fm.Bf16EmulationWarning)
                    model.fit(Xtr, ytr, epochs=epochs, batch_size=batch, verbose=0)
                acc[dtype].append(100 * float(np.mean(model.predict(Xte) == yte)))
        return statistics.median(acc["mixed_bfloat16"]), statistics.median(acc["float32"])

    got_mixed, got_f32 = medians("digits", bench.digits(), [64], 30, 32)
    assert got_mixed == pytest.approx(mixed_digits, abs=0.3) and got_f32 == pytest.approx(f32_digits, abs=0.3)
    assert abs(got_mixed - got_f32) <= points
    got_mixed, got_f32 = medians("generated", bench.generated(), [256, 128], 8, 128)
    assert got_mixed == pytest.approx(mixed_net, abs=0.3) and got_f32 == pytest.approx(f32_net, abs=0.3)
    assert abs(got_mixed - got_f32) <= points


def test_no_test_counts_in_prose():
    """House rule: the docs do not count tests (counts go stale); bench and build timings may."""
    for path in [ROOT / "README.md", *DOCS.glob("*.md")]:
        text = path.read_text()
        found = re.findall(r"\b\d[\d,]* (?:tests?|checks)\b(?! (?:run|took))", text)
        assert not found, f"{path.name} counts tests: {found}"


def _rendered_objects():
    """What docs/api/*.rst and file_format.md render with autodoc."""
    text = "".join(page(p) for p in ("api/python.rst", "api/sklearn.rst", "file_format.md"))
    for name in re.findall(r"\.\. auto(?:class|function|exception)::\s+(\S+)", text):
        obj = fm
        for part in name.removeprefix("fastmlp.").split("."):
            obj = getattr(obj, part)
        yield name, obj


def test_the_rendered_docstrings_state_the_real_defaults():
    """A docstring's "name : ..., default X" or "name : X (default ...)" is the signature's default."""
    problems, checked = [], 0
    for name, obj in _rendered_objects():
        try:
            params = inspect.signature(obj).parameters
        except (TypeError, ValueError):
            continue
        for line in (inspect.getdoc(obj) or "").splitlines():
            found = re.match(r"(\w+) : (?:.*?, default ([^,;()]+?)\s*$|(\S+) \(default)", line)
            if not found or found.group(1) not in params:
                continue
            value = (found.group(2) or found.group(3)).strip()
            checked += 1
            if ast.literal_eval(value) != params[found.group(1)].default:
                problems.append(f"{name}: {line.strip()!r}, but the default is {params[found.group(1)].default!r}")
    assert checked >= 8 and not problems, problems


def test_the_bf16_rounding_error_math_states():
    """math.md: an operand's relative rounding is at most 2^-8; the largest bfloat16 is about 3.39e38."""
    text = page("math.md")
    assert stated(r"relative rounding, at most \$2\^\{(-\d+)\}\$", text) == "-8"
    largest = float(stated(r"largest bfloat16 \(\$\\approx ([0-9.]+) \\times 10\^\{38\}", text)) * 1e38
    x = np.random.default_rng(0).uniform(1, 2, size=200_000).astype(np.float32)
    err = np.abs(np.asarray(fm._core.bf16_round(x), np.float64) - x) / x
    assert 2.0**-9 < err.max() <= 2.0**-8
    top, past = np.asarray(fm._core.bf16_round(np.array([3.39e38, 3.4e38], np.float32))).tolist()
    assert top == pytest.approx(largest, rel=1e-3) and top == 2.0**127 * (2 - 2.0**-7)
    assert past == np.inf  # past it by half a unit or more


def test_the_cli_unscaled_warning_threshold():
    """README and docs/api/cli.md: --no-standardize warns when a column's std or |mean| is above 10."""
    from fastmlp.cli import scaling

    readme = stated(r"with a warning when a column's std or \|mean\| is above (\d+)", README)
    cli = stated(r"warns about columns with a std or \|mean\| above (\d+)", page("api/cli.md"))
    assert float(readme) == float(cli) == scaling.UNSCALED_LIMIT


def test_the_name_lists_of_the_python_api_page():
    """docs/api/python.rst lists ACTIVATIONS and LOSSES by name; math.md has a row for each activation and loss."""
    text = page("api/python.rst")
    for name, values in (("ACTIVATIONS", fm.ACTIVATIONS), ("LOSSES", fm.LOSSES)):
        listed = stated(rf"\.\. data:: {name}\n\n(.*?)(?:\n\n|\Z)", text)
        assert re.findall(r"``(\w+)``", listed.split(":", 1)[1]) == list(values), name
    math_page = page("math.md")
    for name in (*fm.ACTIVATIONS, *fm.LOSSES):
        assert f"| `{name}`" in math_page, f"math.md has no row for {name}"


def _all_docs_text() -> str:
    return README + "".join(p.read_text() for p in sorted([*DOCS.glob("*.md"), *(DOCS / "api").glob("*.*")]))


def test_every_c_and_cpp_name_the_docs_use_exists():
    """fastmlp_* (the C API), fastmlp::name (C++) and FASTMLP_* (variables, CMake options) are real."""
    text = _all_docs_text()
    headers = "".join(p.read_text() for p in (ROOT / "cpp/include/fastmlp").iterdir())
    not_code = {"fastmlp_demo_loss", "fastmlp_example", "c_static"}  # a PNG, the example's program, a CMake target
    missing = [n for n in set(re.findall(r"\bfastmlp_[a-z0-9_]+\b", text)) if n not in headers]
    missing += [
        n for n in set(re.findall(r"fastmlp::(?:cuda::)?([A-Za-z_]\w*)", text)) if not re.search(rf"\b{n}\b", headers)
    ]
    sources = "".join(
        p.read_text(errors="replace")
        for folder in ("cpp", "python", "cmake", ".ci", "tests")
        for p in (ROOT / folder).rglob("*")
        if p.is_file() and p.suffix in {".cpp", ".hpp", ".h", ".cu", ".py", ".cmake", ".txt", ""}
    )
    sources += (ROOT / "CMakeLists.txt").read_text()
    missing += [n for n in set(re.findall(r"\bFASTMLP_[A-Z0-9_]+\b", text)) if n not in sources]
    assert not [n for n in missing if n not in not_code], missing


def test_the_demo_epochs_the_readme_states():
    """README's main job: "for 50 epochs with fit's other defaults" is the CLI demo's default (its
    accuracy, "about 0.98", is tests/test_cli.py's)."""
    from fastmlp.cli.commands import DEMO_EPOCHS

    assert int(stated(r"digits data set for (\d+) epochs", README)) == DEMO_EPOCHS
