"""The DuckDB store: idempotent ingest, version checks, the read/write API later stages use."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from distillguard.errors import StoreError
from distillguard.pipeline import ingest_paths
from distillguard.schema import EXCHANGE_COLUMNS, ROW_KEY, SCHEMA_VERSION
from distillguard.store import MIGRATIONS, Store
from ingest_golden import FIXTURES


def test_reingest_adds_nothing_and_counts_duplicates(tmp_path: Path) -> None:
    store = tmp_path / "s.duckdb"
    first = ingest_paths([FIXTURES / "exchanges.jsonl"], store)
    assert (first.read, first.stored, first.duplicates) == (5, 5, 0)
    again = ingest_paths([FIXTURES / "exchanges.jsonl"], store)  # same file: the ledger says it is done
    assert again.files[0].skipped and again.stored == 0
    other_shapes = ingest_paths([FIXTURES / "exchanges.jsonl.gz", FIXTURES / "exchanges.parquet"], store)
    assert (other_shapes.read, other_shapes.stored, other_shapes.duplicates) == (10, 0, 10)
    with Store.open(store, read_only=True) as s:
        assert s.count("exchanges") == 5


def test_store_api_reads_batches_and_writes_results(tmp_path: Path) -> None:
    ingest_paths([FIXTURES / "exchanges.jsonl"], tmp_path / "s.duckdb")
    with Store.open(tmp_path / "s.duckdb") as s:
        batches = list(s.iter_exchange_batches(columns=["request_id", "ts"], batch_rows=2))
        assert [b.num_rows for b in batches] == [2, 2, 1]
        assert batches[0].schema.names == ["request_id", "ts"]
        assert s.exchanges_relation().columns == EXCHANGE_COLUMNS
        s.write_table("scores", pa.table({"account_id": ["a"], "score": [0.5]}))
        s.write_table("scores", pa.table({"account_id": ["b"], "score": [0.7]}), replace=False)
        assert s.read_table("scores").column("account_id").to_pylist() == ["a", "b"]
        with pytest.raises(StoreError):
            s.write_table("exchanges", pa.table({"x": [1]}))
        with pytest.raises(StoreError):
            s.exchanges_relation(columns=["nope"])


def test_keyed_exchanges_give_every_row_one_key_that_the_stream_carries_too(tmp_path: Path) -> None:
    ingest_paths([FIXTURES / "exchanges.jsonl"], tmp_path / "s.duckdb")
    with Store.open(tmp_path / "s.duckdb") as s:
        view = s.keyed_exchanges()
        keyed = s.connection.sql(f"SELECT request_id, {ROW_KEY} FROM {view}").to_arrow_table()
        assert keyed.num_rows == 5 and len(set(keyed[ROW_KEY].to_pylist())) == 5
        assert s.connection.sql(f"SELECT * EXCLUDE ({ROW_KEY}) FROM {view}").columns == EXCHANGE_COLUMNS
        streamed = pa.Table.from_batches(s.iter_exchange_batches(["request_id"], batch_rows=2, row_key=True))
        assert streamed.schema.names == ["request_id", ROW_KEY]
        assert dict(zip(*streamed.to_pydict().values(), strict=True)) == dict(
            zip(*keyed.to_pydict().values(), strict=True)
        )


def _set_version(path: Path, version: int) -> None:
    with duckdb.connect(str(path)) as con:
        con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(version)])


def test_newer_and_unmigratable_versions_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    Store.open(path).close()
    _set_version(path, SCHEMA_VERSION + 1)
    with pytest.raises(StoreError, match="newer distillguard"):
        Store.open(path)
    _set_version(path, 0)  # no migration from 0 is registered
    with pytest.raises(StoreError, match="cannot be upgraded"):
        Store.open(path)


def test_registered_migration_upgrades_the_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.duckdb"
    Store.open(path).close()
    _set_version(path, SCHEMA_VERSION - 1)
    ran: list[int] = []

    def migrate(con: duckdb.DuckDBPyConnection) -> None:
        con.execute("CREATE TABLE migrated_marker (x INTEGER)")
        ran.append(1)

    monkeypatch.setitem(MIGRATIONS, SCHEMA_VERSION - 1, migrate)
    with Store.open(path) as s:
        assert s.schema_version() == SCHEMA_VERSION
        assert s.count("migrated_marker") == 0
    assert ran == [1]


def test_foreign_duckdb_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.duckdb"
    with duckdb.connect(str(path)) as con:
        con.execute("CREATE TABLE t (x INTEGER)")
    with pytest.raises(StoreError, match="not a distillguard store"):
        Store.open(path)
    not_db = tmp_path / "text.duckdb"
    not_db.write_text("hello")
    with pytest.raises(StoreError):
        Store.open(not_db)


def _downgrade_to_v1(path: Path) -> None:
    """Rewrite a current store into the exact schema-1 layout: no digest columns, version 1."""
    v1 = [c for c in EXCHANGE_COLUMNS if c not in ("context_digest", "reply_digest")]
    with duckdb.connect(str(path)) as con:
        con.execute("DROP VIEW exchanges")
        con.execute("ALTER TABLE exchange_rows DROP COLUMN context_digest")
        con.execute("ALTER TABLE exchange_rows DROP COLUMN reply_digest")
        con.execute(f"CREATE VIEW exchanges AS SELECT {', '.join(v1)} FROM exchange_rows")
        con.execute("UPDATE meta SET value = '1' WHERE key = 'schema_version'")


def test_v1_store_migrates_to_digest_columns_and_keeps_ingesting(tmp_path: Path) -> None:
    path = tmp_path / "s.duckdb"
    ingest_paths([FIXTURES / "exchanges.jsonl"], path)
    _downgrade_to_v1(path)
    with pytest.raises(StoreError, match="read-only"):
        Store.open(path, read_only=True)
    with Store.open(path) as s:
        assert s.schema_version() == SCHEMA_VERSION == 2
        assert s.exchanges_relation().columns == EXCHANGE_COLUMNS
        old = s.exchanges_relation(["context_digest", "reply_digest"]).fetchall()
        assert len(old) == 5 and set(old) == {(None, None)}  # rows from before the migration: unknown
    summary = ingest_paths([FIXTURES / "otel_new.json"], path)  # new rows go in by column name
    assert summary.stored == 5
    with Store.open(path, read_only=True) as s:
        rows = s.exchanges_relation(["reply_digest"]).filter("reply_digest IS NOT NULL").fetchall()
        assert len(rows) == 4


@pytest.mark.parametrize(("asked", "expect_capped"), [(None, False), ("none", False), ("NONE", False), ("300MB", True)])
def test_analyze_engine_caps_duckdb_memory_unless_told_none(
    tmp_path: Path, asked: str | None, expect_capped: bool
) -> None:
    """``analyze`` caps DuckDB at ``ANALYZE_MEMORY_LIMIT`` by default (AnalyzeOptions), at what it is given,
    and leaves DuckDB's own default (a share of RAM, far above 300 MB here) for "none"."""
    from distillguard.pipeline import ANALYZE_MEMORY_LIMIT, AnalyzeOptions, _store_engine

    assert AnalyzeOptions().memory_limit == ANALYZE_MEMORY_LIMIT
    store = tmp_path / "s.duckdb"
    Store.open(store).close()
    with _store_engine(store, asked) as eng:
        rows = eng.con.sql("SELECT current_setting('memory_limit') AS m").fetchall()
    limit = str(rows[0][0])
    assert (limit.endswith("MiB") and float(limit.split()[0]) < 400) == expect_capped, limit


