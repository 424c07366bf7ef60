"""The fingerprint stage: stream exchange batches into key rows, cluster unique skeletons into families once,
then let the engine's SQL attribute families to exchanges (``keys``)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from distillguard.errors import InputError
from distillguard.fingerprint import kernels
from distillguard.fingerprint.clustering import cluster
from distillguard.fingerprint.config import FingerprintConfig
from distillguard.fingerprint.cues import (
    AREAS,
    CUES,
    FLAGS,
    SBIT,
    STRUCT,
    Cue,
    area_scores,
    computer_tool,
    cue_bits_array,
    load_cues,
    pick_area,
)
from distillguard.fingerprint.keys import (
    COMBOS,
    KEYS,
    SKELETON_MAP,
    aggregates_sql,
    combos_sql,
    exchanges_sql,
    key_batch,
    representatives_sql,
)
from distillguard.fingerprint.registry import Prepared, Registry, SkeletonSet
from distillguard.fingerprint.spill import Spill
from distillguard.fingerprint.tables import EXCHANGE_FP, STRUCTURES, FamilyRows, family_table
from distillguard.heap import release_freed_memory
from distillguard.schema import ROW_KEY
from distillguard.sqlconn import SqlConnection, registered

if TYPE_CHECKING:
    import duckdb

log = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
REQUIRED = ("request_id", "account_id", "first_user_text")
COLUMNS = (
    *REQUIRED, "ts", "system_text", "n_assistant_turns", "n_tool_results", "tools_offered", "n_images",
    "thinking_requested", "thinking_budget", "reasoning_effort",
)  # fmt: skip
"""The exchange columns the stage reads (``structure_bits``, ``timestamps``, the registries): an engine reads
only these. Wide columns it does not read (the last user turn) cost reading and memory in every batch."""
TS_NULL = np.iinfo(np.int64).min
DEFAULT_CONFIG = FingerprintConfig()


@dataclass(frozen=True)
class Fingerprints:
    """Per-exchange fingerprints (``exchanges``) and one row per template family (``families``)."""

    exchanges: pa.Table
    families: pa.Table


KeySink = Callable[[pa.RecordBatch], None]
"""Receives the ``keys.KEYS`` rows of each batch (the engine appends them to its key table)."""


@dataclass(frozen=True)
class _Batch:
    """An exchange batch with its text columns prepared (``Registry.prepare``) and its structure bits."""

    batch: pa.RecordBatch
    system: Prepared | None
    user: Prepared
    bits: I64


class Collector:
    """The streaming half: each batch becomes key rows (to ``sink``); each new skeleton is sketched once."""

    def __init__(
        self,
        config: FingerprintConfig,
        sink: KeySink,
        cues: tuple[Cue, ...] | None = None,
        spill_dir: Path | None = None,
    ) -> None:
        """``spill_dir``: a directory for the per-skeleton state read back rarely (``spill.Spill``; None: kept
        in memory); it must outlive the skeleton sets ``finish`` returns."""
        self.cues = cues if cues is not None else load_cues()
        self.sink = sink
        spills = {r: Spill(spill_dir, r, config.num_perm) if spill_dir else None for r in ("system", "user")}
        self.system = Registry("system", config, spills["system"])
        self.user = Registry("user", config, spills["user"])
        self.tool_is_computer: dict[str, bool] = {}
        self.rows = 0

    def add(self, batch: pa.RecordBatch) -> None:
        self._add(self._prepare(batch))

    def add_all(self, batches: Iterable[pa.RecordBatch | pa.Table]) -> None:
        """``add`` each batch; the next batch is read and masked in a second thread while this one is
        hashed and sketched (masking and reading release the GIL; sketching mostly holds it)."""
        flat = (b for batch in batches for b in (batch.to_batches() if isinstance(batch, pa.Table) else (batch,)))
        with ThreadPoolExecutor(1) as pool:
            ahead = pool.submit(self._next_prepared, flat)
            while (prep := ahead.result()) is not None:
                ahead = pool.submit(self._next_prepared, flat)
                self._add(prep)

    def _next_prepared(self, batches: Iterator[pa.RecordBatch]) -> _Batch | None:
        """The next non-empty batch of ``batches``, prepared; None at the end."""
        for batch in batches:
            prep = self._prepare(batch)
            if prep is not None:
                return prep
        return None

    def _prepare(self, batch: pa.RecordBatch) -> _Batch | None:
        """What does not touch the registries' state (safe beside ``_add`` of the previous batch)."""
        n = batch.num_rows
        missing = [c for c in REQUIRED if c not in batch.schema.names]
        if missing:
            raise InputError(f"fingerprint: exchange batch lacks column(s) {', '.join(missing)}")
        if n == 0:
            return None
        names = batch.schema.names
        return _Batch(
            batch,
            self.system.prepare(batch.column("system_text")) if "system_text" in names else None,
            self.user.prepare(batch.column("first_user_text")),
            structure_bits(batch, self.cues, self.tool_is_computer),
        )

    def _add(self, prep: _Batch | None) -> None:
        if prep is None:
            return
        batch, n = prep.batch, prep.batch.num_rows
        sys = self.system.resolve(prep.system) if prep.system is not None else pa.nulls(n, pa.int64())
        self.sink(
            key_batch(
                batch.column("request_id"),
                batch.column("account_id"),
                timestamps(batch),
                sys,
                self.user.resolve(prep.user),
                prep.bits,
                self.rows,
                int(TS_NULL),
                batch.column(ROW_KEY) if ROW_KEY in batch.schema.names else None,
            )
        )
        self.rows += n

    def finish(self) -> tuple[SkeletonSet, SkeletonSet]:
        log.info(
            "fingerprint: %d exchanges, %d system and %d user skeletons", self.rows, len(self.system), len(self.user)
        )
        return self.system.finish(), self.user.finish()


