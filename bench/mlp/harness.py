"""The harness: one worker process per (contender, thread count), pinned and with a cleaned
environment; the parent sizes each timing, runs the repetitions (rotating which contender goes first)
and collects the raw results that the report and --json are written from."""

import datetime
import json
import os
import platform
import select
import statistics
import subprocess
import sys
import tempfile
import time
import traceback

from .contenders import WORKER_CLASSES
from .workload import AVX2_CORETYPE, AVX2_VARIANTS, ENTRY, REMOVED_ENV, fm_variants, prepare_digits


def log(msg):
    sys.stderr.write(msg + "\n")
    sys.stderr.flush()


def stats(xs):
    xs = [x for x in xs if x is not None]
    if not xs:
        return None
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def fmt_num(v, unit):
    if v is None:
        return "—"
    if unit == "us":
        return "%.1f" % v if v < 1000 else "%.0f" % v
    if v >= 1e6:
        return "%.2fM" % (v / 1e6)
    if v >= 1e4:
        return "%.1fk" % (v / 1e3)
    if v >= 1e3:
        return "%.2fk" % (v / 1e3)
    return "%.0f" % v


def cpu_level():
    """The highest x86-64 microarchitecture level (v2/v3/v4) this CPU's flags allow."""
    try:
        flags = set(next(ln for ln in open("/proc/cpuinfo") if ln.startswith("flags")).split(":", 1)[1].split())
    except Exception:
        return "?"
    v2 = {"cx16", "lahf_lm", "popcnt", "sse4_1", "sse4_2", "ssse3"}
    v3 = {"avx", "avx2", "bmi1", "bmi2", "f16c", "fma", "abm", "movbe", "xsave"}
    v4 = {"avx512f", "avx512bw", "avx512cd", "avx512dq", "avx512vl"}
    level = "x86-64"
    for name, need in (("x86-64-v2", v2), ("x86-64-v3", v3), ("x86-64-v4", v4)):
        if not need <= flags:
            break
        level = name
    return level


def build_rows(a):
    t0 = a.threads[0]
    rows = []
    for b in a.batches:
        rows.append({"kind": "train", "batch": b, "threads": t0})
    for t in a.threads[1:]:
        for b in a.batches2:
            rows.append({"kind": "train", "batch": b, "threads": t})
    for t in a.threads:  # inference splits even one sample's products across threads
        rows.append({"kind": "latency", "batch": 1, "threads": t})
    rows.append({"kind": "throughput", "batch": a.infer_batch, "threads": t0})
    for r in rows:
        if r["kind"] == "train":
            r["label"] = "train b=%d, %dT (samples/s)" % (r["batch"], r["threads"])
            r["unit"] = "samples/s"
        elif r["kind"] == "latency":
            r["label"] = "infer latency 1 sample, %dT (µs)" % r["threads"]
            r["unit"] = "us"
        else:
            r["label"] = "infer b=%d, %dT (samples/s)" % (r["batch"], r["threads"])
            r["unit"] = "samples/s"
        r["key"] = "%s-%d-%d" % (r["kind"], r["batch"], r["threads"])
    return rows


def row_contenders(row, contenders):
    cls = WORKER_CLASSES
    if row["kind"] == "train":
        cs = [c for c in contenders if cls[c].supports_train]
    else:
        cs = [c for c in contenders if cls[c].supports_inference]
    if row["threads"] > 1:  # thread scaling: the compiled contenders only
        cs = [c for c in cs if c not in ("numpy", "sklearn")]
    return cs