def test_fingerprint_share_of_the_limit_is_set_and_restored(tmp_path: Path) -> None:
    """The fingerprint stage runs with a third of the limit (not below the stages' floor); the limit comes back."""
    from distillguard.heap import size_bytes
    from distillguard.pipeline import MIN_STAGE_MEMORY, _store_engine, _StoreEngine

    assert [size_bytes(t) for t in ("1536MB", "1.5GiB", " 800 ", "2gb", "lots")] == [
        1536 * 10**6,
        int(1.5 * 2**30),
        800,
        2 * 10**9,
        None,
    ]
    store = tmp_path / "s.duckdb"
    Store.open(store).close()

    def limit(eng: _StoreEngine) -> str:
        return str(eng.con.sql("SELECT current_setting('memory_limit')").fetchall()[0][0])

    with _store_engine(store, "3GiB") as eng:
        assert isinstance(eng, _StoreEngine)
        before = limit(eng)
        with eng._limit(1 / 3):
            assert limit(eng) == "1.0 GiB"
        assert limit(eng) == before == "3.0 GiB"
        with eng._limit(0.01):
            assert limit(eng) == f"{MIN_STAGE_MEMORY / 2**20:.1f} MiB"  # the floor
    with _store_engine(store, "none") as eng:
        assert isinstance(eng, _StoreEngine)
        before = limit(eng)
        with eng._limit(1 / 3):
            assert limit(eng) == before  # no limit asked: none imposed