def structure_bits(batch: pa.RecordBatch, cues: tuple[Cue, ...], computer: dict[str, bool]) -> I64:
    """``cues.SBIT`` bits of each exchange: tools, computer-use tools, tool results, images, turns, thinking.

    ``computer`` caches whether a tool name is a computer-use tool (few distinct names, many uses).
    """
    n = batch.num_rows
    bits = np.zeros(n, dtype=np.int64)
    names = batch.schema.names
    if "tools_offered" in names:
        tools = batch.column("tools_offered")
        bits |= np.where(_num(pc.list_value_length(tools)) > 0, SBIT["tools"], 0)
        flat = pc.list_flatten(tools)
        if len(flat):
            parents = pc.list_parent_indices(tools).to_numpy()
            encoded = pc.dictionary_encode(flat.cast(pa.string()))
            names_list = encoded.dictionary.to_pylist()
            per_name = np.array([_is_computer(t, cues, computer) for t in names_list] + [False], dtype=bool)
            codes = pc.fill_null(encoded.indices, len(names_list)).to_numpy(zero_copy_only=False)
            bits[np.unique(parents[per_name[codes]])] |= SBIT["computer_tools"]
    for col, bit in (
        ("n_tool_results", "tool_results"),
        ("n_images", "images"),
        ("n_assistant_turns", "multi_turn"),
    ):
        if col in names:
            bits |= np.where(_num(batch.column(col)) > 0, SBIT[bit], 0)
    bits |= np.where(_thinking(batch), SBIT["thinking"], 0)
    return bits


def _is_computer(tool: str | None, cues: tuple[Cue, ...], cache: dict[str, bool]) -> bool:
    if not tool:
        return False
    hit = cache.get(tool)
    if hit is None:
        hit = cache[tool] = computer_tool(tool, cues)
    return hit


def _num(col: pa.Array) -> npt.NDArray[np.float64]:
    return np.asarray(pc.fill_null(col.cast(pa.float64()), 0.0).to_numpy(zero_copy_only=False))


