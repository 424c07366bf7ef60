"""Small end-to-end runs: determinism, labels that agree with the log, a log that follows the contract."""

from __future__ import annotations

import collections
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import zstandard

from distillguard.errors import InputError
from distillguard.simulate import describe, load_scenario, make_plan, simulate

SCALE = 0.02


def read_log(out: Path) -> list[dict[str, object]]:
    rows = []
    for p in sorted((out / "log").glob("part-*.jsonl.zst")):
        with open(p, "rb") as fh:
            text = io.TextIOWrapper(zstandard.ZstdDecompressor().stream_reader(fh), encoding="utf-8")
            rows.extend(json.loads(line) for line in text)
    return rows


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim") / "out"
    simulate("reported-2026", out, scale=SCALE, seed=7, workers=1, shard_rows=1000)
    return out


def _digest(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


def test_same_seed_same_bytes_whatever_the_workers(run: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    simulate("reported-2026", again, scale=SCALE, seed=7, workers=2, shard_rows=1000)
    assert len(list((again / "log").iterdir())) == 5  # several shards, written by two processes
    assert _digest(run) == _digest(again)
    other = tmp_path / "other"
    simulate("reported-2026", other, scale=SCALE, seed=8, workers=1, shard_rows=1000)
    assert _digest(run)["log/part-00000.jsonl.zst"] != _digest(other)["log/part-00000.jsonl.zst"]


def test_labels_agree_with_log(run: Path) -> None:
    rows = read_log(run)
    ex = pq.read_table(run / "labels" / "exchanges.parquet").to_pylist()
    accts = {r["account_id"]: r for r in pq.read_table(run / "labels" / "accounts.parquet").to_pylist()}
    assert len(rows) == len(ex) == len({r["request_id"] for r in rows})
    by_id = {r["request_id"]: r for r in ex}
    for r in rows:
        lab = by_id[r["request_id"]]
        acct = r["account"]["id"]  # type: ignore[index]
        assert lab["account_id"] == acct
        assert lab["ts"].isoformat(timespec="milliseconds").replace("+00:00", "Z") == r["ts"]
        assert lab["campaign"] == accts[acct]["campaign"]
        assert (lab["phase"] is None) == (accts[acct]["label"] == "legit")
    plan = make_plan(load_scenario("reported-2026"), SCALE, 7)
    counts = collections.Counter(r["account"]["id"] for r in rows)  # type: ignore[index]
    assert counts == {a.account_id: a.n for a in plan.accounts}
    assert {a["label"] for a in accts.values()} == {"attack", "legit"}
    assert {a["campaign"] for a in accts.values() if a["label"] == "attack"} == {"A", "B", "C"}
    meta = json.loads((run / "scenario.json").read_text())
    assert meta["exchanges"] == len(rows) and [m["name"] for m in meta["models"]] == ["frontier-2", "frontier-3"]
    assert set(meta) == {
        "scenario",
        "description",
        "start",
        "end",
        "days",
        "scale",
        "reported_scale",
        "seed",
        "models",
        "exchanges",
        "accounts",
        "shards",
    }  # no labels outside labels/


def test_log_follows_the_exchange_contract(run: Path) -> None:
    rows = read_log(run)
    apis = collections.Counter(r["api"] for r in rows)
    assert set(apis) == {"anthropic.messages", "openai.chat.completions"}
    seen = collections.Counter()
    for r in rows:
        assert {"request_id", "ts", "account", "client", "api", "request"} <= set(r)
        assert str(r["ts"]).endswith("Z") and r["client"]["ip"]  # type: ignore[index]
        req, resp = r["request"], r["response"]
        assert isinstance(req, dict) and req["model"] in ("frontier-2", "frontier-3")
        if r["status"] != 200:
            assert resp is None
            continue
        assert isinstance(resp, dict)
        if r["api"] == "anthropic.messages":
            kinds = [b["type"] for b in resp["content"]]
            assert ("thinking" in kinds) == ("thinking" in req)
            assert set(resp["usage"]) >= {"input_tokens", "output_tokens", "cache_read_input_tokens"}
            seen["a_tool_use"] += "tool_use" in kinds
            seen["a_tool_result"] += any(
                isinstance(m["content"], list) and any(b["type"] == "tool_result" for b in m["content"])
                for m in req["messages"]
            )
            seen["a_thinking"] += "thinking" in kinds
        else:
            msg = resp["choices"][0]["message"]
            assert ("reasoning_content" in msg) == ("reasoning_effort" in req)
            assert set(resp["usage"]) >= {"prompt_tokens", "completion_tokens", "completion_tokens_details"}
            seen["o_tool_calls"] += "tool_calls" in msg
            seen["o_tool_msg"] += any(m["role"] == "tool" for m in req["messages"])
            seen["o_reasoning"] += "reasoning_content" in msg
    assert all(seen[k] > 0 for k in ("a_tool_use", "a_tool_result", "a_thinking", "o_tool_calls", "o_tool_msg"))
    assert seen["o_reasoning"] > 0


def test_attackers_identities_come_from_the_shared_distributions(run: Path) -> None:
    rows = read_log(run)
    accts = {r["account_id"]: r for r in pq.read_table(run / "labels" / "accounts.parquet").to_pylist()}
    camp = {a: v["campaign"] for a, v in accts.items()}

    def ids(pred: object) -> list[str]:
        return [r["account"]["id"] for r in rows if pred(camp[r["account"]["id"]])]  # type: ignore[index,operator]

    legit_ids, b_ids = ids(lambda c: c is None), ids(lambda c: c == "B")
    assert {len(x) for x in legit_ids} == {len(x) for x in b_ids}  # same id format
    legit_rid = {len(str(r["request_id"])) for r in rows if camp[r["account"]["id"]] is None}  # type: ignore[index]
    attack_rid = {len(str(r["request_id"])) for r in rows if camp[r["account"]["id"]] is not None}  # type: ignore[index]
    assert legit_rid == attack_rid
    # campaign B (varied accounts) spreads over many user agents and countries, like the population
    b_rows = [r for r in rows if camp[r["account"]["id"]] == "B"]  # type: ignore[index]
    assert len({r["client"]["user_agent"] for r in b_rows}) > 5  # type: ignore[index]
    assert len({r["account"]["country"] for r in b_rows}) > 5  # type: ignore[index]
    # every shard mixes legitimate and attacking accounts (file placement carries no truth)
    ex = pq.read_table(run / "labels" / "exchanges.parquet").to_pylist()
    for k in range(0, len(ex), 1000):
        shard = ex[k : k + 1000]
        assert None in {r["campaign"] for r in shard} and len({r["campaign"] for r in shard}) > 1


def test_describe_matches_the_scenario_file() -> None:
    sc = load_scenario("reported-2026")
    scale = 0.05
    d = describe(make_plan(sc, scale, 3))
    groups = {g.name: g for g in d.groups}
    for g in sc.scaled(scale).groups:
        got = groups[g.name]
        assert (got.accounts, got.exchanges, got.attack, got.archetype) == (
            g.accounts,
            g.exchanges,
            g.attack,
            g.archetype,
        )
    c = groups["C"]
    want = dict(sc.groups[9].phases[0].content.capabilities)
    for cap, share in c.capabilities:  # one phase: exchange shares follow the weights (by session, so loosely)
        assert abs(share - want[cap]) < 0.12
    assert dict(c.models)["frontier-3"] == pytest.approx(dict(c.phases)["pivot"])
    assert c.newest_model_share is not None and 0.3 < c.newest_model_share < 0.7  # about half, within 24 h
    assert c.first_day >= 6.0 and c.last_day <= 28.0  # the campaign window
    a = groups["A"]
    assert a.distinct_payment == 3 and a.distinct_user_agents == 1
    assert a.per_account_max - a.per_account_median <= 1  # load balanced: equal volumes
    assert abs(a.thinking_share - 0.7) < 0.2 and a.harvest_share > 0.15
    b = groups["B"]
    assert [p for p, _ in b.phases] == ["agentic", "reasoning_extraction"] or set(dict(b.phases)) == {
        "agentic",
        "reasoning_extraction",
    }
    assert 0.3 < dict(b.phases)["reasoning_extraction"] < 0.5  # phase starts at 60% of the window
    assert b.distinct_user_agents > 10 and b.distinct_tls_fingerprints == 1  # attributed via request metadata
    cls = groups["classroom"]
    assert cls.first_day >= 9.0 and cls.last_day <= 12.0 and cls.distinct_payment == 0
    assert sum(cls.hourly_utc[8:17]) > 0.9  # business hours, UTC+1
    chat = groups["chat_user"]
    assert chat.per_account_max > 5 * chat.per_account_median  # heavy-tailed volumes
    assert max(chat.hourly_utc) < 0.15  # many time zones: no single dominant hour
    ev = groups["eval_harness"]
    assert dict(ev.capabilities)["reasoning"] > 0.55 and ev.thinking_share > 0.4


def test_prompt_corpus_is_used(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    lines = [{"text": f"ZEBRA-QUESTION number {i}: what is {i} squared?", "kind": "math"} for i in range(50)]
    lines += [{"text": f"ZEBRA-CODE task {i}: reverse a list", "kind": "coding"} for i in range(50)]
    (corpus / "mine.jsonl").write_text("\n".join(json.dumps(x) for x in lines) + "\n")
    out = tmp_path / "out"
    simulate("reported-2026", out, scale=0.01, seed=1, prompts=corpus, workers=1)
    text = json.dumps(read_log(out))
    assert "ZEBRA-QUESTION" in text and "ZEBRA-CODE" in text
    (tmp_path / "empty").mkdir()
    with pytest.raises(InputError, match="no prompt records"):
        simulate("reported-2026", tmp_path / "o2", scale=0.01, prompts=tmp_path / "empty")


def test_output_folder_must_be_new(run: Path) -> None:
    with pytest.raises(InputError, match="not empty"):
        simulate("reported-2026", run, scale=SCALE, seed=7)
