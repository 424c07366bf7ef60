"""Bad input: every defect is quarantined with its reason and line; the run goes on; counts add up."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import duckdb

from distillguard.pipeline import IngestOptions, ingest_paths
from ingest_golden import FIXTURES

EXPECTED_REASONS = {
    2: "invalid_json",
    4: "invalid_utf8",
    6: "missing_field",
    8: "timestamp_without_offset",
    10: "unknown_api",
    12: "body_mismatch",
    14: "not_an_object",
    16: "invalid_timestamp",
    18: "invalid_field",
    20: "body_mismatch",
    22: "line_too_long",
}


def _quarantine(store: Path) -> list[tuple[str, int, str, str]]:
    with duckdb.connect(str(store), read_only=True) as con:
        return con.execute("SELECT source, line, reason, detail FROM quarantine ORDER BY source, line").fetchall()


def test_each_defect_quarantined_with_reason_and_line(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    summary = ingest_paths([FIXTURES / "malformed.jsonl"], store, IngestOptions(max_line_bytes=4096))
    rows = _quarantine(store)
    assert {line: reason for _, line, reason, _ in rows} == EXPECTED_REASONS
    assert (summary.read, summary.stored, summary.duplicates, summary.quarantined) == (22, 11, 0, 11)
    missing = next(detail for _, line, _, detail in rows if line == 6)
    assert "account.id" in missing


def test_truncated_compressed_streams_are_quarantined(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    paths = [FIXTURES / "truncated.jsonl.gz", FIXTURES / "truncated.jsonl.zst"]
    summary = ingest_paths(paths, store)
    reasons = [(Path(src).name, reason) for src, _, reason, _ in _quarantine(store)]
    assert ("truncated.jsonl.gz", "truncated_stream") in reasons
    assert ("truncated.jsonl.zst", "truncated_stream") in reasons
    for f in summary.files:
        assert f.read == f.stored + f.duplicates + f.quarantined
        assert f.stored > 0  # what came before the damage is kept


def test_accounting_identity_holds_on_the_demo_sample(tmp_path: Path) -> None:
    sample = Path(__file__).parent / "fixtures" / "sample" / "exchanges.jsonl"
    summary = ingest_paths([sample], tmp_path / "s.duckdb")
    lines = sum(1 for line in sample.read_bytes().splitlines() if line.strip())
    assert summary.read == lines == summary.stored + summary.duplicates + summary.quarantined
    assert summary.quarantined > 0 and summary.stored > 300


def _cli(*args: str, columns: int = 400) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": str(columns)}  # the summary table is laid out for this width
    return subprocess.run(
        [sys.executable, "-m", "distillguard", "ingest", *args], capture_output=True, text=True, timeout=120, env=env
    )


def test_cli_missing_path_is_one_line_error(tmp_path: Path) -> None:
    # a narrow terminal: the error still comes out on one line (soft wrap), whole
    result = _cli(str(tmp_path / "nope.jsonl"), "--store", str(tmp_path / "s.duckdb"), columns=40)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "no such file or folder" in lines[0]


def test_cli_strict_fails_on_quarantine_and_reports_summary(tmp_path: Path) -> None:
    store = str(tmp_path / "s.duckdb")
    result = _cli(str(FIXTURES / "malformed.jsonl"), "--store", store, "--strict", "--max-line-mib", "0.004")
    assert result.returncode == 1, result.stderr
    assert "11" in result.stdout and "quarantined" in result.stdout
    clean = _cli(str(FIXTURES / "exchanges.jsonl"), "--store", str(tmp_path / "t.duckdb"), "--strict")
    assert clean.returncode == 0, clean.stderr
