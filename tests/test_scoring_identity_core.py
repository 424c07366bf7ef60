"""The identity core of a cluster, and membership of accounts tied to it by wording alone."""

from __future__ import annotations

import duckdb
import numpy as np
import pyarrow as pa

from distillguard.linking.graph import identity_core
from distillguard.scoring import default_rules
from distillguard.scoring.cluster import link_summary
from distillguard.scoring.score import membership
from link_world import incidence


def test_the_core_is_the_operators_web_not_a_pair_inside_the_cluster() -> None:
    operator = [f"op{i}" for i in range(6)]
    rows = [(a, "payment", f"card{i // 3}") for i, a in enumerate(operator)]  # two cards, three accounts each
    rows += [(a, "user_agent", "rare-ua/1.0") for a in operator]  # one rare UA joins the two card groups
    rows += [("org1", "payment", "org-card"), ("org2", "payment", "org-card")]  # an org's own two accounts
    rows += [(a, "family", "fam-public") for a in [*operator, "org1", "org2", "solo"]]  # wording: not identity
    clusters = pa.table({"account_id": [*operator, "org1", "org2", "solo"], "cluster_id": [7] * 9})
    con = duckdb.connect()
    per_cluster, per_account = link_summary(incidence(rows), clusters, con)
    tied = dict(zip(per_account["account_id"].to_pylist(), per_account["identity_tied"].to_pylist(), strict=True))
    assert {a for a, t in tied.items() if t} == set(operator)
    row = per_cluster.to_pylist()[0]
    assert row["identity_core_share"] == 6 / 9
    assert row["identity_linked_share"] == 8 / 9  # the org pair is identity-linked, to each other only


def test_each_member_is_told_what_ties_it_to_the_others() -> None:
    """``own_ties``: per account, the kinds of key it shares with other members (how many share the key, and
    how many accounts carry it in all), most shared first; none for a member whose keys are crowd keys only."""
    members = ["a", "b", "c", "d"]
    rows = [("a", "payment", "card"), ("b", "payment", "card")]  # a and b share a card
    rows += [(m, "family", "fam") for m in ["a", "b", "c"]] + [("x", "family", "fam")]  # 3 of its 4 senders inside
    rows += [(m, "asn", "carrier") for m in ["c", "d", *(f"out{i}" for i in range(10))]]  # a crowd key: no tie
    clusters = pa.table({"account_id": members, "cluster_id": [3] * 4})
    _, per_account = link_summary(incidence(rows), clusters, duckdb.connect())
    own = dict(zip(per_account["account_id"].to_pylist(), per_account["own_ties"].to_pylist(), strict=True))
    assert own["a"] == [
        {"kind": "family", "others": 2, "carriers": 4},
        {"kind": "payment", "others": 1, "carriers": 2},
    ]
    assert own["c"] == [{"kind": "family", "others": 2, "carriers": 4}]
    assert own["d"] is None


def test_identity_core_per_cluster_and_empty_input() -> None:
    tied = pa.table(
        {
            "cluster_id": [1, 1, 1, 2, 2],
            "account_id": ["a", "b", "c", "d", "e"],
            "kind": ["net"] * 5,
            "key": ["n1", "n1", "n2", "n1", "n1"],  # same key text in two clusters must not join them
        }
    )
    assert sorted(identity_core(tied)["account_id"].to_pylist()) == ["a", "b", "d", "e"]
    assert identity_core(tied.slice(0, 0)).num_rows == 0


def test_membership_drops_outsiders_of_an_identity_defined_cluster_only() -> None:
    rules = default_rules()
    group = float(rules.setting("identity_group_share"))
    aff, size = np.array([0.9, 0.9, 0.9, 0.05]), np.array([40.0, 40.0, 40.0, 40.0])
    tied = np.array([True, False, False, True])
    shares = np.array([group, group, group - 0.01, group])
    m = membership(aff, size, tied, shares, rules)
    assert m[0] == 1.0  # tied and sending the cluster's templates: carries its risk
    assert m[1] == 0.0  # wording alone, cluster defined by shared identities: judged on its own
    assert m[2] == 1.0  # a cluster held together by wording (no identity web): wording is the evidence
    assert m[3] == 0.0  # tied but not sending the cluster's templates (affinity below the floor)
    assert membership(aff, np.ones(4), tied, shares, rules).max() == 0.0  # a lone account has no cluster


