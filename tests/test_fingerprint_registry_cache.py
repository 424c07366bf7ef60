"""The stream's lookup tables: the compiled 64-bit hash table, and the registry's bounded raw-text cache."""

from __future__ import annotations

import numpy as np
import pyarrow as pa

from distillguard.fingerprint.config import FingerprintConfig
from distillguard.fingerprint.kernels import U64Table
from distillguard.fingerprint.registry import Registry


def test_u64_table_gets_what_was_put_through_growth() -> None:
    rng = np.random.default_rng(7)
    keys = rng.integers(0, 2**64, size=50_000, dtype=np.uint64)
    keys[:3] = [0, 2**64 - 1, 12345]  # the extremes are keys like any other
    table = U64Table(capacity=16)  # grows many times on the way
    reference: dict[int, int] = {}
    for lo in range(0, len(keys), 7_000):
        k = keys[lo : lo + 7_000]
        v = k * np.uint64(3) + np.uint64(1)
        new = table.put(k, v)
        assert new.tolist() == [int(x) not in reference for x in k]
        reference.update(zip(k.tolist(), v.tolist(), strict=True))
    assert len(table) == len(reference)
    queries = np.concatenate([keys[::3], rng.integers(0, 2**64, size=1_000, dtype=np.uint64)])
    got, found = table.get(queries)
    assert found.tolist() == [int(q) in reference for q in queries]
    assert got[found].tolist() == [reference[int(q)] for q in queries[found]]
    assert (got[~found] == 0).all()


def test_u64_table_repeated_keys_are_new_once_and_keep_the_last_value() -> None:
    table = U64Table()
    new = table.put(np.array([5, 9, 5, 5], dtype=np.uint64), np.array([1, 2, 3, 4], dtype=np.uint64))
    assert new.tolist() == [True, True, False, False] and len(table) == 2
    got, found = table.get(np.array([5, 9, 6], dtype=np.uint64))
    assert got.tolist()[:2] == [4, 2] and found.tolist() == [True, True, False]


def test_a_small_raw_text_cache_changes_nothing_but_what_is_masked_again() -> None:
    """Texts recur across batches, some within the newer generation of the cache, some only in the older one,
    some dropped from both: the skeleton hashes are those of a cache large enough to hold everything."""
    rng = np.random.default_rng(3)
    pool = [f"Rewrite line {i} of the report for {['Ana', 'Bo', 'Cy'][i % 3]} in plain words." for i in range(3_000)]
    pool += [f"note {i}" for i in range(200)] + ["", "   "]
    batches = [pa.array([pool[j] if j >= 0 else None for j in rng.integers(-1, len(pool), 700)]) for _ in range(12)]
    small = Registry("user", FingerprintConfig(mask_cache_size=1024))
    large = Registry("user", FingerprintConfig(mask_cache_size=1_000_000))
    for batch in batches:
        assert small.hashes(batch).equals(large.hashes(batch))
    assert len(small._raw) + len(small._raw_old) <= 1024 < len(large._raw)  # the bound held, and mattered
    assert len(small) == len(large) > 0
    assert small.finish().hashes().tolist() == large.finish().hashes().tolist()
