"""Parsing in worker processes gives the same store as parsing in-process, line numbers included."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from distillguard.ingest import sources
from distillguard.pipeline import IngestOptions, ingest_paths
from distillguard.store import Store

SAMPLE = Path(__file__).parent / "fixtures" / "sample" / "exchanges.jsonl"


def _dump(store: Path) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
    with Store.open(store, read_only=True) as s:
        rows = s.exchanges_relation().order("request_id").fetchall()
        quarantine = s.connection.execute("SELECT line, reason, detail FROM quarantine ORDER BY line").fetchall()
    return rows, quarantine


@pytest.mark.parametrize("name", ["log.jsonl", "log.jsonl.gz"])
def test_worker_processes_match_in_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str) -> None:
    data = SAMPLE.read_bytes() * 4  # > 1 MiB: several blocks (repeats count as duplicates)
    log = tmp_path / name
    log.write_bytes(gzip.compress(data) if name.endswith(".gz") else data)
    monkeypatch.setattr(sources, "PARALLEL_MIN_BYTES", 0)  # use the pool even for a small file
    results = []
    for workers in (0, 2):
        store = tmp_path / f"w{workers}.duckdb"
        summary = ingest_paths([log], store, IngestOptions(workers=workers, batch_rows=250))
        assert summary.read == summary.stored + summary.duplicates + summary.quarantined
        results.append((summary.stored, summary.duplicates, summary.quarantined, _dump(store)))
    assert results[0] == results[1]
    assert results[0][1] > 0 and results[0][2] > 0
