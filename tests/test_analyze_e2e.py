"""End to end: simulate a small scenario, `distillguard analyze` it through the CLI, check every output."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.simulate import simulate

DETECTOR = ("fingerprint", "features", "linking", "scoring")
SRC = Path(__file__).resolve().parent.parent / "src" / "distillguard"


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    base = tmp_path_factory.mktemp("e2e")
    simulate("reported-2026", base / "sim", scale=0.1, seed=3)
    result = CliRunner().invoke(
        app,
        ["analyze", str(base / "sim" / "log"), "--out", str(base / "res"), "--store", str(base / "s.duckdb"),
         "--alerts", str(base / "alerts.jsonl")],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return base


def test_outputs_follow_the_contract(run: Path) -> None:
    acc = pq.read_table(run / "res" / "accounts.parquet")
    for col in ("account_id", "risk", "flagged", "campaign_id", "first_flagged_at", "first_flag_rules", "evidence"):
        assert col in acc.column_names
    rows = acc.to_pylist()
    assert all(0.0 <= r["risk"] <= 1.0 for r in rows)
    flagged = [r for r in rows if r["flagged"]]
    assert flagged, "a scenario with three campaigns must flag someone"
    for r in flagged:
        assert r["evidence"], f"{r['account_id']} flagged without evidence"
        assert r["campaign_id"] is not None and r["first_flagged_at"] is not None
        assert r["first_flag_rules"], f"{r['account_id']}: what held when it was first flagged is missing"
        assert any(re.search(r"\d", e) for e in r["evidence"]), "evidence must carry the values"
    camp = pq.read_table(run / "res" / "campaigns.parquet").to_pylist()
    assert {c["campaign_id"] for c in camp} == {r["campaign_id"] for r in flagged}
    for c in camp:
        assert c["accounts"] == len(c["account_ids"]) and c["exchanges"] > 0
        assert abs(sum(x["share"] for x in c["capabilities"]) - 1.0) < 1e-6
        assert c["first_seen"] <= c["last_seen"]
    summary = json.loads((run / "res" / "summary.json").read_text())
    assert summary["flagged_accounts"] == len(flagged) and summary["campaigns"] == len(camp)
    # The run's own memory figure: this test process has held at least the interpreter and DuckDB.
    assert summary["memory_limit"] == "1536MB" and 50 < summary["peak_rss_mib"] < 64 * 1024
    alerts = [json.loads(line) for line in (run / "alerts.jsonl").read_text().splitlines()]
    assert alerts and all(a["event"]["kind"] == "alert" for a in alerts)


def test_analyze_reads_a_store_and_is_repeatable(run: Path) -> None:
    result = CliRunner().invoke(app, ["analyze", str(run / "s.duckdb"), "--out", str(run / "res2")])
    assert result.exit_code == 0, result.output
    a = pq.read_table(run / "res" / "accounts.parquet").select(["account_id", "risk", "flagged", "campaign_id"])
    b = pq.read_table(run / "res2" / "accounts.parquet").select(["account_id", "risk", "flagged", "campaign_id"])
    assert a.equals(b)


def test_the_detector_never_imports_the_simulator() -> None:
    for stage in DETECTOR:
        for path in (SRC / stage).rglob("*.py"):
            text = path.read_text(encoding="utf-8")
            assert not re.search(r"(from|import)\s+distillguard\.(simulate|evaluate)", text), path
            assert not re.search(r"from\s+\.\.?(simulate|evaluate)", text), path


def test_a_memory_limit_that_is_not_a_size_is_refused_before_any_work(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["analyze", str(tmp_path / "none.jsonl"), "--out", str(tmp_path / "o"), "--memory-limit", "lots"]
    )
    assert result.exit_code == 2 and "is not a size" in result.output
    assert not (tmp_path / "o").exists()
