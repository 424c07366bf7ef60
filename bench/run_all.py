"""Benchmark suite: every part at three sizes beside its naive baseline, summarised in bench/RESULTS.md.

    python bench/run_all.py --write                          # 100k, 1M, 4M (gateway: 8, 32, 128 connections)
    python bench/run_all.py --sizes small                    # 10k, 30k, 100k (gateway: 4, 16, 64; shorter)
    python bench/run_all.py --sizes 2000 5000 10000 --parts ingest,simulate   # explicit sizes, some parts
    python bench/run_all.py --write --part-sizes analyze_spark=10k,30k,100k    # one part at its own sizes

Parts: ingest (bench/ingest.py), simulate (bench/simulate.py), analyze (bench/analyze.py), analyze_spark
(bench/analyze_spark.py: run only when the script exists and ``import pyspark`` works) and gateway
(bench/gateway.py: sized by concurrency, not by log size). Every part runs once per size in a fresh
subprocess (which starts its own fresh measuring subprocesses) with ``--json FILE``; this script reads those
files, computes growth exponents between consecutive sizes and prints one Markdown table per part. ``--write``
replaces the generated block of the "## Suite" section of bench/RESULTS.md (between the suite markers) and
leaves every other section alone. Nothing here is timed in-process: the parts time themselves.

Suite JSON (what each part writes with ``--json FILE``; every part builds its rows with bench/suite.py):

    {"part": "ingest", "unit": "lines", "baseline": "what the baseline is" | null,
     "rows": [{"size": requested size, "n": units processed, "seconds": wall seconds of the timed work,
               "throughput": units/s, "peak_rss_mib": peak RSS of the measured processes,
               "baseline_seconds": ..., "baseline_throughput": ..., "baseline_peak_rss_mib": ... (null: none),
               ...part-specific extras}]}
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import re
import shlex
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
RESULTS = BENCH / "RESULTS.md"
PARTS = ("ingest", "simulate", "analyze", "analyze_spark", "gateway")
PRESETS: dict[str, tuple[int, ...]] = {
    "small": (10_000, 30_000, 100_000),
    "default": (100_000, 1_000_000, 4_000_000),
    "large": (1_000_000, 4_000_000, 16_000_000),
}
# Gateway: concurrent connections, seconds of load per concurrency, requests of the latency phase.
GATEWAY_PRESETS: dict[str, tuple[tuple[int, ...], float, int]] = {
    "small": ((4, 16, 64), 3.0, 1000),
    "default": ((8, 32, 128), 10.0, 3000),
    "large": ((16, 64, 256), 20.0, 5000),
}
BEGIN = "<!-- suite:begin -->"
END = "<!-- suite:end -->"


@dataclass
class PartResult:
    """What one part gave: rows in the suite format, or why it has none (status skipped / failed)."""

    name: str
    status: str = "ok"
    reason: str = ""
    unit: str = ""
    baseline: str | None = None
    rows: list[dict[str, Any]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)


# ------------------------------------------------------------------------------------------ pure helpers


def parse_sizes(values: list[str]) -> tuple[str, tuple[int, ...]]:
    """``["default"]`` -> (preset, sizes); ``["2000", "5k", "1M"]`` -> ("explicit", sizes, ascending)."""
    if len(values) == 1 and values[0] in PRESETS:
        return values[0], PRESETS[values[0]]
    sizes = []
    for v in values:
        m = re.fullmatch(r"(\d+(?:\.\d+)?)([kKmM]?)", v.replace("_", "").replace(",", ""))
        if not m:
            raise ValueError(f"size {v!r}: give a preset ({', '.join(PRESETS)}) or numbers like 2000, 100k, 4M")
        sizes.append(round(float(m[1]) * {"": 1, "k": 1_000, "m": 1_000_000}[m[2].lower()]))
    return "explicit", tuple(sorted(set(sizes)))


def exponent(x1: float, x2: float, y1: float, y2: float) -> float | None:
    """Growth exponent log(y2/y1) / log(x2/x1): 1.0 = linear, 0 = flat; None where it is undefined."""
    if min(x1, x2, y1, y2) <= 0 or x1 == x2 or not all(map(math.isfinite, (x1, x2, y1, y2))):
        return None
    return math.log(y2 / y1) / math.log(x2 / x1)


def with_growth(rows: list[dict[str, Any]], by_throughput: bool = False) -> list[dict[str, Any]]:
    """Rows sorted by size with ``ratio``, ``time_exp`` and ``rss_exp`` (against the previous row) added.

    Size-based parts: the exponent of wall seconds against units processed. Fixed-duration parts (the gateway,
    ``by_throughput``): the exponent of throughput against the size (concurrency), 1.0 = scales with it."""
    out: list[dict[str, Any]] = []
    for row in sorted(rows, key=lambda r: float(r["size"])):
        r = dict(row)
        base = r.get("baseline_throughput")
        r["ratio"] = r["throughput"] / base if base else None
        r["time_exp"] = r["rss_exp"] = None
        if out:
            p = out[-1]
            if by_throughput:
                r["time_exp"] = exponent(p["size"], r["size"], p["throughput"], r["throughput"])
            else:
                r["time_exp"] = exponent(p.get("n") or p["size"], r.get("n") or r["size"], p["seconds"], r["seconds"])
            x1, x2 = (p["size"], r["size"]) if by_throughput else (p.get("n") or p["size"], r.get("n") or r["size"])
            r["rss_exp"] = exponent(x1, x2, p.get("peak_rss_mib") or 0, r.get("peak_rss_mib") or 0)
        out.append(r)
    return out


def _num(v: Any, fmt: str = ",.0f") -> str:
    return "–" if v is None or (isinstance(v, float) and not math.isfinite(v)) else format(v, fmt)


def render_part(res: PartResult) -> str:
    """One part's Markdown: a heading line, then its table or the reason it has none."""
    if res.status != "ok" or not res.rows:
        return f"### {res.name}\n\n{res.status} ({res.reason})\n"
    gateway = res.name == "gateway"
    rows = with_growth(res.rows, by_throughput=gateway)
    unit = res.unit or "units"
    lines = [f"### {res.name}", "", f"Baseline: {res.baseline or 'none'}."]
    if res.failures:
        lines.append("Failed sizes: " + "; ".join(res.failures) + ".")
    lines.append("")
    if gateway:
        lines += [
            "| connections | requests/s | peak RSS MiB (gateway) | direct requests/s | ratio | added p50 ms "
            "| added p99 ms | throughput exponent | RSS exponent |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rows:
            lines.append(
                f"| {r['size']:,} | {_num(r['throughput'])} | {_num(r['peak_rss_mib'])} "
                f"| {_num(r.get('baseline_throughput'))} | {_num(r['ratio'], '.2f')} "
                f"| {_num(r.get('added_p50_ms'), '.3f')} | {_num(r.get('added_p99_ms'), '.3f')} "
                f"| {_num(r['time_exp'], '.2f')} | {_num(r['rss_exp'], '.2f')} |"
            )
        return "\n".join(lines) + "\n"
    quality = any("precision" in r for r in rows)
    head = (
        f"| size | {unit} | seconds | {unit}/s | peak RSS MiB | baseline {unit}/s | baseline peak RSS MiB "
        "| ratio | time exponent | RSS exponent |"
    )
    lines += [head + (" precision / recall | baseline precision / recall |" if quality else "")]
    lines += ["|" + "---:|" * (10 + 2 * quality)]
    for r in rows:
        cells = [
            f"{r['size']:,}", _num(r.get("n")), _num(r["seconds"], ".1f"), _num(r["throughput"]),
            _num(r.get("peak_rss_mib")), _num(r.get("baseline_throughput")), _num(r.get("baseline_peak_rss_mib")),
            _num(r["ratio"], ".2f") + ("×" if r["ratio"] is not None else ""),
            _num(r["time_exp"], ".2f"), _num(r["rss_exp"], ".2f"),
        ]  # fmt: skip
        if quality:
            cells.append(f"{_num(r.get('precision'), '.3f')} / {_num(r.get('recall'), '.3f')}")
            cells.append(f"{_num(r.get('baseline_precision'), '.3f')} / {_num(r.get('baseline_recall'), '.3f')}")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


NOTES = """\
Reading: *ratio* = throughput / the baseline's throughput in the same run (above 1: faster than the baseline;
for the gateway, its throughput / going direct, i.e. the share of the upstream's rate it keeps). *Time
exponent* = log(t2/t1) / log(n2/n1) of wall seconds between a size and the previous one (1.0 = linear; below
1 while fixed start-up costs are still being amortized); for the gateway, the exponent of throughput against
connections (1.0 = scales with them, 0 = saturated). *RSS exponent*: the same of peak RSS (0 = flat memory).
Peak RSS counts the measured processes (ingest and simulate: the main process plus each worker's peak, an
upper bound; analyze: the analyzing process; gateway: the gateway process). Each part's own section below
says what it measures in detail."""


def render(results: list[PartResult], header: dict[str, str]) -> str:
    """The generated block: header (date, cores, CPU, Python, command), notes, one table per part."""
    lines = [
        f"Run {header['date']} on {header['nproc']} cores (`nproc`), {header['cpu']}, Python {header['python']}; "
        f"load average {header['load']}; suite wall time {header['wall']}.",
        "",
        f"Command: `{header['command']}`",
        "",
        NOTES,
        "",
    ]
    for res in results:
        lines += [render_part(res)]
    return "\n".join(lines).rstrip("\n") + "\n"


def replace_suite(text: str, block: str) -> str:
    """Put ``block`` between the suite markers of RESULTS.md text, leaving everything else as it was.

    No markers yet: under an existing "## Suite" heading (replacing that section), else as a new "## Suite"
    section before the first "## " section (the summary comes first), else at the end."""
    body = f"{BEGIN}\n<!-- generated by bench/run_all.py --write: edit the script, not this block -->\n\n{block}{END}\n"
    if BEGIN in text and END in text and text.index(BEGIN) < text.index(END):
        i, j = text.index(BEGIN), text.index(END) + len(END)
        if j < len(text) and text[j] == "\n":
            j += 1
        return text[:i] + body + text[j:]
    section = "## Suite\n\n" + body
    m = re.search(r"^## Suite[ \t]*$", text, re.M)
    if m:
        nxt = text.find("\n## ", m.end())
        rest = text[nxt + 1 :] if nxt >= 0 else ""
        return text[: m.start()] + section + ("\n" + rest if rest else "")
    if not text.strip():
        text = "# Benchmark results\n"
    m = re.search(r"^## ", text, re.M)
    if m:
        return text[: m.start()] + section + "\n" + text[m.start() :]
    return text.rstrip("\n") + "\n\n" + section


# ------------------------------------------------------------------------------------------ running parts


def spark_unavailable(bench: Path = BENCH) -> str | None:
    """Why analyze_spark cannot run here, or None."""
    if not (bench / "analyze_spark.py").exists():
        return "bench/analyze_spark.py does not exist"
    probe = subprocess.run([sys.executable, "-c", "import pyspark"], capture_output=True, text=True)
    if probe.returncode != 0:
        return "`import pyspark` fails: " + (probe.stderr.strip().splitlines() or ["?"])[-1]
    return None


def part_command(part: str, size: int, out: Path, args: argparse.Namespace) -> list[str]:
    """The command that measures ``part`` at one size (a concurrency for the gateway) into ``out``."""
    py, work = sys.executable, args.work
    if part == "ingest":
        cmd = [py, str(BENCH / "ingest.py"), "--lines", str(size), "--baseline"]
        cmd += ["--work", str(work)] if work else []
    elif part == "simulate":
        cmd = [py, str(BENCH / "simulate.py"), "--exchanges", str(size), "--baseline"]
        cmd += ["--work", str(work)] if work else []
    elif part == "analyze":
        cmd = [py, str(BENCH / "analyze.py"), "--sizes", str(size), "--baseline-max", str(args.analyze_baseline_max)]
        cmd += ["--work", str(work / "analyze")] if work else []
    elif part == "analyze_spark":
        cmd = [py, str(BENCH / "analyze_spark.py"), "--sizes", str(size)]
    elif part == "gateway":
        cmd = [py, str(BENCH / "gateway.py"), "--concurrency", str(size), "--seconds", f"{args.gateway_seconds:g}"]
        cmd += ["--requests", str(args.gateway_requests)]
    else:
        raise ValueError(f"unknown part {part!r}")
    return [*cmd, "--json", str(out)]


def run_part(part: str, sizes: tuple[int, ...], args: argparse.Namespace, tmp: Path) -> PartResult:
    res = PartResult(part)
    if part == "analyze_spark" and (why := spark_unavailable()):
        res.status, res.reason = "skipped", why
        return res
    for size in sizes:
        out = tmp / f"{part}-{size}.json"
        cmd = part_command(part, size, out, args)
        print(f"[{time.strftime('%H:%M:%S')}] {part} {size:,}: {shlex.join(cmd[1:])}", flush=True)
        try:
            proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            res.failures.append(f"{size:,}: timed out after {args.timeout} s")
            continue
        if proc.returncode != 0 or not out.exists():
            last = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])[-1]
            res.failures.append(f"{size:,}: exit {proc.returncode}, {last[:200]}")
            continue
        doc = json.loads(out.read_text(encoding="utf-8"))
        res.unit, res.baseline = doc.get("unit", ""), doc.get("baseline")
        res.rows += doc["rows"]
    if not res.rows:
        res.status, res.reason = "failed", "; ".join(res.failures)
    return res


