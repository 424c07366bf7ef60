"""The only module that knows the stage order. Each function here is one user-facing step.

``ingest_paths``: log files -> store (exchanges + quarantine + ledger).
``analyze``: store -> fingerprint -> features -> linking -> scoring -> replay -> results.
"""

from __future__ import annotations

import glob
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from functools import partial
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Literal, Protocol, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from distillguard.errors import ConfigError, InputError
from distillguard.features import account_features, model_releases
from distillguard.features.account import FeatureConfig
from distillguard.fingerprint import COLUMNS as FP_COLUMNS
from distillguard.fingerprint import FingerprintConfig, kernels
from distillguard.fingerprint.stage import collect_in_duckdb
from distillguard.heap import ANALYZE_MEMORY_LIMIT as ANALYZE_MEMORY_LIMIT  # the CLI reads it without the stages
from distillguard.heap import peak_rss_mib, release_freed_memory, size_bytes
from distillguard.ingest import ReadOptions, expand_paths, fingerprint, parser_pool, read_source
from distillguard.ingest.batches import Batch
from distillguard.linking import LinkConfig, link_accounts
from distillguard.schema import ROW_KEY
from distillguard.scoring import default_rules, load_rules, score
from distillguard.scoring.campaigns import build_outputs, campaign_members, campaign_summaries
from distillguard.scoring.replay import first_flagged
from distillguard.scoring.rules import RuleSet
from distillguard.scoring.score import ACCOUNT_COLUMNS, CLUSTER_COLUMNS
from distillguard.sqlconn import SqlConnection, registered
from distillguard.store import BatchResult, Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileSummary:
    """Counts for one file in this run. ``skipped``: the ledger says it was already fully ingested."""

    path: str
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    skipped: bool = False
    resumed_after: int = 0


@dataclass(frozen=True)
class IngestSummary:
    """Per-file counts and totals; ``read == stored + duplicates + quarantined`` holds for each."""

    files: tuple[FileSummary, ...] = field(default_factory=tuple)

    def _total(self, name: str) -> int:
        return sum(int(getattr(f, name)) for f in self.files)

    @property
    def read(self) -> int:
        return self._total("read")

    @property
    def stored(self) -> int:
        return self._total("stored")

    @property
    def duplicates(self) -> int:
        return self._total("duplicates")

    @property
    def quarantined(self) -> int:
        return self._total("quarantined")


INGEST_MEMORY_LIMIT = "256MB"
"""DuckDB's buffer pool during ingest: without a cap it caches written blocks up to 80% of RAM."""
INGEST_THREADS = 1
"""DuckDB threads during ingest. Parsing (worker processes, or the main thread) keeps the other cores busy;
more DuckDB threads only contend with it (measured: a third more CPU per committed row for no gain)."""

FINGERPRINT_MEMORY_SHARE = 1 / 3
"""Share of the memory limit DuckDB keeps while the fingerprint stage streams and clusters: there Python holds
the per-skeleton state and DuckDB only scans the exchanges (blocks it need not keep) and holds the key table
(spilled beyond the share). 4M exchanges: the stage's peak 2.37 -> 2.08 GiB at a 1536 MB limit."""
CLUSTERING_MEMORY = 64 * 2**20
"""DuckDB's memory limit while the fingerprint stage clusters the unique skeletons in Python: DuckDB runs nothing
then, so the blocks it caches are evicted and the key table spills beyond this, and the clustering's temporaries
take their place instead of adding to them (4M exchanges: the stage's peak 1.68 -> 1.48 GiB)."""
MIN_STAGE_MEMORY = 128 * 2**20
"""No stage's lowered limit goes below this (or below the whole limit, if that is smaller). At the default limit
the fingerprint stage's share is this floor: its stream on the 4M bench store 1,118 -> 959 MiB at its high
under 128 MB instead of 256, in the same time (the key table spills)."""
SPILL_SUFFIX = ".spill-"
"""The fingerprint stage's spill directory beside a store ``S``: ``S.spill-<random>`` (``_StoreEngine.fingerprint``)."""
BESIDE_MEMORY_SHARE = 1 / 3
"""DuckDB's limit, as a share of the whole, while work runs ``beside`` the stages (the campaigns' summary query
beside the replay's walk, whose Python arrays are resident at the same time)."""

FEATURE_PASS_ROWS = 500_000
"""Exchanges per pass of the features query at the default memory limit (in proportion to the limit set; one
pass without a limit): its shared relation is materialized, and beyond about this many exchanges it spilled
(measured at a 1536 MB limit, 4M exchanges: one pass 13.5 s, four 9.7 s; 1M: one 2.0-2.9 s, two 1.9-2.1 s).
Half a million at 384 MB: the million per 768 MB of the default before session 24."""

