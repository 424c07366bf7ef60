"""Wording shared by independent customers (a public benchmark's template) against the same wording sent by one
operator's accounts; made-up histories sent as one few-shot prompt against a new one with every request."""

from __future__ import annotations

from datetime import timedelta

import duckdb
import numpy as np
import pyarrow as pa

from detect_world import T0, World
from distillguard.features import account_features, model_releases
from distillguard.linking import link_accounts
from distillguard.scoring import default_rules, score
from distillguard.scoring.cluster import link_summary
from distillguard.scoring.rules import Condition, Rule, columns_of
from distillguard.scoring.score import sender_links, with_cluster_context
from link_world import incidence


def _benchmark_users(*, operated: bool) -> dict[str, dict[str, object]]:
    """Eight accounts sending one public benchmark template: step-by-step reasoning, half of it in a dictated
    trace format, 400 standalone prompts each. Independent customers (own payment, own network, signed up
    months apart), or, ``operated``, one operator's hands (two shared cards, one sign-up hour)."""
    w = World(seed=7)
    for i in range(8):
        acct = f"user{i}"
        for k in range(400):
            w.add(
                acct,
                T0 + timedelta(days=k // 40, hours=9 + (k % 40) // 8, minutes=k % 8),
                family=900 + k % 3,
                capability="reasoning",
                cot=True,
                coercion=k % 2 == 0,
                net=f"10.{i}.0.0/24" if not operated else f"10.0.{i}.0/24",
                payment=f"pf_shared{i % 2}" if operated else None,
                created=T0 - (timedelta(hours=3) if operated else timedelta(days=30 + 45 * i)),
                ua="bench-runner/2.1" if operated else f"client-{i}/1.0",
            )
    for u in range(20):  # other customers: their own conversations, behind one carrier network
        for k in range(w.rng.randint(5, 30)):
            ts = T0 + timedelta(days=w.rng.randint(0, 9), hours=w.rng.randint(8, 22))
            turns = w.rng.randint(0, 4)
            w.add(f"chat{u:02d}", ts, family=5000 + 100 * u + k, assistant_turns=turns, net="192.0.2.0/24")
    con = duckdb.connect()
    w.load(con)
    feats = account_features(con)
    link = link_accounts(con, feats["account_id"])
    s = score(con, feats, link.clusters, model_releases(con), default_rules(), link.incidence)
    return {r["account_id"]: r for r in s.accounts.to_pylist() if r["account_id"].startswith("user")}


def test_a_public_template_used_by_independent_customers_flags_none_of_them() -> None:
    rows = _benchmark_users(operated=False)
    assert len({r["cluster_id"] for r in rows.values()}) == 1  # the shared wording links them
    for r in rows.values():
        assert any(e.startswith("trace-coercion") for e in r["evidence"])  # the content is still described
        assert any(e.startswith("one-of-independent-customers") for e in r["evidence"])
        assert not r["flagged"], r["evidence"]


def test_the_same_template_sent_by_one_operators_accounts_is_flagged() -> None:
    rows = _benchmark_users(operated=True)
    for r in rows.values():
        assert not any(e.startswith("one-of-independent-customers") for e in r["evidence"])
        assert r["flagged"], r["evidence"]


def test_made_up_histories_few_shot_versus_synthetic_traces() -> None:
    w = World(seed=3)
    for k in range(400):
        ts = T0 + timedelta(minutes=3 * k)
        # An app's few-shot prompt: the same invented exchange before every request.
        w.add("fewshot", ts, family=10, capability="coding", assistant_turns=1, history=424242)
        # Synthetic traces: a new invented trajectory every time, each continued by the model.
        w.add("traces", ts, family=20, capability="coding", assistant_turns=3, tool_results=2, fabricated=True)
    con = duckdb.connect()
    w.load(con)
    f = {r["account_id"]: r for r in account_features(con).to_pylist()}
    assert f["fewshot"]["fabricated_share"] == 1.0 and f["traces"]["fabricated_share"] == 1.0
    assert f["fewshot"]["fabricated_distinct_share"] == 1 / 400
    assert f["traces"]["fabricated_distinct_share"] == 1.0
    rule = next(r for r in default_rules().account if r.name == "synthetic-traces")
    table = pa.Table.from_pylist([f["fewshot"], f["traces"]])
    assert rule.mask(columns_of(table), 2).tolist() == [False, True]


def test_a_rule_reading_a_column_not_measured_holds_nowhere() -> None:
    rule = Rule("r", "account", (Condition("n_exchanges", ">=", 1), Condition("cluster_size", ">=", 3)), 1.0, "")
    cols = {"n_exchanges": np.array([5.0, 10.0])}
    assert rule.mask(cols, 2).tolist() == [False, False]
    cols["cluster_size"] = np.array([3.0, 2.0])
    assert rule.mask(cols, 2).tolist() == [True, False]


def test_cluster_context_joins_each_accounts_cluster() -> None:
    acc = pa.table({"account_id": ["b", "a", "c"], "cluster_id": [2, 1, 2]})
    cl = pa.table(
        {"cluster_id": [1, 2], "sender_identity_linked_share": [0.9, 0.1], "payment_shared_share": [1.0, 0.0]}
    )
    out = with_cluster_context(acc, cl)
    assert out["account_id"].to_pylist() == ["a", "b", "c"]
    assert out["cluster_sender_identity_linked_share"].to_pylist() == [0.9, 0.1, 0.1]
    assert out["cluster_payment_shared_share"].to_pylist() == [1.0, 0.0, 0.0]
    assert "cluster_creation_burst_share" not in out.column_names  # not measured: no column, no rule holds


def test_ties_between_bystanders_are_not_ties_between_the_senders_of_a_template() -> None:
    senders = [f"h{i}" for i in range(10)]  # ten evaluators sending one public benchmark, nothing else shared
    chat = [f"c{i}" for i in range(10)]  # chat users who typed its questions, in pairs behind household networks
    hydra = [f"x{i}" for i in range(6)]  # an operator's accounts, two per proxy network
    rows = [(a, "family", "bench") for a in senders + chat]
    rows += [(a, "net", f"home{i // 2}") for i, a in enumerate(chat)]
    rows += [(a, "family", "tmpl") for a in hydra] + [(a, "net", f"proxy{i // 2}") for i, a in enumerate(hydra)]
    acc = pa.table(
        {
            "account_id": senders + chat + hydra,
            "cluster_id": [1] * 20 + [2] * 6,
            "affinity": [0.9] * 10 + [0.2] * 10 + [0.95] * 6,
        }
    )
    con = duckdb.connect()
    whole, _ = link_summary(incidence(rows), acc.select(["account_id", "cluster_id"]), con)
    assert dict(zip(whole["cluster_id"].to_pylist(), whole["identity_linked_share"].to_pylist(), strict=True)) == {
        1: 0.5,  # the household pairs make half the cluster "identity-linked"
        2: 1.0,
    }
    out = sender_links(con, incidence(rows), acc, default_rules())
    got = dict(zip(out["cluster_id"].to_pylist(), out["sender_identity_linked_share"].to_pylist(), strict=True))
    assert got == {1: 0.0, 2: 1.0}
