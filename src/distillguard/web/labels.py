"""Analyst labels in the store: table ``analyst_labels`` (account_id, label, analyst, at, note).

Append-only like the decision audit: an account's label is its latest entry. Labels are
``confirmed_attack`` or ``false_positive``. ``write_label_folder`` turns them into the labels folder
``distillguard evaluate`` scores against (the simulator's format), so detection quality can be measured
on real traffic an analyst has reviewed.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from distillguard.errors import InputError
from distillguard.report.results import arrow
from distillguard.store import Store

TABLE = "analyst_labels"
LABELS = ("confirmed_attack", "false_positive")
ANALYST_CAMPAIGN = "analyst-confirmed"
"""The 'true campaign' every confirmed account gets in the evaluate labels (analysts label accounts)."""
FP_ARCHETYPE = "analyst-false-positive"
_DDL = f"""CREATE TABLE IF NOT EXISTS {TABLE} (
    account_id VARCHAR NOT NULL, label VARCHAR NOT NULL, analyst VARCHAR NOT NULL,
    "at" TIMESTAMPTZ NOT NULL, note VARCHAR)"""


def _has(store: Store) -> bool:
    rows = store.connection.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' AND table_name = ?", [TABLE]
    ).fetchall()
    return bool(rows and rows[0][0])


def record_labels(store: Store, account_ids: Sequence[str], label: str, analyst: str, note: str | None = None) -> int:
    """Append one label entry per account; returns how many were written."""
    if label not in LABELS:
        raise InputError(f"unknown label {label!r} (one of {', '.join(LABELS)})")
    if not account_ids:
        return 0
    store.connection.execute(_DDL)
    at = datetime.now(UTC)
    store.connection.executemany(
        f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?)", [(a, label, analyst, at, note) for a in account_ids]
    )
    return len(account_ids)


def current_labels(store: Store) -> dict[str, dict[str, Any]]:
    """account_id -> its latest label entry."""
    if not _has(store):
        return {}
    cur = store.connection.execute(
        f"""SELECT account_id, label, analyst, "at", note FROM {TABLE}
            QUALIFY row_number() OVER (PARTITION BY account_id ORDER BY "at" DESC) = 1"""
    )
    return {r[0]: {"label": r[1], "analyst": r[2], "at": r[3], "note": r[4]} for r in cur.fetchall()}


def label_history(store: Store, account_ids: Sequence[str]) -> list[dict[str, Any]]:
    """Every label entry of these accounts, newest first."""
    if not _has(store) or not account_ids:
        return []
    cur = store.connection.execute(
        f'SELECT account_id, label, analyst, "at", note FROM {TABLE} WHERE list_contains(?, account_id) '
        'ORDER BY "at" DESC, account_id',
        [list(account_ids)],
    )
    return [dict(zip(("account_id", "label", "analyst", "at", "note"), r, strict=True)) for r in cur.fetchall()]


def write_label_folder(store_path: str | Path, out_dir: str | Path) -> Path:
    """Write the store's analyst labels as an evaluate labels folder (accounts.parquet, exchanges.parquet).

    Confirmed attacks become label 'attack' (campaign ``ANALYST_CAMPAIGN``), false positives 'legit'
    (archetype ``FP_ARCHETYPE``); only labelled accounts are written, so evaluate scores the reviewed set.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with Store.open(store_path, read_only=True) as store:
        labels = current_labels(store)
        if not labels:
            raise InputError(f"{store_path}: no analyst labels (label accounts in `distillguard serve` first)")
        ids = sorted(labels)
        exchanges = arrow(
            store.connection,
            "SELECT request_id, account_id, ts FROM exchanges WHERE list_contains(?, account_id)",
            [ids],
        )
    attack = [labels[a]["label"] == "confirmed_attack" for a in ids]
    accounts = pa.table(
        {
            "account_id": pa.array(ids, pa.string()),
            "label": pa.array(["attack" if x else "legit" for x in attack], pa.string()),
            "campaign": pa.array([ANALYST_CAMPAIGN if x else None for x in attack], pa.string()),
            "archetype": pa.array([None if x else FP_ARCHETYPE for x in attack], pa.string()),
        }
    )
    by_account = dict(zip(ids, attack, strict=True))
    campaign = [ANALYST_CAMPAIGN if by_account[a] else None for a in exchanges["account_id"].to_pylist()]
    exchanges = exchanges.append_column("campaign", pa.array(campaign, pa.string()))
    pq.write_table(accounts, out / "accounts.parquet")
    pq.write_table(exchanges, out / "exchanges.parquet")
    return out
