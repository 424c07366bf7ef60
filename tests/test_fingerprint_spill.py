"""Per-skeleton state spilled to disk reads back as it was kept in memory, and the families do not change."""

from __future__ import annotations

from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pytest

from distillguard.fingerprint import spill as spill_module
from distillguard.fingerprint.config import FingerprintConfig
from distillguard.fingerprint.registry import Registry
from distillguard.fingerprint.spill import Spill
from distillguard.fingerprint.stage import collect_in_duckdb
from distillguard.sqlconn import registered
from fingerprint_data import CHAT, PARAPHRASES, QUESTIONS, rows_to_table, wrapped


def test_spilled_rows_read_back_in_the_order_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spill_module, "BLOCK_ROWS", 7)  # many blocks: a read crosses them
    rng = np.random.default_rng(5)
    spill = Spill(tmp_path, "user", num_perm=4)
    highs, texts = [], []
    for size in (5, 1, 12, 9):  # chunks of the stream, of uneven sizes
        high = rng.integers(0, 2**16, size=(size, 4), dtype=np.uint16)
        text = pa.array([f"skeleton {len(texts) + i} " + "x" * int(rng.integers(0, 40)) for i in range(size)])
        spill.append(high, text)
        highs.append(high)
        texts.extend(text.to_pylist())
    spill.close()
    every_high = np.concatenate(highs)
    rows = np.array([26, 0, 3, 3, 14, 7, 6, 25, 13, 1, 20], dtype=np.int64)  # any order, a row twice
    assert (spill.high(rows) == every_high[rows]).all()
    assert spill.texts(rows).to_pylist() == [texts[r] for r in rows]
    assert spill.high(np.zeros(0, dtype=np.int64)).shape == (0, 4)
    assert spill.texts(np.zeros(0, dtype=np.int64)).to_pylist() == []
    with pytest.raises(ValueError, match="high halves"):
        Spill(tmp_path, "system", num_perm=4).append(np.zeros((2, 3), dtype=np.uint16), pa.array(["a", "b"]))


def _texts(n_batches: int) -> list[pa.Array]:
    rng = np.random.default_rng(11)
    pool = [wrapped(q, i) for i, q in enumerate(QUESTIONS * 2)] + list(PARAPHRASES) + list(CHAT) + ["", None]
    return [pa.array([pool[j] for j in rng.integers(0, len(pool), 40)]) for _ in range(n_batches)]


def test_a_spilled_skeleton_set_answers_as_one_kept_in_memory(tmp_path: Path) -> None:
    config = FingerprintConfig()
    kept = Registry("user", config)
    spilled = Registry("user", config, Spill(tmp_path, "user", config.num_perm))
    for batch in _texts(6):
        assert kept.hashes(batch).equals(spilled.hashes(batch))
    a, b = kept.finish(), spilled.finish()
    assert len(a) == len(b) > 20
    assert (a.hashes() == b.hashes()).all() and (a.low16() == b.low16()).all()
    assert (a.sketched() == b.sketched()).all()
    ids = np.array([len(a) - 1, 0, 5, -1, 5, 2], dtype=np.int64)
    assert b.text_array(ids).equals(a.text_array(ids))
    assert (b.signatures(ids[ids >= 0]) == a.signatures(ids[ids >= 0])).all()
    assert b._hi is None and b._texts is None  # what was spilled is not also held


def test_the_families_are_the_same_with_a_spill(tmp_path: Path) -> None:
    rows = [{"account_id": f"camp_{i % 5}", "first_user_text": wrapped(q, i)} for i, q in enumerate(QUESTIONS * 3)]
    rows += [
        {"account_id": "grader", "system_text": "You are a strict grader.", "first_user_text": p} for p in PARAPHRASES
    ]
    rows += [{"account_id": f"user_{i}", "first_user_text": c} for i, c in enumerate(CHAT)]
    table = rows_to_table(rows)
    out = []
    for spill_dir in (None, tmp_path):
        con = duckdb.connect()
        stage = collect_in_duckdb(con, table.to_batches(max_chunksize=13), FingerprintConfig(), spill_dir=spill_dir)
        with registered(con, stage.views):
            exchanges = con.sql(stage.exchanges_sql + " ORDER BY request_id").to_arrow_table()
        out.append((stage.families, exchanges))
        con.close()
    (fam_a, ex_a), (fam_b, ex_b) = out
    assert fam_b.equals(fam_a) and ex_b.equals(ex_a)
    assert fam_a.num_rows > 3
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "system-high.u16", "system-texts.arrow", "user-high.u16", "user-texts.arrow",
    ]  # fmt: skip


def test_a_released_window_is_not_read_again() -> None:
    registry = Registry("user", FingerprintConfig())
    registry.hashes(_texts(1)[0])
    skeletons = registry.finish()
    _flat, offsets = skeletons.window()
    assert len(offsets) == len(skeletons) + 1
    skeletons.release_window()
    with pytest.raises(ValueError, match="released"):
        skeletons.window()
