"""Benchmark `analyze --engine spark` beside the embedded engine, from the same JSON Lines log.

    python bench/analyze_spark.py [--sizes 20000 100000] [--master local[2]] [--json FILE]

For each size it simulates reported-2026 traffic scaled to that many exchanges (not timed), then, each in a
fresh process: the embedded engine from the log (ingest into a fresh store, then analyze) and the Spark
engine from the same log (JSON Lines normalized in Spark, then the same stages). Reported: exchanges/s of
each, their ratio, Spark's session start-up apart, and peak RSS. Spark's peak RSS is that of the whole
process tree - the Python driver, its JVM and the Python workers the JVM starts - sampled every 0.2 s,
because the JVM outlives the measured work (VmHWM of one process would miss it). Both engines' flagged
accounts are compared: the figures are only reported for identical results.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
import suite
from analyze import DEFAULT_EXCHANGES, ROOT

TREE_RSS = """
import os, threading
def _tree_rss_mib():
    kids, rss = {}, {}
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open(f"/proc/{pid}/status") as fh:
                fields = dict(line.split(":", 1) for line in fh if ":" in line)
        except OSError:
            continue
        kids.setdefault(int(fields["PPid"]), []).append(int(pid))
        rss[int(pid)] = int(fields.get("VmRSS", "0 kB").split()[0])
    total, todo = 0, [os.getpid()]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo.extend(kids.get(p, []))
    return total / 1024
PEAK = [0.0]
def _sample():
    while True:
        PEAK[0] = max(PEAK[0], _tree_rss_mib())
        threading.Event().wait(0.2)
threading.Thread(target=_sample, daemon=True).start()
"""

RUN = """
import json, time, sys, os
from pathlib import Path
from distillguard.pipeline import AnalyzeOptions, analyze
{tree}
t0 = time.perf_counter()
if {spark}:
    os.environ["PYSPARK_PYTHON"] = sys.executable
    from distillguard.spark.session import get_session
    get_session({master!r})
start = time.perf_counter() - t0
t1 = time.perf_counter()
opts = AnalyzeOptions(engine="spark") if {spark} else AnalyzeOptions()
s = analyze([{log!r}], {out!r}, opts, store_path={store!r})
dt = time.perf_counter() - t1
print(json.dumps({{"seconds": dt, "startup": start, "exchanges": s.exchanges, "flagged": s.flagged,
                  "campaigns": s.campaigns, "stages": s.seconds, "peak_rss_mib": PEAK[0]}}))
"""


def run(code: str) -> dict[str, Any]:
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
    res: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return res


def prepare(work: Path, n: int, seed: int) -> Path:
    sim = work / f"sim-{n}"
    if not (sim / "labels" / "accounts.parquet").exists():
        subprocess.run(
            [sys.executable, "-m", "distillguard", "simulate", "--scenario", "reported-2026", "--out", str(sim),
             "--scale", f"{n / DEFAULT_EXCHANGES:.4f}", "--seed", str(seed)],
            check=True, cwd=ROOT, capture_output=True,
        )  # fmt: skip
    return sim / "log"


def flagged(out: Path) -> set[str]:
    import pyarrow.parquet as pq

    t = pq.read_table(out / "accounts.parquet", columns=["account_id", "flagged"])
    return set(t.filter(t["flagged"])["account_id"].to_pylist())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--work", default=str(ROOT / "bench" / "_work" / "analyze_spark"))
    ap.add_argument("--json", type=Path, help="write the rows in the suite format (bench/run_all.py)")
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    rows = []
    for n in args.sizes:
        log = prepare(work, n, args.seed)
        runs = {}
        for engine in ("embedded", "spark"):
            out = work / f"{engine}-{n}"
            store = work / f"store-{n}.duckdb"
            store.unlink(missing_ok=True)
            code = RUN.format(tree=TREE_RSS, spark=engine == "spark", master=args.master, log=str(log),
                              out=str(out), store=str(store))  # fmt: skip
            runs[engine] = run(code)
            runs[engine]["flagged_set_size"] = len(flagged(out))
        same = flagged(work / f"embedded-{n}") == flagged(work / f"spark-{n}")
        rows.append({"size": n, **runs, "same_flagged": same})
        print(json.dumps(rows[-1]), flush=True)
    print(render(rows, args.master))
    if args.json:
        doc = {"part": "analyze_spark", "unit": "exchanges", "rows": [suite_row(r) for r in rows],
               "baseline": "the embedded engine (ingest + analyze) on the same log, same run"}  # fmt: skip
        args.json.write_text(json.dumps(doc, indent=1), encoding="utf-8")


def suite_row(row: dict[str, Any]) -> dict[str, Any]:
    """One row of the suite format: Spark measured, the embedded engine as its baseline."""
    s, e = row["spark"], row["embedded"]
    return suite.suite_row(
        row["size"], s["exchanges"], s["seconds"], s["peak_rss_mib"],
        (e["seconds"], e["exchanges"], e["peak_rss_mib"]),
        startup_seconds=s["startup"], stages=s.get("stages", {}), same_flagged=row["same_flagged"],
    )  # fmt: skip


def render(rows: list[dict[str, Any]], master: str) -> str:
    cmd = "python bench/analyze_spark.py --sizes " + " ".join(str(r["size"]) for r in rows) + f" --master {master}"
    lines = [
        f"Command: `{cmd}` ({os.cpu_count()} cores). Both engines from the same JSON Lines log, each in a fresh",
        "process; embedded = ingest + analyze; Spark = session start (apart) + analyze (normalize, stages).",
        "",
        "| exchanges | embedded s | embedded exch/s | embedded peak MiB | Spark start s | Spark s | Spark exch/s |"
        " Spark peak MiB (driver+JVM+workers) | Spark / embedded speed | same flagged |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|:--:|",
    ]
    for r in rows:
        e, s = r["embedded"], r["spark"]
        er, sr = e["exchanges"] / e["seconds"], s["exchanges"] / s["seconds"]
        lines.append(
            f"| {e['exchanges']:,} | {e['seconds']:.1f} | {er:,.0f} | {e['peak_rss_mib']:,.0f} | {s['startup']:.1f} |"
            f" {s['seconds']:.1f} | {sr:,.0f} | {s['peak_rss_mib']:,.0f} | {sr / er:.2f}× | {r['same_flagged']} |"
        )
    stages = rows[-1]["spark"].get("stages", {})
    lines += ["", "Spark stage seconds at the largest size: " + ", ".join(f"{k} {v:.1f}" for k, v in stages.items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
