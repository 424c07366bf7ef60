"""A/B timing of `analyze` between a git revision and the working tree, alternated on the same stores.

    python bench/ab.py --ref REV [--sizes 1000000 4000000] [--repeats 2] [--write]

This machine's speed drifts by a third between hours (the datasketch baseline of bench/analyze.py ran 4,068
and 2,935 exchanges/s on the same store on the same day), so a figure measured today cannot be compared with
one measured yesterday. Here both sides run on the same bench stores (bench/analyze.py prepares them), in
fresh processes, alternating ref / new `--repeats` times (ABBA: ref first, then new first, ...), so drift hits
both alike; the table reports the median of each side, per stage, and the ratio. The ref revision is checked
out with `git worktree` in a temporary folder and imported from there (PYTHONPATH), the working tree from
`src/`. Each run analyzes a private copy of the store (analyze writes its tables into the store).
``--write`` replaces the "## A/B" section of bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from analyze import HWM, prepare, write_section  # bench/analyze.py, beside this script

ROOT = Path(__file__).resolve().parent.parent

RUN = """
import json, time
from pathlib import Path
from distillguard.pipeline import AnalyzeOptions, analyze
t0 = time.perf_counter()
s = analyze([Path({store!r})], {out!r}, AnalyzeOptions())
dt = time.perf_counter() - t0
import resource
cpu = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"seconds": dt, "exchanges": s.exchanges, "cpu": cpu.ru_utime + cpu.ru_stime, "stages": s.seconds, "peak_rss_mib": {hwm},
                  "flagged": s.flagged, "campaigns": s.campaigns, "families": s.families}}))
"""


def run(src: Path, store: Path, tmp: Path) -> dict[str, Any]:
    copy = tmp / "store.duckdb"
    shutil.copyfile(store, copy)
    env = {**os.environ, "PYTHONPATH": str(src)}
    code = RUN.format(store=str(copy), out=str(tmp / "out"), hwm=HWM)
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, env=env, cwd=tmp)
    copy.unlink()
    res: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return res


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", required=True, help="git revision to compare against (e.g. a commit or HEAD~3)")
    ap.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 4_000_000])
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument("--work", default=str(ROOT / "bench" / "_work" / "analyze"))
    ap.add_argument("--write", action="store_true", help="replace the '## A/B' section of bench/RESULTS.md")
    args = ap.parse_args()
    ref = subprocess.run(
        ["git", "rev-parse", "--short", args.ref], check=True, capture_output=True, text=True, cwd=ROOT
    )
    ref_id = ref.stdout.strip()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], check=True, capture_output=True, text=True, cwd=ROOT)
    dirty = subprocess.run(["git", "status", "--porcelain", "src"], capture_output=True, text=True, cwd=ROOT).stdout
    new_id = head.stdout.strip() + (" + uncommitted changes" if dirty.strip() else "")
    rows = []
    with tempfile.TemporaryDirectory(prefix="dg-ab-") as tmp_s:
        tmp = Path(tmp_s)
        tree = tmp / "ref"
        subprocess.run(
            ["git", "worktree", "add", "--detach", str(tree), ref_id], check=True, capture_output=True, cwd=ROOT
        )
        try:
            # Each side's compiled kernels are compiled once into its own tree's cache before any timing
            # (a first analyze after a change to them compiles them: seconds that belong to neither side). An
            # untimed analyze of the smallest store does it: a kernel compiles once per argument type, and
            # warming with made-up arguments missed types the real batches have (the ref's first 100k run
            # took 6.5 s, its second 4.1 s).
            _, smallest = prepare(Path(args.work), min(args.sizes), args.seed)
            for src in (tree / "src", ROOT / "src"):
                run(src, smallest, tmp)
            for n in args.sizes:
                _, store = prepare(Path(args.work), n, args.seed)
                sides: dict[str, list[dict[str, Any]]] = {"ref": [], "new": []}
                pair = (("ref", tree / "src"), ("new", ROOT / "src"))
                for i in range(args.repeats):
                    # ABBA: each side goes first every other repeat, so a machine slowing (or speeding up)
                    # through the run does not favour the side that always runs first.
                    for side, src in pair if i % 2 == 0 else pair[::-1]:
                        sides[side].append(run(src, store, tmp))
                        print(n, side, json.dumps(sides[side][-1]), flush=True)
                rows.append({"size": n, **sides})
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(tree)], check=False, cwd=ROOT)
    table = render(rows, ref_id, new_id, args)
    print(table)
    if args.write:
        write_section(ROOT / "bench" / "RESULTS.md", "A/B", table)


def _med(runs: list[dict[str, Any]], key: str) -> float:
    return statistics.median(r[key] for r in runs)


def _stage(runs: list[dict[str, Any]], name: str) -> float:
    return statistics.median(r["stages"].get(name, 0.0) for r in runs)


def render(rows: list[dict[str, Any]], ref_id: str, new_id: str, args: argparse.Namespace) -> str:
    sizes = " ".join(str(r["size"]) for r in rows)
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    lines = [
        f"Command: `python bench/ab.py --ref {ref_id} --sizes {sizes} --repeats {args.repeats} --write` ({when},"
        f" {os.cpu_count()} cores). Ref: {ref_id}; new: {new_id}. Median of {args.repeats} alternated runs per side,"
        " each in a fresh process on a private copy of the bench store; same outputs is checked on flagged"
        " accounts, campaigns and families.",
        "",
        "| exchanges | side | analyze s | exchanges/s | CPU s | peak RSS MiB | fingerprint | features | linking "
        "| scoring | replay | outputs | flagged / campaigns / families |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        n = int(_med(r["new"], "exchanges"))
        for side in ("ref", "new"):
            runs = r[side]
            sec = _med(runs, "seconds")
            stages = " | ".join(
                f"{_stage(runs, s):.1f}" for s in ("fingerprint", "features", "linking", "scoring", "replay", "outputs")
            )
            same = {(x["flagged"], x["campaigns"], x["families"]) for x in runs}
            out = " ; ".join(f"{f:,} / {c} / {fa:,}" for f, c, fa in sorted(same))
            lines.append(
                f"| {n:,} | {side} | {sec:.1f} | {n / sec:,.0f} | {_med(runs, 'cpu'):.1f} | "
                f"{_med(runs, 'peak_rss_mib'):,.0f} | {stages} | {out} |"
            )
        ratio = _med(r["ref"], "seconds") / _med(r["new"], "seconds")
        lines.append(f"| {n:,} | new / ref | {ratio:.2f}× faster | | | | | | | | | | |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
