"""The full reported scale on one machine: simulate reported-2026 at the reported size, ingest, analyze, evaluate.

    python bench/full_scale.py --work DIR [--seed 606] [--memory-limit 3GB] [--write]

Each step runs in its own fresh Python process that reports its wall time and its peak RSS (its own, plus
its worker processes' where it has them: ingest's parser processes, simulate's writers). An existing
``DIR/sim`` (with labels) is reused and its simulate step reported as "reused"; an existing ``DIR/store.duckdb``
is reused the same way, so a crashed or interrupted run resumes where it stopped. ``--write`` replaces the
"## Full reported scale" section of bench/RESULTS.md. Targets (detection issue, scale-out issue): analyze
under 30 minutes and 8 GiB on this 2-core machine, with the detection floors still met.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "RESULTS.md"
HEADING = "## Full reported scale"

_MEASURE = """
import json, resource, sys, time
t0 = time.perf_counter()
{body}
wall = time.perf_counter() - t0
own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
kids = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
print(json.dumps({{"wall_s": wall, "peak_rss_mib": own, "children_peak_rss_mib": kids, "out": out}}, default=str))
"""


# Peak RSS per analyze stage: a thread samples VmRSS every half second; ``stage`` is analyze's step callback.
# Each sample is also appended to a progress file, so a run killed for memory still says where it was.
_STAGE_RSS = r"""
import logging, threading
logging.basicConfig(filename=PROGRESS, level=logging.INFO, format="%(relativeCreated).0fms %(name)s: %(message)s")
peaks, current = {}, ["start"]
def _rss():
    for line in open("/proc/self/status"):
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0
def _sample():
    with open(PROGRESS, "a") as f:
        while True:
            r = _rss()
            peaks[current[0]] = max(peaks.get(current[0], 0.0), round(r))
            f.write(f"{time.perf_counter() - t0:.0f}s {current[0]} {r:.0f} MiB\n")
            f.flush()
            time.sleep(0.5)
threading.Thread(target=_sample, daemon=True).start()
def stage(name):
    current[0] = name
