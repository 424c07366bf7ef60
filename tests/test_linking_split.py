"""A community that holds an operator's identity web and accounts outside it is split in two."""

from __future__ import annotations

import duckdb
import pyarrow as pa

from distillguard.linking.graph import LinkConfig, split_identity_cores
from link_world import incidence


def _split(clusters: dict[str, int], rows: list[tuple[str, str, str]]) -> dict[str, int]:
    table = pa.table({"account_id": list(clusters), "cluster_id": pa.array(list(clusters.values()), pa.int64())})
    out = split_identity_cores(duckdb.connect(), table, incidence(rows), LinkConfig())
    return dict(zip(out["account_id"].to_pylist(), out["cluster_id"].to_pylist(), strict=True))


def test_an_operators_web_is_split_from_accounts_tied_to_it_by_wording() -> None:
    operator = [f"op{i}" for i in range(4)]
    public = ["eval1", "eval2", "eval3"]
    rows = [(a, "payment", "card-1") for a in operator] + [(a, "net", "10.0.0.0/24") for a in operator[:2]]
    rows += [(a, "prompt", "benchmark") for a in [*operator, *public]]  # the wording all seven share
    rows += [(a, "email_domain", "mail.example") for a in [*operator, *public]]  # a crowd key: ties nobody
    rows += [(f"other{i}", "email_domain", "mail.example") for i in range(20)]
    got = _split({a: 5 for a in [*operator, *public]}, rows)
    assert {got[a] for a in operator} == {5}  # the core keeps its community id
    assert len({got[a] for a in public}) == 1 and got["eval1"] != 5  # the others: one new community


def test_a_community_without_an_identity_web_or_with_a_small_one_stays_whole() -> None:
    accounts = [f"a{i}" for i in range(12)]
    wording = [(a, "family", "template-1") for a in accounts]
    assert set(_split(dict.fromkeys(accounts, 1), wording).values()) == {1}  # tied by its templates only
    pair = [(a, "payment", "card-9") for a in accounts[:3]]  # a web of 3 in 12 (below core_split_share)
    assert set(_split(dict.fromkeys(accounts, 1), wording + pair).values()) == {1}
    web = [(a, "payment", "card-9") for a in accounts[:4]]  # 4 in 12: one third, split
    got = _split(dict.fromkeys(accounts, 1), wording + web)
    assert {got[a] for a in accounts[:4]} == {1} and {got[a] for a in accounts[4:]} == {2}
    assert split_identity_cores(duckdb.connect(), pa.table({"account_id": [], "cluster_id": []}), incidence([]),
                                LinkConfig()).num_rows == 0  # fmt: skip


def test_a_second_operators_web_in_the_rest_is_split_off_too() -> None:
    # One community: a class on its campus network, a campaign's accounts on shared cards, and chat users who
    # write like both. The class is the larger web, so it is the core the first time; the campaign's web is
    # a third of what is left and is split from the chat users on the next round.
    school = [f"pupil{i}" for i in range(7)]
    crew = [f"crew{i}" for i in range(4)]
    chat = [f"chat{i}" for i in range(6)]
    rows = [(a, "net", "10.1.0.0/24") for a in school] + [(a, "payment", "card-7") for a in crew]
    rows += [(a, "family", "course-template") for a in [*school, *chat]]
    rows += [(a, "family", "harvest-template") for a in [*crew, *chat]]
    got = _split(dict.fromkeys([*school, *crew, *chat], 3), rows)
    assert {got[a] for a in school} == {3}
    assert len({got[a] for a in crew}) == 1 and len({got[a] for a in chat}) == 1
    assert len({got[school[0]], got[crew[0]], got[chat[0]]}) == 3
    table = pa.table({"account_id": list(got), "cluster_id": pa.array([3] * len(got), pa.int64())})
    once = split_identity_cores(duckdb.connect(), table, incidence(rows), LinkConfig(core_split_rounds=1))
    assert len(set(once["cluster_id"].to_pylist())) == 2  # one round leaves the campaign with the chat users
