#!/usr/bin/env bash
# bench_capi against the installed fastmlp (its libfastmlp_c.so and fastmlp.h) and the onnxruntime
# wheel's libonnxruntime.so: makes the three nets (make_models.py), builds bench_capi.c, runs it.
#   bench/capi/run.sh [CALLS]        (default 100000; results: bench/capi/RESULTS.md)
set -euo pipefail
cd "$(dirname "$0")/../.."
python=${PYTHON:-python}
calls=${1:-100000}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
lib=$("$python" -c "import fastmlp, pathlib; print(pathlib.Path(fastmlp.cmake_dir()).parents[1])")
ort=$("$python" -c "import onnxruntime, pathlib; print(next(pathlib.Path(onnxruntime.__file__).parent.glob('capi/libonnxruntime.so*')))")
"$python" bench/capi/make_models.py "$out" > /dev/null
cc -O2 -std=c11 bench/capi/bench_capi.c -I "$lib/../include" -L "$lib" -lfastmlp_c -ldl -lm \
  -Wl,-rpath,"$lib" -o "$out/bench_capi"
lscpu | grep -E "Model name|^CPU\(s\)" | sed 's/  */ /g'
args=()
for net in 8-32-32-2_tanh 64-64-64-8_relu 784-256-128-10_relu; do
  args+=("$net" "$out/$net.safetensors" "$out/$net.onnx")
done
"$out/bench_capi" "$ort" "$calls" "${args[@]}"