"""


def _step(body: str, log: Path | None = None) -> dict[str, Any]:
    """Run ``body`` (which sets ``out``) in a fresh interpreter; its wall time, peak RSS and ``out``.

    ``log``: where the stage sampler (``_STAGE_RSS``) appends its samples."""
    code = _MEASURE.format(body=body)
    if log is not None:
        code = code.replace("PROGRESS", repr(str(log)))
    proc = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run(work: Path, seed: int, memory_limit: str | None, prepare_only: bool = False) -> dict[str, Any]:
    work.mkdir(parents=True, exist_ok=True)
    sim, store, out = work / "sim", work / "store.duckdb", work / "results"
    steps: dict[str, Any] = {}
    if (sim / "labels" / "accounts.parquet").exists():
        saved = work / "simulate.json"
        steps["simulate"] = (json.loads(saved.read_text()) if saved.exists() else {}) | {"reused": True}
    else:
        steps["simulate"] = _step(
            "from distillguard.simulate import load_scenario, simulate\n"
            "sc = load_scenario('reported-2026')\n"
            f"s = simulate(sc, {str(sim)!r}, scale=sc.reported_scale, seed={seed})\n"
            "out = {'exchanges': s.exchanges, 'accounts': s.accounts, 'attack_exchanges': s.attack_exchanges}"
        )
        (work / "simulate.json").write_text(json.dumps(steps["simulate"], default=str))
    if store.exists() and (work / "ingest.json").exists():
        steps["ingest"] = json.loads((work / "ingest.json").read_text()) | {"reused": True}
    else:
        steps["ingest"] = _step(
            "from distillguard.pipeline import ingest_paths\n"
            f"r = ingest_paths([{str(sim / 'log')!r}], {str(store)!r})\n"
            "out = {'read': r.read, 'stored': r.stored}"
        )
        (work / "ingest.json").write_text(json.dumps(steps["ingest"], default=str))
    if prepare_only:
        return {"seed": seed, "steps": steps}
    steps["analyze"] = _step(
        _STAGE_RSS + "from distillguard.pipeline import AnalyzeOptions, analyze\n"
        f"s = analyze([{str(store)!r}], {str(out)!r}, AnalyzeOptions(memory_limit={memory_limit!r}), step=stage)\n"
        "out = s.to_dict() | {'stage_peak_rss_mib': peaks}",
        log=work / "analyze.progress",
    )
    steps["evaluate"] = _step(
        f"from distillguard.evaluate import evaluate\nout = evaluate({str(sim / 'labels')!r}, {str(out)!r}).to_dict()"
    )
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cores": os.cpu_count(),
        "python": platform.python_version(),
        "seed": seed,
        "memory_limit": memory_limit,
        "steps": steps,
    }


def _pct(x: float | None) -> str:
    return "n/a" if x is None else f"{100 * x:.1f}%"


def render(doc: dict[str, Any], command: str, note: str | None = None) -> str:
    st = doc["steps"]
    an, ev = st["analyze"], st["evaluate"]["out"]
    n = an["out"]["exchanges"]
    lines = [
        HEADING,
        "",
        f"`{command}` ({doc['date']}, {doc['cores']} cores, Python {doc['python']}, reported-2026 seed "
        f"{doc['seed']}, DuckDB memory limit {doc['memory_limit'] or 'default'}). Generated by the script.",
        "",
        *([note, ""] if note else []),
        "| step | wall | peak RSS (own / worker processes) | throughput |",
        "|---|---:|---:|---:|",
    ]
    for name in ("simulate", "ingest", "analyze", "evaluate"):
        s = st[name]
        if "wall_s" not in s:
            lines.append(f"| {name} | reused (timed separately) | | |")
            continue
        rate = f"{n / s['wall_s']:,.0f} exchanges/s" if name in ("ingest", "analyze") else ""
        lines.append(
            f"| {name} | {s['wall_s'] / 60:.1f} min | {s['peak_rss_mib'] / 1024:.2f} / "
            f"{s['children_peak_rss_mib'] / 1024:.2f} GiB | {rate} |"
        )
    acc = ev["accounts"]
    lines += [
        "",
        f"Analyze: {n:,} exchanges, {an['out']['accounts']:,} accounts, {an['out']['template_families']:,} template "
        f"families, {an['out']['campaigns']} campaigns; stage seconds {an['out']['seconds']}. Targets: under 30 min "
        f"({'met' if an['wall_s'] < 1800 else 'NOT met'}), under 8 GiB "
        f"({'met' if an['peak_rss_mib'] < 8192 else 'NOT met'}).",
        "",
    ]
    peaks = an["out"].get("stage_peak_rss_mib") or {}
    if peaks:
        lines += [
            "Peak RSS of the analyze process by stage (sampled every 0.5 s): "
            + ", ".join(f"{k} {v / 1024:.2f} GiB" for k, v in peaks.items() if k != "start")
            + ".",
            "",
        ]
    lines += [
        f"Accounts: precision {_pct(acc['precision'])}, recall {_pct(acc['recall'])}, exchange-weighted recall "
        f"{_pct(ev.get('exchange_weighted_recall'))}, flagged {acc['flagged']:,}.",
        "",
        "| campaign | accounts | found | purity | leak before detection |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {c['campaign']} | {c['accounts']:,} | {c['found']:,} | {_pct(c['purity'])} | "
        f"{_pct(c['leak_before_detection'])} |"
        for c in ev["campaigns"]
    ]
    lines += ["", "| legitimate archetype | accounts | flagged | FPR |", "|---|---:|---:|---:|"]
    lines += [
        f"| {g['archetype']} | {g['accounts']:,} | {g['flagged']:,} | {_pct(g['flagged'] / max(g['accounts'], 1))} |"
        for g in ev["archetypes"]
    ]
    return "\n".join(lines) + "\n"


def write_section(section: str) -> None:
    text = RESULTS.read_text(encoding="utf-8")
    start = text.find("\n" + HEADING + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        nxt = text.find("\n## ", start + len(HEADING) + 2)
        text = text[: start + 1] + section + ("" if nxt < 0 else "\n" + text[nxt + 1 :])
    RESULTS.write_text(text, encoding="utf-8")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--work", type=Path, required=True, help="folder for the log, the store and the results")
    ap.add_argument("--seed", type=int, default=606)
    ap.add_argument("--memory-limit", default="3GB", help="DuckDB memory limit for analyze")
    ap.add_argument("--write", action="store_true", help="replace the section in bench/RESULTS.md")
    ap.add_argument("--from-json", type=Path, help="render a saved run instead of running")
    ap.add_argument("--note", help="a sentence to print under the command (e.g. what else ran on the machine)")
    ap.add_argument("--prepare-only", action="store_true", help="simulate and ingest only (then run again)")
    args = ap.parse_args()
    if args.prepare_only:
        print(json.dumps(run(args.work, args.seed, args.memory_limit, prepare_only=True), default=str))
        return
    doc = json.loads(args.from_json.read_text()) if args.from_json else run(args.work, args.seed, args.memory_limit)
    (args.work / "full_scale.json").write_text(json.dumps(doc, indent=2, default=str))
    doc["note"] = args.note or doc.get("note")
    section = render(doc, f"python bench/full_scale.py --work DIR --seed {doc['seed']} --write", doc["note"])
    print(section)
    if args.write:
        write_section(section)


if __name__ == "__main__":
    main()
