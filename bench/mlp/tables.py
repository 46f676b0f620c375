"""The report's tables: the main table (medians, ratios against the best peer, GFLOP/s, % of
OpenBLAS), threads, sgemm peak, digits, and the calibrated sizes."""

import statistics

from .harness import fmt_num, row_contenders, stats
from .workload import AVX2_CORETYPE, AVX2_VARIANTS, FASTMLP_VARIANTS, LABEL, fm_variants, forward_flops, train_flops


def fmt_stat(s, unit):
    if s is None:
        return "—"
    if s["n"] == 1:
        return fmt_num(s["median"], unit)
    return "%s [%s–%s]" % (fmt_num(s["median"], unit), fmt_num(s["min"], unit), fmt_num(s["max"], unit))


def peak_for(res, threads, variant="fastmlp"):
    """The limit: OpenBLAS's sgemm (NumPy worker) at this thread count, same run (its stats: median,
    min, max); for the AVX2 build on an AVX-512 CPU, OpenBLAS's AVX2 kernel (the numpy-avx2 worker)."""
    s = res["sgemm"].get("numpy-avx2-%d" % threads) if variant in AVX2_VARIANTS else None
    return s or res["sgemm"].get("numpy-%d" % threads)


def pct_of_limit(row, st, pk):
    """'% OpenBLAS': the medians' ratio, then best against best (fastmlp's fastest timing over the
    limit's fastest): a busy host only ever slows a timing down, so the best ones are the closest to
    a quiet machine, and a limit whose median a busy minute pulled down cannot flatter the ratio."""
    if not pk or not st:
        return "—"
    best = st["min"] if row["unit"] == "us" else st["max"]
    return "%.0f%% (best %.0f%%)" % (
        100 * gflops(row, st["median"]) / pk["median"],
        100 * gflops(row, best) / pk["max"],
    )


def gflops(row, v):
    if row["kind"] == "train":
        return v * train_flops() / 1e9
    if row["kind"] == "latency":
        return forward_flops() / (v * 1e-6) / 1e9
    return v * forward_flops() / 1e9


def paired_ratios(d, f, peer, lat):
    """fastmlp's speed over the peer's within each repetition (the two were timed seconds apart, so a
    slow minute of the host hits both): shows how far the ratio of medians can be trusted."""
    xs, ys = (d.get(f) or {}).get("values") or [], (d.get(peer) or {}).get("values") or []
    return [(y / x if lat else x / y) for x, y in zip(xs, ys) if x and y]


def main_table(res, a):
    cs = list(a.contenders)
    fms = fm_variants(cs)
    hdr = ["Row"] + [LABEL[c] for c in cs]
    for f in fms:
        hdr += ["%s vs best peer" % LABEL[f], "%s GFLOP/s" % LABEL[f], "%s %% OpenBLAS" % LABEL[f]]
    lines = ["| " + " | ".join(hdr) + " |", "|" + "|".join(["---"] + ["---:"] * (len(hdr) - 1)) + "|"]
    for row in res["rows_def"]:
        d = res["rows"].get(row["key"], {})
        here = row_contenders(row, cs)
        cells = [row["label"]]
        med = {}
        for c in cs:
            st = (d.get(c) or {}).get("stats")
            cells.append(fmt_stat(st, row["unit"]) if c in here else "n/a")
            med[c] = st["median"] if st and c in here else None
        lat = row["unit"] == "us"
        peers = [c for c in here if c not in FASTMLP_VARIANTS and med.get(c)]
        best = (min if lat else max)(peers, key=lambda c: med[c]) if peers else None
        for f in fms:
            pk = peak_for(res, row["threads"], f)
            fm = med.get(f)
            if not fm:
                cells += ["—", "—", "—"]
                continue
            if best:
                r = med[best] / fm if lat else fm / med[best]
                pr = paired_ratios(d, f, best, lat)
                paired = "; per repetition %.2f× [%.2f–%.2f]" % (statistics.median(pr), min(pr), max(pr)) if pr else ""
                cells.append("%.2f× (%s%s)" % (r, LABEL[best], paired))
            else:
                cells.append("—")
            cells += ["%.1f" % gflops(row, fm), pct_of_limit(row, (d.get(f) or {}).get("stats"), pk)]
        lines.append("| " + " | ".join(cells) + " |")
    return lines