def machine_header(command: str, wall_s: float, load_before: str) -> dict[str, str]:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        m = re.search(r"^model name\s*:\s*(.+)$", cpuinfo.read_text(), re.M)
        cpu = m[1].strip() if m else platform.processor() or cpu
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu,
        "python": platform.python_version(),
        "load": f"{load_before} → {os.getloadavg()[0]:.2f}",
        "wall": f"{wall_s / 60:.1f} min",
        "command": command,
    }


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", nargs="+", default=["default"], help="small | default | large, or numbers (2000 1M)")
    ap.add_argument("--parts", default=",".join(PARTS), help=f"comma-separated subset of {','.join(PARTS)}")
    ap.add_argument("--write", action="store_true", help="replace the generated Suite block of bench/RESULTS.md")
    ap.add_argument("--json", type=Path, help="also save every part's rows here")
    ap.add_argument("--from-json", type=Path, help="render a saved --json file again instead of running the parts")
    ap.add_argument("--results", type=Path, default=RESULTS, help="the file --write updates (default bench/RESULTS.md)")
    ap.add_argument("--work", type=Path, help="scratch folder for generated logs and stores (default: bench/_work)")
    ap.add_argument("--gateway-concurrency", type=int, nargs="+", help="connections (default: by the size preset)")
    ap.add_argument("--gateway-seconds", type=float, help="seconds of load per concurrency (default: by preset)")
    ap.add_argument("--gateway-requests", type=int, help="requests of the latency phase (default: by preset)")
    ap.add_argument(
        "--part-sizes",
        action="append",
        default=[],
        metavar="PART=SIZES",
        help="sizes for one part instead of --sizes, e.g. analyze_spark=10k,30k,100k (repeatable)",
    )
    ap.add_argument("--analyze-baseline-max", type=int, default=1_000_000, help="no analyze baseline above this")
    ap.add_argument("--timeout", type=float, default=7200, help="seconds allowed per part and size")
    args = ap.parse_args(argv)
    preset, sizes = parse_sizes(args.sizes)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    if unknown := sorted(set(parts) - set(PARTS)):
        ap.error(f"unknown parts: {', '.join(unknown)} (known: {', '.join(PARTS)})")
    own_sizes: dict[str, tuple[int, ...]] = {}
    for spec in args.part_sizes:
        name, _, values = spec.partition("=")
        if name not in PARTS or not values:
            ap.error(f"--part-sizes {spec!r}: expected PART=SIZES with PART one of {', '.join(PARTS)}")
        own_sizes[name] = parse_sizes(values.split(","))[1]
    gw_conc, gw_seconds, gw_requests = GATEWAY_PRESETS[preset if preset in GATEWAY_PRESETS else "small"]
    gw_sizes = tuple(sorted(args.gateway_concurrency or gw_conc))
    args.gateway_seconds = args.gateway_seconds or gw_seconds
    args.gateway_requests = args.gateway_requests or gw_requests
    if args.from_json:
        saved = json.loads(args.from_json.read_text(encoding="utf-8"))
        header, results = saved["header"], [PartResult(**p) for p in saved["parts"]]
    else:
        command = "python bench/run_all.py " + shlex.join(sys.argv[1:] if argv is None else argv)
        load_before, t0 = f"{os.getloadavg()[0]:.2f}", time.perf_counter()
        results = []
        with tempfile.TemporaryDirectory(prefix="dg-suite-") as tmp:
            for part in parts:
                part_sizes = own_sizes.get(part, gw_sizes if part == "gateway" else sizes)
                results.append(run_part(part, part_sizes, args, Path(tmp)))
        header = machine_header(command.strip(), time.perf_counter() - t0, load_before)
    block = render(results, header)
    print(block)
    if args.json:
        doc = {"header": header, "parts": [r.__dict__ for r in results]}
        args.json.write_text(json.dumps(doc, indent=1), encoding="utf-8")
    if args.write:
        text = args.results.read_text(encoding="utf-8") if args.results.exists() else ""
        args.results.write_text(replace_suite(text, block), encoding="utf-8")


if __name__ == "__main__":
    main()
