"""Ingest benchmark: lines/s and peak RSS of `ingest` on generated logs of growing size.

    python bench/ingest.py                      # 100k, 1M and 4M lines (generated under bench/_work/)
    python bench/ingest.py --lines 100000       # one size
    python bench/ingest.py --baseline --json out.json   # also the textbook loader; machine-readable rows

Each measurement runs in a fresh subprocess that ingests into a new DuckDB file and reports its own wall time,
its CPU time (with its parser processes), and peak resident memory (VmHWM from /proc/self/status; the largest
parser process's ru_maxrss). About 3% of the generated lines are malformed. On a shared machine, wall time
depends on the load (printed before and after each run); CPU µs per line does much less.

``--baseline`` runs the textbook loader on the same file right after, in its own fresh subprocess: one
process, ``json.loads`` per line, a flat dict per record (the scalar fields plus the request and response
re-serialized as JSON text), ``pyarrow.Table.from_pylist`` per 100,000 rows and a DuckDB ``INSERT``. It
validates nothing beyond "parses and has an account", normalizes nothing and keeps no ledger or quarantine,
so it does less work than ``ingest``: the ratio flatters the baseline. ``--json FILE`` writes the rows in the
suite format read by bench/run_all.py.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
from pathlib import Path

import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent))
import suite  # bench/suite.py, beside this script

WORK = Path(__file__).resolve().parent / "_work"

_CHILD = """
import json, sys, time
from distillguard.pipeline import IngestOptions, ingest_paths
start = time.perf_counter()
s = ingest_paths([sys.argv[1]], sys.argv[2], IngestOptions(workers=int(sys.argv[3])))
elapsed = time.perf_counter() - start
from multiprocessing import forkserver
forkserver._forkserver._stop()  # wait for the fork server: its parser processes' CPU and memory then count
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
import resource
me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
cpu = me.ru_utime + me.ru_stime + kids.ru_utime + kids.ru_stime
print(json.dumps({"read": s.read, "stored": s.stored, "duplicates": s.duplicates, "quarantined": s.quarantined,
                  "seconds": elapsed, "cpu_seconds": cpu, "peak_rss_mib": hwm / 1024,
                  "worker_peak_rss_mib": kids.ru_maxrss / 1024}))
"""

_BASELINE = """
import json, sys, time
import duckdb, pyarrow as pa
start = time.perf_counter()
con = duckdb.connect(sys.argv[2])
con.execute("CREATE TABLE exchanges (request_id VARCHAR, ts VARCHAR, account_id VARCHAR, ip VARCHAR, "
            "user_agent VARCHAR, api VARCHAR, status BIGINT, latency_ms BIGINT, model VARCHAR, "
            "request VARCHAR, response VARCHAR)")
rows, stored, rejected = [], 0, 0
def flush(rows):
    batch = pa.Table.from_pylist(rows)
    con.register("batch", batch)
    con.execute("INSERT INTO exchanges SELECT * FROM batch")
    con.unregister("batch")
with open(sys.argv[1], encoding="utf-8") as fh:
    for line in fh:
        try:
            r = json.loads(line)
            req = r.get("request") or {}
            rows.append({"request_id": r["request_id"], "ts": r["ts"], "account_id": r["account"]["id"],
                         "ip": r["client"]["ip"], "user_agent": r["client"].get("user_agent"), "api": r["api"],
                         "status": r.get("status"), "latency_ms": r.get("latency_ms"), "model": req.get("model"),
                         "request": json.dumps(req), "response": json.dumps(r.get("response"))})
        except (ValueError, KeyError, TypeError, AttributeError):
            rejected += 1
            continue
        if len(rows) == 100_000:
            flush(rows)
            stored += len(rows)
            rows = []
if rows:
    flush(rows)
    stored += len(rows)
con.close()
elapsed = time.perf_counter() - start
hwm = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM"))
import resource
me = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"stored": stored, "rejected": rejected, "seconds": elapsed, "cpu_seconds": me.ru_utime + me.ru_stime,
                  "peak_rss_mib": hwm / 1024}))
