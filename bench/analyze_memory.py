"""Where `analyze`'s memory goes: resident memory of one run, sampled four times a second, by stage.

    python bench/analyze_memory.py STORE [--memory-limit 768MB|none] [--every 0.25] [--detail]

Runs `analyze` on an existing store (e.g. bench/_work/analyze/store-4000000.duckdb, made by
bench/analyze.py) in a child process, samples the child's VmRSS from /proc and prints, per stage, its seconds
and the lowest and highest RSS seen while it ran, then the child's own high-water mark (``AnalyzeSummary.peak_rss_mib``). Linux only (/proc). The numbers in
docs/design/memory.md come from this script.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import threading
import time
from itertools import pairwise
from pathlib import Path

from distillguard.pipeline import ANALYZE_MEMORY_LIMIT

CHILD = """
import sys, time
from pathlib import Path
from distillguard.pipeline import AnalyzeOptions, analyze
def step(name): print("STEP", name, time.time(), file=sys.stderr, flush=True)
if {detail!r}:
    exec(DETAIL)
t0 = time.perf_counter()
s = analyze([Path({store!r})], {out!r}, AnalyzeOptions(memory_limit={limit!r}), step=step)
print("STEP end", time.time(), file=sys.stderr, flush=True)
print("DONE", round(time.perf_counter() - t0, 1), round(s.peak_rss_mib), s.flagged, s.campaigns, s.families,
      file=sys.stderr, flush=True)
"""


DETAIL = """
# Steps inside the fingerprint stage (--detail): each marks where the previous one ends (so cue-bits also holds
# the family queries that follow it, up to classify).
import functools
import distillguard.fingerprint.stage as stage
from distillguard.store import Store
def _at(name, fn, before=True):
    @functools.wraps(fn)
    def wrapped(*a, **k):
        if before:
            step(name)
        out = fn(*a, **k)
        if not before:
            step(name)
        return out
    return wrapped
stage.Collector.add_all = _at("fingerprint:stream", stage.Collector.add_all)
stage.Collector.finish = _at("fingerprint:skeleton-set", stage.Collector.finish)
stage.cluster = _at("fingerprint:clustering", stage.cluster)
stage.own_cues = _at("fingerprint:cue-bits", stage.own_cues)
stage.classify = _at("fingerprint:classify", stage.classify)
stage.family_table = _at("fingerprint:family-table", stage.family_table)
Store.create_table_as = _at("fingerprint:fp_exchanges", Store.create_table_as)
"""


def _rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) / 1024
    except (OSError, StopIteration):
        return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", type=Path)
    ap.add_argument("--memory-limit", default=ANALYZE_MEMORY_LIMIT, help="DuckDB memory limit for analyze, or 'none'")
    ap.add_argument("--every", type=float, default=0.25, help="seconds between samples")
    ap.add_argument(
        "--detail", action="store_true", help="also mark the fingerprint stage's steps (stream, clustering, ...)"
    )
    args = ap.parse_args()
    out = tempfile.mkdtemp(prefix="dg-memory-")
    code = f"DETAIL = {DETAIL!r}\n" + CHILD.format(
        store=str(args.store.resolve()), out=out, limit=args.memory_limit, detail=args.detail
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples: list[tuple[float, float]] = []

    def sample() -> None:
        while child.poll() is None:
            rss = _rss_mib(child.pid)
            if rss is not None:
                samples.append((time.time(), rss))
            time.sleep(args.every)

    sampler = threading.Thread(target=sample)
    sampler.start()
    steps: list[tuple[str, float]] = [("start", time.time())]
    done = ""
    assert child.stderr is not None
    for line in child.stderr:
        if line.startswith("STEP "):
            _, name, at = line.split()
            steps.append((name, float(at)))
        elif line.startswith("DONE "):
            done = line.split(maxsplit=1)[1].strip()
    child.wait()
    sampler.join()
    if child.returncode != 0 or not samples:
        sys.exit(f"analyze failed (exit {child.returncode})")
    print(f"store {args.store}, DuckDB memory limit {args.memory_limit}")
    print("| stage | seconds | RSS MiB low | RSS MiB high |\n|---|---:|---:|---:|")
    for (name, t0), (_, t1) in pairwise(steps):
        seen = [r for t, r in samples if t0 <= t < t1]
        if seen:
            print(f"| {name} | {t1 - t0:.1f} | {min(seen):,.0f} | {max(seen):,.0f} |")
    seconds, hwm, flagged, campaigns, families = done.split()
    print(
        f"\nanalyze {seconds} s, peak RSS {int(hwm):,} MiB (high-water mark; highest sample {max(r for _, r in samples):,.0f})"
    )
    print(f"(flagged {flagged}, campaigns {campaigns}, families {families})")


if __name__ == "__main__":
    main()
