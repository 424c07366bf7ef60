"""Families cannot chain: A ~ B ~ C ... ~ Z must not put A and Z (which share nothing) in one family."""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from itertools import product
from pathlib import Path

import pytest

from distillguard.fingerprint import fingerprint
from fingerprint_data import rows_to_table

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
# Plain lower-case pseudo-words: nothing in them is masked, and no two prompts share them by accident.
WORDS = ["".join(p) for p in product(("ba", "ko", "mi", "tu", "se"), ("ral", "pen", "dov", "lix", "gum"), "aoeiu")]
STEP, WIDTH, LINKS = 2, 20, 40


def _chain() -> list[str]:
    """Prompt i is a window of WIDTH words starting at word STEP * i: neighbours share 90% of their
    words, prompts more than WIDTH / STEP apart share none."""
    assert len(WORDS) >= STEP * LINKS + WIDTH
    return [" ".join(WORDS[STEP * i : STEP * i + WIDTH]) for i in range(LINKS)]


def _families(texts: list[str]) -> list[int]:
    table = rows_to_table([{"first_user_text": t, "account_id": f"a{i}"} for i, t in enumerate(texts)])
    return fingerprint(table.to_batches(max_chunksize=13)).exchanges.column("family_id").to_pylist()


def test_a_chain_of_similar_neighbours_is_not_one_family() -> None:
    fams = _families(_chain())
    assert fams[0] != fams[-1]
    members: dict[int, list[int]] = defaultdict(list)
    for i, f in enumerate(fams):
        members[f].append(i)
    # Neighbours still group (the chain is not shattered into singletons) ...
    assert max(len(m) for m in members.values()) >= 3
    # ... but a family spans a bounded stretch: every member is similar to one representative,
    # so no family holds two prompts that share no word.
    assert all(STEP * (max(m) - min(m)) < WIDTH for m in members.values())


def test_a_chain_inside_a_wrapper_is_not_one_family() -> None:
    # The template view sees the chain's shared runs as instructions: it must not chain either.
    texts = [f"{t}. Answer briefly: {q}" for t, q in zip(_chain(), WORDS[::-1], strict=False)]
    fams = _families(texts)
    members: dict[int, list[int]] = defaultdict(list)
    for i, f in enumerate(fams):
        members[f].append(i)
    assert all(STEP * (max(m) - min(m)) < WIDTH for m in members.values())


def _real_singles() -> list[str]:
    out: list[str] = []
    with (SHARED_DATA / "gsm8k/train.jsonl").open(encoding="utf-8") as fh:
        out += [json.loads(line)["question"] for _, line in zip(range(1500), fh, strict=False)]
    with (SHARED_DATA / "arena-hard/arena-hard-v0.1_question.jsonl").open(encoding="utf-8") as fh:
        out += [json.loads(line)["turns"][0]["content"] for line in fh]
    for name in ("en_100_text.jsonl", "prompt_lottery_en_250_text.jsonl", "multilingual-60.jsonl"):
        with (SHARED_DATA / "oasst" / name).open(encoding="utf-8") as fh:
            out += [json.loads(line) for line in fh]
    return list(dict.fromkeys(t for t in out if t.strip()))


@pytest.mark.skipif(not (SHARED_DATA / "gsm8k").is_dir(), reason="shared real corpora absent")
def test_unrelated_real_prompts_form_no_large_family() -> None:
    texts = _real_singles()
    assert len(texts) > 1500
    sizes = Counter(_families(texts))
    assert max(sizes.values()) <= 10, sizes.most_common(3)


@pytest.mark.parametrize(
    ("slots", "dtype"),
    [(64, "uint16"), (64, "uint32"), (16, "uint16"), (12, "uint16"), (10, "uint16"), (256, "uint16")],
)
def test_equal_slots_counts_exactly(slots: int, dtype: str) -> None:
    """The packed count (16-bit slots four to a word) and its fallback (32-bit slots, a slot count that is no
    multiple of four) agree with counting booleans."""
    import numpy as np

    from distillguard.fingerprint.sketch import equal_slots

    rng = np.random.default_rng(slots)
    sig = rng.integers(0, 3, size=(500, slots)).astype(dtype)  # few values: many equal slots, all counts occur
    sig[7] = sig[8]  # a pair equal in every slot
    a, b = rng.integers(0, 500, 4000), rng.integers(0, 500, 4000)
    a[:2], b[:2] = 7, 8
    expected = np.count_nonzero(sig[a] == sig[b], axis=1)
    got = equal_slots(sig, a, b)
    assert got.dtype == np.int64 and (got == expected).all()
    assert got[0] == slots
    # values that differ only in a slot's top bit, or in all of its bits
    wide = rng.choice(np.array([0, 1, 0x8000, 0x8001, 0xFFFF]), size=(500, slots)).astype(dtype)
    assert (equal_slots(wide, a, b) == np.count_nonzero(wide[a] == wide[b], axis=1)).all()