def _thinking(batch: pa.RecordBatch) -> npt.NDArray[np.bool_]:
    """Extended thinking asked for: the flag, a budget, or a reasoning effort above low."""
    names = batch.schema.names
    out = np.zeros(batch.num_rows, dtype=bool)
    if "thinking_requested" in names:
        out |= np.asarray(pc.fill_null(batch.column("thinking_requested"), False).to_numpy(zero_copy_only=False))
    if "thinking_budget" in names:
        out |= _num(batch.column("thinking_budget")) > 0
    if "reasoning_effort" in names:
        effort = pc.utf8_lower(pc.fill_null(batch.column("reasoning_effort").cast(pa.string()), "none"))
        low = pc.is_in(effort, value_set=pa.array(["", "none", "minimal", "low"]))
        out |= ~np.asarray(low.to_numpy(zero_copy_only=False))
    return out


def timestamps(batch: pa.RecordBatch) -> I64:
    """``ts`` as microseconds since the epoch, ``TS_NULL`` where absent."""
    if "ts" not in batch.schema.names:
        return np.full(batch.num_rows, TS_NULL, dtype=np.int64)
    ts = batch.column("ts").cast(pa.timestamp("us", tz="UTC")).cast(pa.int64())
    out: I64 = np.asarray(pc.fill_null(ts, TS_NULL).to_numpy(zero_copy_only=False), dtype=np.int64)
    return out


BLANK_USER = int(np.uint64(xxhash.xxh64_intdigest(b"", seed=1)).view(np.int64))
"""The user family of exchanges with no (or a blank) first user turn."""


def mix(a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64]) -> I64:
    """splitmix64 of a pair of 64-bit ids: the id of the (system family, user family) combination."""
    with np.errstate(over="ignore"):
        z = a * np.uint64(0x9E3779B97F4A7C15) ^ b
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return z.view(np.int64)


def classify(
    rep_fam: I64,
    rep_usr: I64,
    first_sys: I64,
    system: SkeletonSet,
    user: SkeletonSet,
    cues: tuple[Cue, ...],
    n_fam: int,
) -> dict[str, F64]:
    """Share of each family's representative prompts that carry each cue.

    Representatives (``rep_fam``, ``rep_usr``: family index and user skeleton id, -1 for none) are the
    family's few distinct user skeletons with the smallest hashes, each read together with the system
    prompt of the family's earliest exchange (``first_sys``): a template family shares its instruction,
    so a few members speak for all, the cost is per family, not per text, and the choice depends on the
    data, not on its arrival order.
    """
    bits = np.zeros(len(rep_fam), dtype=np.int64)
    step = 1 << 16  # bounded temporaries
    for lo in range(0, len(rep_fam), step):
        f, u = rep_fam[lo : lo + step], rep_usr[lo : lo + step]
        s_txt = pc.fill_null(system.text_array(first_sys[f]), "")
        u_txt = pc.fill_null(user.text_array(u), "")
        bits[lo : lo + step] = cue_bits_array(pc.binary_join_element_wise(s_txt, u_txt, "\n"), cues)
    n_rep = np.maximum(np.bincount(rep_fam, minlength=n_fam), 1).astype(np.float64)
    return {c: np.bincount(rep_fam, weights=(bits >> i) & 1, minlength=n_fam) / n_rep for i, c in enumerate(CUES)}


def own_cues(skeletons: SkeletonSet, which: npt.NDArray[np.bool_], cues: tuple[Cue, ...]) -> pa.Array:
    """Cue bits of the skeletons ``which`` selects, read from their own text; null for the others.

    A family's flags are read on a few representatives and reach all its exchanges: right for a family of
    one template, whose members share their instruction. A family the template view merged (``structure``
    wrapper) is held together by a long recurring part, which can be shared *content* rather than a shared
    instruction: the same public benchmark question sent by a harvester inside an instruction to put its
    reasoning in tags and by an evaluation harness inside a plain answer format. There an instruction is
    attributed to an exchange only if its own text carries it too (``keys.exchanges_sql``).

    Only the bits of ``FLAGS`` (the first cues, in bit order) are read there, so only those cues are scanned:
    the area cues after them decide a family's capability from its representatives alone. (1M bench store:
    133,187 wrapped user skeletons, 0.70 -> 0.30 s; 4M: 430,580, 2.15 -> 0.93 s.)"""
    ids = np.flatnonzero(which)
    own = np.zeros(len(skeletons), dtype=np.int64)
    flag_cues = cues[: len(FLAGS)]
    step = 1 << 16  # bounded temporaries
    for lo in range(0, len(ids), step):
        part = ids[lo : lo + step]
        own[part] = cue_bits_array(pc.fill_null(skeletons.text_array(part), ""), flag_cues)
    return pa.array(own, mask=~which)


