"""The per-exchange key table and the SQL that turns it into families: one definition for every engine.

The streaming half of the stage reduces each exchange to a key row (``KEYS``): its request and account,
its time, the hashes of its system and first-user skeletons and its structure (tools, tool results,
images, thinking, turns). Those rows go to the engine (a DuckDB table for the embedded engine, a
persisted DataFrame on Spark), never into Python memory as a whole: what the driver holds is one entry
per unique skeleton and one per family. The SQL below reads the key table joined with three small
tables the driver registers:

- ``fp_sys`` / ``fp_usr`` (``hash``, ``fam``, ``pos``, ``own``): the family of every unique skeleton, its
  position in hash order (the id the ``SkeletonSet`` of its role uses) and, where its own text decides its
  exchanges' flags (``stage.own_cues``), the cue bits of that text (null elsewhere);
- ``fp_fam`` (``sys_key``, ``usr_fam``, ``family_id``): the id of each (system family, user family)
  combination, computed in Python (``stage.mix``) because no hash function is the same in every engine;
- ``fp_class`` (``family_id``, ``capability`` and the flags): what classification decided per family.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from distillguard.fingerprint.cues import FLAGS, SBIT, STRUCT
from distillguard.schema import ROW_KEY

KEYS = pa.schema(
    [
        pa.field("request_id", pa.string()),
        pa.field("account_id", pa.string()),
        pa.field("ts", pa.int64()),  # microseconds since the epoch, null when absent
        pa.field("sys", pa.int64()),  # skeleton hash (uint64 bits), null: no system prompt
        pa.field("usr", pa.int64()),  # skeleton hash, null: no (or a blank) first user turn
        # position in the input (only the in-memory path orders by it), or the engine's row key where the
        # batches carry one (``schema.ROW_KEY``): then ``exchanges_sql(keyed=True)`` passes it on
        pa.field("ord", pa.int64()),
        *(pa.field(f"st_{s}", pa.bool_()) for s in STRUCT),
    ]
)
"""One row per exchange: what the families need of it."""

SKELETON_MAP = pa.schema([pa.field(name, pa.int64()) for name in ("hash", "fam", "pos", "own")])
COMBOS = pa.schema(
    [pa.field("sys_key", pa.int64()), pa.field("usr_fam", pa.int64()), pa.field("family_id", pa.int64())]
)


def key_batch(
    request_id: pa.Array,
    account_id: pa.Array,
    ts: np.ndarray,
    sys: pa.Array,
    usr: pa.Array,
    structure: np.ndarray,
    offset: int,
    ts_null: int,
    row_key: pa.Array | None = None,
) -> pa.RecordBatch:
    """The ``KEYS`` rows of one batch (``structure``: ``cues.SBIT`` bits per exchange); ``ord`` is ``row_key``
    when given, else the positions from ``offset`` on."""
    n = len(request_id)
    ord_ = pa.array(np.arange(offset, offset + n, dtype=np.int64)) if row_key is None else row_key.cast(pa.int64())
    return pa.RecordBatch.from_arrays(
        [
            request_id if request_id.type == pa.string() else request_id.cast(pa.string()),
            account_id if account_id.type == pa.string() else account_id.cast(pa.string()),
            pa.array(ts, mask=ts == ts_null),
            sys,
            usr,
            ord_,
            *(pa.array((structure & SBIT[s]) != 0) for s in STRUCT),
        ],
        schema=KEYS,
    )


def _fx(keys: str, blank_user: int) -> str:
    """Each exchange with its skeletons' families and ranks."""
    struct = ", ".join(f"k.st_{s}" for s in STRUCT)
    return f"""
    SELECT k.request_id, coalesce(k.account_id, '') AS account_id, k.ts, k.ord, {struct},
           s.fam AS sys_fam, s.pos AS sys_rank, coalesce(u.fam, {blank_user}) AS usr_fam, u.pos AS usr_rank,
           s.own AS sys_own, u.own AS usr_own
    FROM {keys} k LEFT JOIN fp_sys s ON k.sys = s.hash LEFT JOIN fp_usr u ON k.usr = u.hash"""


