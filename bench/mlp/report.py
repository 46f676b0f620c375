"""The report: the header (date, command, versions, CPU, builds), the sections around the tables, and
the raw results to and from JSON (--json, --from-json)."""

import datetime
import json
import os
import platform
import subprocess
import sys

from .harness import cpu_level, log
from .tables import details_lines, digits_table, main_table, sgemm_table, threads_table
from .workload import AVX2_CORETYPE, DATA_SEED, FLOP_FORMULA, LABEL, LR, REPO, fm_variants, forward_flops, train_flops


def lscpu():
    """lscpu's output and None, or None and why it failed (the report says so rather than failing)."""
    try:
        return subprocess.run(["lscpu"], capture_output=True, text=True, timeout=20).stdout, None
    except Exception as e:  # noqa: BLE001
        return None, "lscpu failed: %r" % e


def lscpu_model():
    """One line: the CPU's model name (family, model, hypervisor)."""
    out, err = lscpu()
    if err:
        return err
    f = {}
    for ln in out.splitlines():
        k, _, v = ln.partition(":")
        f.setdefault(k.strip(), v.strip())
    extra = ", ".join(
        "%s %s" % (label, f[k])
        for k, label in (("CPU family", "family"), ("Model", "model"), ("Hypervisor vendor", "hypervisor"))
        if f.get(k)
    )
    return "%s (%s)" % (f.get("Model name", "?"), extra) if extra else f.get("Model name", "?")


def lscpu_info():
    """The lscpu lines the report keeps (SIMD flags filtered), and the model name."""
    keep = (
        "Model name",
        "Vendor ID",
        "CPU family",
        "Model:",
        "CPU(s):",
        "Thread(s) per core",
        "Core(s) per socket",
        "L1d cache",
        "L2 cache",
        "L3 cache",
        "Hypervisor vendor",
        "CPU max MHz",
    )
    out, err = lscpu()
    if err:
        return [err], "?"
    lines, model = [], "?"
    for ln in out.splitlines():
        s = ln.strip()
        if s.startswith("Model name"):
            model = s.split(":", 1)[1].strip()
        if any(s.startswith(k) for k in keep):
            lines.append(" ".join(s.split()))
    flags = [ln for ln in out.splitlines() if ln.strip().startswith("Flags")]
    if flags:
        f = flags[0].split(":", 1)[1].split()
        simd = [
            x
            for x in f
            if x in ("avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_vnni", "avx512_bf16", "amx_tile")
        ]
        lines.append("SIMD flags: " + " ".join(simd))
    return lines, model


def write_reports(text: str, out, json_path, data) -> None:
    """Prints the markdown report and writes it to `out`, and `data` as JSON to `json_path` (each if given)."""
    print(text)
    if out:
        os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
        with open(out, "w") as f:
            f.write(text)
        log("wrote %s" % out)
    if json_path:
        with open(json_path, "w") as f:
            json.dump(data, f, indent=1)
        log("wrote %s" % json_path)


def run_lines(res) -> list:
    """The report's date and command lines (res["started"], res["finished"]: datetimes; res["argv"]: the
    run's options)."""
    took = (res["finished"] - res["started"]).total_seconds()
    argv = ["python", os.path.relpath(sys.argv[0], REPO)] + res["argv"]
    return [
        "- Date: %s (UTC), run took %.0f s" % (res["started"].strftime("%Y-%m-%d %H:%M"), took),
        "- Command: `%s`" % " ".join(argv),
    ]


def versions(res):
    info = res.get("info", {})
    v = {"python": platform.python_version()}
    for d in info.values():
        for k in ("numpy", "torch", "jax", "jaxlib", "onnxruntime", "sklearn", "fastmlp"):
            if k in d and k not in v:
                v[k] = d[k]
    try:
        import threadpoolctl

        v["threadpoolctl"] = threadpoolctl.__version__
    except Exception:
        pass
    return v


def numpy_blas_arch(res, key):
    for d in (res.get("info", {}).get(key) or {}).get("blas", []) or []:
        if d.get("internal_api") == "openblas" and "numpy" in (d.get("filepath") or ""):
            return "%s %s (arch %s, %s threads)" % (
                d.get("prefix"),
                d.get("version"),
                d.get("architecture"),
                d.get("num_threads"),
            )
    return "?"


