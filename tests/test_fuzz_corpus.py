"""The fuzzers' seed corpus (tests/fuzz/corpus/, damaged and hostile model files) replayed through
the Python loaders: each file loads or raises ValueError (never another exception, never a crash),
and memory stays bounded (the loader allocates about the file's size, never what a header claims)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import fastmlp as fm

CORPUS = Path(__file__).resolve().parent / "fuzz" / "corpus"
FILES = sorted(CORPUS.glob("*"))
# Files in the corpus that are valid models (the fixtures); every other one must be refused.
VALID = {"v0.1.0_float32.safetensors", "v0.1.0_float64.safetensors", "main_2026-12-06.safetensors"}


def test_the_corpus_is_there():
    assert len(FILES) >= 30
    assert sum(p.stat().st_size for p in FILES) < 200_000  # small: replayed in every CI run
    assert {p.name for p in FILES} >= VALID


@pytest.mark.parametrize("path", FILES, ids=[p.name for p in FILES])
def test_corpus_file_loads_or_raises_value_error(path, tmp_path):
    data = path.read_bytes()
    outcomes = []
    for load in (lambda: fm.Sequential.from_bytes(data), lambda: fm.load(path)):
        try:
            load()
            outcomes.append("ok")
        except ValueError as e:
            assert str(e), "a ValueError without a message"
            outcomes.append("ValueError")
    assert outcomes[0] == outcomes[1]  # bytes and file take the same path
    assert outcomes[0] == ("ok" if path.name in VALID else "ValueError"), outcomes


# Run in a child whose address space is capped a little above what importing fastmlp takes:
# a loader that believed a header's sizes (2**62-element shapes, a 2**64-byte header) would get
# MemoryError or be killed there, and the test would fail.
_CHILD = r"""
import resource, sys
from pathlib import Path
import fastmlp as fm
def vm_bytes():
    for line in open("/proc/self/status"):
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
cap = vm_bytes() + 512 * 2**20
resource.setrlimit(resource.RLIMIT_AS, (cap, cap))
refused = 0
for path in sorted(Path(sys.argv[1]).glob("*")):
    try:
        fm.Sequential.from_bytes(path.read_bytes())
    except ValueError:
        refused += 1
print(refused)
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc and caps RLIMIT_AS")
def test_corpus_loads_in_bounded_memory():
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(CORPUS)],
        capture_output=True,
        text=True,
        env=dict(os.environ, OMP_NUM_THREADS="1"),
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert int(done.stdout.strip()) == len(FILES) - len(VALID)


def test_fixture_in_the_corpus_is_the_committed_fixture():
    fixtures = Path(__file__).resolve().parent / "fixtures"
    for name in VALID:
        assert (CORPUS / name).read_bytes() == (fixtures / name).read_bytes()
    assert json.loads((fixtures / "v0.1.0_expected.json").read_text())


# F3: what the CLI prints for a refused model file is one line, never a traceback (a huge integer in
# the optimizer metadata once escaped as OverflowError).
CLI_FILES = [
    "optimizer_huge_int",
    "epochs_near_2_63",
    "seed_huge",
    "header_len_huge",
    "shape_huge",
    "header_nested_deep",
]


@pytest.mark.parametrize("name", CLI_FILES)
def test_cli_prints_one_line_for_a_refused_model_file(name):
    path = CORPUS / f"{name}.safetensors"
    done = subprocess.run(
        [sys.executable, "-m", "fastmlp", "info", str(path)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("fastmlp info: error: "), done.stderr
    assert "not a valid fastmlp model file" in lines[0]
