"""The fingerprint stage: stream exchange batches, then cluster unique skeletons into families once."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from distillguard.errors import InputError
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
from distillguard.fingerprint.registry import Registry, SkeletonSet
from distillguard.fingerprint.tables import EXCHANGE_FP, FamilyInputs, family_table

log = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]
REQUIRED = ("request_id", "account_id", "first_user_text")
TS_NULL = np.iinfo(np.int64).min
DEFAULT_CONFIG = FingerprintConfig()


@dataclass(frozen=True)
class Fingerprints:
    """Per-exchange fingerprints (``exchanges``) and one row per template family (``families``)."""

    exchanges: pa.Table
    families: pa.Table


@dataclass(frozen=True)
class ExchangeKeys:
    """Compact per-exchange columns (aligned): what the family stage needs of every exchange.

    ``sys``/``usr``: skeleton ids into the role's ``SkeletonSet`` (-1: none); ``account``: any dense
    code per account; ``ts``: microseconds (``TS_NULL`` when absent); ``structure``: ``cues.SBIT`` bits.
    """

    request_id: pa.ChunkedArray
    sys: I64
    usr: I64
    account: I64
    ts: I64
    structure: I64


class _Collector:
    """Per-exchange state kept as compact arrays while the batches stream past."""

    def __init__(self, config: FingerprintConfig, cues: tuple[Cue, ...]) -> None:
        self.cues = cues
        self.system = Registry("system", config)
        self.user = Registry("user", config)
        self.accounts: dict[str, int] = {}
        self.tool_is_computer: dict[str, bool] = {}
        self.request_ids: list[pa.Array] = []
        self.parts: dict[str, list[npt.NDArray[np.int64]]] = {k: [] for k in ("sys", "usr", "acct", "ts", "st")}

    def add(self, batch: pa.RecordBatch) -> None:
        n = batch.num_rows
        missing = [c for c in REQUIRED if c not in batch.schema.names]
        if missing:
            raise InputError(f"fingerprint: exchange batch lacks column(s) {', '.join(missing)}")
        if n == 0:
            return
        rid = batch.column("request_id")
        self.request_ids.append(rid if rid.type == pa.string() else rid.cast(pa.string()))
        names = batch.schema.names
        sys_ids = self.system.ids(batch.column("system_text")) if "system_text" in names else np.full(n, -1)
        self.parts["sys"].append(sys_ids.astype(np.int64))
        self.parts["usr"].append(self.user.ids(batch.column("first_user_text")).astype(np.int64))
        self.parts["acct"].append(self._account_ids(batch.column("account_id")))
        self.parts["ts"].append(timestamps(batch))
        self.parts["st"].append(structure_bits(batch, self.cues, self.tool_is_computer))

    def _account_ids(self, column: pa.Array) -> I64:
        # A null account id counts as the account "" (one unknown account, not a wrong real one).
        encoded = pc.dictionary_encode(pc.fill_null(column.cast(pa.string()), ""))
        values = encoded.dictionary.to_pylist()
        per_value = np.array([self.accounts.setdefault(v, len(self.accounts)) for v in values], dtype=np.int64)
        out: I64 = per_value[encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64)]
        return out

    def column(self, key: str) -> I64:
        chunks = self.parts[key]
        return np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.int64)


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


def classify(
    inv: I64,
    first: I64,
    keys: ExchangeKeys,
    system: SkeletonSet,
    user: SkeletonSet,
    cues: tuple[Cue, ...],
    config: FingerprintConfig,
) -> dict[str, F64]:
    """Share of each family's representative prompts that carry each cue.

    Representatives are the family's ``config.representatives`` distinct user skeletons with the smallest
    hashes (skeleton ids follow hash order), each read together with the system prompt of the family's
    earliest exchange: a template family shares its instruction, so a few members speak for all, the
    cost is per family, not per text, and the choice depends on the data, not on its arrival order.
    """
    sys_ids, usr_ids = keys.sys, keys.usr
    n_fam = len(first)
    span = len(user) + 1
    key = np.unique(inv * span + (usr_ids + 1))
    fam, uid = key // span, key % span - 1
    pos = np.arange(len(key)) - np.searchsorted(fam, fam)
    keep = pos < config.representatives
    fam, uid = fam[keep], uid[keep]
    bits = np.zeros(len(fam), dtype=np.int64)
    step = 1 << 16  # bounded temporaries
    for lo in range(0, len(fam), step):
        f, u = fam[lo : lo + step], uid[lo : lo + step]
        s_txt = pc.fill_null(system.text_array(sys_ids[first][f]), "")
        u_txt = pc.fill_null(user.text_array(u), "")
        bits[lo : lo + step] = cue_bits_array(pc.binary_join_element_wise(s_txt, u_txt, "\n"), cues)
    n_rep = np.bincount(fam, minlength=n_fam).astype(np.float64)
    return {c: np.bincount(fam, weights=(bits >> i) & 1, minlength=n_fam) / n_rep for i, c in enumerate(CUES)}


def _mix(a: npt.NDArray[np.uint64], b: npt.NDArray[np.uint64]) -> I64:
    """splitmix64 of a pair of 64-bit ids: the id of the (system family, user family) combination."""
    with np.errstate(over="ignore"):
        z = a * np.uint64(0x9E3779B97F4A7C15) ^ b
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z ^= z >> np.uint64(31)
    return z.view(np.int64)


def earliest(inv: I64, n_families: int, keys: ExchangeKeys) -> I64:
    """Index of each family's earliest exchange: smallest (ts, user skeleton id, system skeleton id).

    Exchanges tied on all three are alike in everything read from the chosen one, so the choice (and
    the families table) depends on the data only, whichever engine produced it in whichever order.
    Only the exchanges at their family's earliest time are sorted (few, unless timestamps tie a lot).
    """
    if len(inv) == 0:
        return np.zeros(0, dtype=np.int64)
    lo = np.full(n_families, np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(lo, inv, keys.ts)
    cand = np.flatnonzero(keys.ts == lo[inv])
    order = cand[np.lexsort((keys.sys[cand], keys.usr[cand], inv[cand]))]
    out: I64 = order[np.searchsorted(inv[order], np.arange(n_families))]
    return out


def _remap(ids: I64, remap: I64) -> I64:
    """Registry ids (arrival order) to ``SkeletonSet`` ids (hash order), in place; -1 stays -1."""
    valid = ids >= 0
    ids[valid] = remap[ids[valid]]
    return ids


def fingerprint(batches: Iterable[pa.RecordBatch], config: FingerprintConfig = DEFAULT_CONFIG) -> Fingerprints:
    """Template families, capability and harvesting flags of every exchange (see package docstring)."""
    cues = load_cues()
    col = _Collector(config, cues)
    for batch in batches:
        for b in batch.to_batches() if isinstance(batch, pa.Table) else (batch,):
            col.add(b)
    log.info("fingerprint: %d system and %d user skeletons", len(col.system), len(col.user))
    system, sys_remap = col.system.finish()
    user, usr_remap = col.user.finish()
    keys = ExchangeKeys(
        request_id=pa.chunked_array(col.request_ids, type=pa.string()),
        sys=_remap(col.column("sys"), sys_remap),
        usr=_remap(col.column("usr"), usr_remap),
        account=col.column("acct"),
        ts=col.column("ts"),
        structure=col.column("st"),
    )
    return families_from(system, user, keys, cues, config)


def families_from(
    system: SkeletonSet, user: SkeletonSet, keys: ExchangeKeys, cues: tuple[Cue, ...], config: FingerprintConfig
) -> Fingerprints:
    """Cluster the unique skeletons of each role, then classify and describe the families (the driver-side
    half of the stage, shared by every engine)."""
    sys_cl = cluster(system, config, template_view=False)
    usr_cl = cluster(user, config, template_view=config.template_view)
    sys_ids, usr_ids = keys.sys, keys.usr
    has_sys = sys_ids >= 0
    sys_fam = np.where(has_sys, sys_cl.family[np.where(has_sys, sys_ids, 0)] if len(system) else 0, 0)
    blank_user = np.int64(np.uint64(xxhash.xxh64_intdigest(b"", seed=1)).view(np.int64))
    has_usr = usr_ids >= 0
    usr_fam = np.where(has_usr, usr_cl.family[np.where(has_usr, usr_ids, 0)] if len(user) else 0, blank_user)
    family = _mix(sys_fam.astype(np.int64).view(np.uint64), usr_fam.astype(np.int64).view(np.uint64))

    fams, inv = np.unique(family, return_inverse=True)
    inv = inv.astype(np.int64, copy=False)
    first = earliest(inv, len(fams), keys)
    n_ex = np.bincount(inv).astype(np.float64)
    cue_share = classify(inv, first, keys, system, user, cues, config)
    struct_bits = keys.structure
    st_share = {s: np.bincount(inv, weights=(struct_bits >> i) & 1) / n_ex for i, s in enumerate(STRUCT)}
    scores = area_scores(cue_share, st_share)
    area = pick_area(scores, config.capability_min_score)

    flags = {f: cue_share[f][inv] >= config.flag_share for f in FLAGS}
    capability = pa.DictionaryArray.from_arrays(pa.array(area[inv].astype(np.int32)), pa.array(AREAS))
    exchanges = pa.Table.from_arrays(
        [
            keys.request_id,
            pa.array(family),
            pa.array(sys_fam, mask=~has_sys),
            pa.array(usr_fam),
            capability.cast(pa.string()),
            *(pa.array(flags[f]) for f in FLAGS),
        ],
        schema=EXCHANGE_FP,
    )
    inputs = FamilyInputs(
        fams=fams,
        first=first,
        inv=inv,
        account=keys.account,
        ts=keys.ts,
        ts_null=int(TS_NULL),
        sys_ids=sys_ids,
        usr_ids=usr_ids,
        sys_fam=sys_fam,
        usr_fam=usr_fam,
        has_sys=has_sys,
        usr_structure=usr_cl.structure,
        system=system,
        user=user,
        cue_share=cue_share,
        st_share=st_share,
        scores=scores,
        area=area,
    )
    families = family_table(inputs, config)
    return Fingerprints(exchanges=exchanges, families=families)