IngestOptions = ReadOptions
"""Options of ``ingest_paths``: size limit, batch size, privacy / keep-bodies (``ReadOptions``)."""

Progress = Callable[[str, int, int], None]
"""``progress(path, bytes_done_in_file, file_size)``, called after each committed batch."""


def ingest_paths(
    paths: Sequence[str | os.PathLike[str]],
    store_path: str | os.PathLike[str],
    options: IngestOptions | None = None,
    progress: Progress | None = None,
) -> IngestSummary:
    """Read every file named by ``paths`` into the store at ``store_path``; resumable and idempotent."""
    options = options or IngestOptions()
    files = expand_paths(list(paths))
    summaries = []
    store = Store.open(Path(store_path), memory_limit=INGEST_MEMORY_LIMIT, threads=INGEST_THREADS)
    with store, parser_pool(files, options) as pool:
        for path in files:
            summaries.append(_ingest_file(store, path, options, progress, pool))
    return IngestSummary(tuple(summaries))


def _ingest_file(
    store: Store, path: Path, options: IngestOptions, progress: Progress | None, pool: Executor | None
) -> FileSummary:
    key = str(path.resolve())
    fp = fingerprint(path)
    size = path.stat().st_size
    resume, complete = store.resume_point(key, fp)
    if complete:
        log.info("%s: already ingested, skipped", path)
        if progress:
            progress(str(path), size, size)
        return FileSummary(str(path), skipped=True)
    if resume.lines:
        log.info("%s: resuming after line %d", path, resume.lines)
    counts = [0, 0, 0, 0]

    def committed(batch: Batch, result: BatchResult) -> None:
        log.info("%s: committed lines %d-%d (%d read)", path, batch.first, batch.last, result.read)
        for i, n in enumerate((result.read, result.stored, result.duplicates, result.quarantined)):
            counts[i] += n
        if progress:
            progress(str(path), min(batch.end_offset, size) if not batch.complete else size, size)

    # One commit runs in a thread (DuckDB releases the GIL) while the next batch is parsed; batches still
    # commit one at a time and in file order, so the ledger and resume logic are unchanged.
    with ThreadPoolExecutor(1, thread_name_prefix="commit") as committer:
        inflight: tuple[Batch, Future[BatchResult]] | None = None
        for batch in read_source(path, options, resume, pool):
            if inflight is not None:
                committed(inflight[0], inflight[1].result())
            inflight = (batch, committer.submit(store.commit_batch, batch, key, fp))
        if inflight is not None:
            committed(inflight[0], inflight[1].result())
    read, stored, duplicates, quarantined = counts
    return FileSummary(str(path), read, stored, duplicates, quarantined, resumed_after=resume.lines)


# ---------------------------------------------------------------------------------------------- analyze


def duckdb_memory_limit(text: str | None) -> str | None:
    """The DuckDB memory limit ``text`` asks for: None for none ("none": DuckDB's own default, 80% of RAM),
    else the size as given; a ``ConfigError`` for anything that is not a size."""
    if text is None or text.strip().lower() == "none":
        return None
    if size_bytes(text) is None:
        raise ConfigError(f"memory limit {text!r} is not a size (e.g. 1536MB, 2GiB) or 'none'")
    return text


@dataclass(frozen=True)
class AnalyzeOptions:
    """Options of ``analyze``. ``rules``: a rule file (default: the packaged one). ``replay_every``:
    checkpoint spacing for first-flag times (None: every flagged account is dated at the end of the log).
    ``memory_limit``: DuckDB's memory limit (``ANALYZE_MEMORY_LIMIT`` by default, "none" for DuckDB's own).
    ``engine``: "duckdb" (embedded) or "spark" (``spark_master``: a Spark master URL; default: the active
    session, ``$SPARK_MASTER`` or ``local[*]``)."""

    rules: Path | None = None
    replay_every: timedelta | None = timedelta(hours=6)
    fingerprint: FingerprintConfig = field(default_factory=FingerprintConfig)
    link: LinkConfig = field(default_factory=LinkConfig)
    features: FeatureConfig = field(default_factory=FeatureConfig)
    memory_limit: str | None = ANALYZE_MEMORY_LIMIT
    engine: Literal["duckdb", "spark"] = "duckdb"
    spark_master: str | None = None

    def __post_init__(self) -> None:
        duckdb_memory_limit(self.memory_limit)  # a bad limit fails here, before any ingest


