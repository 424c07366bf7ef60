"""Shared by the golden tests and scripts/make_fixtures.py: ingest one fixture, return comparable rows."""

from __future__ import annotations

import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from distillguard.pipeline import IngestOptions, ingest_paths
from distillguard.store import Store

FIXTURES = Path(__file__).parent / "fixtures" / "ingest"

SHAPES: dict[str, tuple[str, str]] = {
    "jsonl": ("exchanges.jsonl", "exchange_log"),
    "jsonl.gz": ("exchanges.jsonl.gz", "exchange_log"),
    "jsonl.zst": ("exchanges.jsonl.zst", "exchange_log"),
    "parquet": ("exchanges.parquet", "exchange_log"),
    "shards": ("shards", "exchange_log"),
    "otel_new": ("otel_new.json", "otel_new"),
    "otel_old": ("otel_old.json", "otel_old"),
    "otel_nocontent": ("otel_nocontent.json", "otel_nocontent"),
}
"""shape -> (path under tests/fixtures/ingest, name of its expected JSON under expected/)."""

VARYING = ("source", "source_line")
"""Columns that legitimately differ between shapes of the same exchanges."""


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def normalized_rows(path: Path, options: IngestOptions | None = None) -> list[dict[str, Any]]:
    """Ingest ``path`` into a fresh store and return its exchanges, sorted, without VARYING columns."""
    with tempfile.TemporaryDirectory() as tmp:
        store_path = Path(tmp) / "golden.duckdb"
        ingest_paths([path], store_path, options)
        with Store.open(store_path, read_only=True) as store:
            rows = store.exchanges_relation().order("request_id").to_arrow_table().to_pylist()
    return [{k: _jsonable(v) for k, v in row.items() if k not in VARYING} for row in rows]
