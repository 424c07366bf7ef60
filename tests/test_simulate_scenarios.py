"""The other built-in scenarios generate, the CLI describes and writes, real corpora load."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.simulate import describe, load_corpus, load_scenario, make_plan, simulate
from distillguard.simulate.corpus import KIND_ALIASES

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def test_hard_negatives_has_only_legitimate_accounts(tmp_path: Path) -> None:
    s = simulate("hard-negatives", tmp_path / "o", scale=0.01, seed=2, workers=1)
    labels = pq.read_table(tmp_path / "o" / "labels" / "accounts.parquet").to_pylist()
    assert s.attack_accounts == 0 and {r["label"] for r in labels} == {"legit"}
    assert {r["archetype"] for r in labels} == {
        "chat_user", "enterprise_batch", "eval_harness", "coding_agent", "reseller", "classroom", "researcher",
    }  # fmt: skip
    ex = pq.read_table(tmp_path / "o" / "labels" / "exchanges.parquet")
    assert ex.num_rows == s.exchanges and ex.column("campaign").null_count == ex.num_rows


def test_adaptive_attackers_hide() -> None:
    sc = load_scenario("adaptive")
    plan = make_plan(sc, 0.05, 4)
    groups = {g.name: i for i, g in enumerate(plan.scenario.groups)}
    d = {g.name: g for g in describe(plan).groups}
    dd = [a for a in plan.accounts if a.group == groups["D"]]
    # no shared payment, residential addresses drawn fresh per request, varied user agents
    assert len({a.payment for a in dd}) == len(dd) and {a.ip_mode for a in dd} == {"fresh"}
    assert d["D"].distinct_user_agents > 5
    # per-key daily cap respected on every day of every account
    from distillguard.simulate.frame import account_frame
    from distillguard.simulate.plan import DAY

    cap = plan.scenario.groups[groups["D"]].daily_cap
    for a in dd:
        per_day = __import__("numpy").bincount(account_frame(plan, a).ts // DAY)
        assert per_day.max() <= cap + 5  # multi-turn sessions can spill a few turns past midnight
    # E hides behind the same reseller egress addresses as the legitimate reseller
    ee = [a for a in plan.accounts if a.group == groups["E"]]
    rr = [a for a in plan.accounts if a.group == groups["reseller"]]
    assert set(ee[0].ips) == set(rr[0].ips)


def test_cli_describe_and_generate(tmp_path: Path) -> None:
    runner = CliRunner(env={"COLUMNS": "200"})
    res = runner.invoke(app, ["simulate", "--scenario", "reported-2026", "--scale", "0.01", "--describe"])
    assert res.exit_code == 0, res.output
    assert "volume and time" in res.output and "hydra" in res.output and "classroom" in res.output
    out = tmp_path / "o"
    res = runner.invoke(
        app, ["simulate", "--scenario", "adaptive", "--scale", "0.01", "--out", str(out), "--workers", "1"]
    )
    assert res.exit_code == 0, res.output
    assert "wrote" in res.output and (out / "labels" / "accounts.parquet").is_file()
    meta = json.loads((out / "scenario.json").read_text())
    assert meta["scenario"] == "adaptive" and meta["scale"] == 0.01
    res = runner.invoke(app, ["simulate", "--scenario", "reported-2026", "--scale", "lots", "--describe"])
    assert res.exit_code != 0


def test_scale_reported_reaches_the_reported_size() -> None:
    sc = load_scenario("reported-2026")
    plan = make_plan(sc, sc.reported_scale, 0)
    attack = [a for a in plan.accounts if plan.scenario.groups[a.group].attack]
    assert 23_000 <= len(attack) <= 25_000
    assert 16_000_000 <= sum(a.n for a in attack) <= 17_000_000


def test_kind_aliases_map_to_capabilities(tmp_path: Path) -> None:
    (tmp_path / "a.jsonl").write_text(
        "\n".join(json.dumps({"text": f"t{i}", "kind": k}) for i, k in enumerate(KIND_ALIASES)) + "\n"
    )
    corpus = load_corpus(tmp_path)
    assert set(corpus) == set(KIND_ALIASES.values())


@pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="public corpora folder not present")
def test_shared_corpora_layout_loads() -> None:
    corpus = load_corpus(SHARED_DATA)
    assert {"reasoning", "coding", "agentic", "chat", "grading"} <= set(corpus)
    assert len(corpus["reasoning"]) > 5000 and all(t.strip() for t in corpus["chat"][:100])


def test_paraphrase_is_per_account_and_keeps_slots() -> None:
    from distillguard.simulate.textgen import TextGen

    tg = TextGen()
    skel = "Explain step by step the reasoning behind the answer to {problem}. Write the final answer."
    outs = {tg.paraphrase(skel, key) for key in range(12)}
    assert len(outs) >= 6 and all("{problem}" in o for o in outs)
    assert tg.paraphrase(skel, 3) == TextGen().paraphrase(skel, 3)


def test_classroom_shares_a_day_a_campus_and_a_domain() -> None:
    plan = make_plan(load_scenario("reported-2026"), 0.5, 5)
    gi = [g.archetype for g in plan.scenario.groups].index("classroom")
    cls = [a for a in plan.accounts if a.group == gi]
    assert len({a.created_us // 86_400_000_000 for a in cls}) == 1
    assert len({a.email_domain for a in cls}) == 1 and len({a.ips for a in cls}) == 1
    assert {a.pathway for a in cls} == {"education"}