def test_one_conversation_opening_like_a_campaign_makes_no_member_of_a_legitimate_account() -> None:
    rules = default_rules()
    need = float(rules.setting("min_core_prompts"))
    assert need >= 2
    aff, size = np.full(4, 0.9), np.full(4, 40.0)
    tied, shares = np.ones(4, dtype=bool), np.zeros(4)
    prompts = np.array([need - 1, need - 1, need, 0.0])
    own = np.array([-1.5, 0.5, -1.5, -1.5])  # real conversations of its own / harvest signals / ... / ...
    m = membership(aff, size, tied, shares, rules, prompts, own)
    assert m[0] == 0.0  # a chat user whose one conversation opens with a campaign's public prompt
    assert m[1] == 1.0  # no legitimacy of its own: its templates are the evidence, however few
    assert m[2] == 1.0  # legitimate-looking turns, but enough prompts of its own inside the shared templates
    assert m[3] == 0.0
    assert membership(aff, size, tied, shares, rules).min() == 1.0  # prompts not measured: nobody discounted


def test_stragglers_are_moved_to_the_cluster_whose_templates_they_send() -> None:
    from distillguard.scoring.score import adopt_stragglers

    acc = pa.table(
        {
            "account_id": ["member", "straggler", "chatter", "borrower", "bystander", "customer", "small"],
            "cluster_id": [1, 2, 2, 2, 2, 2, 2],
            "cluster_size": [1, 6, 6, 6, 6, 6, 6],
            "affinity": [0.9, 0.0, 0.0, 0.0, 0.5, 0.0, 0.0],
            "foreign_cluster": [None, 1, 1, 1, 1, 1, 1],
            "foreign_affinity": [0.0, 0.8, 0.8, 0.8, 0.8, 0.8, 0.8],
            "foreign_exchanges": [0, 40, 40, 2, 40, 40, 16],
            "standalone_share": [1.0, 0.9, 0.2, 1.0, 1.0, 1.0, 0.7],
        }
    )
    own_points = np.array([1.0, 1.0, 1.0, 1.0, 1.0, -1.0, 0.0])
    out = {r["account_id"]: r for r in adopt_stragglers(acc, default_rules(), own_points).to_pylist()}
    assert out["straggler"]["cluster_id"] == 1 and out["straggler"]["adopted"]
    assert out["straggler"]["affinity"] == 0.8 and out["straggler"]["cluster_size"] == 3
    assert out["chatter"]["cluster_id"] == 2  # its traffic there continues real conversations
    assert out["borrower"]["cluster_id"] == 2  # two borrowed prompts move nobody
    assert out["bystander"]["cluster_id"] == 2  # it sends its own cluster's templates
    assert out["member"]["cluster_id"] == 1 and not out["member"]["adopted"]
    assert out["customer"]["cluster_id"] == 2  # its own behaviour speaks for it (negative points)
    assert out["small"]["cluster_id"] == 1 and out["small"]["adopted"]  # no rule of its own either way
    # A member of an organisation (an identity-defined cluster's core) stays, whatever wording it shares.
    organised = np.array([False, True, False, False, False, False, False])
    out = {r["account_id"]: r for r in adopt_stragglers(acc, default_rules(), own_points, organised).to_pylist()}
    assert out["straggler"]["cluster_id"] == 2 and not out["straggler"]["adopted"]
    assert out["small"]["cluster_id"] == 1 and out["small"]["adopted"]


