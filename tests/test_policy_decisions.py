"""Decisions in a real DuckDB store: audit trail, analyst actions, policy re-runs, snapshot, the decide CLI."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow as pa
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.errors import InputError
from distillguard.policy import (
    Action,
    Scope,
    Status,
    current_decisions,
    decide,
    default_policy,
    read_snapshot,
)
from distillguard.policy import decisions as dec
from distillguard.store import Store


def _analysis(store: Store, campaign_risk: float = 0.9) -> None:
    store.write_table(
        "accounts",
        pa.table(
            {
                "account_id": ["a1", "a2", "a3"],
                "risk": [0.95, 0.9, 0.01],
                "flagged": [True, True, False],
                "campaign_id": ["C001", "C001", None],
                "evidence": [["harvests reasoning"], ["harvests reasoning"], []],
                "pathway": ["trial", "enterprise", "standard"],
            }
        ),
    )
    store.write_table(
        "campaigns",
        pa.table(
            {
                "campaign_id": ["C001"],
                "accounts": [25],
                "exchanges": [900],
                "risk": [campaign_risk],
                "account_ids": [["a1", "a2"]],
                "evidence": [["25 accounts share 3 payment fingerprints"]],
            }
        ),
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    st = Store.open(tmp_path / "store.duckdb")
    _analysis(st)
    return st


def test_decide_records_and_is_idempotent(store: Store) -> None:
    first = decide(store, default_policy())
    assert first.recorded.added == first.proposals > 0
    again = decide(store, default_policy())
    assert again.recorded.added == 0 and again.recorded.unchanged == first.proposals
    ds = {(d.subject_id, d.rule): d for d in current_decisions(store)}
    assert ds[("C001", "campaign-suspend")].status is Status.proposed
    assert ds[("C001", "campaign-withhold-reasoning")].status is Status.active
    assert ds[("a1", "flagged-low-assurance-verify")].evidence == ("harvests reasoning",)
    assert ("a2", "flagged-low-assurance-verify") not in ds  # enterprise pathway
    trail = dec.audit_trail(store, ds[("C001", "campaign-suspend")].decision_id)
    assert [e["event"] for e in trail] == ["proposed"]
    assert trail[0]["actor"] == "policy" and "campaign_risk=0.9" in trail[0]["reason"]
    assert trail[0]["members"] == ["a1", "a2"]


def test_analyst_actions_append_and_policy_respects_them(store: Store) -> None:
    decide(store, default_policy())
    ds = {(d.subject_id, d.rule): d for d in current_decisions(store)}
    suspend = ds[("C001", "campaign-suspend")].decision_id
    throttle = ds[("a1", "flagged-throttle")].decision_id

    assert dec.approve(store, suspend, "alice", "confirmed with billing").status is Status.active
    with pytest.raises(InputError, match="only a proposed decision"):
        dec.approve(store, suspend, "alice")
    over = dec.override(store, throttle, "bob", Action.throttle, {"rate_per_minute": "5"}, "tighter")
    assert over.params == {"rate_per_minute": 5} and over.actor == "bob"
    lifted = dec.lift(store, suspend, "carol", "false positive: university lab")
    assert lifted.status is Status.lifted

    # Nothing disappears: the lifted decision and every step stay in the audit trail.
    events = [(e["event"], e["actor"]) for e in dec.audit_trail(store, suspend)]
    assert events == [("proposed", "policy"), ("approved", "alice"), ("lifted", "carol")]
    assert suspend not in {d.decision_id for d in current_decisions(store)}
    assert suspend in {d.decision_id for d in current_decisions(store, include_lifted=True)}

    # A later policy run does not re-impose what an analyst lifted or overrode.
    result = decide(store, default_policy())
    assert result.recorded.kept_by_analyst == 2 and result.recorded.added == 0
    assert dec.decision(store, suspend).status is Status.lifted
    assert dec.decision(store, throttle).params == {"rate_per_minute": 5}


def test_bad_analyst_input_is_refused(store: Store) -> None:
    with pytest.raises(InputError, match="no decision"):
        dec.lift(store, "Dnope", "alice")
    with pytest.raises(InputError, match="takes no param"):
        dec.create(store, Scope.account, "a9", Action.suspend, {"rate_per_minute": 3}, "alice")


def test_snapshot_has_active_decisions_and_campaign_members(store: Store) -> None:
    result = decide(store, default_policy())
    snap = read_snapshot(result.snapshot)
    actions = {(d["subject_id"], d["action"]) for d in snap["decisions"]}
    assert ("C001", "withhold_reasoning") in actions and ("C001", "watermark") in actions
    assert ("C001", "suspend") not in actions  # proposed only: not enforced
    assert snap["campaign_members"] == {"C001": ["a1", "a2"]}


def test_campaign_renumbered_by_a_later_analysis_is_not_confused(store: Store) -> None:
    decide(store, default_policy())
    # A new analysis calls a different group of accounts C001: the recorded members still hold.
    store.write_table(
        "campaigns",
        pa.table(
            {
                "campaign_id": ["C001"],
                "accounts": [2],
                "exchanges": [10],
                "risk": [0.9],
                "account_ids": [["z1", "z2"]],
                "evidence": [[]],
            }
        ),
    )
    result = decide(store, default_policy())
    assert result.recorded.added > 0  # the new group gets decisions of its own
    snap = read_snapshot(result.snapshot)
    groups = {k: v for k, v in snap["campaign_members"].items()}
    assert groups["C001"] == ["a1", "a2"]
    (other,) = [k for k in groups if k != "C001"]
    assert other.startswith("C001~") and groups[other] == ["z1", "z2"]
    keys = {d["subject_id"] for d in snap["decisions"] if d["subject_kind"] == "campaign"}
    assert keys == {"C001", other}


def test_decide_cli_run_list_show_approve_lift(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    with Store.open(path) as st:
        _analysis(st)
    runner = CliRunner()
    res = runner.invoke(app, ["decide", "run", "--store", str(path)])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["decide", "list", "--store", str(path), "--json"])
    rows = [orjson.loads(line) for line in res.output.splitlines()]
    suspend = next(r for r in rows if r["rule"] == "campaign-suspend")
    assert suspend["status"] == "proposed"
    res = runner.invoke(app, ["decide", "approve", suspend["decision_id"], "--store", str(path), "--actor", "alice"])
    assert res.exit_code == 0, res.output
    snap = read_snapshot(tmp_path / "s.enforcement.json")
    assert ("C001", "suspend") in {(d["subject_id"], d["action"]) for d in snap["decisions"]}
    res = runner.invoke(
        app, ["decide", "lift", suspend["decision_id"], "--store", str(path), "--actor", "bob", "--note", "appeal"]
    )
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["decide", "show", suspend["decision_id"], "--store", str(path)])
    events = [orjson.loads(line)["event"] for line in res.output.splitlines()]
    assert events == ["proposed", "approved", "lifted"]
    res = runner.invoke(
        app,
        [
            "decide",
            "add",
            "--store",
            str(path),
            "--actor",
            "eve",
            "--kind",
            "account",
            "--subject",
            "a3",
            "--action",
            "throttle",
            "--param",
            "rate_per_minute=7",
        ],
    )
    assert res.exit_code == 0, res.output
    snap = read_snapshot(tmp_path / "s.enforcement.json")
    assert {"subject_id": "a3", "action": "throttle", "params": {"rate_per_minute": 7}}.items() <= next(
        d for d in snap["decisions"] if d["subject_id"] == "a3"
    ).items()


def test_check_policy_cli(tmp_path: Path) -> None:
    bad = tmp_path / "p.toml"
    bad.write_text(
        "[[rule]]\nname = 'x'\naction = 'monitor'\nwhen = { risk_min = 0.9 }\n"
        "examples.match = [{ risk = 0.5 }]\nexamples.no_match = [{ risk = 0.1 }]\n"
    )
    res = CliRunner().invoke(app, ["decide", "check-policy", str(bad)])
    assert res.exit_code == 1 and "should match" in res.output
