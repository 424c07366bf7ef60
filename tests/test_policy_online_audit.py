"""Accounts the gateway links online become decisions in the store's audit trail (decide import-online)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.policy import decisions as dec
from distillguard.policy.model import Action, Scope, Status
from distillguard.store import Store


def _links(log_dir: Path, rows: list[dict[str, object]]) -> None:
    log_dir.mkdir(parents=True, exist_ok=True)
    (log_dir / "online-links.log").write_text("".join(json.dumps(r) + "\n" for r in rows))


def test_online_links_inherit_the_campaign_decision_once(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    with Store.open(store) as st:
        dec.create(st, Scope.campaign, "C001", Action.suspend, {}, "dana", "hydra", members=["a1", "a2"])
    _links(
        tmp_path / "log",
        [
            {"account_id": "new1", "campaign_id": "C001", "score": 2.5, "evidence": ["shared /24 203.0.113.0/24"],
             "request_number": 3, "at": 1.0},
            {"account_id": "new2", "campaign_id": "C009", "score": 2.0, "evidence": ["payment fingerprint"],
             "request_number": 1, "at": 2.0},
        ],
    )  # fmt: skip
    args = ["decide", "import-online", str(tmp_path / "log"), "--store", str(store)]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    second = CliRunner().invoke(app, args)
    assert second.exit_code == 0, second.output
    with Store.open(store, read_only=True) as st:
        by_subject = {d.subject_id: d for d in dec.current_decisions(st) if d.subject_kind is Scope.account}
        trail = dec.audit_trail(st)
    assert set(by_subject) == {"new1", "new2"}
    assert by_subject["new1"].action is Action.suspend and by_subject["new1"].status is Status.active
    assert by_subject["new1"].actor == "gateway"
    assert any("203.0.113.0/24" in e for e in by_subject["new1"].evidence)
    assert by_subject["new2"].action is Action.monitor  # no active decision on that campaign
    assert sum(1 for r in trail if r["event"] == "linked_online") == 2  # the second import added nothing


def test_a_malformed_links_file_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "log").mkdir()
    (tmp_path / "log" / "online-links.log").write_text("{not json\n")
    result = CliRunner().invoke(
        app, ["decide", "import-online", str(tmp_path / "log"), "--store", str(tmp_path / "s.duckdb")]
    )
    assert result.exit_code != 0
    assert "online-links.log:1" in str(result.exception) or "online-links.log:1" in result.output