class Engine(Protocol):
    """Where the stages run: SQL through ``con``, the fingerprint stage its own way (it leaves the
    ``fp_exchanges`` table visible to ``con`` and returns the families table), tables kept by ``keep``.
    The SQL stages read the exchanges as ``exchanges`` and join them to ``fp_exchanges`` on ``key``."""

    @property
    def con(self) -> SqlConnection: ...

    @property
    def exchanges(self) -> str: ...

    @property
    def key(self) -> str: ...

    def feature_passes(self, n_exchanges: int) -> int: ...

    @property
    def source(self) -> str: ...

    def count(self) -> int: ...

    def fingerprint(self, config: FingerprintConfig) -> pa.Table: ...

    def keep(self, name: str, table: pa.Table) -> None: ...

    def beside(self, work: Callable[[SqlConnection], T]) -> Future[T]: ...


T = TypeVar("T")


class _StoreEngine:
    """The embedded engine: the DuckDB store."""

    def __init__(self, store: Store, source: str, memory_limit: str | None = None) -> None:
        self.store, self.source, self.memory_limit = store, source, memory_limit
        self._current: int | None = None  # the limit set by ``_limit`` now (None: the one opened with)
        self._beside: ThreadPoolExecutor | None = None  # ``beside``'s thread, made when first asked
        self.con: SqlConnection = store.connection
        # Every join of the exchanges to their fingerprints is on the row id, not the request_id string.
        self.exchanges, self.key = store.keyed_exchanges(), ROW_KEY

    @contextmanager
    def _limit(self, share: float, floor: int = MIN_STAGE_MEMORY) -> Iterator[None]:
        """DuckDB's memory limit lowered to ``share`` of the one the store was opened with (not below
        ``floor``, nor below the whole limit if that is smaller) for the block, then set back to what it was
        (blocks nest); unchanged when the store was opened without a limit."""
        total = size_bytes(self.memory_limit) if self.memory_limit else None
        if total is None:
            yield
            return
        con, before = self.store.connection, self._current or total
        self._current = _lowered(total, share, floor)
        con.execute(f"SET memory_limit='{self._current}B'")
        try:
            yield
        finally:
            self._current = before
            con.execute(f"SET memory_limit='{before}B'")

    def count(self) -> int:
        return self.store.count("exchanges")

    def feature_passes(self, n_exchanges: int) -> int:
        limit = size_bytes(self.memory_limit) if self.memory_limit else None
        default = size_bytes(ANALYZE_MEMORY_LIMIT)
        if not limit or not default:
            return 1
        return max(1, math.ceil(n_exchanges / max(FEATURE_PASS_ROWS * limit / default, 1.0)))

    def fingerprint(self, config: FingerprintConfig) -> pa.Table:
        """Key rows stream into a temporary ``fp_keys`` table of the store's connection (DuckDB holds it
        within its memory limit, spilling to its temporary directory; never written to the store file), the
        driver half runs on the unique skeletons, and ``fp_exchanges`` is one SQL statement in the store: no
        per-exchange array lives in Python. That statement runs under the stage's share of the limit too (it
        streams the key rows through small joins into the store): on the 4M bench store its peak RSS 1,501 ->
        1,190 MiB, 4.9 -> 4.8 s (``bench/analyze_memory.py --detail``).

        The per-skeleton state read back rarely (high signature halves, texts) goes to a spill directory beside
        the store, as DuckDB's own temporary files do, removed when the stage ends (``fingerprint.spill``). One
        left by a run that was killed is removed here: this process holds the store's lock, so no other run is
        using it."""
        store, path = self.store, Path(self.source)
        for left in path.parent.glob(f"{glob.escape(path.name)}{SPILL_SUFFIX}*"):
            shutil.rmtree(left, ignore_errors=True)
        with (
            self._limit(FINGERPRINT_MEMORY_SHARE),
            TemporaryDirectory(prefix=f"{path.name}{SPILL_SUFFIX}", dir=path.parent) as spill,
        ):
            batches = store.iter_exchange_batches(list(FP_COLUMNS), row_key=True)
            squeeze = partial(self._limit, 0.0, CLUSTERING_MEMORY)
            stage = collect_in_duckdb(
                store.connection, batches, config, keyed=True, while_clustering=squeeze, spill_dir=Path(spill)
            )
            with registered(self.con, stage.views):
                store.create_table_as("fp_exchanges", stage.exchanges_sql)
        store.drop_table("fp_keys")
        return stage.families

    def keep(self, name: str, table: pa.Table) -> None:
        self.store.write_table(name, table)

    def beside(self, work: Callable[[SqlConnection], T]) -> Future[T]:
        """``work`` run in a background thread on a connection of its own (a cursor of the store's, with the
        keyed exchanges view ``self.exchanges`` made on it; the views the caller registers are not in it), while
        the caller goes on: the replay's walk over its checkpoints is Python on one core, and a query beside it
        has the other (see ``_stages``). One piece of work at a time, in the order given. DuckDB's memory limit,
        which is the database's and not the connection's, is lowered to ``BESIDE_MEMORY_SHARE`` while the work
        runs: it is for work beside the caller's Python, not beside the caller's own queries (they would run
        under the lowered limit too)."""
        if self._beside is None:
            self._beside = ThreadPoolExecutor(1, thread_name_prefix="store-beside")

        def run() -> T:
            cursor = self.store.connection.cursor()
            total = size_bytes(self.memory_limit) if self.memory_limit else None
            try:
                if total:  # the setting is the database's: DuckDB gives back what it holds above it
                    cursor.execute(f"SET memory_limit='{_lowered(total, BESIDE_MEMORY_SHARE)}B'")
                self.store.keyed_exchanges(cursor)
                return work(cursor)
            finally:
                if total:
                    cursor.execute(f"SET memory_limit='{self._current or total}B'")
                cursor.close()

        return self._beside.submit(run)

    def close(self) -> None:
        """Wait for the work given to ``beside`` (before the store closes under it)."""
        if self._beside is not None:
            self._beside.shutdown(wait=True)


