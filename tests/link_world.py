"""Account-key incidence rows for the linking and identity-core tests."""

from __future__ import annotations

import pyarrow as pa


def incidence(rows: list[tuple[str, str, str]]) -> pa.Table:
    """account_id, kind, key, n_accounts (each key's accounts counted over the rows, as linking counts them)."""
    counts: dict[tuple[str, str], int] = {}
    for _, kind, key in rows:
        counts[(kind, key)] = counts.get((kind, key), 0) + 1
    return pa.table(
        {
            "account_id": [a for a, _, _ in rows],
            "kind": [k for _, k, _ in rows],
            "key": [v for _, _, v in rows],
            "n_accounts": [counts[(k, v)] for _, k, v in rows],
        }
    )
