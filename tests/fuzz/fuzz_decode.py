"""atheris harness for the Python model loader: fastmlp.Sequential.from_bytes, i.e. fastmlp.io.decode
(the C++ reader through the bindings) plus the Python-side checks of the training metadata
(_persist). Any input must load or raise ValueError; any other exception is a finding.

    pip install atheris            # a wheel for CPython 3.11 on x86-64 Linux exists
    python tests/fuzz/fuzz_decode.py -atheris_runs=200000 /tmp/fuzz-py tests/fuzz/corpus

Only the Python code is instrumented for coverage; the C++ reader is fuzzed with coverage by
fuzz_model_loader.cpp (.ci/sanitize). -max_len=65536 keeps inputs near the corpus' sizes.
"""

import sys

import atheris

with atheris.instrument_imports():
    import fastmlp as fm


def test_one_input(data: bytes) -> None:
    try:
        fm.Sequential.from_bytes(data)
    except ValueError:
        pass


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
