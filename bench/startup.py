"""Start-up cost of the command line: wall seconds and peak RSS of fresh `distillguard` processes.

    python bench/startup.py [--ref REV] [--repeats 5] [--store bench/_work/analyze/store-100000.duckdb]

Each row is one command run in a fresh process (`python -m distillguard ...`), its median wall time over
``--repeats`` runs and its peak RSS (the child's own ru_maxrss, from wait4). The commands are each verb's
``--help`` (what the command line costs before any work) and, when ``--store`` names a store (bench/analyze.py
prepares one), a whole `analyze` of it from the command line, import included. ``--ref REV`` runs the same
commands on a git revision too (checked out with `git worktree` in a temporary folder and put first on
PYTHONPATH), alternating ref and working tree run by run so the machine's drift hits both alike; each side runs
each command once untimed first (numba compiles its cache for a new source path on first use).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELPS = ["--help", "analyze --help", "ingest --help", "decide --help", "report --help", "gateway --help"]


def run_once(src: Path, args: list[str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and peak RSS (MiB) of one `python -m distillguard ARGS` with ``src`` first on the path."""
    env = {**os.environ, "PYTHONPATH": str(src)}
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-m", "distillguard", *args],
        cwd=cwd,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"`distillguard {' '.join(args)}` failed (PYTHONPATH={src})")
    return wall, usage.ru_maxrss / 1024


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ref", help="git revision to compare with (default: the working tree alone)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--store", type=Path, help="a store to analyze from the command line (import included)")
    args = ap.parse_args()
    commands = [h.split() for h in HELPS]
    with tempfile.TemporaryDirectory(prefix="dg-startup-") as tmp_name:
        tmp = Path(tmp_name)
        if args.store:
            commands.append(["analyze", str(tmp / "store.duckdb"), "--out", str(tmp / "out")])
        sides = {"new": ROOT / "src"}
        if args.ref:
            subprocess.run(["git", "worktree", "add", "--detach", str(tmp / "ref"), args.ref], check=True, cwd=ROOT)
            sides = {"ref": tmp / "ref" / "src", **sides}
        try:
            times: dict[tuple[str, str], list[float]] = {}
            rss: dict[tuple[str, str], float] = {}
            for i in range(args.repeats + 1):
                order = list(sides.items()) if i % 2 == 0 else list(reversed(sides.items()))
                for cmd in commands:
                    for side, src in order:
                        if args.store:
                            shutil.copyfile(args.store, tmp / "store.duckdb")  # analyze writes into its store
                        wall, peak = run_once(src, cmd, tmp)
                        if i == 0:
                            continue  # the untimed first run of each side
                        name = "analyze STORE --out OUT" if "--out" in cmd else " ".join(cmd)
                        times.setdefault((name, side), []).append(wall)
                        rss[(name, side)] = max(rss.get((name, side), 0.0), peak)
        finally:
            if args.ref:
                subprocess.run(["git", "worktree", "remove", "--force", str(tmp / "ref")], check=False, cwd=ROOT)
    print(f"python bench/startup.py{' --ref ' + args.ref if args.ref else ''} --repeats {args.repeats}"
          f"{' --store ' + str(args.store) if args.store else ''}")  # fmt: skip
    head = "| command | " + " | ".join(f"{s} s (median) | {s} peak RSS MiB" for s in sides) + " |"
    print(head)
    print("|" + "---|" * (1 + 2 * len(sides)))
    for name in dict.fromkeys(n for n, _ in times):
        cells = [f"{statistics.median(times[(name, s)]):.2f} | {rss[(name, s)]:,.0f}" for s in sides]
        print(f"| `distillguard {name}` | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
