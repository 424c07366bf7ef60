"""Benchmark `analyze` (embedded DuckDB engine) against a naive baseline, at several sizes.

    python bench/analyze.py [--sizes 100000 1000000] [--write-results] [--baseline-max 1000000] [--json FILE]

For each size it simulates reported-2026 traffic (scaled to that many exchanges; not timed), ingests it
into a fresh store (timed separately), then runs `analyze` on the store in a fresh subprocess and reports
exchanges/s and the subprocess's peak RSS. Beside it, in the same run and on the same store, the naive
baseline: template clustering with datasketch MinHash LSH over every first user turn, one exchange at a
time (the textbook approach), plus a per-account rate threshold (flag accounts above the 99th percentile of
exchanges per active day). The ratio of the two throughputs is printed, and so is the quality of both
against the simulator's labels (account precision and recall), so the speed is never bought with misses.
Peak RSS is each measured process's own high-water mark (VmHWM), read when its timed work ends. ``--json
FILE`` writes the rows in the suite format read by bench/run_all.py.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import suite  # bench/suite.py, beside this script

ROOT = Path(__file__).resolve().parent.parent

DEFAULT_EXCHANGES = 224_800  # reported-2026 at scale 1


def _child(code: str) -> dict[str, float]:
    """Run python code in a fresh process; return its JSON result plus wall seconds and peak RSS."""
    t0 = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    res: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    res["wall_s"] = wall
    # The child reports its own VmHWM. Fallback: ru_maxrss of children is the max over all children so far
    # (the simulate and ingest runs included), so it is only an upper bound.
    res.setdefault("peak_rss_mib", max(peak, before) / 1024)
    return res


def prepare(work: Path, n: int, seed: int) -> tuple[Path, Path]:
    sim = work / f"sim-{n}"
    store = work / f"store-{n}.duckdb"
    if not (sim / "labels" / "accounts.parquet").exists():
        scale = n / DEFAULT_EXCHANGES
        subprocess.run(
            [sys.executable, "-m", "distillguard", "simulate", "--scenario", "reported-2026", "--out", str(sim),
             "--scale", f"{scale:.4f}", "--seed", str(seed)],
            check=True, cwd=ROOT, capture_output=True,
        )  # fmt: skip
    if not store.exists():
        subprocess.run(
            [sys.executable, "-m", "distillguard", "ingest", str(sim / "log"), "--store", str(store), "-q"],
            check=True,
            cwd=ROOT,
            capture_output=True,
        )
    return sim, store


HWM = "next(int(l.split()[1]) for l in open('/proc/self/status') if l.startswith('VmHWM')) / 1024"

ANALYZE = """
import json, time, shutil
from pathlib import Path
from distillguard.pipeline import AnalyzeOptions, analyze
from distillguard.evaluate import evaluate
t0 = time.perf_counter()
s = analyze([Path({store!r})], {out!r}, AnalyzeOptions())
dt = time.perf_counter() - t0
hwm = {hwm}
r = evaluate({labels!r}, {out!r}).accounts
print(json.dumps({{"seconds": dt, "exchanges": s.exchanges, "precision": r.precision, "recall": r.recall,
                  "stages": s.seconds, "peak_rss_mib": hwm}}))
"""

BASELINE = """
import json, time
import duckdb, numpy as np, pyarrow as pa, pyarrow.parquet as pq
from datasketch import MinHash, MinHashLSH
con = duckdb.connect({store!r}, read_only=True)
t0 = time.perf_counter()
# 1. Per-account rate threshold: flag accounts above the 99th percentile of exchanges per active day.
rate = con.sql("SELECT account_id, count(*) / count(DISTINCT CAST(ts AS DATE)) AS r FROM exchanges GROUP BY 1").fetchall()
cut = float(np.percentile([r for _, r in rate], 99))
flag_rate = {{a for a, r in rate if r > cut}}
# 2. Template clustering with datasketch MinHash LSH, one exchange at a time; accounts whose traffic sits
#    mostly in clusters spanning many accounts are flagged.
lsh = MinHashLSH(threshold=0.5, num_perm=64)
cluster_of = {{}}
acc_clusters = {{}}
reader = con.execute("SELECT request_id, account_id, coalesce(first_user_text, '') FROM exchanges").to_arrow_reader(50000)
n = 0
for batch in reader:
    for rid, acc, text in zip(*(c.to_pylist() for c in batch.columns)):
        m = MinHash(num_perm=64)
        m.update_batch([w.encode() for w in text.lower().split()[:200]])
        hits = lsh.query(m)
        c = cluster_of[hits[0]] if hits else rid
        if not hits:
            lsh.insert(rid, m)
        cluster_of[rid] = c
        acc_clusters.setdefault(acc, []).append(c)
        n += 1
accounts_per_cluster = {{}}
for acc, cs in acc_clusters.items():
    for c in set(cs):
        accounts_per_cluster[c] = accounts_per_cluster.get(c, 0) + 1