@pytest.mark.parametrize(("slots", "dtype"), [(12, "uint16"), (64, "uint16"), (10, "uint16"), (12, "uint32")])
def test_band_pairs_count_equal_slots_exactly(slots: int, dtype: str) -> None:
    """Each row against the previous and the first row of its bucket, kept when at least ``need`` slots are
    equal: the compiled pass (16-bit slots packed four to a word, or one by one) against a plain one, on rows
    of few values so that counts fall on both sides of ``need``."""
    import numpy as np

    from distillguard.fingerprint.kernels import band_pairs

    rng = np.random.default_rng(slots)
    sig = rng.choice(np.array([0, 1, 0x8000]), size=(300, slots), p=[0.8, 0.1, 0.1]).astype(dtype)
    sig[:, :2] = rng.integers(0, 3, size=(300, 1))  # band 0 (two slots): three buckets
    idx = np.arange(300, dtype=np.int64)
    need = slots * 3 // 4
    want: list[tuple[int, int]] = []
    prev: dict[tuple[int, ...], int] = {}
    first: dict[tuple[int, ...], int] = {}
    for row in range(300):
        key = tuple(sig[row, :2].tolist())
        if key in prev:
            for q in dict.fromkeys((prev[key], first[key])):  # the previous row, then the first (once)
                if int((sig[q] == sig[row]).sum()) >= need:
                    want.append((q, row))
        else:
            first[key] = row
        prev[key] = row
    left, right = band_pairs(sig, idx, 0, 2, need=need, parent=np.arange(300, dtype=np.int64))
    assert sorted(zip(left.tolist(), right.tolist(), strict=True)) == sorted(want)
    assert 0 < len(want) < 2 * 297  # some pairs pass, some do not


