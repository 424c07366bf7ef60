"""Features, linking and scoring on a hand-built world (fingerprints given, simulator not involved)."""

from __future__ import annotations

import duckdb
import pytest

from detect_world import HYDRA, build_world
from distillguard.features import account_features, model_releases
from distillguard.linking import link_accounts
from distillguard.scoring import default_rules, score


@pytest.fixture(scope="module")
def con() -> duckdb.DuckDBPyConnection:
    c = duckdb.connect()
    build_world().load(c)
    return c


def test_features_measure_what_they_say(con: duckdb.DuckDBPyConnection) -> None:
    f = {r["account_id"]: r for r in account_features(con).to_pylist()}
    assert f["hyd00"]["n_exchanges"] == 150
    assert f["hyd00"]["single_turn_share"] == 1.0
    assert f["hyd00"]["cot_share"] == 1.0
    assert f["hyd00"]["reconstruction_share"] == pytest.approx(50 / 150)
    assert f["hyd00"]["top_capability"] == "reasoning"
    assert f["hyd00"]["shared_family_share"] == 1.0  # both families span all 12 hydra accounts
    assert f["agent0"]["tool_loop_ratio"] == 1.0
    assert f["agent0"]["continuity_share"] > 0.99 and f["agent0"]["fabricated_share"] < 0.01
    assert f["fab0"]["fabricated_share"] == 1.0 and f["fab0"]["standalone_share"] == 1.0
    assert f["batch0"]["n_families"] == 1
    assert f["chat00"]["single_turn_share"] < 0.5
    assert 0.0 <= f["chat00"]["hour_entropy"] <= 1.0


def test_distinct_counts_match_the_strings(con: duckdb.DuckDBPyConnection) -> None:
    """The features count distinct *hashes* of the wide text columns: the same numbers as counting the
    strings, NULL not counted as a value."""
    f = {r["account_id"]: r for r in account_features(con).to_pylist()}
    truth = con.execute(
        "SELECT account_id, count(DISTINCT client_ip), count(DISTINCT client_net), count(DISTINCT user_agent), "
        "count(DISTINCT end_user_id), count(end_user_id) FROM exchanges GROUP BY account_id"
    ).fetchall()
    assert len(truth) == len(f) and any(row[5] == 0 for row in truth)  # some accounts never name an end user
    for acc, ips, nets, uas, users, _ in truth:
        got = f[acc]
        assert (got["n_ips"], got["n_nets"], got["n_user_agents"], got["n_end_users"]) == (ips, nets, uas, users)


def test_linking_puts_the_hydra_in_one_cluster_without_its_neighbours(con: duckdb.DuckDBPyConnection) -> None:
    feats = account_features(con)
    link = link_accounts(con, feats["account_id"])
    cluster = dict(zip(link.clusters["account_id"].to_pylist(), link.clusters["cluster_id"].to_pylist(), strict=True))
    hydra_clusters = {cluster[a] for a in HYDRA}
    assert len(hydra_clusters) == 1
    kinds = {r["kind"] for r in link.incidence.to_pylist() if r["account_id"] in HYDRA}
    assert {"payment", "family", "net"} <= kinds


def test_scoring_flags_the_hydra_with_evidence_and_clears_the_rest(con: duckdb.DuckDBPyConnection) -> None:
    feats = account_features(con)
    link = link_accounts(con, feats["account_id"])
    s = score(con, feats, link.clusters, model_releases(con), default_rules(), link.incidence)
    rows = {r["account_id"]: r for r in s.accounts.to_pylist()}
    hydra_cluster = next(c for c in s.clusters.to_pylist() if c["cluster_id"] == rows["hyd00"]["cluster_id"])
    assert hydra_cluster["identity_linked_share"] == 1.0  # payment and networks tie every member
    assert any(e.startswith("cluster tied by") and "payment" in e for e in rows["hyd00"]["evidence"])
    # Each member says what ties it, itself, to the others: here a card shared with 3 of them and the template.
    own = [e for e in rows["hyd00"]["evidence"] if e.startswith("its own links to the cluster: ")]
    assert len(own) == 1 and "payment (shared with 3 other members; 4 accounts in all)" in own[0]
    flagged = {a for a, r in rows.items() if r["flagged"]}
    assert flagged == HYDRA
    for a in HYDRA:
        assert rows[a]["risk"] >= 0.5
        assert any("reconstruct" in e for e in rows[a]["evidence"])
    # Legitimacy is positive evidence: the agent is cleared by its real tool loop.
    assert any(e.startswith("real-tool-loops") for e in rows["agent0"]["evidence"])
    assert any(e.startswith("fabricated-histories") for e in rows["fab0"]["evidence"])
    assert not any(e.startswith("real-tool-loops") for e in rows["fab0"]["evidence"])
    assert all(0.0 <= r["risk"] <= 1.0 for r in rows.values())


def test_replay_dates_each_flag_after_the_traffic_that_condemns_it(con: duckdb.DuckDBPyConnection) -> None:
    from datetime import timedelta

    from detect_world import T0
    from distillguard.scoring.replay import first_flagged

    feats = account_features(con)
    link = link_accounts(con, feats["account_id"])
    rules = default_rules()
    s = score(con, feats, link.clusters, model_releases(con), rules, link.incidence)
    replay = first_flagged(con, s, rules, step=timedelta(hours=1)).to_pylist()
    first = {r["account_id"]: r["first_flagged_at"] for r in replay}
    why = {r["account_id"]: r["first_flag_rules"] for r in replay}
    names = {f"cluster: {r.name}" for r in rules.campaign} | {r.name for r in rules.account}
    for a in HYDRA:
        at = first[a]
        assert at is not None
        # What held at that checkpoint: rules that exist (with their points), enough of them to pass the center.
        held = why[a]
        assert held and all(h.rsplit(" (", 1)[0] in names for h in held if not h.startswith("carried")), held
        points = sum(float(h.rsplit("(", 1)[1].rstrip(")")) for h in held if h.startswith("cluster: "))
        assert points > float(rules.setting("risk_center")), held
        # Not before the cluster has sent the 100 exchanges its rules ask for (120 in the first hour).
        assert at >= T0 + timedelta(hours=1), (a, at)
        assert at <= T0 + timedelta(hours=16), (a, at)
    assert not any(a.startswith("chat") and first.get(a) for a in first)


def test_the_campaign_summaries_run_apart_are_those_run_in_place(con: duckdb.DuckDBPyConnection) -> None:
    """``analyze`` runs the campaigns' summary query beside the replay, from the flagged accounts alone; the
    outputs are those of ``build_outputs`` running it itself, and the replay says when its counts are read."""
    from datetime import timedelta

    from distillguard.scoring.campaigns import build_outputs, campaign_members, campaign_summaries
    from distillguard.scoring.replay import first_flagged

    feats = account_features(con)
    link = link_accounts(con, feats["account_id"])
    rules = default_rules()
    s = score(con, feats, link.clusters, model_releases(con), rules, link.incidence)
    calls: list[int] = []
    first = first_flagged(con, s, rules, step=timedelta(hours=1), then=lambda: calls.append(1))
    assert calls == [1]
    members = campaign_members(s)
    assert set(members["account_id"].to_pylist()) == HYDRA and len(set(members["campaign_id"].to_pylist())) == 1
    apart = build_outputs(con, s, first, summaries=campaign_summaries(con, members))
    here = build_outputs(con, s, first)
    assert apart[0].equals(here[0]) and apart[1].equals(here[1])
    assert here[1].num_rows == 1 and here[1]["accounts"][0].as_py() == len(HYDRA)
