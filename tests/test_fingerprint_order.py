"""The fingerprint stage depends on the exchanges, not on the order or batching they arrive in.

A distributed engine sees no arrival order; the embedded one must not depend on it either, so that both
produce the same families (ids, examples, representatives, signatures, first/last seen).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from distillguard.fingerprint import fingerprint
from fingerprint_data import CHAT, PARAPHRASES, QUESTIONS, rows_to_table, wrapped


def _traffic() -> pa.Table:
    rows = []
    for i, q in enumerate(QUESTIONS * 3):
        rows.append({"account_id": f"camp_{i % 7}", "first_user_text": wrapped(q, i), "thinking_requested": True})
    for i, p in enumerate(PARAPHRASES * 2):
        rows.append({"account_id": f"grader_{i % 3}", "system_text": "You are a strict grader.", "first_user_text": p})
    for i, c in enumerate(CHAT):
        rows.append({"account_id": f"user_{i}", "first_user_text": c})
    # Two exchanges at the same instant with different texts: the family's example must not depend on
    # which one comes first.
    rows.append({"account_id": "tie", "first_user_text": CHAT[0], "ts": None})
    return rows_to_table(rows)


def test_same_families_whatever_the_order_and_batching() -> None:
    table = _traffic()
    a = fingerprint(table.to_batches(max_chunksize=17))
    for seed in (1, 2):
        perm = np.random.default_rng(seed).permutation(table.num_rows)
        b = fingerprint(table.take(pa.array(perm)).to_batches(max_chunksize=5 + seed))
        assert b.families.equals(a.families)
        assert b.exchanges.sort_by("request_id").equals(a.exchanges.sort_by("request_id"))
    assert a.families.num_rows > 3  # several families, so the order of rows inside them mattered


def test_a_bad_batch_read_ahead_is_reported_and_stops_the_stage() -> None:
    """Batches are read and masked one ahead in a second thread: a batch without the texts still fails
    the stage with the clear error, whichever batch it is, and nothing after it is taken."""
    import pytest

    from distillguard.errors import InputError

    table = _traffic()
    good = table.to_batches(max_chunksize=10)
    bad = table.drop_columns(["first_user_text"]).to_batches(max_chunksize=10)[0]
    taken: list[int] = []

    def stream(at: int) -> Iterator[pa.RecordBatch]:
        for i, b in enumerate([*good[:at], bad, *good[at:]]):
            taken.append(i)
            yield b

    for at in (0, 2):
        taken.clear()
        with pytest.raises(InputError, match="first_user_text"):
            fingerprint(stream(at))
        assert taken[-1] == at  # nothing past the bad batch was read
