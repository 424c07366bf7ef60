"""A cluster's shared templates: a family counts when it is shared, or when both its parts are; and a cluster's
fabrication is spread over its accounts, not one heavy member's doing."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import numpy as np
import pyarrow as pa

from cluster_world import one_exchange_each
from distillguard.features.account import HIGH_VALUE
from distillguard.fingerprint.stage import BLANK_USER
from distillguard.scoring.cluster import cluster_features, core_families
from distillguard.scoring.replay import _FLAGS, _cluster_view


def _log(rows: list[tuple[str, str, int, int | None, int]]) -> duckdb.DuckDBPyConnection:
    """rows: (request_id, account_id, family_id, system_family_id, user_family_id)."""
    con = duckdb.connect()
    t = pa.table(
        {
            "request_id": [r[0] for r in rows],
            "account_id": [r[1] for r in rows],
            "family_id": pa.array([r[2] for r in rows], pa.int64()),
            "system_family_id": pa.array([r[3] for r in rows], pa.int64()),
            "user_family_id": pa.array([r[4] for r in rows], pa.int64()),
        }
    )
    con.register("t", t)
    con.execute("CREATE TABLE exchanges AS SELECT request_id, account_id FROM t")
    con.execute("CREATE TABLE fp AS SELECT request_id, family_id, system_family_id, user_family_id FROM t")
    return con


def test_a_family_is_shared_when_both_its_parts_are() -> None:
    rows: list[tuple[str, str, int, int | None, int]] = []
    # Cluster 1: six accounts draw a system prompt (11) and a user template (21) from one pool each, every
    # pairing its own family (101..106); a1 also sends one prompt of its own (user part 99) in that persona.
    for i in range(1, 7):
        rows.append((f"r{i}", f"a{i}", 100 + i, 11, 21))
    rows.append(("r_own", "a1", 200, 11, 99))
    # Cluster 2: four customers whose assistant persona happens to be the campaign's (system part 11), with
    # requests of their own (user parts 31..34): one shared part is not enough.
    for i in range(1, 5):
        rows.append((f"s{i}", f"b{i}", 300 + i, 11, 30 + i))
    # Cluster 3: three accounts sending one template with no system prompt: the family itself is shared.
    for i in range(1, 4):
        rows.append((f"t{i}", f"c{i}", 400, None, 41))
    # An empty first user turn is no template, however many accounts send one.
    for i in range(1, 4):
        rows.append((f"u{i}", f"c{i}", 500 + i, 12, BLANK_USER))
    con = _log(rows)
    acc = pa.table(
        {
            "account_id": [f"a{i}" for i in range(1, 7)] + [f"b{i}" for i in range(1, 5)] + ["c1", "c2", "c3"],
            "cluster_id": [1] * 6 + [2] * 4 + [3] * 3,
        }
    )
    core = core_families(con, acc, exchanges="exchanges", fp="fp", min_share=0.02, min_exclusive=0.5)
    got = sorted(zip(core["cluster_id"].to_pylist(), core["family_id"].to_pylist(), strict=True))
    assert got == [(1, f) for f in range(101, 107)] + [(3, 400)]


def _acc(fabricated: list[float], n_exchanges: list[int]) -> pa.Table:
    k = len(fabricated)
    return pa.table(
        {
            "account_id": [f"a{i}" for i in range(k)],
            "cluster_id": [1] * k,
            "org_id": pa.nulls(k, pa.string()),
            "payment_fingerprint": pa.nulls(k, pa.string()),
            "n_exchanges": n_exchanges,
            "pathway": ["self_serve"] * k,
            "verified": [False] * k,
            "country": ["US"] * k,
            "pivot_hours": pa.nulls(k, pa.float64()),
            "gap_cv": [1.0] * k,
            "hour_entropy": [0.5] * k,
            "n_nets": [1] * k,
            "fabricated_share": fabricated,
            "standalone_share": [1.0] * k,
            "account_created": [datetime(2025, 1, 1, tzinfo=UTC)] * k,
        }
    )


def test_one_heavy_fabricator_is_not_its_clusters_fabrication() -> None:
    core = pa.table({"cluster_id": pa.array([], pa.int64()), "family_id": pa.array([], pa.int64())})

    def features(fabricated: list[float], n_exchanges: list[int]) -> dict[str, float]:
        con = one_exchange_each([f"a{i}" for i in range(len(fabricated))])
        acc = _acc(fabricated, n_exchanges)
        cl = cluster_features(
            con, acc, exchanges="exchanges", fp="fp", high_value=HIGH_VALUE, large_budget=8000, core=core
        )
        return {k: cl[k][0].as_py() for k in ("fabricated_share", "fabricated_top_share")}

    # One account of 1000 requests, 90% with histories it never received, among nine of 10 requests without.
    one = features([0.9] + [0.0] * 9, [1000] + [10] * 9)
    assert abs(one["fabricated_share"] - 900 / 1090) < 1e-9  # of requests: the heavy account's
    assert one["fabricated_top_share"] == 1.0  # all of them from that one account
    # Ten fabricating accounts among thirty that do not (a campaign linked with customers): spread out.
    spread = features([0.3] * 10 + [0.0] * 30, [100] * 40)
    assert abs(spread["fabricated_share"] - 300 / 4000) < 1e-9
    assert abs(spread["fabricated_top_share"] - 0.1) < 1e-9
    assert features([0.0] * 3, [10] * 3)["fabricated_top_share"] is None  # nothing fabricated: no share


def test_replay_cluster_view_reads_the_largest_fabricator_running_share() -> None:
    names = list(_FLAGS)
    cum = np.zeros((4, len(names) + 1))
    cum[:, 0] = [100, 10, 0, 50]  # exchanges so far; the third account has sent nothing yet
    cum[:, 1 + names.index("fabricated")] = [90, 10, 0, 0]
    view = _cluster_view(cum, names, np.array([0, 0, 0, 1]), 2, {})
    assert view["fabricated_share"][0] == 100 / 110
    assert view["fabricated_top_share"][0] == 0.9  # 90 of the cluster's 100
    assert np.isnan(view["fabricated_top_share"][1])  # nothing fabricated yet
