"""``keys.aggregates_sql``: each family's earliest exchange (smallest time, then user skeleton rank, then
system skeleton rank; a missing value first) is what its example and its system part come from."""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa

from distillguard.fingerprint.cues import STRUCT
from distillguard.fingerprint.keys import COMBOS, KEYS, SKELETON_MAP, aggregates_sql
from distillguard.sqlconn import registered

BLANK = -7

# The definition the aggregate must agree with: number each family's exchanges in that order, keep the first.
WINDOW = """
WITH y AS (
  SELECT x.*, f.family_id FROM (
    SELECT k.ts, s.fam AS sys_fam, s.pos AS sys_rank, coalesce(u.fam, {blank}) AS usr_fam, u.pos AS usr_rank
    FROM keys k LEFT JOIN fp_sys s ON k.sys = s.hash LEFT JOIN fp_usr u ON k.usr = u.hash) x
  JOIN fp_fam f ON coalesce(x.sys_fam, 0) = f.sys_key AND x.usr_fam = f.usr_fam)
SELECT family_id, sys_fam, usr_fam, sys_rank, usr_rank FROM (
  SELECT *, row_number() OVER (PARTITION BY family_id
                               ORDER BY ts ASC NULLS FIRST, usr_rank ASC NULLS FIRST, sys_rank ASC NULLS FIRST) AS r
  FROM y) WHERE r = 1 ORDER BY family_id
"""


def _skeletons(n: int, fams: int, offset: int) -> pa.Table:
    """n skeletons (hash offset + i, rank i) in ``fams`` families."""
    return pa.Table.from_pylist(
        [{"hash": offset + i, "fam": 100 + i % fams, "pos": i, "own": None} for i in range(n)], schema=SKELETON_MAP
    )


def _run(rows: list[dict[str, object]]) -> tuple[pa.Table, pa.Table]:
    sys_sk, usr_sk = _skeletons(4, 2, 1000), _skeletons(12, 3, 2000)
    # one family per (system family, user family) pair; no system prompt is system key 0
    combos = [(s, u) for s in (0, 100, 101) for u in (BLANK, 100, 101, 102)]
    fam = pa.Table.from_pylist(
        [{"sys_key": s, "usr_fam": u, "family_id": 10 * i} for i, (s, u) in enumerate(combos)], schema=COMBOS
    )
    keys = pa.Table.from_pylist(rows, schema=KEYS)
    con = duckdb.connect()
    with registered(con, {"keys": keys, "fp_sys": sys_sk, "fp_usr": usr_sk, "fp_fam": fam}):
        got = con.sql(aggregates_sql("keys", BLANK)).to_arrow_table().sort_by("family_id")
        want = con.sql(WINDOW.format(blank=BLANK)).to_arrow_table()
    return got, want


def _row(ts: int | None, sys: int | None, usr: int | None, **st: bool) -> dict[str, object]:
    return {"request_id": "r", "account_id": "a", "ts": ts, "sys": sys, "usr": usr, "ord": 0} | {
        f"st_{s}": st.get(s, False) for s in STRUCT
    }


def test_the_earliest_exchange_puts_a_missing_time_first_then_the_smallest_ranks() -> None:
    rows = [
        _row(5, 1000, 2003),  # family (100, 100): ranks sys 0, usr 3
        _row(None, 1002, 2006),  # same family (sys fam 100, usr fam 100), no time: the earliest
        _row(1, 1000, 2000),
        _row(2, 1001, 2001, thinking=True),  # family (101, 101)
        _row(2, 1001, 2004),  # same time: the smaller user rank (1) wins
        _row(3, None, 2002),  # family (0, 102)
        _row(3, None, None),  # blank user turn: family (0, BLANK)
        _row(None, 1003, None),  # (101, BLANK) with no time and no user skeleton
    ]
    got, want = _run(rows)
    cols = ["family_id", "sys_fam", "usr_fam", "sys_rank", "usr_rank"]
    assert got.select(cols).to_pylist() == want.to_pylist()
    first = {r["family_id"]: r for r in got.to_pylist()}
    fam_100_100 = 10 * (1 * 4 + 1)
    assert (first[fam_100_100]["sys_rank"], first[fam_100_100]["usr_rank"]) == (2, 6)  # the timeless one
    fam_101_101 = 10 * (2 * 4 + 2)
    assert first[fam_101_101]["usr_rank"] == 1 and first[fam_101_101]["n_thinking"] == 1
    assert first[fam_101_101]["n_ex"] == 2 and first[fam_101_101]["lo"] == 2


def test_the_earliest_exchange_agrees_with_the_window_definition_on_random_keys() -> None:
    rng = random.Random(11)
    for _ in range(20):
        rows = [
            _row(
                rng.choice([None, *range(6)]),
                rng.choice([None, 1000, 1001, 1002, 1003]),
                rng.choice([None, *range(2000, 2012)]),
            )
            for _ in range(rng.randint(1, 60))
        ]
        got, want = _run(rows)
        assert got.select(want.column_names).to_pylist() == want.to_pylist()
