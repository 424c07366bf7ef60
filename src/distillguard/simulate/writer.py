"""Streaming output: sharded ``.jsonl.zst`` log, labels, resolved scenario.

Layout of ``OUT``::

    log/part-00000.jsonl.zst ...   the exchange log (EXCHANGE_LOG.md), no truth in it
    labels/accounts.parquet        account_id, label, campaign, archetype
    labels/exchanges.parquet       request_id, account_id, ts, campaign, phase
    labels/groups.json             the resolved groups (archetypes and campaign tactics)
    scenario.json                  span, models and releases, scale, seed, counts (no labels)

Accounts are shuffled (seeded) and packed into shards of ``shard_rows`` exchanges; an account larger
than the room left continues in the next shard. Rows inside a shard are sorted by ``ts``; shards are
not globally ordered. A shard depends only on its own accounts' seeds, so the bytes are the same for
any number of worker processes. Memory: one shard's lines per worker.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import shutil
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from random import Random
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

from distillguard.errors import InputError
from distillguard.simulate.frame import Frame, account_frame
from distillguard.simulate.plan import US, Plan, subseed
from distillguard.simulate.render import Renderer
from distillguard.simulate.textgen import TextGen

log = logging.getLogger(__name__)

SHARD_ROWS = 20_000
ZSTD_LEVEL = 3

LABEL_ACCOUNTS = pa.schema(
    [("account_id", pa.string()), ("label", pa.string()), ("campaign", pa.string()), ("archetype", pa.string())]
)
LABEL_EXCHANGES = pa.schema(
    [
        ("request_id", pa.string()),
        ("account_id", pa.string()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("campaign", pa.string()),
        ("phase", pa.string()),
    ]
)

Piece = tuple[int, int, int]  # account index, first row, end row


@dataclass(frozen=True)
class SimulationSummary:
    out_dir: Path
    exchanges: int
    accounts: int
    attack_accounts: int
    attack_exchanges: int
    shards: int


def shard_plan(plan: Plan, shard_rows: int = SHARD_ROWS) -> list[list[Piece]]:
    order = list(range(len(plan.accounts)))
    Random(subseed(plan.seed, "order")).shuffle(order)
    shards: list[list[Piece]] = [[]]
    room = shard_rows
    for ai in order:
        lo, n = 0, plan.accounts[ai].n
        while lo < n:
            take = min(room, n - lo)
            shards[-1].append((ai, lo, lo + take))
            lo += take
            room -= take
            if room == 0:
                shards.append([])
                room = shard_rows
    return [s for s in shards if s]


def write_simulation(
    plan: Plan,
    out_dir: Path,
    corpus: dict[str, tuple[str, ...]] | None = None,
    workers: int | None = None,
    shard_rows: int = SHARD_ROWS,
    progress: Callable[[int], None] | None = None,
) -> SimulationSummary:
    """Generate the whole run into ``out_dir`` (which must be empty or absent)."""
    out_dir = Path(out_dir)
    if out_dir.exists() and any(out_dir.iterdir()):
        raise InputError(f"{out_dir}: output folder is not empty; choose a new one")
    (out_dir / "log").mkdir(parents=True, exist_ok=True)
    parts = out_dir / "labels" / "_parts"
    parts.mkdir(parents=True, exist_ok=True)
    shards = shard_plan(plan, shard_rows)
    jobs = [(i, s) for i, s in enumerate(shards)]
    workers = workers or min(2, os.cpu_count() or 1)
    if workers <= 1 or len(shards) == 1:
        _init(plan, corpus, out_dir)
        for job in jobs:
            rows = _write_shard(job)
            if progress:
                progress(rows)
    else:
        with ProcessPoolExecutor(workers, initializer=_init, initargs=(plan, corpus, out_dir)) as ex:
            for rows in ex.map(_write_shard, jobs, chunksize=1):
                if progress:
                    progress(rows)
    _merge_labels(out_dir, len(shards))
    _write_accounts(plan, out_dir)
    _write_meta(plan, out_dir, len(shards))
    attack = [a for a in plan.accounts if plan.scenario.groups[a.group].attack]
    return SimulationSummary(
        out_dir=out_dir,
        exchanges=plan.total,
        accounts=len(plan.accounts),
        attack_accounts=len(attack),
        attack_exchanges=sum(a.n for a in attack),
        shards=len(shards),
    )


_STATE: dict[str, Any] = {}  # per worker process: the plan and renderer, set once by _init


def _init(plan: Plan, corpus: dict[str, tuple[str, ...]] | None, out_dir: Path) -> None:
    _STATE.clear()
    _STATE.update(plan=plan, renderer=Renderer(plan, TextGen(corpus)), out=out_dir)


def _write_shard(job: tuple[int, list[Piece]]) -> int:
    idx, pieces = job
    plan: Plan = _STATE["plan"]
    renderer: Renderer = _STATE["renderer"]
    out: Path = _STATE["out"]
    rows: list[tuple[int, bytes, str]] = []
    labels: list[tuple[str, str | None, str | None]] = []
    cached: tuple[int, Frame] | None = None
    for ai, lo, hi in pieces:
        a = plan.accounts[ai]
        if cached is None or cached[0] != ai:
            cached = (ai, account_frame(plan, a))
        f = cached[1]
        g = plan.scenario.groups[a.group]
        recs = renderer.render(a, f, lo, hi)
        rows.extend(recs)
        camp = g.name if g.attack else None
        for j in range(len(recs)):
            i = lo + j
            phase = ("pivot" if f.pivot[i] else g.phases[int(f.phase[i])].name) if g.attack else None
            labels.append((a.account_id, camp, phase))
    order = sorted(range(len(rows)), key=lambda j: (rows[j][0], rows[j][2]))
    cctx = zstandard.ZstdCompressor(level=ZSTD_LEVEL)
    with open(out / "log" / f"part-{idx:05d}.jsonl.zst", "wb") as fh, cctx.stream_writer(fh) as zw:
        for start in range(0, len(order), 2048):
            zw.write(b"".join(rows[j][1] + b"\n" for j in order[start : start + 2048]))
    table = pa.table(
        {
            "request_id": [rows[j][2] for j in order],
            "account_id": [labels[j][0] for j in order],
            "ts": pa.array([rows[j][0] for j in order], pa.int64()).cast(pa.timestamp("us", tz="UTC")),
            "campaign": [labels[j][1] for j in order],
            "phase": [labels[j][2] for j in order],
        },
        schema=LABEL_EXCHANGES,
    )
    pq.write_table(table, out / "labels" / "_parts" / f"part-{idx:05d}.parquet", compression="zstd")
    return len(rows)


def _merge_labels(out_dir: Path, n: int) -> None:
    parts = out_dir / "labels" / "_parts"
    with pq.ParquetWriter(out_dir / "labels" / "exchanges.parquet", LABEL_EXCHANGES, compression="zstd") as w:
        for i in range(n):
            w.write_table(pq.read_table(parts / f"part-{i:05d}.parquet"))
    shutil.rmtree(parts)


def _write_accounts(plan: Plan, out_dir: Path) -> None:
    groups = plan.scenario.groups
    accts = sorted(plan.accounts, key=lambda a: a.account_id)
    table = pa.table(
        {
            "account_id": [a.account_id for a in accts],
            "label": ["attack" if groups[a.group].attack else "legit" for a in accts],
            "campaign": [groups[a.group].name if groups[a.group].attack else None for a in accts],
            "archetype": [groups[a.group].archetype for a in accts],
        },
        schema=LABEL_ACCOUNTS,
    )
    pq.write_table(table, out_dir / "labels" / "accounts.parquet", compression="zstd")


def _iso(us: int) -> str:
    from distillguard.simulate.render import _ts

    return _ts(us, ms=False)


def _write_meta(plan: Plan, out_dir: Path, shards: int) -> None:
    sc = plan.scenario
    meta = {
        "scenario": sc.name,
        "description": sc.description,
        "start": _iso(plan.start_us),
        "end": _iso(plan.end_us),
        "days": sc.days,
        "scale": plan.scale,
        "reported_scale": sc.reported_scale,
        "seed": plan.seed,
        "models": [{"name": m.name, "released": _iso(int(m.released.timestamp() * US))} for m in sc.models],
        "exchanges": plan.total,
        "accounts": len(plan.accounts),
        "shards": shards,
    }
    (out_dir / "scenario.json").write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    groups = [_jsonable(dataclasses.asdict(g)) for g in sc.groups]
    (out_dir / "labels" / "groups.json").write_text(json.dumps(groups, indent=2) + "\n", encoding="utf-8")


def _jsonable(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_jsonable(v) for v in x]
    return x
