#!/usr/bin/env bash
# bench_capi: one-sample latency from C, no Python. fastmlp's C API (the installed libfastmlp_c.so and
# fastmlp.h) against RTNeural's run-time-sized and compile-time-sized models (bench_rtneural.cpp) and
# onnxruntime's C API (the onnxruntime wheel's libonnxruntime.so), in one process, on one pinned thread:
# makes the nets (make_models.py), builds the program, runs it, prints the table (RESULTS.md).
#   bench/capi/run.sh [CALLS]        (default 100000)
#
# RTNeural (github.com/jatinchowdhury18/RTNeural, BSD-3-Clause) is fetched for the benchmark only; it is
# not a dependency of fastmlp and nothing of it is kept in this repository:
#   RTNEURAL_DIR=/path/to/RTNeural   a checkout (its headers and modules/json are used), or else
#   a shallow clone of RTNEURAL_REPO (default the GitHub repository) at RTNEURAL_COMMIT into a temporary
#   folder. Without either, the RTNeural columns are skipped, and the script says so on stderr and in
#   the table ("-").
# RTNeural is built with its Eigen backend and its AVX option's flags (-O3 -mavx2 -mfma, alignment 32)
# against the Eigen that fastmlp builds against: EIGEN_INCLUDE, else PyPI's cmeel-eigen (python -m cmeel),
# else /usr/include/eigen3.
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-python}
calls=${1:-100000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
lib=$("$python" -c "import fastmlp, pathlib; print(pathlib.Path(fastmlp.cmake_dir()).parents[1])")
ort=$("$python" -c "import onnxruntime, pathlib; print(next(pathlib.Path(onnxruntime.__file__).parent.glob('capi/libonnxruntime.so*')))")
args=()
while read -r name model onnx; do args+=("$name" "$model" "$onnx"); done < <("$python" bench/capi/make_models.py "$out" 2> /dev/null)

# RTNeural: a checkout given, or a shallow clone of the pinned commit
commit=${RTNEURAL_COMMIT:-1fb1f075a5d66e85bfc8f488c3f3626840cb3a1d}
rtn=${RTNEURAL_DIR:-}
if [[ -z "$rtn" ]]; then
  repo=${RTNEURAL_REPO:-https://github.com/jatinchowdhury18/RTNeural}
  if git init -q "$out/RTNeural" && git -C "$out/RTNeural" fetch -q --depth 1 "$repo" "$commit" 2> /dev/null &&
    git -C "$out/RTNeural" checkout -q FETCH_HEAD; then
    rtn=$out/RTNeural
  fi
fi
eigen=${EIGEN_INCLUDE:-}
if [[ -z "$eigen" ]] && prefix=$("$python" -m cmeel cmake 2> /dev/null); then eigen=$prefix/include/eigen3; fi
eigen=${eigen:-/usr/include/eigen3}
rtn_flags="-O3 -mavx2 -mfma -std=c++17 -DNDEBUG -DRTNEURAL_USE_EIGEN=1 -DRTNEURAL_DEFAULT_ALIGNMENT=32"
rtn_flags="$rtn_flags -DEIGEN_STACK_ALLOCATION_LIMIT=0"  # ModelT's 784 x 257 matrix is a member
c_flags="-O3 -std=c11"
if [[ -n "$rtn" && -f "$rtn/RTNeural/RTNeural.h" && -f "$eigen/Eigen/Dense" ]]; then
  # shellcheck disable=SC2086
  c++ $rtn_flags -I "$rtn" -I "$eigen" -c bench/capi/bench_rtneural.cpp -o "$out/bench_rtneural.o"
  cc $c_flags -DBENCH_RTNEURAL -I "$lib/../include" -c bench/capi/bench_capi.c -o "$out/bench_capi.o"
  c++ "$out/bench_capi.o" "$out/bench_rtneural.o" -L "$lib" -lfastmlp_c -ldl -lm -Wl,-rpath,"$lib" -o "$out/bench_capi"
  version=$(git -C "$rtn" rev-parse HEAD 2> /dev/null || echo "a copy, no git history")
  echo "RTNeural: $rtn ($version); Eigen $eigen; flags: $rtn_flags"
else
  echo "RTNeural: SKIPPED -- no RTNeural checkout (set RTNEURAL_DIR, or let git fetch $commit) or no Eigen" \
    "headers (EIGEN_INCLUDE); its columns are '-'" | tee /dev/stderr
  # shellcheck disable=SC2086
  cc $c_flags -I "$lib/../include" bench/capi/bench_capi.c -L "$lib" -lfastmlp_c -ldl -lm -Wl,-rpath,"$lib" \
    -o "$out/bench_capi"
fi
echo "bench_capi.c: cc $c_flags ($(cc --version | head -1)); fastmlp: the installed wheel's libfastmlp_c.so" \
  "(its core at the x86-64 baseline, the GEMM and the C API's row kernel with AVX2 + FMA picked at run time)"
lscpu | grep -E "Model name|^CPU\(s\)" | sed 's/  */ /g'
echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
"$out/bench_capi" "$ort" "$calls" "${args[@]}"
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