def _skeleton_map(skeletons: SkeletonSet, family: I64, own: pa.Array) -> pa.Table:
    n = len(skeletons)
    return pa.Table.from_arrays(
        [pa.array(skeletons.hashes().view(np.int64)), pa.array(family), pa.array(np.arange(n, dtype=np.int64)), own],
        schema=SKELETON_MAP,
    )


def _ints(col: pa.ChunkedArray | pa.Array, null: int) -> I64:
    return np.asarray(pc.fill_null(col, null).to_numpy(zero_copy_only=False), dtype=np.int64)


@dataclass(frozen=True)
class FamilyStage:
    """What the driver decided: the families table, the small views the exchanges SQL joins, and that SQL."""

    families: pa.Table
    views: dict[str, pa.Table]
    exchanges_sql: str


def families(
    con: SqlConnection,
    keys: str,
    system: SkeletonSet,
    user: SkeletonSet,
    config: FingerprintConfig,
    *,
    cues: tuple[Cue, ...] | None = None,
    ordered: bool = False,
    keyed: bool = False,
    while_clustering: Callable[[], AbstractContextManager[object]] = nullcontext,
) -> FamilyStage:
    """Cluster the unique skeletons of each role, then (SQL over the key table ``keys``) combine, count,
    classify and describe the families: the driver-side half of the stage, the same for every engine.
    ``ordered``, ``keyed``: see ``keys.exchanges_sql``. ``while_clustering``: a context the Python-only part
    (clustering, cue bits of the skeletons) runs in; the engine may hand its memory to Python there."""
    cues = cues if cues is not None else load_cues()
    with while_clustering():
        sys_cl = cluster(system, config, template_view=False)
        usr_cl = cluster(user, config, template_view=config.template_view, release_window=True)
        wrapped = usr_cl.structure == STRUCTURES.index("wrapper")
        views = {
            # A system prompt's own bits are read only beside a wrapped user turn: computed for all (few) of them.
            "fp_sys": _skeleton_map(system, sys_cl.family, own_cues(system, np.ones(len(system), dtype=bool), cues)),
            "fp_usr": _skeleton_map(user, usr_cl.family, own_cues(user, wrapped, cues)),
        }
    with registered(con, views):
        combos = con.sql(combos_sql(keys, BLANK_USER)).to_arrow_table()
    sys_key = _ints(combos["sys_fam"], 0)
    usr_key = _ints(combos["usr_fam"], BLANK_USER)
    views["fp_fam"] = pa.Table.from_arrays(
        [pa.array(sys_key), pa.array(usr_key), pa.array(mix(sys_key.view(np.uint64), usr_key.view(np.uint64)))],
        schema=COMBOS,
    )
    with registered(con, views):
        agg = con.sql(aggregates_sql(keys, BLANK_USER)).to_arrow_table().sort_by("family_id")
        reps = con.sql(representatives_sql(keys, BLANK_USER, config.representatives)).to_arrow_table()
    fams = _ints(agg["family_id"], 0)
    n_fam = len(fams)
    n_ex = _ints(agg["n_ex"], 0)
    first_sys, first_usr = _ints(agg["sys_rank"], -1), _ints(agg["usr_rank"], -1)
    rep_fam = np.searchsorted(fams, _ints(reps["family_id"], 0)).astype(np.int64)
    cue_share = classify(rep_fam, _ints(reps["usr_rank"], -1), first_sys, system, user, cues, n_fam)
    st_share = {s: _ints(agg[f"n_{s}"], 0) / np.maximum(n_ex, 1).astype(np.float64) for s in STRUCT}
    scores = area_scores(cue_share, st_share)
    area = pick_area(scores, config.capability_min_score)
    capability = pa.DictionaryArray.from_arrays(pa.array(area.astype(np.int32)), pa.array(AREAS)).cast(pa.string())
    views["fp_class"] = pa.table(
        {"family_id": pa.array(fams), "capability": capability}
        | {f: pa.array(cue_share[f] >= config.flag_share) for f in FLAGS}
    )
    rows = FamilyRows(
        fams=fams,
        n_ex=n_ex,
        n_acc=_ints(agg["n_acc"], 0),
        lo=agg["lo"],
        hi=agg["hi"],
        first_sys=first_sys,
        first_usr=first_usr,
        sys_fam=agg["sys_fam"],
        usr_fam=_ints(agg["usr_fam"], BLANK_USER),
        usr_structure=usr_cl.structure,
        system=system,
        user=user,
        cue_share=cue_share,
        st_share=st_share,
        scores=scores,
        area=area,
    )
    table = family_table(rows, config)
    return FamilyStage(families=table, views=views, exchanges_sql=exchanges_sql(keys, BLANK_USER, ordered, keyed))