def combos_sql(keys: str, blank_user: int) -> str:
    """The distinct (system family, user family) combinations."""
    return f"SELECT DISTINCT sys_fam, usr_fam FROM ({_fx(keys, blank_user)}) x"


def _fy(keys: str, blank_user: int) -> str:
    """Each exchange with its family id."""
    return f"""
    SELECT x.*, f.family_id FROM ({_fx(keys, blank_user)}) x
    JOIN fp_fam f ON coalesce(x.sys_fam, 0) = f.sys_key AND x.usr_fam = f.usr_fam"""


def aggregates_sql(keys: str, blank_user: int) -> str:
    """Per family: volume, accounts, first/last seen, structural counts, and its earliest exchange's
    skeletons (earliest: smallest time, then user skeleton rank, then system skeleton rank; a missing
    time or skeleton sorts first), so the choice depends on the data, not on its order."""
    sums = ", ".join(f"CAST(sum(CASE WHEN st_{s} THEN 1 ELSE 0 END) AS BIGINT) AS n_{s}" for s in STRUCT)
    # The earliest exchange by one aggregate, arg_min over (time, user rank, system rank), a missing value
    # first (a time: ``has_t`` false sorts first; ranks are positions, >= 0), instead of a window numbering
    # each family's exchanges in that order: no sort of every exchange (4M exchanges: 1.6 s against 2.5 s
    # unbounded, less held). Rows tied on all three keys have the same skeletons, so pick the same.
    return f"""
    WITH y AS ({_fy(keys, blank_user)}),
    agg AS (
      SELECT family_id, count(*) AS n_ex, count(DISTINCT account_id) AS n_acc, min(ts) AS lo, max(ts) AS hi, {sums},
             arg_min(struct_pack(sys_fam := sys_fam, usr_fam := usr_fam, sys_rank := sys_rank, usr_rank := usr_rank),
                     struct_pack(has_t := ts IS NOT NULL, t := coalesce(ts, 0), u := coalesce(usr_rank, -1),
                                 s := coalesce(sys_rank, -1))) AS earliest
      FROM y GROUP BY family_id
    )
    SELECT family_id, n_ex, n_acc, lo, hi, {", ".join(f"n_{s}" for s in STRUCT)},
           earliest.sys_fam AS sys_fam, earliest.usr_fam AS usr_fam, earliest.sys_rank AS sys_rank,
           earliest.usr_rank AS usr_rank
    FROM agg"""


def representatives_sql(keys: str, blank_user: int, n: int) -> str:
    """Up to ``n`` distinct user skeletons per family, the smallest ranks (hashes) first (none: null)."""
    return f"""
    WITH d AS (SELECT DISTINCT family_id, usr_rank FROM ({_fy(keys, blank_user)}) y),
    r AS (SELECT family_id, usr_rank,
                 row_number() OVER (PARTITION BY family_id ORDER BY usr_rank ASC NULLS FIRST) AS i FROM d)
    SELECT family_id, usr_rank FROM r WHERE i <= {int(n)}"""


def exchanges_sql(keys: str, blank_user: int, ordered: bool, keyed: bool = False) -> str:
    """``tables.EXCHANGE_FP`` rows: each exchange with its family and what its family was classified as
    (``keyed``: and its row key, ``ord``, as a last column ``schema.ROW_KEY``).

    Where the exchange's user skeleton carries its own cue bits (``usr_own`` not null: a skeleton merged into
    its family by the template view), a flag of the family reaches it only if its own system prompt or first
    user turn carries the cue too."""
    flags = ", ".join(
        f"(c.{f} AND (y.usr_own IS NULL OR ((y.usr_own | coalesce(y.sys_own, 0)) & {1 << i}) <> 0)) AS {f}"
        for i, f in enumerate(FLAGS)
    )
    order = " ORDER BY y.ord" if ordered else ""
    key = f", y.ord AS {ROW_KEY}" if keyed else ""
    return f"""
    SELECT y.request_id, y.family_id, y.sys_fam AS system_family_id, y.usr_fam AS user_family_id,
           c.capability, {flags}{key}
    FROM ({_fy(keys, blank_user)}) y JOIN fp_class c ON y.family_id = c.family_id{order}"""