def test_an_account_sending_a_clusters_templates_in_bulk_is_moved_whatever_its_own_evidence() -> None:
    """Real conversations or tool loops keep a chat user out of a campaign it shares a few openings with; they do
    not keep out an account with hundreds of exchanges in the campaign's shared families (a harvester running a
    real agent harness has both)."""
    from distillguard.scoring.score import adopt_stragglers

    rules = default_rules()
    bulk = float(rules.setting("adopt_bulk_exchanges"))
    assert float(rules.setting("adopt_min_exchanges")) < bulk < 1000
    acc = pa.table(
        {
            "account_id": ["member", "harvester", "chatter", "customer", "faint"],
            "cluster_id": [1, 2, 2, 2, 2],
            "cluster_size": [1, 4, 4, 4, 4],
            "affinity": [0.9, 0.0, 0.0, 0.0, 0.0],
            "foreign_cluster": [None, 1, 1, 1, 1],
            "foreign_affinity": [0.0, 0.65, 0.65, 0.65, 0.2],
            "foreign_exchanges": [0, bulk, bulk - 1, bulk * 3, bulk * 3],
            "standalone_share": [1.0, 0.2, 0.2, 1.0, 0.2],
        }
    )
    own_points = np.array([1.0, -3.0, -1.5, -1.5, -3.0])
    out = {r["account_id"]: r for r in adopt_stragglers(acc, rules, own_points).to_pylist()}
    assert out["harvester"]["cluster_id"] == 1 and out["harvester"]["adopted"]
    assert out["customer"]["cluster_id"] == 1 and out["customer"]["adopted"]
    assert out["chatter"]["cluster_id"] == 2 and not out["chatter"]["adopted"]  # below the bulk: conversations count
    assert out["faint"]["cluster_id"] == 2  # many exchanges there, but a small share of its traffic
    organised = np.array([False, True, False, False, False])  # an organisation's member stays, as before
    out = {r["account_id"]: r for r in adopt_stragglers(acc, rules, own_points, organised).to_pylist()}
    assert out["harvester"]["cluster_id"] == 2 and not out["harvester"]["adopted"]


def test_organisation_members_are_the_core_of_a_cluster_its_core_defines() -> None:
    """A classroom tied by its campus network is an organisation; three accounts of a large cluster that share
    a residential /24 (a proxy exit beside two real users) are not."""
    from distillguard.scoring.score import organisation_members

    students = [f"s{i}" for i in range(10)]
    crowd = [f"u{i}" for i in range(20)]
    rows = [(a, "net", "10.1.2.0/24") for a in students]
    rows += [(a, "email_domain", "school.edu") for a in students[:9]]
    rows += [(a, "net", "203.0.113.0/24") for a in crowd[:3]]  # three of twenty share a /24
    rows += [(a, "family", "fam-public") for a in [*students, *crowd]]  # wording: not identity
    clusters = pa.table({"account_id": [*students, *crowd], "cluster_id": [1] * 10 + [2] * 20})
    member = organisation_members(duckdb.connect(), incidence(rows), clusters, default_rules())
    assert member[:10].all()  # the whole class: its core is the cluster
    assert not member[10:].any()  # a core of 3 in 20 defines nothing
    # a student alone on the campus network (not in the core) is not a member
    alone = pa.table({"account_id": [*students, "x"], "cluster_id": [1] * 11})
    member = organisation_members(duckdb.connect(), incidence(rows), alone, default_rules())
    assert member[:10].all() and not member[10]


def test_an_account_off_its_clusters_rotating_pool_carries_none_of_its_risk() -> None:
    """A hydra sends through its operator's rotating proxy pool: an account of its cluster that stays on a
    network or two shares its prompts (a public benchmark) but not its operator, and is judged on its own."""
    from distillguard.scoring.score import off_pool, rotation_context

    rules = default_rules()
    acc = pa.table(
        {
            "n_nets": [220.0, 230.0, 1.0, 1.0, 1.0, 3.0, 3.0],
            "n_exchanges": [225.0, 240.0, 1000.0, 5.0, 900.0, 1000.0, 900.0],
        }
    )
    ci = np.array([0, 0, 0, 0, 1, 1, 1])  # cluster 0 rotates (a pool), cluster 1 does not
    rotation, cluster_rotation, n_ex = rotation_context(acc, ci)
    assert cluster_rotation[0] >= float(rules.setting("rotation_cluster_share")) > cluster_rotation[4]
    stays = off_pool(rotation, cluster_rotation, n_ex, rules)
    assert stays.tolist() == [False, False, True, False, False, False, False]  # too few exchanges to tell: 4th
    aff, size = np.full(7, 0.9), np.full(7, 10.0)
    m = membership(aff, size, np.ones(7, dtype=bool), np.zeros(7), rules, None, None, stays)
    assert m.tolist() == [1.0, 1.0, 0.0, 1.0, 1.0, 1.0, 1.0]
