"""DuckDB store implementation (see the package docstring for the contract)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.errors import StoreError
from distillguard.ingest.batches import Batch
from distillguard.ingest.sources import Resume
from distillguard.schema import EXCHANGE_COLUMNS, EXCHANGES, QUARANTINE, ROW_KEY, SCHEMA_VERSION
from distillguard.sqlconn import registered

log = logging.getLogger(__name__)


def _exchanges_view(con: duckdb.DuckDBPyConnection) -> None:
    cols = ", ".join(f'"{c}"' for c in EXCHANGE_COLUMNS)
    con.execute(f"CREATE OR REPLACE VIEW exchanges AS SELECT {cols} FROM exchange_rows")


def _v1_to_v2(con: duckdb.DuckDBPyConnection) -> None:
    """Schema 2 adds ``context_digest`` and ``reply_digest`` (null for rows ingested before)."""
    con.execute("ALTER TABLE exchange_rows ADD COLUMN context_digest BIGINT")
    con.execute("ALTER TABLE exchange_rows ADD COLUMN reply_digest BIGINT")
    _exchanges_view(con)


MIGRATIONS: dict[int, Callable[[duckdb.DuckDBPyConnection], None]] = {1: _v1_to_v2}
"""``MIGRATIONS[v]`` upgrades a store from schema version ``v`` to ``v + 1`` inside a transaction."""

KEYED_EXCHANGES = "exchanges_keyed"

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_RESERVED = frozenset({"meta", "exchange_rows", "exchanges", "quarantine", "ingest_ledger"})

_LEDGER_DDL = """
CREATE TABLE ingest_ledger (
    source VARCHAR NOT NULL,        -- absolute path of the file
    fingerprint VARCHAR NOT NULL,   -- size + hash of head and tail: the same file on a re-run
    first_line BIGINT NOT NULL,     -- first line (or row) of the batch, 1-based
    last_line BIGINT NOT NULL,      -- last line (or row) of the batch
    end_offset BIGINT NOT NULL,     -- byte offset after last_line in the (decompressed) stream
    rows_read BIGINT NOT NULL,
    stored BIGINT NOT NULL,
    duplicates BIGINT NOT NULL,
    quarantined BIGINT NOT NULL,
    complete BOOLEAN NOT NULL,      -- this batch ended the file
    committed_at TIMESTAMPTZ NOT NULL DEFAULT now()
)"""


@dataclass(frozen=True)
class BatchResult:
    """What committing one batch did: ``read == stored + duplicates + quarantined``."""

    read: int
    stored: int
    duplicates: int
    quarantined: int


def _arrow(con: duckdb.DuckDBPyConnection, sql: str) -> pa.Table:
    table = con.sql(sql).to_arrow_table()
    if table is None:
        raise StoreError(f"DuckDB returned no result for {sql[:80]}")
    return table


def _ddl_type(t: pa.DataType) -> str:
    if pa.types.is_string(t):
        return "VARCHAR"
    if pa.types.is_timestamp(t):
        return "TIMESTAMPTZ"
    if pa.types.is_list(t):
        return _ddl_type(t.value_type) + "[]"
    mapping = {pa.int32(): "INTEGER", pa.int64(): "BIGINT", pa.bool_(): "BOOLEAN", pa.float64(): "DOUBLE"}
    if t in mapping:
        return mapping[t]
    raise StoreError(f"no DuckDB type for {t}")


def _columns_ddl(schema: pa.Schema) -> str:
    return ", ".join(f'"{f.name}" {_ddl_type(f.type)}' for f in schema)


class Store:
    """An open store. Use ``Store.open``; close it (or use it as a context manager) when done."""

    def __init__(self, path: Path, connection: duckdb.DuckDBPyConnection, read_only: bool) -> None:
        self.path = path
        self.connection = connection
        self.read_only = read_only

    # ------------------------------------------------------------------ opening and versions

    @classmethod
    def open(
        cls, path: str | Path, read_only: bool = False, memory_limit: str | None = None, threads: int | None = None
    ) -> Store:
        """Open (creating when absent and writable) the store at ``path``; check or migrate its version.

        ``memory_limit`` (e.g. ``"256MB"``) caps DuckDB's buffer pool; ``threads`` its worker threads.
        """
        path = Path(path)
        if read_only and not path.exists():
            raise StoreError(f"{path}: no such store")
        if path.exists() and not path.is_file():
            raise StoreError(f"{path}: not a file")
        config: dict[str, Any] = {"memory_limit": memory_limit} if memory_limit else {}
        if threads:
            config["threads"] = threads
        try:
            con = duckdb.connect(str(path), read_only=read_only, config=config)
        except duckdb.Error as exc:
            raise StoreError(f"{path}: cannot open as a DuckDB store ({str(exc).splitlines()[0]})") from None
        store = cls(path, con, read_only)
        try:
            store._check_version()
        except BaseException:
            con.close()
            raise
        return store

    def _tables(self) -> set[str]:
        rows = self.connection.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()
        return {r[0] for r in rows}

    def schema_version(self) -> int | None:
        if "meta" not in self._tables():
            return None
        rows = self.connection.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchall()
        return int(rows[0][0]) if rows else None

    def _check_version(self) -> None:
        tables = self._tables()
        if not tables:
            if self.read_only:
                raise StoreError(f"{self.path}: empty file, not a distillguard store")
            self._create()
            return
        version = self.schema_version()
        if version is None:
            raise StoreError(f"{self.path}: not a distillguard store (no schema version in a 'meta' table)")
        if version == SCHEMA_VERSION:
            return
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path}: written by a newer distillguard (store schema {version}, this version reads "
                f"{SCHEMA_VERSION}); upgrade distillguard"
            )
        missing = [v for v in range(version, SCHEMA_VERSION) if v not in MIGRATIONS]
        if missing or self.read_only:
            why = "it is opened read-only" if not missing else f"no migration from version {missing[0]}"
            raise StoreError(
                f"{self.path}: store schema {version} is older than {SCHEMA_VERSION} and cannot be upgraded "
                f"({why}); re-ingest into a new store"
            )
        self._migrate(version)

    def _migrate(self, version: int) -> None:
        con = self.connection
        con.execute("BEGIN TRANSACTION")
        try:
            for v in range(version, SCHEMA_VERSION):
                log.info("migrating %s from schema %d to %d", self.path, v, v + 1)
                MIGRATIONS[v](con)
            con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION)])
            con.execute("COMMIT")
        except duckdb.Error as exc:
            con.execute("ROLLBACK")
            raise StoreError(f"{self.path}: migration from schema {version} failed ({exc})") from None
        except BaseException:
            con.execute("ROLLBACK")
            raise

    def _create(self) -> None:
        con = self.connection
        con.execute("BEGIN TRANSACTION")
        con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)")
        con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
        con.execute(f"CREATE TABLE exchange_rows ({_columns_ddl(EXCHANGES)}, rid_hash UBIGINT NOT NULL)")
        _exchanges_view(con)
        con.execute(
            f"CREATE TABLE quarantine ({_columns_ddl(QUARANTINE)}, ingested_at TIMESTAMPTZ NOT NULL DEFAULT now())"
        )
        con.execute(_LEDGER_DDL)
        con.execute("COMMIT")

    # ------------------------------------------------------------------ ingest

    def resume_point(self, source: str, fingerprint: str) -> tuple[Resume, bool]:
        """Where committed batches of this file end, and whether the file is already complete."""
        rows = self.connection.execute(
            "SELECT max(last_line), max(end_offset), bool_or(complete) FROM ingest_ledger "
            "WHERE source = ? AND fingerprint = ?",
            [source, fingerprint],
        ).fetchall()
        row = rows[0] if rows else None
        if row is None or row[0] is None:
            return Resume(), False
        return Resume(lines=int(row[0]), offset=int(row[1])), bool(row[2])

    def commit_batch(self, batch: Batch, source_key: str, fingerprint: str) -> BatchResult:
        """Write a batch's new exchanges, quarantine rows and ledger entry in one transaction."""
        table = batch.exchanges
        fresh = self._first_occurrences(table)
        con = self.connection
        con.execute("BEGIN TRANSACTION")
        try:
            stored = 0
            if fresh.num_rows:
                con.register("_batch", fresh)
                known = _arrow(
                    con, "SELECT e.request_id FROM exchange_rows e WHERE e.rid_hash IN (SELECT rid_hash FROM _batch)"
                )
                if known.num_rows:
                    mask = pc.invert(pc.is_in(fresh["request_id"], value_set=known["request_id"]))
                    fresh = fresh.filter(mask)
                    con.register("_batch", fresh)
                if fresh.num_rows:
                    names = ", ".join(f'"{n}"' for n in fresh.schema.names)
                    con.execute(f"INSERT INTO exchange_rows ({names}) SELECT {names} FROM _batch")
                stored = fresh.num_rows
                con.unregister("_batch")
            quarantined = batch.quarantine.num_rows
            if quarantined:
                with registered(con, {"_quarantine": batch.quarantine}):
                    names = ", ".join(QUARANTINE.names)
                    con.execute(f"INSERT INTO quarantine ({names}) SELECT {names} FROM _quarantine")
            duplicates = table.num_rows - stored
            con.execute(
                "INSERT INTO ingest_ledger (source, fingerprint, first_line, last_line, end_offset, rows_read, "
                "stored, duplicates, quarantined, complete) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [source_key, fingerprint, batch.first, batch.last, batch.end_offset, batch.read, stored,
                 duplicates, quarantined, batch.complete],
            )  # fmt: skip
            con.execute("COMMIT")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        return BatchResult(batch.read, stored, duplicates, quarantined)

    @staticmethod
    def _first_occurrences(table: pa.Table) -> pa.Table:
        """The batch without later repeats of a request_id within it (distinct hashes prove there are none)."""
        hashes = np.sort(table["rid_hash"].to_numpy())
        if not (hashes[1:] == hashes[:-1]).any():
            return table
        seen: set[str] = set()
        ids = table["request_id"].to_pylist()
        keep = [not (i in seen or seen.add(i)) for i in ids]  # type: ignore[func-returns-value]
        return table.filter(pa.array(keep))

    # ------------------------------------------------------------------ reading and results

    def exchanges_relation(self, columns: list[str] | None = None) -> duckdb.DuckDBPyRelation:
        """A lazy DuckDB relation over the exchanges (all schema columns, or ``columns``)."""
        cols = self._checked_columns(columns)
        return self.connection.sql(f"SELECT {cols} FROM exchanges")

    def keyed_exchanges(self, connection: duckdb.DuckDBPyConnection | None = None) -> str:
        """The name of a temporary view (this connection only, or ``connection``: a ``cursor()`` of it) of the
        exchanges with one more column, ``ROW_KEY``: the row's id in the store (DuckDB's ``rowid``), unique and
        stable while the store is open. Analysis joins its per-exchange tables to the exchanges on it: a join
        on a 64-bit integer costs about half of one on the request_id string (1M exchanges: 0.18 vs 0.29-0.44 s)."""
        con = self.connection if connection is None else connection
        con.execute(f"CREATE OR REPLACE TEMP VIEW {KEYED_EXCHANGES} AS {self._keyed_select(None)}")
        return KEYED_EXCHANGES

    def _keyed_select(self, columns: list[str] | None) -> str:
        return f"SELECT {self._checked_columns(columns)}, rowid AS {ROW_KEY} FROM exchange_rows"

    def iter_exchange_batches(
        self, columns: list[str] | None = None, batch_rows: int = 65_536, *, row_key: bool = False
    ) -> Iterator[pa.RecordBatch]:
        """Stream the exchanges as Arrow record batches in bounded memory, in storage order (no sort: every
        consumer is independent of the order, and sorting a log of text columns costs more than reading it).
        ``row_key``: each batch carries ``ROW_KEY`` too (see ``keyed_exchanges``)."""
        sql = self._keyed_select(columns) if row_key else f"SELECT {self._checked_columns(columns)} FROM exchanges"
        cursor = self.connection.cursor()  # its own connection: temporary views of ours are not visible in it
        try:
            reader = cursor.sql(sql).to_arrow_reader(batch_rows)
            if reader is None:
                raise StoreError("DuckDB returned no result")
            yield from reader
        finally:
            cursor.close()

    def count(self, table: str) -> int:
        sql = f'SELECT count(*) FROM "{self._checked_name(table, reading=True)}"'
        rows = self.connection.execute(sql).fetchall()
        return int(rows[0][0]) if rows else 0

    def write_table(self, name: str, table: pa.Table, replace: bool = True) -> None:
        """Store a result table under ``name`` (replacing it, or appending when ``replace`` is False)."""
        name = self._checked_name(name, reading=False)
        con = self.connection
        with registered(con, {"_result": table}):
            if replace or name not in self._tables():
                con.execute(f'CREATE OR REPLACE TABLE "{name}" AS SELECT * FROM _result')
            else:
                con.execute(f'INSERT INTO "{name}" SELECT * FROM _result')

    def create_table_as(self, name: str, sql: str) -> None:
        """Store the result of ``sql`` (run on this store's connection) under ``name``, replacing it."""
        name = self._checked_name(name, reading=False)
        self.connection.execute(f'CREATE OR REPLACE TABLE "{name}" AS {sql}')

    def drop_table(self, name: str) -> None:
        self.connection.execute(f'DROP TABLE IF EXISTS "{self._checked_name(name, reading=False)}"')

    def read_table(self, name: str) -> pa.Table:
        return _arrow(self.connection, f'SELECT * FROM "{self._checked_name(name, reading=True)}"')

    def _checked_name(self, name: str, reading: bool) -> str:
        if not _NAME.match(name):
            raise StoreError(f"invalid table name {name!r}")
        if not reading and name in _RESERVED:
            raise StoreError(f"table {name!r} is managed by the store and cannot be overwritten")
        return name

    @staticmethod
    def _checked_columns(columns: list[str] | None) -> str:
        if columns is None:
            columns = EXCHANGE_COLUMNS
        unknown = [c for c in columns if c not in EXCHANGE_COLUMNS]
        if unknown:
            raise StoreError(f"unknown exchange columns: {', '.join(unknown)}")
        return ", ".join(f'"{c}"' for c in columns)

    # ------------------------------------------------------------------ lifetime

    def close(self) -> None:
        self.connection.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
