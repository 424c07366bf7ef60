"""Where `analyze`'s memory and time go: resident memory of one run, sampled four times a second, by stage.

    python bench/analyze_memory.py STORE [--memory-limit 768MB|none] [--every 0.25] [--detail] [--queries N]

Runs `analyze` on an existing store (e.g. bench/_work/analyze/store-4000000.duckdb, made by
bench/analyze.py) in a child process, samples the child's VmRSS and CPU time from /proc and prints, per stage,
its seconds, the cores it kept busy (CPU seconds per wall second, all threads: 2.0 is both cores of a 2-core
machine) and the lowest and highest RSS seen while it ran (a dash when the stage was shorter than one sample),
then the child's own high-water mark (``AnalyzeSummary.peak_rss_mib``). Linux only (/proc). The numbers in
docs/design/memory.md come from this script.

``--queries N`` also times every SQL statement DuckDB runs (where the statement is executed, not where it is
built: a relation runs when its result is read) and prints, per stage, the seconds spent in SQL against the
stage's wall seconds (the rest is Python, or waiting on it), then the N slowest statements with the stage they
ran in. It hooks ``duckdb._seam.submit``, through which DuckDB 2's Python client runs the statements of
``sql()`` relations, and the store's ``create_table_as`` and ``write_table`` (the connection's native
``execute``); the fingerprint stage's key-row inserts, in their own thread beside the stream, are not counted.
With a client that lacks ``duckdb._seam`` the option says so and stops.

``--profile`` (with ``--queries``) also has DuckDB profile each of those statements (``PRAGMA enable_profiling
= 'json'``, one file per statement in a temporary folder) and prints, for the N slowest, DuckDB's CPU seconds,
its peak buffer memory and what it spilled, and the three operators that took longest (rows, seconds). This is
how session 20 found a filter DuckDB had pushed below a grouping, and a CTE it materialized and spilled.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from itertools import pairwise
from pathlib import Path
from typing import Any

from distillguard.pipeline import ANALYZE_MEMORY_LIMIT

CHILD = """
import sys, time
from pathlib import Path
from distillguard.pipeline import AnalyzeOptions, analyze
def step(name): print("STEP", name, time.time(), file=sys.stderr, flush=True)
if {detail!r}:
    exec(DETAIL)
if {queries!r}:
    exec(QUERIES)
if {profile!r}:
    exec(PROFILE)
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
def _at(names, fn, before=True):
    # names: one per call, in call order (the last one for any further call); a single name for every call.
    names = (names,) if isinstance(names, str) else names
    calls = [0]
    @functools.wraps(fn)
    def wrapped(*a, **k):
        name = names[min(calls[0], len(names) - 1)]
        calls[0] += 1
        if before:
            step(name)
        out = fn(*a, **k)
        if not before:
            step(name)
        return out
    return wrapped
