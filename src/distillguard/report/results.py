"""Reading an ``analyze`` results folder (and, when it can be found, the store it was made from)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from distillguard.errors import InputError, StoreError
from distillguard.store import Store

log = logging.getLogger(__name__)

_REQUIRED = ("accounts.parquet", "campaigns.parquet")


@dataclass(frozen=True)
class Results:
    """The tables ``analyze`` wrote into a results folder. ``store``: the store file, when found."""

    folder: Path
    accounts: pa.Table
    campaigns: pa.Table
    families: pa.Table | None
    summary: dict[str, Any]
    store: Path | None

    def campaign_rows(self) -> list[dict[str, Any]]:
        """Campaigns as Python rows, ranked by risk then exchanges (campaign tables are small)."""
        rows: list[dict[str, Any]] = self.campaigns.to_pylist()
        rows.sort(key=lambda r: (-(r.get("risk") or 0.0), -(r.get("exchanges") or 0), r["campaign_id"]))
        return rows


def load_results(folder: str | Path, store: str | Path | None = None) -> Results:
    """Read ``folder`` (accounts/campaigns/families parquet, summary.json) and locate its store.

    The store is ``store`` when given (it must exist), else the one named in summary.json, else
    ``folder/store.duckdb``; None when none of those exists (parts of a report need it).
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError(f"{root}: no such results folder (run `distillguard analyze ... --out {root}`)")
    missing = [name for name in _REQUIRED if not (root / name).is_file()]
    if missing:
        raise InputError(f"{root}: not an analyze results folder (missing {', '.join(missing)})")
    try:
        accounts = pq.read_table(root / "accounts.parquet")
        campaigns = pq.read_table(root / "campaigns.parquet")
        families = pq.read_table(root / "families.parquet") if (root / "families.parquet").is_file() else None
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{root}: unreadable results table ({exc})") from None
    summary: dict[str, Any] = {}
    if (root / "summary.json").is_file():
        try:
            summary = json.loads((root / "summary.json").read_text(encoding="utf-8"))
        except (ValueError, OSError) as exc:
            raise InputError(f"{root / 'summary.json'}: not valid JSON ({exc})") from None
    return Results(root, accounts, campaigns, families, summary, _find_store(root, summary, store))


def _find_store(root: Path, summary: dict[str, Any], given: str | Path | None) -> Path | None:
    if given is not None:
        path = Path(given)
        if not path.is_file():
            raise InputError(f"{path}: no such store")
        return path
    for candidate in (summary.get("store"), root / "store.duckdb"):
        if candidate and Path(candidate).is_file():
            return Path(candidate)
    return None


@contextmanager
def read_store(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A short-lived read-only connection: DuckDB lets a reader in only while no writer holds the file."""
    try:
        store = Store.open(path, read_only=True)
    except StoreError as exc:
        raise StoreError(f"{exc} (is another process writing to it? readers need the file to themselves)") from None
    with store:
        yield store.connection


def has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    rows = con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?", [name]
    ).fetchall()
    return bool(rows and rows[0][0])


def arrow(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> pa.Table:
    table = con.sql(sql, params=params).to_arrow_table() if params else con.sql(sql).to_arrow_table()
    if table is None:
        raise StoreError(f"DuckDB returned no result for {sql[:80]}")
    return table