def report(res, a):
    cpu_lines, cpu_model = lscpu_info()
    v = versions(res)
    t0 = a.threads[0]
    tf, ff = train_flops(), forward_flops()
    dx = tf - 2 * ff
    L = ["# fastmlp benchmark results", ""] + run_lines(res)
    L.append("- Versions: " + ", ".join("%s %s" % kv for kv in v.items()))
    L.append("- CPU: %s; %s" % (cpu_model, "; ".join(cpu_lines)))
    L.append(
        "- Host: %s, %d logical CPUs visible; load average at end %s"
        % (
            platform.platform(),
            os.cpu_count() or 0,
            res.get("loadavg", "?"),
        )
    )
    L.append(
        "- Threads: rows at %dT unless stated; thread counts %s. Mode: %s, %d repetitions, "
        "~%.2f s per timing, %.1f s pause between timings."
        % (
            t0,
            " ".join(map(str, a.threads)),
            "QUICK (smoke test, not meaningful)" if a.quick else "full",
            a.reps,
            a.target_time,
            a.gap,
        )
    )
    info = res.get("info", {})
    L.append(
        "- ISA: x86-64 level of this CPU %s (lscpu flags above); 1-thread workers pinned to core %s "
        "(worker affinity: %s)"
        % (
            cpu_level(),
            a.pin_core if a.pin_core >= 0 else "none",
            ", ".join(
                "%s %s" % (k, d.get("affinity")) for k, d in info.items() if k.endswith("-1") and "affinity" in d
            ),
        )
    )
    for f in fm_variants(a.contenders):
        fi = info.get("%s-%d" % (f, t0)) or {}
        bi = fi.get("build_info")
        if isinstance(bi, dict):
            L.append(
                "- %s: picked build %s (level %s), GEMM kernel **%s**%s; threads %s; build_info: `%s`"
                % (
                    LABEL[f],
                    bi.get("arch"),
                    bi.get("level"),
                    bi.get("gemm"),
                    ", forced by FASTMLP_ARCH=%s" % fi["env"]["FASTMLP_ARCH"]
                    if (fi.get("env") or {}).get("FASTMLP_ARCH")
                    else "",
                    ", ".join(
                        "%s→%s" % (k.rsplit("-", 1)[1], d.get("fastmlp_threads", "n/a"))
                        for k, d in info.items()
                        if k.rsplit("-", 1)[0] == f
                    ),
                    json.dumps(bi),
                )
            )
        elif fi:
            L.append("- %s: failed to start: %s" % (LABEL[f], fi.get("error")))
    ji = info.get("jax-%d" % t0) or info.get("jax-scan-%d" % t0)
    if ji and "jax" in ji:
        L.append(
            "- JAX %s (jaxlib %s), devices %s, XLA_FLAGS `%s`"
            % (ji["jax"], ji.get("jaxlib"), ji.get("devices"), ji.get("xla_flags", "").strip())
        )
    oi = info.get("onnxruntime-%d" % t0)
    if oi and "onnxruntime" in oi:
        L.append(
            "- onnxruntime %s, providers %s, intra_op_num_threads = the row's thread count, sequential"
            % (oi["onnxruntime"], oi.get("providers"))
        )
    ti = next((d for k, d in res.get("info", {}).items() if k.startswith("torch-")), None)
    if ti:
        L.append(
            "- PyTorch: %s, CPU capability %s, intra-op threads per worker: %s"
            % (
                "; ".join(ti.get("blas", [])),
                ti.get("cpu_capability", "?"),
                ", ".join(
                    "%s→%s" % (k.split("-")[1], d.get("torch_threads"))
                    for k, d in res["info"].items()
                    if k.startswith("torch-")
                ),
            )
        )
    L.append("")
    L.append("## Environment note")
    L.append("")
    removed = res["removed_env"]
    if removed:
        L.append(
            "The parent environment set %s. These make OpenBLAS use a different kernel/blocking; every "
            "contender's worker process was started with a copy of the environment **without** them."
            % ", ".join("`%s=%s`" % kv for kv in removed.items())
        )
    else:
        L.append(
            "OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE were not set in this run's environment; workers "
            "were started without them in any case."
        )
    L.append(
        "Each worker also had OPENBLAS_NUM_THREADS = OMP_NUM_THREADS = MKL_NUM_THREADS = its thread count; "
        "NumPy and scikit-learn workers call threadpoolctl.threadpool_limits(n), PyTorch "
        "torch.set_num_threads(n), fastmlp fm.set_num_threads(n) when available."
    )
    for t in sorted(set(a.threads)):
        L.append("NumPy's OpenBLAS in the %dT worker (threadpoolctl): %s." % (t, numpy_blas_arch(res, "numpy-%d" % t)))
        if res.get("info", {}).get("numpy-avx2-%d" % t):
            L.append(
                "With OPENBLAS_CORETYPE=%s (the AVX2 limit) the %dT worker reports: %s."
                % (AVX2_CORETYPE, t, numpy_blas_arch(res, "numpy-avx2-%d" % t))
            )
    if removed:
        L.append("With the environment as-is it reports: %s." % numpy_blas_arch(res, "numpy-asis-1"))
    L.append("")
    L.append(
        "## Measured sgemm peak (GFLOP/s, %d×%d @ %d×%d float32, median [min–max]; NumPy: %d timings "
        "before the rows and one in each repetition, among the rows; torch.mm: %d before)"
        % (a.sgemm_n, a.sgemm_n, a.sgemm_n, a.sgemm_n, a.sgemm_reps, a.sgemm_reps)
    )
    L.append("")
    L += sgemm_table(res, a)
    L.append("")
    L.append(
        "'% OpenBLAS' below is fastmlp's rate over the NumPy (OpenBLAS) sgemm median at the row's thread "
        "count, measured in this run; for fastmlp's AVX2 build on an AVX-512 CPU, over OpenBLAS's AVX2 kernel "
        "(the column above), which is what OpenBLAS runs on an AVX2-only CPU. '(best …)' sets fastmlp's fastest "
        "timing against the limit's fastest: a busy host only slows timings down, so that is the ratio on a "
        "quiet machine, and it does not rise when a busy minute pulls the limit's median down."
    )
    L.append("")
    L.append("## MLP 784-256-128-10, float32, plain SGD lr=%g" % LR)
    L.append("")
    L.append(
        "Synthetic MNIST-shaped data: %d × 784 float32 uniform in [0,1), 10 integer classes, seed %d. "
        "Cells: median [min–max] over %d repetitions; samples/s unless marked µs. Ratios are speed "
        "ratios of medians against the fastest other contender on the row (>1 = fastmlp faster; for "
        "latency that contender's µs / fastmlp's µs); after it, the same ratio taken within each repetition, "
        "where the two were timed seconds apart (median [min–max]): how much of a ratio is the host's noise."
        % (a.n_total, DATA_SEED, a.reps)
    )
    L.append("")
    L += main_table(res, a)
    if len(a.threads) > 1:
        L.append("")
        L.append("### Threads: fastmlp at %s threads against %d (same run)" % (", ".join(map(str, a.threads[1:])), t0))
        L.append("")
        L.append("Worst case = the slowest multi-thread timing / the fastest 1-thread timing.")
        L.append("")
        L += threads_table(res, a)
    L.append("")
    if res.get("breakdown"):
        L.append("### fastmlp batch-1 latency, layer by layer (µs, median of 7 × many calls, %dT)" % t0)
        L.append("")
        L.append(
            "| variant | model.forward | engine.forward (binding + C++) | binding floor (784-1 model: "
            "binding, input validation, output array) | products and activations (engine − floor) | "
            "Python method + `_X` (model − engine) |"
        )
        L.append("|---|---:|---:|---:|---:|---:|")
        for f, b in res["breakdown"].items():
            L.append(
                "| %s | %.2f | %.2f | %.2f | %.2f | %.2f |"
                % (
                    LABEL[f],
                    b["model.forward"],
                    b["engine.forward"],
                    b["binding floor (784-1 model)"],
                    b["engine.forward"] - b["binding floor (784-1 model)"],
                    b["model.forward"] - b["engine.forward"],
                )
            )
        L.append("")
    L.append("FLOPs: " + FLOP_FORMULA.format(f=ff, dx=dx, t=tf))
    L.append("")
    L.append("Samples per timing (calibrated per contender to ~%.2f s):" % a.target_time)
    L.append("")
    L += details_lines(res, a)
    L.append("")
    L.append("What is timed:")
    L.append(
        "- fastmlp: `model.fit(X[:n], y[:n], epochs=1, batch_size=B, learning_rate=0.01, tol=0, shuffle=False)` "
        "(includes input validation and History; inference: `model.forward(x)`, softmax output)."
    )
    L.append(
        "- PyTorch: Sequential(Linear, ReLU, Linear, ReLU, Linear), CrossEntropyLoss, optim.SGD(lr=0.01, "
        "momentum=0); loop over pre-made batch tensors: zero_grad, forward, loss, backward, step, "
        "loss.item(). Inference: `torch.softmax(model(x), 1)` under `torch.inference_mode()`."
    )
    L.append(
        "- JAX jit step: `jax.jit(step, donate_argnums=0)` (value_and_grad of mean softmax-CE + SGD) called "
        "from a Python loop over pre-made device batches, losses kept on the device, one "
        "`block_until_ready` at the end; compilation and data transfer before the timer. Inference: the jitted "
        "forward with softmax on a device array, `block_until_ready`."
    )
    L.append(
        "- JAX scan epoch: the same step under `jax.lax.scan` over the epoch's batches, the whole epoch one "
        "jitted program (compiled ahead with `.lower().compile()`, outside the timer)."
    )
    L.append(
        "- onnxruntime: inference only; fastmlp's ONNX export of the same model (`fastmlp.onnx.to_onnx`), "
        "`InferenceSession(..., intra_op_num_threads=T, inter_op_num_threads=1, ORT_SEQUENTIAL, ORT_ENABLE_ALL)`, "
        "`sess.run([out], {inp: x})` with numpy input."
    )
    L.append(
        "- NumPy: hand-written forward/backward/SGD (bench_mlp.py: NumpyMLP), loop over slices, batch loss "
        "computed every step; inference: forward incl. softmax."
    )
    L.append(
        "- scikit-learn: `MLPClassifier(hidden_layer_sizes=(256,128), activation='relu', solver='sgd', "
        "alpha=0, momentum=0, learning_rate_init=0.01, batch_size=B, max_iter=1, shuffle=False).fit(X[:n], y[:n])` "
        "(one epoch; includes its weight initialisation; float32 preserved); training rows only."
    )
    L.append("- All models are reset to identical initial weights before each timed training run (outside the timer).")
    if not a.no_digits and res["digits"]:
        L.append("")
        L.append("## Digits: time to %.0f%% test accuracy" % (100 * a.digits_target))
        L.append("")
        n_tr, n_te = res.get("digits_sizes", (0, 0))
        L.append(
            "sklearn `load_digits`, `train_test_split(test_size=0.25, random_state=0)` (%d train / %d test), "
            "X/16, float32. MLP 64-64-10, ReLU hidden, softmax + cross-entropy, plain SGD (momentum 0, "
            "no L2), lr=%g, batch %d, shuffled every epoch, each library's default weight init seeded "
            "with the seed; test accuracy checked after every epoch, stop at >= %.2f, at most %d epochs; "
            "seeds 0..%d, %dT. Time includes model creation, training and the per-epoch accuracy checks. "
            "Times/epochs are over the seeds that reached the target; ms/epoch and final accuracy over all runs. "
            "Note: %.2f on this %d-sample test set means >= %d correct, so the epoch count depends strongly "
            "on the seed; compare ms/epoch for speed."
            % (
                n_tr,
                n_te,
                a.digits_lr,
                a.digits_batch,
                a.digits_target,
                a.digits_max_epochs,
                a.digits_seeds - 1,
                t0,
                a.digits_target,
                n_te,
                int(-(-a.digits_target * n_te // 1)) if n_te else 0,
            )
        )
        L.append("")
        L += digits_table(res, a)
    L.append("")
    return L


def to_jsonable(o):
    """The raw results as JSON takes them: tuple keys joined with '|', datetimes in ISO format."""
    if isinstance(o, dict):
        return {("|".join(map(str, k)) if isinstance(k, tuple) else str(k)): to_jsonable(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [to_jsonable(x) for x in o]
    if isinstance(o, datetime.datetime):
        return o.isoformat()
    return o


def from_json(path):
    """A run's raw results from its --json file, to_jsonable undone."""
    with open(path) as f:
        res = json.load(f)
    for k in ("started", "finished"):
        res[k] = datetime.datetime.fromisoformat(res[k])
    res["calib"] = {tuple(k.split("|", 1)): v for k, v in res["calib"].items()}
    return res