def _lowered(total: int, share: float, floor: int = MIN_STAGE_MEMORY) -> int:
    """``share`` of a memory limit of ``total`` bytes, not below ``floor`` nor below ``total`` if that is smaller."""
    return max(int(total * share), min(total, floor))


@contextmanager
def _store_engine(path: Path, memory_limit: str | None) -> Iterator[Engine]:
    # numba's start (~0.9 s of CPU, the first compiled call of a process) runs in the background from here
    # (after any ingest: its parser processes are not forked beside the loading thread), beside opening the
    # store and counting, instead of from the fingerprint stream's first batch.
    kernels.warm_up()
    limit = duckdb_memory_limit(memory_limit)
    with Store.open(path, memory_limit=limit) as store:
        engine = _StoreEngine(store, str(path), limit)
        try:
            yield engine
        finally:
            engine.close()


@dataclass(frozen=True)
class _Results:
    accounts: pa.Table
    campaigns: pa.Table
    families: pa.Table


@dataclass(frozen=True)
class AnalyzeSummary:
    store: str
    out_dir: str
    exchanges: int
    accounts: int
    flagged: int
    campaigns: int
    families: int
    seconds: dict[str, float]
    peak_rss_mib: float | None = None
    """The process's peak resident memory when ``analyze`` returned (ingest included when it ran here)."""

    def to_dict(self) -> dict[str, object]:
        return {
            "store": self.store,
            "out_dir": self.out_dir,
            "exchanges": self.exchanges,
            "accounts": self.accounts,
            "flagged_accounts": self.flagged,
            "campaigns": self.campaigns,
            "template_families": self.families,
            "seconds": self.seconds,
            "peak_rss_mib": self.peak_rss_mib,
        }


Step = Callable[[str], None]


def _is_store(path: Path) -> bool:
    return path.suffix == ".duckdb" and path.is_file()


