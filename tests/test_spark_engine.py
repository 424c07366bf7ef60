"""The Spark engine (``analyze --engine spark``) against the embedded one, on a local[2] Spark session.

One Spark session and one pair of runs, checked in one test (so parallel test workers never start a second
JVM, the slow part). A small simulated reported-2026 log, read
by Spark straight from its JSON Lines folder (with a file holding one bad line) and by the embedded
engine through ingest: same flagged accounts, same campaigns, same families, risks within 1e-9, and the
bad line quarantined by both with the same file, line and reason.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from distillguard.pipeline import AnalyzeOptions, analyze
from distillguard.simulate import simulate
from distillguard.spark.sql import to_spark_sql

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning")  # pyspark on pandas 3

BAD = b'{"request_id": "bad-1", "ts": "2026-01-01T00:00:00Z", "account": {"id": \n'


@pytest.fixture(scope="module")
def spark() -> Iterator[Any]:
    os.environ["PYSPARK_PYTHON"] = sys.executable  # workers run this interpreter (and its venv)
    from distillguard.spark.session import get_session

    session = get_session("local[2]", conf={"spark.sql.shuffle.partitions": "2"})
    yield session
    session.stop()


def test_spark_engine_matches_the_embedded_engine(tmp_path: Path, spark: Any) -> None:
    simulate("reported-2026", tmp_path / "sim", scale=0.05, seed=11, workers=1)
    (tmp_path / "sim" / "log" / "extra.jsonl").write_bytes(BAD)
    log = str(tmp_path / "sim" / "log")
    analyze([log], tmp_path / "embedded", AnalyzeOptions(), store_path=tmp_path / "store.duckdb")
    analyze([log], tmp_path / "spark", AnalyzeOptions(engine="spark"))
    _same_flagged_accounts_and_risks(tmp_path)
    _same_campaigns_and_families(tmp_path)
    _bad_line_is_quarantined_with_file_and_line(tmp_path)
    _results_store_and_summary(tmp_path)


def _accounts(out: Path) -> pa.Table:
    return pq.read_table(out / "accounts.parquet").sort_by("account_id")


def _campaigns(out: Path) -> set[frozenset[str]]:
    return {frozenset(ids) for ids in pq.read_table(out / "campaigns.parquet")["account_ids"].to_pylist()}


def _same_flagged_accounts_and_risks(runs: Path) -> None:
    a, b = _accounts(runs / "embedded"), _accounts(runs / "spark")
    assert a["account_id"].to_pylist() == b["account_id"].to_pylist()
    flagged = a.filter(a["flagged"])["account_id"].to_pylist()
    assert len(flagged) >= 20  # a real campaign is found, so equality says something
    assert b.filter(b["flagged"])["account_id"].to_pylist() == flagged
    for col in ("risk", "account_risk", "campaign_risk"):
        x, y = a[col].to_pylist(), b[col].to_pylist()
        assert all(abs(p - q) <= 1e-9 for p, q in zip(x, y, strict=True)), col
    assert a["campaign_id"].to_pylist() == b["campaign_id"].to_pylist()


def _same_campaigns_and_families(runs: Path) -> None:
    assert _campaigns(runs / "spark") == _campaigns(runs / "embedded")
    assert len(_campaigns(runs / "embedded")) >= 1
    fa = pq.read_table(runs / "embedded" / "families.parquet")
    fb = pq.read_table(runs / "spark" / "families.parquet")
    assert fb.equals(fa)


def _bad_line_is_quarantined_with_file_and_line(runs: Path) -> None:
    q = pq.read_table(runs / "spark" / "quarantine.parquet").to_pylist()
    assert [(Path(r["source"]).name, r["line"], r["reason"]) for r in q] == [("extra.jsonl", 1, "invalid_json")]
    with duckdb.connect(str(runs / "store.duckdb"), read_only=True) as con:
        rows = con.sql("SELECT source, line, reason FROM quarantine").fetchall()
    assert [(Path(s).name, line, reason) for s, line, reason in rows] == [("extra.jsonl", 1, "invalid_json")]


def _results_store_and_summary(runs: Path) -> None:
    with duckdb.connect(str(runs / "spark" / "results.duckdb"), read_only=True) as con:
        n = con.execute("SELECT count(*) FROM accounts").fetchone()
    assert n is not None and n[0] == _accounts(runs / "spark").num_rows
    assert '"engine": "spark"' in (runs / "spark" / "summary.json").read_text(encoding="utf-8")


def test_translation_keeps_duckdb_meaning() -> None:
    sql = to_spark_sql(
        "SELECT epoch(ts) AS t, first(c ORDER BY n DESC, c) AS top, list(k ORDER BY n DESC, k) AS ks, "
        "avg(CASE WHEN x THEN 1.0 ELSE 0.0 END) AS s, min(ts) + to_microseconds(CAST(5 AS BIGINT)) AS m, "
        "count(DISTINCT hash(u)) AS n "
        "FROM t GROUP BY ALL"
    ).upper()
    assert "UNIX_MICROS(TS) AS DOUBLE) / CAST(1000000 AS DOUBLE)" in sql  # not whole seconds
    assert "ELEMENT_AT(TRANSFORM(ARRAY_SORT(COLLECT_LIST(STRUCT(-(N) AS K0, C AS K1, C AS V)))" in sql
    assert "CAST(1.0 AS DOUBLE)" in sql  # a decimal average would keep only a few digits
    assert "TIMESTAMP_MICROS(UNIX_MICROS(MIN(TS)) + CAST(5 AS BIGINT))" in sql
    assert "COUNT(DISTINCT XXHASH64(U))" in sql  # 64 bits, as DuckDB's hash; Spark's HASH has 32


def test_translation_drops_the_materialization_hint() -> None:
    sql = to_spark_sql(
        "WITH a AS (SELECT 1 AS u), x AS NOT MATERIALIZED (SELECT hash(u) AS h FROM a) "
        "SELECT count(*) FROM x JOIN x AS y USING (h)"
    ).upper()
    assert "MATERIALIZED" not in sql  # Spark SQL has no such hint
    assert "X AS (SELECT XXHASH64(U) AS H FROM A)" in sql  # the body is still translated
