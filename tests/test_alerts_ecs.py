"""SIEM alerts: ECS documents (event.kind alert, threat.*, gen_ai.*) and Splunk HEC events."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from analyst_world import HYDRA, PROMPT_WORD, SECRET_EMAIL, build_results
from distillguard.alerts import build_alerts, write_alerts
from distillguard.cli import app

NOW = datetime(2026, 3, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_results(tmp_path_factory.mktemp("alerts"))[0]


def _lines(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_ecs_alerts_carry_the_required_fields(results: Path, tmp_path: Path) -> None:
    summary = write_alerts(results, ecs_path=tmp_path / "a.ecs.jsonl", now=NOW)
    assert (summary.campaigns, summary.accounts, summary.hec_path) == (1, len(HYDRA), None)
    docs = _lines(tmp_path / "a.ecs.jsonl")
    assert len(docs) == 1 + len(HYDRA)
    for d in docs:
        assert d["event"]["kind"] == "alert" and d["event"]["category"] == ["threat"]
        assert d["threat"]["technique"]["id"] == ["AML.T0024"] and d["threat"]["group"]["id"] == "C001"
        assert d["gen_ai"]["request"]["model"] and d["gen_ai"]["operation"]["name"] == "chat"
        assert d["event"]["severity"] == 90 and d["log"]["level"] == "critical"
        assert d["@timestamp"].endswith("Z") and d["event"]["reason"]
    camp, *accounts = docs
    assert camp["event"]["dataset"] == "distillguard.campaign" and sorted(camp["related"]["user"]) == HYDRA
    assert camp["@timestamp"] == "2026-02-04T00:00:00Z"  # the first account flagged
    assert sorted(a["user"]["id"] for a in accounts) == HYDRA


def test_hec_events_wrap_the_ecs_documents(results: Path, tmp_path: Path) -> None:
    write_alerts(results, tmp_path / "e.jsonl", tmp_path / "h.jsonl", hec_index="security", now=NOW)
    ecs, hec = _lines(tmp_path / "e.jsonl"), _lines(tmp_path / "h.jsonl")
    assert [h["event"] for h in hec] == ecs
    for h in hec:
        assert h["sourcetype"] == "distillguard:alert" and h["index"] == "security"
        assert datetime.fromtimestamp(h["time"], UTC).isoformat().startswith(h["event"]["@timestamp"][:19])
        assert h["fields"]["campaign_id"] == "C001"


def test_alert_ids_are_stable_and_no_prompt_is_written(results: Path, tmp_path: Path) -> None:
    first = [d["event"]["id"] for d in build_alerts(results, now=NOW)]
    again = [d["event"]["id"] for d in build_alerts(results, now=datetime(2026, 4, 1, tzinfo=UTC))]
    assert first == again and len(set(first)) == len(first)
    write_alerts(results, tmp_path / "e.jsonl", tmp_path / "h.jsonl")
    for name in ("e.jsonl", "h.jsonl"):
        text = (tmp_path / name).read_text(encoding="utf-8")
        assert PROMPT_WORD not in text and SECRET_EMAIL not in text


def test_cli_needs_an_output(results: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(app, ["alerts", "--results", str(results)]).exit_code != 0
    r = runner.invoke(app, ["alerts", "--results", str(results), "--ecs", str(tmp_path / "a.jsonl")])
    assert r.exit_code == 0, r.output
    assert len(_lines(tmp_path / "a.jsonl")) == 1 + len(HYDRA)
