"""Accumulate normalized rows and quarantine records, then emit them as Arrow tables.

A batch is the unit of commit: its exchanges, its quarantine rows and its ledger entry are written in one
transaction. Rows are kept as tuples until the batch is full, then transposed column by column.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import xxhash

from distillguard.schema import EXCHANGES, QUARANTINE

log = logging.getLogger(__name__)

RAW_CAP = 64 * 1024
"""Bytes of a rejected record kept in the quarantine table."""

STORED_ROWS = EXCHANGES.append(pa.field("rid_hash", pa.uint64(), nullable=False))
"""A batch's exchanges as the store keeps them: the ``EXCHANGES`` columns + xxh3-64 of ``request_id``."""


@dataclass(frozen=True)
class Batch:
    """One commit unit from one source.

    ``first``/``last`` are the 1-based line (or row) numbers it covers; ``end_offset`` is the byte offset
    (in the decompressed stream) after ``last``, so a plain file can be resumed by seeking there.
    ``read`` counts records: stored-or-duplicate rows in ``exchanges`` plus rows in ``quarantine``.
    ``exchanges`` has the ``STORED_ROWS`` schema (``EXCHANGES`` + ``rid_hash``).
    ``complete`` marks the last batch of its source.
    """

    source: str
    first: int
    last: int
    end_offset: int
    read: int
    exchanges: pa.Table
    quarantine: pa.Table
    complete: bool


def raw_text(raw: bytes | str | None) -> str | None:
    if raw is None:
        return None
    if isinstance(raw, str):
        return raw[:RAW_CAP]
    return raw[:RAW_CAP].decode("utf-8", errors="replace")


class BatchBuilder:
    """Collects rows and rejects for one source; ``take`` empties it into two Arrow tables."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.rows: list[tuple[Any, ...]] = []
        self.rejects: list[tuple[str, int, str, str, str | None]] = []

    def __len__(self) -> int:
        return len(self.rows) + len(self.rejects)

    def add_row(self, row: tuple[Any, ...]) -> None:
        self.rows.append(row)

    def reject(self, line: int, reason: str, detail: str, raw: bytes | str | None) -> None:
        self.rejects.append((self.source, line, reason, detail[:1000], raw_text(raw)))

    def take(self) -> tuple[pa.Table, pa.Table]:
        """Both tables; rows Arrow cannot hold (out-of-range values) move to quarantine instead of failing."""
        exchanges = self._exchange_table()
        quarantine = pa.Table.from_arrays(
            [pa.array(list(col), type=f.type) for col, f in zip(_columns(self.rejects, 5), QUARANTINE, strict=True)],
            schema=QUARANTINE,
        )
        self.rows, self.rejects = [], []
        return exchanges, quarantine

    def _exchange_table(self) -> pa.Table:
        try:
            return rows_to_table(self.rows)
        except (pa.ArrowException, OverflowError, TypeError, ValueError):
            log.debug("batch of %d rows failed to convert; checking row by row", len(self.rows))
        good = []
        for row in self.rows:
            try:
                rows_to_table([row])
            except (pa.ArrowException, OverflowError, TypeError, ValueError) as exc:
                line = row[EXCHANGES.get_field_index("source_line")]
                self.rejects.append((self.source, line, "invalid_field", str(exc)[:1000], None))
            else:
                good.append(row)
        return rows_to_table(good)


def _columns(rows: list[tuple[Any, ...]], width: int) -> list[tuple[Any, ...]] | list[list[Any]]:
    return list(zip(*rows, strict=True)) if rows else [[] for _ in range(width)]


def rows_to_table(rows: list[tuple[Any, ...]]) -> pa.Table:
    """``STORED_ROWS`` from row tuples in ``EXCHANGES`` order (rid_hash computed here, off the committing process)."""
    columns = _columns(rows, len(EXCHANGES))
    arrays = [pa.array(col, type=f.type) for col, f in zip(columns, EXCHANGES, strict=True)]
    hashes = [xxhash.xxh3_64_intdigest(rid.encode()) for rid in columns[0]]
    arrays.append(pa.array(hashes, type=pa.uint64()))
    return pa.Table.from_arrays(arrays, schema=STORED_ROWS)