def collect_in_duckdb(
    con: duckdb.DuckDBPyConnection,
    batches: Iterable[pa.RecordBatch | pa.Table],
    config: FingerprintConfig,
    *,
    ordered: bool = False,
    keyed: bool = False,
    while_clustering: Callable[[], AbstractContextManager[object]] = nullcontext,
    spill_dir: Path | None = None,
) -> FamilyStage:
    """The stage on a DuckDB connection: key rows into its temporary ``fp_keys`` table (replaced; transient,
    so never written to a store file: 100k 3.9 -> 3.4 s, neutral at 4M), then ``families``. The caller
    materializes ``exchanges_sql`` with the views registered, then drops ``fp_keys``. ``keyed``: the batches
    carry ``schema.ROW_KEY``, and ``exchanges_sql`` passes it on. ``while_clustering``: see ``families``.
    ``spill_dir``: see ``Collector`` (free to remove once this returns)."""
    warming = kernels.warm_up()  # clustering's compiled kernels load while the batches stream
    with registered(con, {"keys_schema": KEYS.empty_table()}):
        con.execute("CREATE OR REPLACE TEMP TABLE fp_keys AS SELECT * FROM keys_schema")

    def insert(batch: pa.RecordBatch) -> None:
        with registered(con, {"keys_batch": batch}):
            con.execute("INSERT INTO fp_keys SELECT * FROM keys_batch")

    # Inserts run in their own thread, in order (DuckDB releases the GIL while it works), while the
    # collector hashes and sketches the next batch; at most a few batches of key rows wait in the queue.
    with ThreadPoolExecutor(1) as writer:
        pending: list[Future[None]] = []

        def sink(batch: pa.RecordBatch) -> None:
            pending.append(writer.submit(insert, batch))
            while len(pending) > 2 or (pending and pending[0].done()):
                pending.pop(0).result()  # re-raises an insert's error here

        col = Collector(config, sink, spill_dir=spill_dir)
        col.add_all(batches)
        for done in pending:
            done.result()
    system, user = col.finish()
    release_freed_memory()  # the stream's batch temporaries, before the clustering builds its own
    warming.result()
    return families(
        con,
        "fp_keys",
        system,
        user,
        config,
        cues=col.cues,
        ordered=ordered,
        keyed=keyed,
        while_clustering=while_clustering,
    )


def fingerprint(
    batches: Iterable[pa.RecordBatch | pa.Table], config: FingerprintConfig = DEFAULT_CONFIG
) -> Fingerprints:
    """Template families, capability and harvesting flags of every exchange (see package docstring), in
    memory: the key table lives in a private in-memory DuckDB; ``exchanges`` follows the input order."""
    import duckdb  # the engines' own paths keep the key table where their data is (``pipeline``)

    con = duckdb.connect()
    try:
        stage = collect_in_duckdb(con, batches, config, ordered=True)
        with registered(con, stage.views):
            ex = con.sql(stage.exchanges_sql).to_arrow_table()
        exchanges = pa.Table.from_arrays([ex.column(i) for i in range(ex.num_columns)], schema=EXCHANGE_FP)
        return Fingerprints(exchanges=exchanges, families=stage.families)
    finally:
        con.close()