stage.Collector.add_all = _at("fingerprint:stream", stage.Collector.add_all)
stage.Collector.finish = _at("fingerprint:skeleton-set", stage.Collector.finish)
# ``families`` clusters, then reads the own cue bits of, the system prompts first, the user turns second.
stage.cluster = _at(("fingerprint:clustering-system", "fingerprint:clustering-user"), stage.cluster)
stage.own_cues = _at(("fingerprint:cue-bits-system", "fingerprint:cue-bits-user"), stage.own_cues)
stage.classify = _at("fingerprint:classify", stage.classify)
stage.family_table = _at("fingerprint:family-table", stage.family_table)
Store.create_table_as = _at("fingerprint:fp_exchanges", Store.create_table_as)
"""


QUERIES = """
# Every statement (--queries): its seconds and its first words, as it finishes.
import duckdb._seam as _seam
from distillguard.store import Store as _Store
def _timed(fn, text):
    # fn's calls timed; text(args) names the statement.
    def run(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            took = round(time.perf_counter() - t, 4)
            print("QUERY", time.time(), took, " ".join(text(a).split())[:100], file=sys.stderr, flush=True)
    return run
_seam.submit = _timed(_seam.submit, lambda a: str(a[1]))  # (con, sql, ...)
# The store's own statements run through the connection's native execute, which the hook above does not see.
_Store.create_table_as = _timed(_Store.create_table_as, lambda a: f"CREATE TABLE AS (store): {a[1]}")
_Store.write_table = _timed(_Store.write_table, lambda a: f"write table (store): {a[1]}")
"""

PROFILE = """
# Every statement through _seam.submit (--profile) profiled by DuckDB into its own JSON file; its number goes
# to stderr before the statement's QUERY line. The PRAGMAs run through the connection's native execute.
_profiled = [0]
_submit = _seam.submit
def _profile(con, *a, **k):
    _profiled[0] += 1
    path = f"{PROFILE_DIR}/{_profiled[0]:04d}.json"
    try:  # a connection still streaming a result (the stream's batch reader) takes no PRAGMA: not profiled
        con.execute("PRAGMA enable_profiling = 'json'")
        con.execute(f"PRAGMA profiling_output = '{path}'")
    except Exception:
        return _submit(con, *a, **k)
    print("PROFILE", path, file=sys.stderr, flush=True)
    try:
        return _submit(con, *a, **k)
    finally:
        try:  # ... nor does one whose result is still open (a reader handed back): its profiling stays on
            con.execute("PRAGMA disable_profiling")
        except Exception:
            pass
_seam.submit = _profile
"""


def _operators(node: dict[str, Any], out: list[tuple[float, str, int]]) -> None:
    out.append((float(node.get("timing") or 0.0), str(node.get("name")), int(node.get("intermediate_rows") or 0)))
    for child in node.get("children", []):
        _operators(child, out)


def _profile_line(path: str) -> str:
    """DuckDB's CPU seconds, peak buffer memory, spill and top three operators of one statement's profile."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "(no profile)"
    ops: list[tuple[float, str, int]] = []
    for node in doc.get("operator", []):
        _operators(node, ops)
    system = doc.get("system", {})
    top = ", ".join(f"{name} {rows:,} rows {t:.2f} s" for t, name, rows in sorted(ops, reverse=True)[:3])
    return (
        f"CPU {doc.get('query', {}).get('cpu_time', 0.0):.1f} s, peak buffer "
        f"{system.get('peak_buffer_memory', 0) / 2**20:,.0f} MiB, spilled {system.get('total_bytes_spilled', 0) / 2**20:,.0f} MiB; {top}"
    )


def _rss_mib(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            return next(int(line.split()[1]) for line in fh if line.startswith("VmRSS")) / 1024
    except (OSError, StopIteration):
        return None


_TICK = os.sysconf("SC_CLK_TCK")


def _cpu_s(pid: int) -> float | None:
    """CPU seconds (user + system, all threads) the process has used so far."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime: fields 14 and 15 of stat(5)


def _cores(cpu: list[tuple[float, float]], t0: float, t1: float) -> str:
    """CPU seconds per wall second between the last samples at or before t0 and t1 (a dash when under two
    samples apart): 2.0 on this machine means both cores busy."""
    before = [c for c in cpu if c[0] <= t0]
    upto = [c for c in cpu if c[0] <= t1]
    if not before or not upto or upto[-1][0] - before[-1][0] < 0.4:
        return "–"
    return f"{(upto[-1][1] - before[-1][1]) / (upto[-1][0] - before[-1][0]):.1f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("store", type=Path)
    ap.add_argument("--memory-limit", default=ANALYZE_MEMORY_LIMIT, help="DuckDB memory limit for analyze, or 'none'")
    ap.add_argument("--every", type=float, default=0.25, help="seconds between samples")
    ap.add_argument(
        "--detail", action="store_true", help="also mark the fingerprint stage's steps (stream, clustering, ...)"
    )
    ap.add_argument("--queries", type=int, default=0, metavar="N", help="time SQL statements; list the N slowest")
    ap.add_argument(
        "--profile", action="store_true", help="with --queries: DuckDB's profile of each of the N slowest statements"
    )
    args = ap.parse_args()
    if args.profile and not args.queries:
        sys.exit("--profile needs --queries N")
    if args.queries:
        try:
            import duckdb._seam  # noqa: F401
        except ImportError:
            sys.exit("--queries needs DuckDB's Python client 2.x (duckdb._seam): not found")
    out = tempfile.mkdtemp(prefix="dg-memory-")
    profiles = tempfile.mkdtemp(prefix="dg-profile-")
    code = (
        f"DETAIL = {DETAIL!r}\nQUERIES = {QUERIES!r}\nPROFILE = {PROFILE!r}\nPROFILE_DIR = {profiles!r}\n"
        + CHILD.format(
            store=str(args.store.resolve()),
            out=out,
            limit=args.memory_limit,
            detail=args.detail,
            queries=args.queries > 0,
            profile=args.profile,
        )
    )
    child = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    samples: list[tuple[float, float]] = []
    cpu: list[tuple[float, float]] = []  # (when, CPU seconds used so far)

    def sample() -> None:
        while child.poll() is None:
            rss, used = _rss_mib(child.pid), _cpu_s(child.pid)
            now = time.time()
            if rss is not None:
                samples.append((now, rss))
            if used is not None:
                cpu.append((now, used))
            time.sleep(args.every)

    sampler = threading.Thread(target=sample)
    sampler.start()
    steps: list[tuple[str, float]] = [("start", time.time())]
    queries: list[tuple[float, float, str, str]] = []  # (finished at, seconds, text, profile file or "")
    profile = ""  # the profile file of the statement running now
    other: list[str] = []
    done = ""
    assert child.stderr is not None
    for line in child.stderr:
        if line.startswith("STEP "):
            _, name, at = line.split()
            steps.append((name, float(at)))
        elif line.startswith("PROFILE "):
            profile = line.split(maxsplit=1)[1].strip()
        elif line.startswith("QUERY "):
            _, at_s, took_s, text = line.rstrip("\n").split(" ", 3)
            queries.append((float(at_s), float(took_s), text, profile))
            profile = ""
        elif line.startswith("DONE "):
            done = line.split(maxsplit=1)[1].strip()
        else:
            other = [*other[-19:], line.rstrip("\n")]  # the child's own messages: shown if it fails
    child.wait()
    sampler.join()
    if child.returncode != 0 or not samples:
        sys.exit("\n".join([*other, f"analyze failed (exit {child.returncode})"]))
    print(f"store {args.store}, DuckDB memory limit {args.memory_limit}")
    sql_col = args.queries > 0
    print(
        "| stage | seconds |"
        + (" SQL seconds |" if sql_col else "")
        + " cores | RSS MiB low | RSS MiB high |\n|---|---:|"
        + ("---:|" if sql_col else "")
        + "---:|---:|---:|"
    )
    placed: list[tuple[float, str, str, str]] = []  # (seconds, stage, statement, profile) of each query in a stage
    for (name, t0), (_, t1) in pairwise(steps):
        seen = [r for t, r in samples if t0 <= t < t1]
        rss = f"{min(seen):,.0f} | {max(seen):,.0f}" if seen else "– | –"
        mine = [(took, name, text, prof) for at, took, text, prof in queries if t0 <= at < t1]
        sql = f" {sum(m[0] for m in mine):.1f} |" if sql_col else ""
        print(f"| {name} | {t1 - t0:.1f} |{sql} {_cores(cpu, t0, t1)} | {rss} |")
        placed.extend(mine)
    if sql_col:
        print(f"\n{len(placed)} SQL statements, {sum(m[0] for m in placed):.1f} s; the {args.queries} slowest:\n")
        print("| seconds | stage | statement |\n|---:|---|---|")
        slowest = sorted(placed, key=lambda m: -m[0])[: args.queries]
        for took, name, text, _ in slowest:
            print(f"| {took:.2f} | {name} | `{text.replace('|', '/')}` |")
        if args.profile:
            print("\nDuckDB's profile of each (statements the store runs natively have none):\n")
            for took, name, text, prof in slowest:
                print(f"- {took:.2f} s, {name}, `{text[:60]}`: {_profile_line(prof) if prof else '(no profile)'}")
    seconds, hwm, flagged, campaigns, families = done.split()
    print(
        f"\nanalyze {seconds} s, peak RSS {int(hwm):,} MiB (high-water mark; highest sample {max(r for _, r in samples):,.0f})"
    )
    print(f"(flagged {flagged}, campaigns {campaigns}, families {families})")


if __name__ == "__main__":
    main()
