"""A payment method shared by accounts of one organisation is its own; shared across organisations, it ties them."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa

from cluster_world import one_exchange_each
from distillguard.features.account import HIGH_VALUE
from distillguard.scoring.cluster import cluster_features


def test_a_payment_method_is_shared_only_across_organisations() -> None:
    con = one_exchange_each(list("abcdef"))
    created = datetime(2025, 1, 1, tzinfo=UTC)
    acc = pa.table(
        {
            "account_id": list("abcdef"),
            # Cluster 1: one organisation's three accounts on its own card. Cluster 2: one card paying for
            # accounts of three organisations (two of them without an organisation: each its own).
            "cluster_id": [1, 1, 1, 2, 2, 2],
            "org_id": ["o1", "o1", "o1", "o2", None, None],
            "payment_fingerprint": ["card1"] * 3 + ["card2"] * 3,
            "n_exchanges": [1] * 6,
            "pathway": ["enterprise"] * 6,
            "verified": [True] * 6,
            "country": ["US"] * 6,
            "pivot_hours": pa.nulls(6, pa.float64()),
            "gap_cv": [1.0] * 6,
            "hour_entropy": [0.5] * 6,
            "n_nets": [1] * 6,
            "fabricated_share": [0.0] * 6,
            "standalone_share": [1.0] * 6,
            "account_created": [created] * 6,
        }
    )
    core = pa.table({"cluster_id": pa.array([], pa.int64()), "family_id": pa.array([], pa.int64())})
    cl = cluster_features(con, acc, exchanges="exchanges", fp="fp", high_value=HIGH_VALUE, large_budget=8000, core=core)
    shared = dict(zip(cl["cluster_id"].to_pylist(), cl["payment_shared_share"].to_pylist(), strict=True))
    assert shared == {1: 0.0, 2: 1.0}