def worker_main(name, threads, n_total, pin):
    if pin >= 0:  # before any library starts its thread pool
        os.sched_setaffinity(0, {pin})
    proto = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)  # anything the libraries print goes to stderr
    sys.stdout = sys.stderr

    def send(obj):
        proto.write(json.dumps(obj) + "\n")
        proto.flush()

    try:
        c = WORKER_CLASSES[name](threads, n_total)
        info = c.info()
        info.update(
            {
                "python": platform.python_version(),
                "pid": os.getpid(),
                "affinity": sorted(os.sched_getaffinity(0)),
                "env": {
                    k: os.environ.get(k)
                    for k in REMOVED_ENV
                    + ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "FASTMLP_ARCH")
                },
            }
        )
        send({"ok": True, "info": info})
    except BaseException as e:
        send({"ok": False, "error": "%s: %s" % (type(e).__name__, e), "trace": traceback.format_exc()})
        return
    for line in sys.stdin:
        cmd = json.loads(line)
        op = cmd.pop("op")
        if op == "quit":
            break
        try:
            if op == "calib_train":
                r = c.calib_train(**cmd)
            elif op == "train":
                r = {"seconds": c.timed_train(**cmd)}
            elif op == "calib_latency":
                r = c.calib_latency(**cmd)
            elif op == "latency":
                r = c.latency(**cmd)
            elif op == "calib_throughput":
                r = c.calib_throughput(**cmd)
            elif op == "throughput":
                r = c.throughput(**cmd)
            elif op == "sgemm":
                r = {"gflops": c.sgemm(**cmd)}
            elif op == "digits":
                r = c.digits(**cmd)
            elif op == "latency_breakdown":
                r = c.latency_breakdown(**cmd)
            else:
                raise ValueError("unknown op %r" % op)
            r["ok"] = True
        except BaseException as e:
            r = {"ok": False, "error": "%s: %s" % (type(e).__name__, e), "trace": traceback.format_exc()}
        send(r)