flag_tpl = {{a for a, cs in acc_clusters.items() if np.mean([accounts_per_cluster[c] >= 20 for c in cs]) >= 0.5}}
dt = time.perf_counter() - t0
hwm = {hwm}
flagged = flag_rate | flag_tpl
lab = pq.read_table({labels!r} + "/accounts.parquet").to_pylist()
attack = {{r["account_id"] for r in lab if r["label"] == "attack"}}
tp = len(flagged & attack)
print(json.dumps({{"seconds": dt, "exchanges": n, "precision": tp / max(len(flagged), 1), "recall": tp / max(len(attack), 1),
                  "peak_rss_mib": hwm}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--baseline-max", type=int, default=1_000_000, help="skip the slow baseline above this size")
    ap.add_argument("--work", default=str(ROOT / "bench" / "_work" / "analyze"))
    ap.add_argument("--write-results", action="store_true")
    ap.add_argument("--json", type=Path, help="write the rows in the suite format (bench/run_all.py)")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    # Compiled kernels are compiled once per machine and cached (numba, beside the modules): a first analyze
    # after installing or changing them compiles them (~8 s). Compile them before timing anything.
    _child("import json; from distillguard.fingerprint import kernels; kernels._warm_up(); print(json.dumps({}))")
    for n in args.sizes:
        sim, store = prepare(work, n, args.seed)
        out = str(work / f"results-{n}")
        a = _child(ANALYZE.format(store=str(store), out=out, labels=str(sim / "labels"), hwm=HWM))
        b = None
        if n <= args.baseline_max:
            b = _child(BASELINE.format(store=str(store), labels=str(sim / "labels"), hwm=HWM))
        rows.append({"size": n, "analyze": a, "baseline": b})
        print(json.dumps(rows[-1]), flush=True)
    table = render(rows)
    print(table)
    if args.write_results:
        write_section(ROOT / "bench" / "RESULTS.md", "Analyze", table)
    if args.json:
        doc = {"part": "analyze", "unit": "exchanges", "rows": [suite_row(r) for r in rows],
               "baseline": "datasketch MinHash LSH per first user turn + per-account rate threshold, same store"}  # fmt: skip
        args.json.write_text(json.dumps(doc, indent=1), encoding="utf-8")


def suite_row(row: dict[str, Any]) -> dict[str, Any]:
    """One row of the suite format (bench/run_all.py), quality figures of both kept beside the speed."""
    a, b = row["analyze"], row["baseline"]
    return suite.suite_row(
        row["size"], a["exchanges"], a["seconds"], a["peak_rss_mib"],
        (b["seconds"], b["exchanges"], b["peak_rss_mib"]) if b else None,
        precision=a["precision"], recall=a["recall"], stages=a.get("stages", {}),
        baseline_precision=b["precision"] if b else None, baseline_recall=b["recall"] if b else None,
    )  # fmt: skip


def render(rows: list[dict[str, Any]]) -> str:
    cmd = "python bench/analyze.py --sizes " + " ".join(str(r["size"]) for r in rows) + " --write-results"
    lines = [
        f"Command: `{cmd}` (reported-2026 traffic scaled to each size; {os.cpu_count()} cores). Store ingested",
        "beforehand (see Ingest); `analyze` runs on the store in a fresh process; peak RSS is that process's.",
        "Baseline: datasketch MinHash LSH over every first user turn plus a per-account rate threshold, same store.",
        "",
        "| exchanges | analyze s | exchanges/s | peak RSS MiB | precision | recall | baseline s | baseline exchanges/s | baseline precision | baseline recall | speed ratio |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in rows:
        a, b = r["analyze"], r["baseline"]
        rate = a["exchanges"] / a["seconds"]
        cells = [f"{a['exchanges']:,}", f"{a['seconds']:.1f}", f"{rate:,.0f}", f"{a['peak_rss_mib']:,.0f}",
                 _q(a["precision"]), _q(a["recall"])]  # fmt: skip
        if b:
            brate = b["exchanges"] / b["seconds"]
            cells += [f"{b['seconds']:.1f}", f"{brate:,.0f}", _q(b["precision"]), _q(b["recall"]),
                      f"{rate / brate:.1f}×"]  # fmt: skip
        else:
            cells += ["–"] * 5
        lines.append("| " + " | ".join(cells) + " |")
    if len(rows) >= 2:
        import math

        r0, r1 = rows[0]["analyze"], rows[-1]["analyze"]
        k = math.log(r1["seconds"] / r0["seconds"]) / math.log(r1["exchanges"] / r0["exchanges"])
        lines += ["", f"Growth exponent of analyze time between the smallest and largest size: {k:.2f} (1.0 = linear)."]
    stages = rows[-1]["analyze"].get("stages", {})
    if stages:
        lines += [
            "",
            "Stage seconds at the largest size: " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items()) + ".",
        ]
    return "\n".join(lines) + "\n"


def _q(v: float | None) -> str:
    """A quality figure; evaluate gives None where it is undefined (nothing flagged at a tiny size)."""
    return "–" if v is None else f"{v:.3f}"


def write_section(path: Path, name: str, body: str) -> None:
    """Replace (or append) the '## name' section of RESULTS.md, leaving the others alone."""
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmark results\n"
    head = f"## {name}\n"
    if head in text:
        start = text.index(head)
        nxt = text.find("\n## ", start + len(head))
        text = text[:start] + head + "\n" + body + (text[nxt:] if nxt >= 0 else "")
    else:
        text = text.rstrip("\n") + "\n\n" + head + "\n" + body
    path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