@pytest.mark.parametrize(("veto", "join"), [(0.5, 0.3), (0.2, 0.4)])
def test_peel_takes_what_decide_calls_alike_in_peel_order(veto: float, join: float) -> None:
    """The compiled peel joins a row to a representative exactly when ``decide`` calls the pair alike
    (``whole | wrapper``), also when the template veto is looser than the template join and both views must be
    read; and it peels in order: each proposal's first row left takes every row left alike to it, at most
    ``PEEL`` times, and the rows still left have none (-1)."""
    import numpy as np

    from distillguard.fingerprint.clustering import PEEL, _Views
    from distillguard.fingerprint.config import FingerprintConfig

    rng = np.random.default_rng(int(veto * 10))
    config = FingerprintConfig(template_veto=veto, template_join_threshold=join)
    sizes = [10, PEEL + 150, PEEL + 200]  # one proposal ends early, two outlast PEEL peels
    n = sum(sizes) + 40
    views = _Views(rng.integers(0, 8, size=(n, 64)).astype(np.uint16), config)
    views.sig[: n // 2] = rng.integers(0, 2, size=(n // 2, 64))  # alike as whole texts near the boundary
    views.tsig = rng.integers(0, 8, size=(n, 64)).astype(np.uint16)
    views.tsig[:100] = views.tsig[100:200]  # template parts alike
    views.t_active = rng.random(n) < 0.6
    rows = rng.permutation(n)[: sum(sizes)]
    lab = np.repeat(np.arange(3), sizes)
    got = views.peel(rows, lab)

    want = np.full(len(rows), -1)
    for group in (np.flatnonzero(lab == k) for k in range(3)):
        left = list(group)
        for _ in range(PEEL):
            if not left:
                break
            c, rest = left[0], left[1:]
            want[c] = c
            whole, wrapper = views.decide(rows[rest], np.full(len(rest), rows[c]))
            for i, alike in zip(rest, whole | wrapper, strict=True):
                want[i] = c if alike else -1
            left = [i for i in rest if want[i] < 0]
    assert (got == want).all()
    joined = (got >= 0) & (got != np.arange(len(rows)))
    assert joined.sum() > 20 and (got < 0).sum() > 20  # rows join others, and rows are left for the next round


@pytest.mark.parametrize(("k", "window"), [(2, None), (3, 2), (1, None), (4, 1)])
def test_shingle_hashes_match_a_per_row_reference(k: int, window: int | None) -> None:
    """The compiled shingles equal a row-by-row reference: each k-gram mixes its words in order, a row
    shorter than k is one shingle of all its words, an empty row has none, ``window`` keeps the ends."""
    import numpy as np

    from distillguard.fingerprint.sketch import _PRIMES, shingle_hashes

    rng = np.random.default_rng(k)
    lengths = rng.choice([0, 1, 2, 3, 5, 9, 20], size=300)
    offsets = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    tok = rng.integers(0, 2**63, size=int(offsets[-1]), dtype=np.uint64)

    def one(words: np.ndarray) -> np.uint64:
        comb = np.uint64(0)
        with np.errstate(over="ignore"):
            for j in range(k):
                if j < len(words):
                    comb ^= words[j] * _PRIMES[j % len(_PRIMES)] + np.uint64(j)
                comb ^= comb >> np.uint64(31)
        return comb

    expected: list[np.uint64] = []
    counts = []
    for r in range(len(lengths)):
        row = tok[offsets[r] : offsets[r + 1]]
        grams = [one(row[:k])] if 0 < len(row) < k else [one(row[i : i + k]) for i in range(len(row) - k + 1)]
        if window is not None:
            grams = [g for i, g in enumerate(grams) if i < window or i >= len(grams) - window]
        expected += grams
        counts.append(len(grams))
    flat, out_offsets = shingle_hashes(tok, offsets, k, window)
    assert flat.tolist() == [int(x) for x in expected]
    assert np.diff(out_offsets).tolist() == counts


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_components_match_scipy(seed: int) -> None:
    """The compiled union-find labels components exactly as scipy's traversal does (in the order of each
    component's smallest node), and the forest ``union`` builds edge list by edge list (as the LSH bands
    arrive) ends in the same components, each node pointing at its component's smallest node."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from distillguard.fingerprint.kernels import minima, union
    from distillguard.fingerprint.sketch import components

    rng = np.random.default_rng(seed)
    n = 2000
    edges = rng.integers(0, n, size=(int(rng.integers(1, 2500)), 2))
    graph = coo_matrix((np.ones(len(edges)), (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    _, expected = connected_components(graph, directed=False)
    assert components(n, edges).tolist() == expected.tolist()
    parent = np.arange(n, dtype=np.int64)
    for part in np.array_split(edges, 7):
        union(parent, part[:, 0], part[:, 1])
    root = minima(parent)
    first = {}
    for node, label in enumerate(expected.tolist()):
        first.setdefault(label, node)
    assert root.tolist() == [first[label] for label in expected.tolist()]


def test_band_pairs_chain_each_bucket_and_skip_what_is_joined() -> None:
    """One band: every row is compared with the previous and the first row of its bucket (rows with the
    band's slots equal), pairs reaching ``need`` come back, and a pair already joined is not compared."""
    import numpy as np

    from distillguard.fingerprint.kernels import band_pairs

    rng = np.random.default_rng(5)
    sig = rng.integers(0, 2**16, size=(400, 12), dtype=np.uint64).astype(np.uint16)
    sig[:, :3] = ((np.arange(400) // 2) % 6)[:, None]  # band 0: six buckets, each opened by an even row
    sig[::2, 3:] = sig[0, 3:]  # even rows alike beyond the band, odd rows random
    idx = np.arange(400, dtype=np.int64)
    left, right = band_pairs(sig, idx, 0, 3, need=10, parent=np.arange(400, dtype=np.int64))
    key = sig[:, 0]
    assert len(left) > 0
    assert all(key[a] == key[b] and a < b for a, b in zip(left.tolist(), right.tolist(), strict=True))
    assert all((sig[a] == sig[b]).sum() >= 10 for a, b in zip(left.tolist(), right.tolist(), strict=True))
    # every even row but its bucket's first pairs with an earlier even row (the previous row, or when that
    # is an odd one, the first), and no odd row pairs
    evens = {r for r in range(12, 400, 2)}
    assert set(right.tolist()) == evens and set(left.tolist()) <= set(range(0, 400, 2))
    # the same slots unpacked (32-bit: compared one by one) give the same pairs as the packed 16-bit words
    wide = band_pairs(sig.astype(np.uint32), idx, 0, 3, need=10, parent=np.arange(400, dtype=np.int64))
    assert np.array_equal(wide[0], left) and np.array_equal(wide[1], right)
    # a forest that already joins everything: nothing is compared, nothing comes back
    joined = np.zeros(400, dtype=np.int64)
    assert len(band_pairs(sig, idx, 0, 3, need=10, parent=joined)[0]) == 0
    # a subset of rows: positions in it come back
    sub = np.arange(0, 400, 2, dtype=np.int64)
    left, right = band_pairs(sig, sub, 0, 3, need=10, parent=np.arange(200, dtype=np.int64))
    assert right.max() < 200 and all(
        key[sub[a]] == key[sub[b]] for a, b in zip(left.tolist(), right.tolist(), strict=True)
    )


def test_majority_agreement_matches_the_sorting_form() -> None:
    """The compiled centrality count equals the one-sort-per-slot form, ties between values included."""
    import numpy as np

    from distillguard.fingerprint.kernels import majority_agreement

    def one_sort_per_slot(labels: np.ndarray, sig: np.ndarray) -> np.ndarray:
        """The form clustering used before the kernel: per slot, count each (label, value) by sorting."""
        k = int(labels.max()) + 1
        agree = np.zeros(len(labels), dtype=np.int64)
        for j in range(sig.shape[1]):
            key = (labels.astype(np.uint64) << np.uint64(32)) | sig[:, j].astype(np.uint64)
            uniq, inv, counts = np.unique(key, return_inverse=True, return_counts=True)
            best = np.zeros(k, dtype=np.int64)
            np.maximum.at(best, (uniq >> np.uint64(32)).astype(np.int64), counts)
            agree += counts[inv] == best[labels]  # ties between values: both count as majority
        return agree

    rng = np.random.default_rng(5)
    labels = rng.integers(0, 40, size=3000).astype(np.int64)
    labels[labels == 7] = 8  # a label with no rows
    sig = rng.integers(0, 4, size=(3000, 24)).astype(np.uint16)  # few values: ties for most frequent occur
    sig[:, 3] = rng.integers(0, 65536, size=3000)  # and the full 16-bit range
    assert (majority_agreement(labels, sig) == one_sort_per_slot(labels, sig)).all()


@pytest.mark.parametrize("dtype", ["uint16", "uint32"])
def test_gather_writes_the_leading_slots_of_the_rows_asked(dtype: str) -> None:
    """``kernels.gather`` equals numpy's take of the column slice, placed at an offset of a wider output (the
    rows repeated and out of order, none, or every one), and refuses what does not fit."""
    import numpy as np

    from distillguard.fingerprint.kernels import gather

    rng = np.random.default_rng(11)
    a = rng.integers(0, 2**16, size=(500, 64)).astype(dtype)
    b = rng.integers(0, 2**16, size=(500, 20)).astype(dtype)
    for rows in (rng.integers(0, 500, size=700), np.zeros(0, dtype=np.int64), np.arange(500)[::-1]):
        out = np.full((len(rows), 32), 7, dtype=dtype)
        gather(out, 0, a, rows, 16)
        gather(out, 16, b, rows, 12)
        assert (out[:, :16] == np.take(a[:, :16], rows, axis=0)).all()
        assert (out[:, 16:28] == np.take(b[:, :12], rows, axis=0)).all()
        assert (out[:, 28:] == 7).all()  # nothing written past the slots asked
    with pytest.raises(ValueError, match="slots asked"):
        gather(np.empty((3, 32), dtype=dtype), 0, b, np.arange(3), 24)
    with pytest.raises(ValueError, match="does not fit"):
        gather(np.empty((3, 32), dtype=dtype), 20, a, np.arange(3), 16)
    with pytest.raises(ValueError, match="does not fit"):
        gather(np.empty((2, 32), dtype=dtype), 0, a, np.arange(3), 16)


def test_lookup_matches_a_binary_search() -> None:
    """The compiled hash table, as the template view uses it (32-bit shingle keys, their counts), finds every
    key's value (collisions included) and 0 for an absent key."""
    import numpy as np

    from distillguard.fingerprint.kernels import U64Table

    rng = np.random.default_rng(9)
    keys = np.unique(rng.integers(0, 2**32, size=5000, dtype=np.uint64).astype(np.uint32))
    values = rng.integers(1, 1000, size=len(keys))
    table = U64Table(len(keys))
    table.put(keys, values.astype(np.uint64))
    queries = keys[rng.integers(0, len(keys), size=20_000)]
    assert (table.get(queries)[0] == values[np.searchsorted(keys, queries)]).all()
    absent = np.setdiff1d(np.arange(100, dtype=np.uint32), keys)
    assert (table.get(absent)[0] == 0).all()


def test_warm_up_loads_the_kernels_once_per_process() -> None:
    """The store engine starts the kernels' loading as it opens, the fingerprint stage asks again: both get the
    one background load, and it completes."""
    from distillguard.fingerprint import kernels

    first = kernels.warm_up()
    assert kernels.warm_up() is first
    first.result(timeout=120)
    assert first.done() and first.exception() is None