class Worker:
    def __init__(self, name, threads, n_total, asis_env=False, timeout=900, pin=-1):
        self.name, self.threads, self.timeout = name, threads, timeout
        env = dict(os.environ)
        if not asis_env:
            for k in REMOVED_ENV:
                env.pop(k, None)
        env.pop("FASTMLP_ARCH", None)
        if name == "numpy-avx2":
            env["OPENBLAS_CORETYPE"] = AVX2_CORETYPE
        if name.startswith("fastmlp-"):
            env["FASTMLP_ARCH"] = name.split("-", 1)[1]
        for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
            env[k] = str(threads)
        env["PYTHONUNBUFFERED"] = "1"
        self.proc = subprocess.Popen(
            [
                sys.executable,
                ENTRY,
                "--worker",
                name,
                "--worker-threads",
                str(threads),
                "--worker-n",
                str(n_total),
                "--worker-pin",
                str(pin),
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=env,
            text=True,
            bufsize=1,
        )
        self.info = None
        self.error = None

    def _read(self):
        r, _, _ = select.select([self.proc.stdout], [], [], self.timeout)
        if not r:
            raise RuntimeError("worker %s/%d timed out" % (self.name, self.threads))
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("worker %s/%d died (exit %s)" % (self.name, self.threads, self.proc.poll()))
        return json.loads(line)

    def start(self):
        try:
            msg = self._read()
        except Exception as e:
            msg = {"ok": False, "error": str(e)}
        if msg.get("ok"):
            self.info = msg["info"]
        else:
            self.error = msg.get("error", "?")
            if msg.get("trace"):
                sys.stderr.write("[%s/%d] %s\n" % (self.name, self.threads, msg["trace"]))
        return self.error is None

    def call(self, op, **kw):
        if self.error:
            return {"ok": False, "error": self.error}
        kw["op"] = op
        try:
            self.proc.stdin.write(json.dumps(kw) + "\n")
            self.proc.stdin.flush()
            msg = self._read()
        except Exception as e:
            self.error = str(e)
            return {"ok": False, "error": self.error}
        if not msg.get("ok") and msg.get("trace"):
            sys.stderr.write("[%s/%d] %s\n" % (self.name, self.threads, msg["trace"]))
        return msg

    def close(self):
        try:
            if self.proc.poll() is None:
                self.proc.stdin.write(json.dumps({"op": "quit"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(timeout=30)
        except Exception:
            if self.proc.poll() is None:
                self.proc.kill()


def run(a):
    started = datetime.datetime.now(datetime.timezone.utc)
    rows = build_rows(a)
    threads_needed = sorted(set(a.threads))
    removed = {k: os.environ[k] for k in REMOVED_ENV if k in os.environ}

    # ---- start workers (sequentially, to keep start-up from competing) -------------
    workers = {}
    for t in threads_needed:
        for c in a.contenders:
            if c != "numpy" and not any(c in row_contenders(r, a.contenders) for r in rows if r["threads"] == t):
                continue
            w = Worker(c, t, a.n_total, pin=a.pin_core if t == 1 else -1)
            ok = w.start()
            log("worker %-8s %dT: %s" % (c, t, "ready" if ok else "FAILED: " + str(w.error)))
            workers[(c, t)] = w
    # fastmlp's AVX2 build on an AVX-512 CPU is held against OpenBLAS's AVX2 kernel, as it would be on
    # an AVX2-only CPU (there the plain NumPy worker already runs that kernel).
    if any(c in AVX2_VARIANTS for c in a.contenders) and cpu_level() == "x86-64-v4":
        for t in threads_needed:
            w = Worker("numpy-avx2", t, a.n_total, pin=a.pin_core if t == 1 else -1)
            log("worker numpy-avx2 %dT: %s" % (t, "ready" if w.start() else "FAILED: " + str(w.error)))
            workers[("numpy-avx2", t)] = w
    asis = None
    if removed:
        asis = Worker("numpy-asis", 1, 0, asis_env=True, pin=a.pin_core)
        log("worker numpy-asis 1T (env as-is %s): %s" % (removed, "ready" if asis.start() else asis.error))

    results = {"rows": {}, "sgemm": {}, "digits": {}, "calib": {}}
    try:
        # ---- sgemm peak ----------------------------------------------------------
        log("sgemm peak, N=%d ..." % a.sgemm_n)
        sg_samples = {}
        for t in threads_needed:
            for c in ("numpy", "numpy-avx2", "torch"):
                w = workers.get((c, t))
                if w is None:
                    continue
                time.sleep(a.gap)
                r = w.call("sgemm", N=a.sgemm_n, reps=a.sgemm_reps)
                sg_samples["%s-%d" % (c, t)] = list(r.get("gflops", [])) if r.get("ok") else []
                results["sgemm"]["%s-%d" % (c, t)] = stats(sg_samples["%s-%d" % (c, t)])
        if asis is not None:
            r = asis.call("sgemm", N=a.sgemm_n, reps=a.sgemm_reps)
            results["sgemm"]["numpy-asis-1"] = stats(r.get("gflops", [])) if r.get("ok") else None
        for k, v in results["sgemm"].items():
            log(
                "  %-14s %s GFLOP/s" % (k, "—" if v is None else "%.1f [%.1f–%.1f]" % (v["median"], v["min"], v["max"]))
            )

        # ---- calibration / warm-up -------------------------------------------------
        log("calibrating (also warm-up) ...")
        calib = results["calib"]
        for row in rows:
            for c in row_contenders(row, a.contenders):
                w = workers.get((c, row["threads"]))
                if w is None or w.error:
                    continue
                if row["kind"] == "train":
                    cap = a.batch1_samples if row["batch"] == 1 else a.n_total
                    r = w.call("calib_train", batch=row["batch"], cap=cap, target=a.target_time)
                elif row["kind"] == "latency":
                    r = w.call("calib_latency", target=a.target_time, min_calls=a.min_latency_calls)
                else:
                    r = w.call("calib_throughput", m=row["batch"], target=a.target_time)
                calib[(row["key"], c)] = r if r.get("ok") else None
                if not r.get("ok"):
                    log("  %s %s: calibration failed: %s" % (row["key"], c, r.get("error")))

        # ---- repetitions -------------------------------------------------------------
        samples = {(row["key"], c): [] for row in rows for c in row_contenders(row, a.contenders)}
        for rep in range(a.reps):
            log("rep %d/%d" % (rep + 1, a.reps))
            # The limit is re-measured in every repetition, among the rows, so that it sees the same
            # machine as they do (a loaded machine at the start would otherwise flatter the ratios).
            for t in threads_needed:
                for c in ("numpy", "numpy-avx2"):
                    w = workers.get((c, t))
                    if w is not None and not w.error:
                        time.sleep(a.gap)
                        r = w.call("sgemm", N=a.sgemm_n, reps=1)
                        if r.get("ok"):
                            k = "%s-%d" % (c, t)
                            sg_samples.setdefault(k, []).extend(r["gflops"])
                            results["sgemm"][k] = stats(sg_samples[k])
            for row in rows:
                cs = row_contenders(row, a.contenders)
                k = rep % len(cs)
                order = cs[k:] + cs[:k]
                line = []
                for c in order:
                    cal = calib.get((row["key"], c))
                    w = workers.get((c, row["threads"]))
                    if cal is None or w is None:
                        continue
                    if a.gap:
                        time.sleep(a.gap)
                    if row["kind"] == "train":
                        r = w.call("train", batch=row["batch"], n=cal["n"])
                        v = cal["n"] / r["seconds"] if r.get("ok") else None
                    elif row["kind"] == "latency":
                        r = w.call("latency", calls=cal["calls"])
                        v = r["seconds"] * 1e6 if r.get("ok") else None
                    else:
                        r = w.call("throughput", m=row["batch"], iters=cal["iters"])
                        v = row["batch"] * cal["iters"] / r["seconds"] if r.get("ok") else None
                    if v is None:
                        log("  %s %s failed: %s" % (row["key"], c, r.get("error")))
                    samples[(row["key"], c)].append(v)
                    line.append("%s %s" % (c, fmt_num(v, row["unit"])))
                log("  %-34s %s" % (row["label"], ", ".join(line)))
        for (key, c), xs in samples.items():
            results["rows"].setdefault(key, {})[c] = {"stats": stats(xs), "values": xs}

        # ---- fastmlp's batch-1 latency, layer by layer ----------------------------------
        for f in fm_variants(a.contenders):
            w = workers.get((f, a.threads[0]))
            if w is not None and not w.error:
                r = w.call("latency_breakdown", calls=200 if a.quick else 2000)
                if r.get("ok"):
                    results.setdefault("breakdown", {})[f] = r["us"]

        # ---- digits -----------------------------------------------------------------
        if not a.no_digits:
            with tempfile.TemporaryDirectory() as td:
                path, sizes = prepare_digits(td)
                results["digits_sizes"] = sizes
                t = a.threads[0]
                dig = {c: [] for c in a.contenders if (c, t) in workers and WORKER_CLASSES[c].supports_digits}
                log(
                    "digits: %d train / %d test, lr=%g, batch=%d, target %.3f, max %d epochs, %d seeds"
                    % (
                        sizes[0],
                        sizes[1],
                        a.digits_lr,
                        a.digits_batch,
                        a.digits_target,
                        a.digits_max_epochs,
                        a.digits_seeds,
                    )
                )
                for seed in range(a.digits_seeds):
                    cs = list(dig)
                    k = seed % max(1, len(cs))
                    line = []
                    for c in cs[k:] + cs[:k]:
                        time.sleep(a.gap)
                        r = workers[(c, t)].call(
                            "digits",
                            data=path,
                            seed=seed,
                            lr=a.digits_lr,
                            batch=a.digits_batch,
                            max_epochs=a.digits_max_epochs,
                            target=a.digits_target,
                        )
                        if r.get("ok"):
                            dig[c].append(r)
                            line.append("%s %.3fs/%dep/%.4f" % (c, r["seconds"], r["epochs"], r["acc"]))
                        else:
                            line.append("%s failed" % c)
                    log("  seed %d: %s" % (seed, ", ".join(line)))
                results["digits"] = dig
        for key, w in workers.items():
            results.setdefault("info", {})["%s-%d" % key] = w.info if w.info else {"error": w.error}
        if asis is not None:
            results.setdefault("info", {})["numpy-asis-1"] = asis.info if asis.info else {"error": asis.error}
    finally:
        for w in list(workers.values()) + ([asis] if asis else []):
            w.close()
    results["started"] = started
    results["finished"] = datetime.datetime.now(datetime.timezone.utc)
    results["removed_env"] = removed
    results["rows_def"] = rows
    results["argv"] = sys.argv[1:]  # --from-json re-renders the report with the run's own options
    results["loadavg"] = " ".join("%.2f" % x for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    return results