def threads_table(res, a):
    """fastmlp's training at each extra thread count against 1 thread, per batch size."""
    fms = fm_variants(a.contenders)
    t1 = a.threads[0]
    lines = [
        "| fastmlp | batch | %dT samples/s | threads | samples/s | ratio of medians | worst case (min / max) |" % t1,
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for f in fms:
        for t in a.threads[1:]:
            for b in a.batches2:
                s1 = ((res["rows"].get("train-%d-%d" % (b, t1)) or {}).get(f) or {}).get("stats")
                s2 = ((res["rows"].get("train-%d-%d" % (b, t)) or {}).get(f) or {}).get("stats")
                if not s1 or not s2:
                    continue
                lines.append(
                    "| %s | %d | %s | %d | %s | %.2f× | %.2f× |"
                    % (
                        LABEL[f],
                        b,
                        fmt_stat(s1, "samples/s"),
                        t,
                        fmt_stat(s2, "samples/s"),
                        s2["median"] / s1["median"],
                        s2["min"] / s1["max"],
                    )
                )
    return lines


def sgemm_table(res, a):
    lines = [
        "| threads | NumPy sgemm (OpenBLAS, cleaned env) | NumPy sgemm, OpenBLAS AVX2 kernel (%s) | torch.mm (MKL) "
        "| NumPy sgemm, env as-is |" % AVX2_CORETYPE,
        "|---:|---:|---:|---:|---:|",
    ]

    def f(k):
        s = res["sgemm"].get(k)
        return "—" if not s else ("%.1f [%.1f–%.1f]" % (s["median"], s["min"], s["max"]))

    for t in sorted(set(a.threads)):
        asis = f("numpy-asis-1") if t == 1 and res["removed_env"] else "—"
        lines.append(
            "| %d | %s | %s | %s | %s |" % (t, f("numpy-%d" % t), f("numpy-avx2-%d" % t), f("torch-%d" % t), asis)
        )
    return lines


def digits_table(res, a):
    lines = [
        "| contender | reached %.0f%% | time to %.0f%% (s), median [min–max] | epochs, median [min–max] "
        "| ms/epoch (median) | final test acc (median) |" % (100 * a.digits_target, 100 * a.digits_target),
        "|---|---:|---:|---:|---:|---:|",
    ]
    for c, runs in res["digits"].items():
        if not runs:
            lines.append("| %s | — | — | — | — | — |" % LABEL[c])
            continue
        ok = [r for r in runs if r["reached"]]
        ts = stats([r["seconds"] for r in ok])
        ep = stats([r["epochs"] for r in ok])
        tt = (
            "—"
            if not ts
            else ("%.3f [%.3f–%.3f]" % (ts["median"], ts["min"], ts["max"]) if ts["n"] > 1 else "%.3f" % ts["median"])
        )
        ee = (
            "—"
            if not ep
            else ("%g [%g–%g]" % (ep["median"], ep["min"], ep["max"]) if ep["n"] > 1 else "%g" % ep["median"])
        )
        mspe = statistics.median([1000 * r["seconds"] / r["epochs"] for r in runs])
        acc = statistics.median([r["acc"] for r in runs])
        lines.append("| %s | %d/%d | %s | %s | %.2f | %.4f |" % (LABEL[c], len(ok), len(runs), tt, ee, mspe, acc))
    return lines


def details_lines(res, a):
    out = ["| row | " + " | ".join(LABEL[c] for c in a.contenders) + " |", "|---|" + "---:|" * len(a.contenders)]
    for row in res["rows_def"]:
        cells = []
        for c in a.contenders:
            cal = res["calib"].get((row["key"], c))
            if not cal:
                cells.append("—")
            elif row["kind"] == "train":
                cells.append("%d samples" % cal["n"])
            elif row["kind"] == "latency":
                cells.append("%d calls" % cal["calls"])
            else:
                cells.append("%d × %d" % (cal["iters"], row["batch"]))
        out.append("| %s | %s |" % (row["key"], " | ".join(cells)))
    return out