"""

_TOPICS = ["sorting", "tax law", "protein folding", "pandas groupby", "revolution", "cache design", "SQL joins"]


def _record(i: int, rng: random.Random) -> dict[str, object]:
    acct = rng.randrange(20_000)
    anthropic = i % 2 == 0
    text = (
        f"You are an expert data analyst. Given {rng.randrange(10, 99999)} rows about {rng.choice(_TOPICS)}, "
        f"deliver data-driven insights with complete reasoning. Case {i}."
    )
    rec: dict[str, object] = {
        "request_id": f"req_{i:09d}",
        "ts": f"2026-02-{1 + i % 28:02d}T{i % 24:02d}:{i % 60:02d}:{(i // 60) % 60:02d}.{i % 1000:03d}Z",
        "account": {"id": f"acct_{acct:05d}", "pathway": "education", "created": "2026-01-28T09:00:00Z",
                    "payment_fingerprint": f"pf_{acct % 977:04x}", "verified": False, "country": "SG"},
        "api_key_id": f"key_{acct:05d}",
        "client": {"ip": f"203.0.{acct % 256}.{i % 256}", "asn": 64496, "user_agent": "anthropic-python/0.49.0"},
        "api": "anthropic.messages" if anthropic else "openai.chat.completions",
        "status": 200,
        "latency_ms": rng.randrange(100, 9000),
    }  # fmt: skip
    answer = "The data shows a steady trend. " * rng.randrange(2, 12)
    if anthropic:
        rec["request"] = {"model": "frontier-2", "system": "You are helpful.", "max_tokens": 4096,
                          "messages": [{"role": "user", "content": text}],
                          "thinking": {"type": "enabled", "budget_tokens": 8000}}  # fmt: skip
        rec["response"] = {"id": f"msg_{i}", "type": "message", "model": "frontier-2", "stop_reason": "end_turn",
                           "content": [{"type": "thinking", "thinking": "step " * 20},
                                       {"type": "text", "text": answer}],
                           "usage": {"input_tokens": 812, "output_tokens": 2930}}  # fmt: skip
    else:
        rec["request"] = {"model": "frontier-2", "messages": [{"role": "system", "content": "You are helpful."},
                                                              {"role": "user", "content": text}]}  # fmt: skip
        rec["response"] = {"id": f"c{i}", "model": "frontier-2",
                           "choices": [{"message": {"role": "assistant", "content": answer}, "finish_reason": "stop"}],
                           "usage": {"prompt_tokens": 80, "completion_tokens": 300}}  # fmt: skip
    return rec


def generate(path: Path, lines: int, seed: int = 1) -> None:
    """Write ``lines`` lines, ~3% malformed (bad JSON, missing field, no offset), if not already there."""
    if path.exists():
        return
    rng = random.Random(seed)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as fh:
        buf = []
        for i in range(lines):
            line = orjson.dumps(_record(i, rng))
            roll = rng.random()
            if roll < 0.01:
                line = line[: len(line) // 2]
            elif roll < 0.02:
                line = line.replace(b'"account":', b'"acc":', 1)
            elif roll < 0.03:
                line = line.replace(b'Z","account"', b'","account"', 1)
            buf.append(line)
            if len(buf) == 10_000:
                fh.write(b"\n".join(buf) + b"\n")
                buf = []
        if buf:
            fh.write(b"\n".join(buf) + b"\n")
    tmp.rename(path)


def measure(path: Path, workers: int, code: str = _CHILD) -> dict[str, float]:
    """Run ``code`` (the ingest child, or the baseline loader) on ``path`` into a new DuckDB file."""
    store = path.with_suffix(".duckdb")
    for leftover in (store, Path(str(store) + ".wal")):
        leftover.unlink(missing_ok=True)
    out = subprocess.run(
        [sys.executable, "-c", code, str(path), str(store), str(workers)], capture_output=True, text=True, check=True
    )
    result: dict[str, float] = json.loads(out.stdout.strip().splitlines()[-1])
    store.unlink(missing_ok=True)
    return result


def suite_row(n: int, workers: int, r: dict[str, float], b: dict[str, float] | None) -> dict[str, object]:
    """One row of the suite format (bench/run_all.py); peak RSS counts the main process plus every parser."""
    return suite.suite_row(
        n, n, r["seconds"], r["peak_rss_mib"] + workers * r["worker_peak_rss_mib"],
        (b["seconds"], n, b["peak_rss_mib"]) if b else None,
        main_peak_rss_mib=r["peak_rss_mib"], worker_peak_rss_mib=r["worker_peak_rss_mib"], workers=workers,
        cpu_seconds=r["cpu_seconds"], stored=r["stored"], quarantined=r["quarantined"],
        baseline_stored=b["stored"] if b else None,
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description="ingest throughput and peak memory")
    parser.add_argument("--lines", type=int, action="append", help="sizes to run (default 100k, 1M, 4M)")
    parser.add_argument("--workers", type=int, default=2, help="parser processes (0: parse in the main process)")
    parser.add_argument("--baseline", action="store_true", help="also run the textbook loader on the same file")
    parser.add_argument("--json", type=Path, help="write the rows in the suite format (bench/run_all.py)")
    parser.add_argument("--work", type=Path, default=WORK, help="where generated logs are kept (default bench/_work)")
    args = parser.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    print(
        "| lines | workers | seconds | lines/s | CPU µs/line | peak RSS MiB main | peak RSS MiB worker | stored "
        "| quarantined | load avg before → after |"
    )
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    for n in args.lines or [100_000, 1_000_000, 4_000_000]:
        path = args.work / f"log_{n}.jsonl"
        generate(path, n)
        before = _load()
        r = measure(path, args.workers)
        b = measure(path, 0, _BASELINE) if args.baseline else None
        assert r["read"] == r["stored"] + r["duplicates"] + r["quarantined"] == n
        print(
            f"| {n:,} | {args.workers} | {r['seconds']:.1f} | {n / r['seconds']:,.0f} | {1e6 * r['cpu_seconds'] / n:.1f} "
            f"| {r['peak_rss_mib']:.0f} | {r['worker_peak_rss_mib']:.0f} | {r['stored']:,} | {r['quarantined']:,} "
            f"| {before} → {_load()} |",
            flush=True,
        )
        if b:
            print(
                f"|   baseline (textbook loader) | 1 | {b['seconds']:.1f} | {n / b['seconds']:,.0f} "
                f"| {1e6 * b['cpu_seconds'] / n:.1f} | {b['peak_rss_mib']:.0f} | 0 | {b['stored']:,} "
                f"| {b['rejected']:,} | |",
                flush=True,
            )
        rows.append(suite_row(n, args.workers, r, b))
    if args.json:
        baseline = "textbook loader: json.loads per line, Table.from_pylist, DuckDB INSERT (1 process)"
        doc = {"part": "ingest", "unit": "lines", "baseline": baseline if args.baseline else None, "rows": rows}
        args.json.write_text(json.dumps(doc, indent=1), encoding="utf-8")


def _load() -> str:
    """1-minute load average: the machine is shared, so every figure says how busy it was."""
    return Path("/proc/loadavg").read_text().split()[0]


if __name__ == "__main__":
    main()