def analyze(
    inputs: Sequence[str | os.PathLike[str]],
    out_dir: str | os.PathLike[str],
    options: AnalyzeOptions | None = None,
    *,
    store_path: str | os.PathLike[str] | None = None,
    step: Step | None = None,
) -> AnalyzeSummary:
    """Ingest (unless given a store), fingerprint, profile, link and score; write results to ``out_dir``.

    Writes ``accounts.parquet``, ``campaigns.parquet``, ``families.parquet`` and ``summary.json``, and
    keeps the same tables in the store for the report and the dashboard.
    """
    options = options or AnalyzeOptions()
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    say = step or (lambda _msg: None)
    seconds: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        seconds[name] = round(now - clock, 3)
        clock = now

    rules = (
        load_rules(options.rules, account_columns=ACCOUNT_COLUMNS, campaign_columns=CLUSTER_COLUMNS)
        if options.rules
        else default_rules()
    )
    paths = [Path(p) for p in inputs]
    engine: AbstractContextManager[Engine]
    if options.engine == "spark":
        from distillguard.spark.engine import spark_engine  # the optional extra, imported only when asked

        engine = spark_engine(inputs, out, options.spark_master)
    elif len(paths) == 1 and _is_store(paths[0]):
        engine = _store_engine(paths[0], options.memory_limit)
    else:
        store_file = Path(store_path) if store_path else out / "store.duckdb"
        say("ingest")
        ingest_paths(paths, store_file)
        lap("ingest")
        engine = _store_engine(store_file, options.memory_limit)
    with engine as eng:
        n_exchanges = eng.count()
        if n_exchanges == 0:
            raise InputError(f"{eng.source}: no exchanges to analyze")
        lap("input")
        res = _stages(eng, n_exchanges, options, rules, say, lap)
        pq.write_table(res.accounts, out / "accounts.parquet")
        pq.write_table(res.campaigns, out / "campaigns.parquet")
        pq.write_table(res.families, out / "families.parquet")
        lap("outputs")
    accounts, campaigns = res.accounts, res.campaigns
    summary = AnalyzeSummary(
        store=eng.source,
        out_dir=str(out),
        exchanges=n_exchanges,
        accounts=accounts.num_rows,
        flagged=int(pc.sum(accounts["flagged"]).as_py() or 0),
        campaigns=campaigns.num_rows,
        families=res.families.num_rows,
        seconds=seconds,
        peak_rss_mib=peak_rss_mib(),
    )
    doc = summary.to_dict() | {
        "engine": options.engine,
        "memory_limit": options.memory_limit if options.engine == "duckdb" else None,
        "rules": str(options.rules) if options.rules else "default",
        "replay_every_hours": options.replay_every.total_seconds() / 3600 if options.replay_every else None,
        "top_campaigns": [
            {k: r[k] for k in ("campaign_id", "accounts", "exchanges", "risk")}
            for r in campaigns.select(["campaign_id", "accounts", "exchanges", "risk"]).slice(0, 20).to_pylist()
        ],
    }
    (out / "summary.json").write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    return summary


def _stages(eng: Engine, n_exchanges: int, options: AnalyzeOptions, rules: RuleSet, say: Step, lap: Step) -> _Results:
    """The stage order, once for every engine: fingerprint, features, linking, scoring, replay, outputs.
    After each stage the allocators hand back the pages it freed (``release_freed_memory``), so that the next
    stage's peak is its own working set on top of what is still held, not on top of the last stage's."""

    def done(stage: str) -> None:
        release_freed_memory()
        lap(stage)

    con = eng.con
    say("fingerprint")
    fams = eng.fingerprint(options.fingerprint)
    eng.keep("fp_families", fams)
    done("fingerprint")
    say("features")
    ex = {"exchanges": eng.exchanges}
    on = ex | {"key": eng.key}  # the stages that join the exchanges to their fingerprints
    passes = eng.feature_passes(n_exchanges)
    releases = model_releases(con, config=options.features, **ex)
    feats = account_features(con, config=options.features, passes=passes, releases=releases, **on)
    done("features")
    say("linking")
    link = link_accounts(con, feats["account_id"], options.link, **on)
    eng.keep("link_incidence", link.incidence)
    done("linking")
    say("scoring")
    scores = score(con, feats, link.clusters, releases, rules, link.incidence, **on)
    done("scoring")
    # The campaigns' summary query needs only who is flagged, not when: it runs beside the replay's walk over
    # its checkpoints (Python, one core), on a connection of its own.
    members = campaign_members(scores)
    summaries: list[Future[pa.Table]] = []

    def summarize() -> None:
        release_freed_memory()  # what the replay's counts query left with the allocators
        work = partial(campaign_summaries, members=members, exchanges=eng.exchanges, key=eng.key)
        summaries.append(eng.beside(work))

    if options.replay_every is not None:
        say("replay")
        first = first_flagged(con, scores, rules, step=options.replay_every, then=summarize, **on)
    else:
        summarize()
        first = _flagged_at_end(con, scores.accounts, eng.exchanges)
    done("replay")
    accounts, campaigns = build_outputs(con, scores, first, summaries=summaries[0].result(), **on)
    eng.keep("accounts", accounts)
    eng.keep("campaigns", campaigns)
    eng.keep("account_features", scores.accounts.drop_columns(["evidence"]))
    eng.keep("clusters", scores.clusters)
    eng.keep("model_releases", releases)
    return _Results(accounts, campaigns, fams)


def _flagged_at_end(con: SqlConnection, accounts: pa.Table, exchanges: str) -> pa.Table:
    end = con.sql(f"SELECT max(ts) AS t FROM {exchanges}").to_arrow_table()["t"][0].as_py()
    flags = accounts["flagged"].to_pylist()
    return pa.table(
        {
            "account_id": accounts["account_id"],
            "first_flagged_at": pa.array([end if f else None for f in flags], pa.timestamp("us", tz="UTC")),
            "first_flag_rules": pa.nulls(len(flags), pa.list_(pa.string())),  # no replay: no checkpoint
        }
    )
