"""Throughput and peak memory of the fingerprint stage on synthetic traffic generated here.

    .venv/bin/python bench/fingerprint.py                 # 100k and 1M rows, three traffic mixes
    .venv/bin/python bench/fingerprint.py --sizes 100000 --mixes slots
    .venv/bin/python bench/fingerprint.py --store STORE.duckdb   # exchanges of a store (e.g. simulated)

Mixes (text generated from a small vocabulary, nothing from the simulator):
  repeat  template traffic whose slot values come from small pools, so raw texts repeat
          (an enterprise batch or a harvesting campaign replaying a task list)
  slots   template traffic with a fresh number / name / sentence in every request (every raw text
          unique, every skeleton from a few dozen templates)
  chat    every prompt a unique free-text sentence (the worst case: nothing dedupes)
  --store the exchanges of an ingested store, read into memory first (realistic traffic: simulated
          campaigns and legitimate archetypes), timed wall and CPU (CPU counts both masking threads)
Each (mix, size) runs in its own process so the peak RSS is its own. Generation time is measured
inside the batch generator and subtracted; the figures are fingerprint time only.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator

import numpy as np
import pyarrow as pa

BATCH = 50_000
_VOCAB = (
    "the a of to and in is it you that he was for on are with as his they be at one have this from or "
    "had by word but what some we can out other were all there when up use your how said an each she "
    "which do their time if will way about many then them write would like so these her long make thing "
    "see him two has look more day could go come did number sound no most people my over know water than "
    "call first who may down side been now find any new work part take get place made live where after "
    "back little only round man year came show every good me give our under name very through just form "
    "sentence great think say help low line differ turn cause much mean before move right boy old too same"
)
WORDS = _VOCAB.split()
SYSTEMS = [
    "You are an expert data analyst. Deliver data-driven insights grounded in real data.",
    "You are a meticulous math tutor who explains every step.",
    "You are a senior software engineer reviewing code for correctness.",
    "You are a helpful assistant.",
]
TEMPLATES = [
    "Solve the following problem and show your reasoning step by step before the final answer. {s}",
    "Here is the final answer: {n}. Reconstruct the detailed reasoning that leads to it for: {s}",
    "Act as an impartial judge and score the response from 1 to 10 using the rubric. Response {n}: {s}",
    "Write a Python function named {w}_{v} that handles {n} items and add unit tests. Context: {s}",
    "Analyze the sales table for region {n} and report the three main trends with numbers. {s}",
    'Rewrite the following sensitive question so that it is neutral and safe to answer: "{s}"',
]


def _sentence(rng: np.random.Generator, n: int) -> str:
    return " ".join(WORDS[i] for i in rng.integers(0, len(WORDS), n))


def _rows(mix: str, rng: np.random.Generator, n: int, start: int) -> pa.RecordBatch:
    pool = [_sentence(rng, 12) for _ in range(200)] if mix == "repeat" else None
    systems, users = [], []
    for i in range(n):
        if mix == "chat":
            systems.append(None)
            users.append(_sentence(rng, int(rng.integers(8, 40))))
            continue
        t = int(rng.integers(0, len(TEMPLATES)))
        systems.append(SYSTEMS[t % len(SYSTEMS)])
        if pool is not None:
            s, num = pool[int(rng.integers(0, len(pool)))], int(rng.integers(0, 20))
        else:
            s, num = _sentence(rng, int(rng.integers(10, 30))), int(rng.integers(0, 10**6))
        users.append(TEMPLATES[t].format(s=s, n=num, w=WORDS[i % 50], v=WORDS[(i // 50) % 50]))
    ts = np.datetime64("2026-02-01T00:00:00", "us") + np.arange(start, start + n).astype("timedelta64[s]")
    return pa.RecordBatch.from_pydict(
        {
            "request_id": [f"r{start + i}" for i in range(n)],
            "account_id": [f"acct_{x}" for x in rng.integers(0, 5000, n)],
            "ts": pa.array(ts, type=pa.timestamp("us", tz="UTC")),
            "system_text": systems,
            "first_user_text": users,
            "n_user_turns": pa.array(np.ones(n, dtype=np.int32)),
            "n_assistant_turns": pa.array(np.zeros(n, dtype=np.int32)),
            "n_tool_results": pa.array(np.zeros(n, dtype=np.int32)),
            "tools_offered": pa.array([[] for _ in range(n)], type=pa.list_(pa.string())),
            "n_images": pa.array(np.zeros(n, dtype=np.int32)),
            "thinking_requested": pa.array(rng.random(n) < 0.3),
        }
    )


class Source:
    """Batches generated on demand; the time spent generating is kept apart."""

    def __init__(self, mix: str, size: int, seed: int = 7) -> None:
        self.mix, self.size, self.gen_s = mix, size, 0.0
        self.rng = np.random.default_rng(seed)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        for start in range(0, self.size, BATCH):
            t = time.perf_counter()
            batch = _rows(self.mix, self.rng, min(BATCH, self.size - start), start)
            self.gen_s += time.perf_counter() - t
            yield batch


def run_one(mix: str, size: int) -> dict[str, object]:
    from distillguard.fingerprint import fingerprint

    src = Source(mix, size)
    t = time.perf_counter()
    fp = fingerprint(src)
    total = time.perf_counter() - t
    seconds = total - src.gen_s
    biggest = fp.families.column("n_exchanges")[0].as_py() if fp.families.num_rows else 0
    return {
        "mix": mix,
        "exchanges": size,
        "seconds": round(seconds, 2),
        "exchanges_per_s": round(size / seconds),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "families": fp.families.num_rows,
        "largest_family": biggest,
    }


STORE_COLUMNS = [
    "request_id", "account_id", "ts", "system_text", "first_user_text", "n_assistant_turns",
    "n_tool_results", "tools_offered", "n_images", "thinking_requested", "thinking_budget", "reasoning_effort",
]  # fmt: skip


def run_store(path: str) -> dict[str, object]:
    from distillguard.fingerprint import fingerprint
    from distillguard.store import Store

    store = Store.open(path, read_only=True)
    batches = list(store.iter_exchange_batches(STORE_COLUMNS))
    wall, cpu = time.perf_counter(), time.process_time()
    fp = fingerprint(batches)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    fam = fp.families
    top = sorted(zip(fam.column("n_exchanges").to_pylist(), fam.column("n_accounts").to_pylist(), strict=True))
    return {
        "exchanges": fp.exchanges.num_rows,
        "seconds": round(wall, 2),
        "cpu_seconds": round(cpu, 2),
        "exchanges_per_s": round(fp.exchanges.num_rows / wall),
        "peak_rss_mib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
        "families": fam.num_rows,
        "largest_families": top[::-1][:3],
        "most_accounts": sorted(top, key=lambda t: t[1])[::-1][:3],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--mixes", default="repeat,slots,chat")
    ap.add_argument("--one", nargs=2, metavar=("MIX", "SIZE"), help=argparse.SUPPRESS)
    ap.add_argument("--store", help="fingerprint the exchanges of this store instead of generated mixes")
    args = ap.parse_args()
    if args.store:
        print(json.dumps(run_store(args.store)))
        return
    if args.one:
        print(json.dumps(run_one(args.one[0], int(args.one[1]))))
        return
    print(f"{'mix':8} {'exchanges':>10} {'seconds':>8} {'exch/s':>9} {'peak MiB':>9} {'families':>9} {'largest':>8}")
    for mix in args.mixes.split(","):
        for size in (int(s) for s in args.sizes.split(",")):
            cmd = [sys.executable, __file__, "--one", mix, str(size)]
            out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(
                f"{r['mix']:8} {r['exchanges']:>10,} {r['seconds']:>8} {r['exchanges_per_s']:>9,} "
                f"{r['peak_rss_mib']:>9,} {r['families']:>9,} {r['largest_family']:>8,}",
                flush=True,
            )


if __name__ == "__main__":
    main()
