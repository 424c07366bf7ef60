"""Compiled inner loops of the fingerprint stage (numba): XXH64 of strings and of their words, word
shingles, MinHash, LSH band pairs (and the band slots they read), slot comparison of signature rows, the
clustering's peel, union-find, slot-majority counting and a 64-bit hash table.

Loops numpy can only express through temporaries as large as their input (comparing rows a[i] and b[i]
gathers both into copies first; scipy's connected components builds a sparse matrix of every edge) or
through Python objects (rensa returned MinHash rows as lists; hashing a batch's texts or words with the
``xxhash`` module made a Python object of each). Compiled, each is one pass that reads what it needs in
place. All but ``minhash`` give exactly what their numpy forms gave (shingle hashes, integer counts,
component minima); tests hold them equal.

Compiled once per machine: ``cache=True`` keeps the machine code beside this module (numba's cache), so
a later process loads it instead of compiling. Every kernel but the hash table's releases the GIL
(``nogil``): callers split large inputs over two threads. The hash table's hold it, so that a reader in
another thread never sees a slot half written (``U64Table``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
from numba import njit

from distillguard import textscan

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
Keys = npt.NDArray[np.uint64] | npt.NDArray[np.uint32]
"""Keys of a ``U64Table`` (32-bit keys are widened)."""
Slots = npt.NDArray[np.uint16] | npt.NDArray[np.uint32]

_SPLIT = 1 << 17
"""Pairs above which a comparison is split over two threads (below, a thread costs more than it saves)."""


@njit(cache=True, nogil=True)
def _equal_slots(sig: npt.NDArray[Any], a: I64, b: I64, out: I64) -> None:  # pragma: no cover - compiled
    m = sig.shape[1]
    for i in range(a.shape[0]):
        x = sig[a[i]]
        y = sig[b[i]]
        c = 0
        for j in range(m):
            c += x[j] == y[j]
        out[i] = c


def _split(n: int, least: int, part: Callable[[int, int], None]) -> None:
    """``part(0, n)``, or ``part`` on the two halves at once when ``n`` reaches ``least`` (kernels release
    the GIL; below ``least`` a thread costs more than it saves)."""
    if n < least:
        part(0, n)
        return
    half = n // 2
    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(part, lo, hi) for lo, hi in ((0, half), (half, n))]:
            done.result()


_LOW15 = np.uint64(0x7FFF7FFF7FFF7FFF)
_LANES = np.uint64(0x0001000100010001)


@njit(cache=True, nogil=True, inline="always")
def _unequal_lanes(v: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    """1 in each 16-bit lane of ``v`` that is not zero, 0 in the others: adding 0x7FFF to a lane's low 15
    bits carries into its top bit exactly when they are not all zero (never into the next lane), and the
    lane's own top bit is or-ed in."""
    return ((((v & _LOW15) + _LOW15) | v) >> np.uint64(15)) & _LANES


@njit(cache=True, nogil=True, inline="always")
def _equal_in_words(x: npt.NDArray[np.uint64], y: npt.NDArray[np.uint64]) -> int:  # pragma: no cover - compiled
    """Equal 16-bit slots of two rows of ``packed`` words."""
    n: int = x.shape[0]
    c = np.uint64(0)  # four 16-bit counters of unequal slots, one per lane
    for j in range(n):
        c += _unequal_lanes(x[j] ^ y[j])
    return 4 * n - int((c * _LANES) >> np.uint64(48))  # the lanes' sum collects in the top lane


@njit(cache=True, nogil=True)
def _equal_words(words: npt.NDArray[np.uint64], a: I64, b: I64, out: I64) -> None:  # pragma: no cover - compiled
    for i in range(a.shape[0]):
        out[i] = _equal_in_words(words[a[i]], words[b[i]])


def packed(sig: npt.NDArray[Any]) -> npt.NDArray[np.uint64] | None:
    """The rows of a C-contiguous 16-bit signature matrix as 64-bit words, four slots each (no copy), where
    they pack: a slot count that is a multiple of four, below 2**16. None otherwise."""
    m = sig.shape[1] if sig.ndim == 2 else 0
    if sig.dtype != np.uint16 or not sig.flags.c_contiguous or m % 4 or not 0 < m < 1 << 16:
        return None
    return sig.view(np.uint64)


def equal_slots(sig: Slots, a: I64, b: I64) -> I64:
    """Number of equal slots between rows a[i] and b[i] of a (C-contiguous) signature matrix. 16-bit slots
    are compared four at a time, as 64-bit words (``packed``): kernel 20M pairs of 64 slots 0.95 -> 0.67 s;
    the 4M bench store's user clustering, its peel's comparisons 3.2-3.9 -> 2.9-3.1 s."""
    rows = np.ascontiguousarray(sig)
    a = np.ascontiguousarray(a, dtype=np.int64)
    b = np.ascontiguousarray(b, dtype=np.int64)
    out = np.empty(len(a), dtype=np.int64)
    words = packed(rows)
    if words is not None:
        w = words
        _split(len(a), _SPLIT, lambda lo, hi: _equal_words(w, a[lo:hi], b[lo:hi], out[lo:hi]))
    else:
        _split(len(a), _SPLIT, lambda lo, hi: _equal_slots(rows, a[lo:hi], b[lo:hi], out[lo:hi]))
    return out


@njit(cache=True, nogil=True)
def _find(parent: I64, x: int) -> int:  # pragma: no cover - compiled
    root = x
    while parent[root] != root:
        root = parent[root]
    while parent[x] != root:  # path compression
        nxt = parent[x]
        parent[x] = root
        x = nxt
    return root


@njit(cache=True, nogil=True)
def _union(parent: I64, left: I64, right: I64) -> None:  # pragma: no cover - compiled
    for i in range(left.shape[0]):
        ra = _find(parent, left[i])
        rb = _find(parent, right[i])
        if ra < rb:
            parent[rb] = ra
        elif rb < ra:
            parent[ra] = rb


def union(parent: I64, left: I64, right: I64) -> None:
    """Join ``left[i]`` and ``right[i]`` in the union-find forest ``parent`` (in place). Every write sets a
    node's parent to a smaller node of its own component, so a reader in another thread (``band_pairs``)
    that follows parents without writing always ends in the same component: it may see two connected
    nodes as apart (then it compares them, as if they were), never two apart nodes as connected."""
    _union(parent, np.ascontiguousarray(left, dtype=np.int64), np.ascontiguousarray(right, dtype=np.int64))


@njit(cache=True, nogil=True)
def _minima(parent: I64) -> I64:  # pragma: no cover - compiled
    for x in range(parent.shape[0]):
        parent[x] = _find(parent, x)
    return parent


def minima(parent: I64) -> I64:
    """The smallest node of each node's component in the forest ``parent`` (flattened in place)."""
    out: I64 = _minima(parent)
    return out


@njit(cache=True, nogil=True)
def _component_minima(n: int, left: I64, right: I64) -> I64:  # pragma: no cover - compiled
    parent = np.arange(n)
    _union(parent, left, right)
    return _minima(parent)


def component_minima(n: int, edges: I64) -> I64:
    """The smallest node of each node's connected component (nodes 0..n-1, undirected ``edges``)."""
    if len(edges) == 0:
        return np.arange(n, dtype=np.int64)
    e = np.asarray(edges, dtype=np.int64)
    out: I64 = _component_minima(n, np.ascontiguousarray(e[:, 0]), np.ascontiguousarray(e[:, 1]))
    return out


@njit(cache=True, nogil=True, inline="always")
def _equal_rows(sig: npt.NDArray[Any], words: npt.NDArray[np.uint64], i: int, j: int) -> int:  # pragma: no cover
    """Equal slots of rows i and j: four at a time where ``words`` packs ``sig`` (else a placeholder)."""
    m = sig.shape[1]
    if words.shape[1] * 4 == m:
        return _equal_in_words(words[i], words[j])
    c = 0
    for k in range(m):
        c += sig[i, k] == sig[j, k]
    return c


_FREE_BUCKET = np.uint64(0xFFFFFFFFFFFFFFFF)
_LOW32 = np.uint64(0xFFFFFFFF)


@njit(cache=True, nogil=True)
def _columns(sig: npt.NDArray[Any], idx: I64, lo: int, out: npt.NDArray[Any]) -> None:  # pragma: no cover - compiled
    for p in range(idx.shape[0]):
        row = idx[p]
        for j in range(out.shape[0]):
            out[j, p] = sig[row, lo + j]


def columns(sig: npt.NDArray[Any], idx: I64, lo: int, width: int) -> npt.NDArray[Any]:
    """Slots ``lo`` .. ``lo + width`` of the rows ``idx``, one row per slot (the rows' values side by side): what
    the LSH bands read their keys from. Read from the signature rows, a band touched a 128-byte row for six
    bytes of it, at random once the rows left are a scattered subset; read from here, a band's slots are
    a few contiguous arrays."""
    out = np.empty((width, len(idx)), dtype=sig.dtype)
    _columns(np.ascontiguousarray(sig), np.ascontiguousarray(idx, dtype=np.int64), lo, out)
    return out


@njit(cache=True, nogil=True)
def _gather(out: npt.NDArray[Any], at: int, sig: npt.NDArray[Any], rows: I64, width: int) -> None:  # pragma: no cover
    for p in range(rows.shape[0]):
        r = rows[p]
        for j in range(width):
            out[p, at + j] = sig[r, j]


def gather(out: npt.NDArray[Any], at: int, sig: npt.NDArray[Any], rows: I64, width: int) -> None:
    """``out[:, at : at + width] = sig[rows, :width]``, the rows read in place. ``np.take`` of a column slice
    (``sig[:, :16]``) first copies the whole slice contiguous: ~17 ms a call on the 4M bench store's 651,003
    user skeletons however few rows are asked, ~0.9 s over its clustering's rounds."""
    if out.dtype != sig.dtype or out.shape[0] != len(rows) or at < 0 or at + width > out.shape[1]:
        raise ValueError("gather: out does not fit the rows, the slots or their type")
    if width > sig.shape[1]:
        raise ValueError(f"gather: {width} slots asked of rows of {sig.shape[1]}")
    _gather(out, at, np.ascontiguousarray(sig), np.ascontiguousarray(rows, dtype=np.int64), width)


@njit(cache=True, nogil=True)
def _band_pairs(
    sig: npt.NDArray[Any],
    cols: npt.NDArray[Any],
    idx: I64,
    lo: int,
    width: int,
    need: int,
    parent: I64,
    words: npt.NDArray[np.uint64],
    table: npt.NDArray[np.uint64],
    left: I64,
    right: I64,
) -> int:  # pragma: no cover - compiled
    mask = table.shape[0] - 1
    found = 0
    for p in range(idx.shape[0]):
        row = idx[p]
        key = np.uint64(0)
        for j in range(width):
            key = (key ^ np.uint64(cols[lo + j, p])) * np.uint64(0x9E3779B97F4A7C15)
            key ^= key >> np.uint64(29)
        h = np.int64((key ^ (key >> np.uint64(32))) & np.uint64(mask))
        while True:
            slot = table[h, 1]  # the bucket's first row (high half) and its latest row (low half)
            if slot == _FREE_BUCKET:
                table[h, 0] = key
                table[h, 1] = (np.uint64(p) << np.uint64(32)) | np.uint64(p)
                break
            if table[h, 0] == key:
                prev = np.int64(slot & _LOW32)
                table[h, 1] = (slot & ~_LOW32) | np.uint64(p)  # the bucket's chain goes on from this row
                b = p
                while parent[b] != b:  # read only: see ``union``
                    b = parent[b]
                # Two candidates, each decided on its own (whether the other passed must not matter: a
                # skip below depends on what the other thread has joined so far).
                for t in range(2):  # the previous row of the bucket, then its first row
                    q = prev if t == 0 else np.int64(slot >> np.uint64(32))
                    if t == 1 and q == prev:
                        break
                    a = q
                    while parent[a] != a:
                        a = parent[a]
                    if a == b:
                        continue  # already joined: the pair would add nothing
                    if _equal_rows(sig, words, idx[q], row) >= need:
                        left[found] = q
                        right[found] = p
                        found += 1
                break
            h = (h + 1) & mask
    return found


def band_pairs(
    sig: Slots, idx: I64, band: int, rows: int, need: int, parent: I64, cols: npt.NDArray[Any] | None = None
) -> tuple[I64, I64]:
    """Candidate pairs of one LSH band that reach ``need`` equal slots, as positions in ``idx``.

    The rows ``idx`` of ``sig`` are bucketed by the band's key (slots ``band * rows`` .. ``+ rows``) in a hash
    table, and each row is compared with the previous row and the first row of its bucket: a chain and a
    star through every bucket, one pass, no sort (a chain alone breaks at the first unlike row: on the 1M
    bench store it left 4% more proposals, and at scale 0.05 of reported-2026 it lost every B account). A
    pair already connected in ``parent`` (positions; see ``union``) is not compared: the components of
    what comes back, joined with ``parent``, are those of all candidate pairs that pass, whatever
    ``parent`` held when the band ran. 16-bit slots are compared four to a word, as in ``equal_slots`` (the
    651,003 user skeletons of the 4M bench store: 21 serial bands median 4.14 -> 3.74 s, the LSH of their
    clustering 10.5-11.7 -> 10.1-11.5 s, alternated runs; the same pairs).

    A table slot is 16 bytes, the key beside the bucket's first and latest positions (32 bits each), so that
    a probe costs one cache miss, not three (key, latest and first in arrays of their own before): the same
    21 bands with every pair already joined, i.e. the bucketing alone, 3.5-3.8 -> 2.2-2.9 s.

    The keys are read from ``cols`` (``columns(sig, idx, 0, bands * rows)``, shared by every band) when given,
    else from the band's own slots gathered here.
    """
    n = len(idx)
    if n >= 1 << 32:
        raise ValueError(f"band_pairs: {n} rows; positions must fit in 32 bits")
    size = 1 << max(4, int(2 * n - 1).bit_length())  # at most half full
    table = np.full((size, 2), _FREE_BUCKET, dtype=np.uint64)  # (key, first << 32 | latest); all ones: empty
    left = np.empty(2 * n, dtype=np.int64)  # two candidates per row at most
    right = np.empty(2 * n, dtype=np.int64)
    slots = np.ascontiguousarray(sig)
    words = packed(slots)
    w = words if words is not None else np.zeros((1, 0), dtype=np.uint64)  # not packed: compared slot by slot
    lo = band * rows
    if cols is None:
        cols, lo = columns(slots, idx, lo, rows), 0
    k = _band_pairs(slots, cols, idx, lo, rows, need, parent, w, table, left, right)
    return left[:k], right[:k]


@njit(cache=True, nogil=True)
def _peel(
    sig: npt.NDArray[Any],
    words: npt.NDArray[np.uint64],
    tsig: npt.NDArray[Any],
    twords: npt.NDArray[np.uint64],
    t_active: npt.NDArray[np.bool_],
    need: int,
    t_need: int,
    veto_need: int,
    starts: I64,
    peels: int,
    out: I64,
) -> None:  # pragma: no cover - compiled
    has_t = t_active.shape[0] > 0
    longest = 0
    for s in range(starts.shape[0] - 1):
        longest = max(longest, starts[s + 1] - starts[s])
    left = np.empty(longest, dtype=np.int64)  # the proposal's rows not yet taken, in order
    for s in range(starts.shape[0] - 1):
        lo = starts[s]
        n = starts[s + 1] - lo
        for j in range(n):
            left[j] = lo + j
        for _ in range(peels):
            if n == 0:
                break
            c = left[0]  # the most central row left is the next representative
            out[c] = c
            kept = 0
            for j in range(1, n):
                i = left[j]
                if not has_t or not (t_active[i] or t_active[c]):  # neither has a template part
                    ok = _equal_rows(sig, words, i, c) >= need
                elif t_active[i] and t_active[c]:  # both: the template part decides ...
                    t_eq = _equal_rows(tsig, twords, i, c)
                    ok = t_eq >= t_need
                    if not ok and t_eq >= veto_need:  # ... or the whole text, when the veto allows
                        ok = _equal_rows(sig, words, i, c) >= need
                else:  # only one has one: never joins
                    ok = False
                if ok:
                    out[i] = c
                else:
                    left[kept] = i
                    kept += 1
            n = kept


def peel(
    sig: npt.NDArray[np.uint16],
    tsig: npt.NDArray[np.uint16] | None,
    t_active: npt.NDArray[np.bool_] | None,
    need: tuple[int, int, int],
    starts: I64,
    peels: int,
) -> I64:
    """The representative of each row (its position; -1: none), proposal by proposal: rows ``starts[k]`` ..
    ``starts[k + 1]`` are one proposal, most central first. Up to ``peels`` times, the first row left becomes a
    representative and takes every row left that is similar to it. Similar (``need`` = whole-text, template
    and template-veto slot counts): a pair of which neither row has a template part (``t_active``) by the
    whole text (``sig``), a pair of which both have one by the template part (``tsig``), or by the whole
    text where the template part reaches only the veto; a pair of which one has one, never. Proposals are
    split over two threads (each is peeled on its own)."""
    n = len(sig)
    out = np.full(n, -1, dtype=np.int64)
    rows = np.ascontiguousarray(sig)
    w = packed(rows)
    words = w if w is not None else np.zeros((1, 0), dtype=np.uint64)
    if tsig is None or t_active is None:
        trows, twords, active = np.zeros((1, 1), dtype=np.uint16), np.zeros((1, 0), dtype=np.uint64), np.zeros(0, bool)
    else:
        trows, active = np.ascontiguousarray(tsig), np.ascontiguousarray(t_active, dtype=bool)
        tw = packed(trows)
        twords = tw if tw is not None else np.zeros((1, 0), dtype=np.uint64)
    whole, templ, veto = need

    def part(lo: int, hi: int) -> None:
        _peel(rows, words, trows, twords, active, whole, templ, veto, starts[lo : hi + 1], peels, out)

    k = len(starts) - 1
    if n < _SPLIT or k < 2:
        part(0, k)
        return out
    mid = int(np.clip(np.searchsorted(starts, n // 2), 1, k - 1))  # a proposal boundary near half the rows
    with ThreadPoolExecutor(2) as pool:
        for done in [pool.submit(part, 0, mid), pool.submit(part, mid, k)]:
            done.result()
    return out


@njit(cache=True, nogil=True)
def _majority_agreement(sig: npt.NDArray[Any], starts: I64) -> I64:  # pragma: no cover - compiled
    n, m = sig.shape
    agree = np.zeros(n, dtype=np.int64)
    count = np.zeros(65536, dtype=np.int64)
    for g in range(starts.shape[0] - 1):
        lo, hi = starts[g], starts[g + 1]
        for j in range(m):
            best = 0
            for i in range(lo, hi):
                v = sig[i, j]
                count[v] += 1
                if count[v] > best:
                    best = count[v]
            for i in range(lo, hi):
                if count[sig[i, j]] == best:
                    agree[i] += 1
            for i in range(lo, hi):
                count[sig[i, j]] = 0
    return agree


def majority_agreement(labels: I64, sig: npt.NDArray[np.uint16]) -> I64:
    """Per row, in how many slots its value is its label's most frequent value in that slot (every value
    tied for most frequent counts). One counting pass per slot and label: values are 16-bit."""
    n = len(labels)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = np.argsort(labels, kind="stable")
    starts = np.zeros(int(labels.max()) + 2, dtype=np.int64)
    np.cumsum(np.bincount(labels, minlength=len(starts) - 1), out=starts[1:])
    by_label = np.take(sig, order, axis=0)  # a row-wise copy: faster than fancy indexing
    agree = np.empty(n, dtype=np.int64)
    agree[order] = _majority_agreement(by_label, starts)
    return agree


@njit(cache=True)
def _table_put(
    keys: U64, vals: U64, used: npt.NDArray[np.bool_], new_keys: U64, new_vals: U64, absent: npt.NDArray[np.bool_]
) -> int:  # pragma: no cover - compiled
    """Insert (or overwrite) each key; ``absent[i]``: whether ``new_keys[i]`` was not there before. Returns how
    many keys were added. Holds the GIL (no ``nogil``): a reader in another thread never sees a half-written
    slot."""
    mask = keys.shape[0] - 1
    added = 0
    for i in range(new_keys.shape[0]):
        v = new_keys[i]
        s = np.int64((v * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)) & mask
        while used[s] and keys[s] != v:
            s = (s + 1) & mask
        absent[i] = not used[s]
        if absent[i]:
            used[s] = True
            keys[s] = v
            added += 1
        vals[s] = new_vals[i]
    return added


@njit(cache=True)
def _table_get(
    keys: U64, vals: U64, used: npt.NDArray[np.bool_], queries: U64, out: U64, found: npt.NDArray[np.bool_]
) -> None:  # pragma: no cover - compiled
    mask = keys.shape[0] - 1
    for q in range(queries.shape[0]):
        v = queries[q]
        s = np.int64((v * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(32)) & mask
        while used[s]:
            if keys[s] == v:
                out[q] = vals[s]
                found[q] = True
                break
            s = (s + 1) & mask


class U64Table:
    """A hash table of 64-bit keys to 64-bit values (open addressing, at most half full, grows by doubling):
    what the fingerprint stream looks up once per distinct text of every batch (a dict of Python ints cost
    ~22% of the stream's CPU, boxing every key and value; here a batch is one compiled call), and the template
    view its shingles' document frequencies in (a binary search per shingle cost 10x).

    Safe for one writer and readers in other threads: the kernels hold the GIL (no ``nogil``), and the three
    arrays are one attribute, replaced at once when the table grows, so a reader sees one table whole."""

    def __init__(self, capacity: int = 1 << 12) -> None:
        size = 1 << max(4, int(2 * capacity - 1).bit_length())
        self._arrays = (np.zeros(size, dtype=np.uint64), np.zeros(size, dtype=np.uint64), np.zeros(size, dtype=bool))
        self._n = 0

    def __len__(self) -> int:
        return self._n

    def get(self, queries: Keys) -> tuple[U64, npt.NDArray[np.bool_]]:
        """(value, found) of each query; value 0 where not found."""
        keys, vals, used = self._arrays
        q = np.ascontiguousarray(queries, dtype=np.uint64)
        out = np.zeros(len(q), dtype=np.uint64)
        found = np.zeros(len(q), dtype=bool)
        _table_get(keys, vals, used, q, out, found)
        return out, found

    def put(self, keys: Keys, vals: U64) -> npt.NDArray[np.bool_]:
        """Set ``keys[i]`` to ``vals[i]`` (in order: a repeated key keeps its last value); returns whether each
        key was new (a key repeated within ``keys`` is new once, at its first place)."""
        k = np.ascontiguousarray(keys, dtype=np.uint64)
        v = np.ascontiguousarray(vals, dtype=np.uint64)
        if 2 * (self._n + len(k)) > len(self._arrays[0]):
            self._grow(self._n + len(k))
        absent = np.zeros(len(k), dtype=bool)
        self._n += _table_put(*self._arrays, k, v, absent)
        return absent

    def _grow(self, capacity: int) -> None:
        keys, vals, used = self._arrays
        bigger = U64Table(max(capacity, 2 * self._n))
        bigger.put(keys[used], vals[used])
        self._arrays = bigger._arrays


_P1 = np.uint64(0x9E3779B185EBCA87)
_P2 = np.uint64(0xC2B2AE3D27D4EB4F)
_P3 = np.uint64(0x165667B19E3779F9)
_P4 = np.uint64(0x85EBCA77C2B2AE63)
_P5 = np.uint64(0x27D4EB2F165667C5)


@njit(cache=True, nogil=True, inline="always")
def _rotl(x: np.uint64, r: int) -> np.uint64:  # pragma: no cover - compiled
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


@njit(cache=True, nogil=True, inline="always")
def _read(data: npt.NDArray[np.uint8], p: int, width: int) -> np.uint64:  # pragma: no cover - compiled
    v = np.uint64(0)
    for i in range(width):
        v |= np.uint64(data[p + i]) << np.uint64(8 * i)  # little-endian, as xxHash reads
    return v


@njit(cache=True, nogil=True, inline="always")
def _xxh_round(acc: np.uint64, lane: np.uint64) -> np.uint64:  # pragma: no cover - compiled
    return _rotl(acc + lane * _P2, 31) * _P1


@njit(cache=True, nogil=True)
def _xxh64(data: npt.NDArray[np.uint8], start: int, end: int, seed: np.uint64) -> np.uint64:  # pragma: no cover
    """XXH64 of ``data[start:end]``: the value of ``xxhash.xxh64_intdigest(bytes, seed)`` (a test holds it)."""
    n = end - start
    p = start
    if n >= 32:
        v1 = seed + _P1 + _P2
        v2 = seed + _P2
        v3 = seed
        v4 = seed - _P1
        while p <= end - 32:
            v1 = _xxh_round(v1, _read(data, p, 8))
            v2 = _xxh_round(v2, _read(data, p + 8, 8))
            v3 = _xxh_round(v3, _read(data, p + 16, 8))
            v4 = _xxh_round(v4, _read(data, p + 24, 8))
            p += 32
        h = _rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)
        for v in (v1, v2, v3, v4):
            h = (h ^ _xxh_round(np.uint64(0), v)) * _P1 + _P4
    else:
        h = seed + _P5
    h += np.uint64(n)
    while p + 8 <= end:
        h = _rotl(h ^ _xxh_round(np.uint64(0), _read(data, p, 8)), 27) * _P1 + _P4
        p += 8
    if p + 4 <= end:
        h = _rotl(h ^ (_read(data, p, 4) * _P1), 23) * _P2 + _P3
        p += 4
    while p < end:
        h = _rotl(h ^ (np.uint64(data[p]) * _P5), 11) * _P1
        p += 1
    h ^= h >> np.uint64(33)
    h *= _P2
    h ^= h >> np.uint64(29)
    h *= _P3
    h ^= h >> np.uint64(32)
    return h


@njit(cache=True, nogil=True)
def _tokens(
    data: npt.NDArray[np.uint8], offsets: I64, ascii_set: npt.NDArray[np.bool_], wide_set: I64
) -> tuple[npt.NDArray[np.uint64], I64]:  # pragma: no cover - compiled
    n = offsets.shape[0] - 1
    out = np.empty(max(1, (offsets[n] - offsets[0]) // 2 + n), dtype=np.uint64)  # a token takes 2+ bytes
    out_off = np.zeros(n + 1, dtype=np.int64)
    k = 0
    for r in range(n):
        p, end = offsets[r], offsets[r + 1]
        while p <= end:
            q = p
            while q < end and data[q] != 32:  # split on " " only, as the Arrow split did
                q += 1
            s, e = p, q
            while s < e:  # trim listed characters from the start ...
                cp, w = textscan.codepoint(data, s)
                if not textscan.in_set(cp, ascii_set, wide_set):
                    break
                s += w
            while e > s:  # ... and from the end
                b = e - 1
                while b > s and (data[b] & 0xC0) == 0x80:
                    b -= 1
                cp, w = textscan.codepoint(data, b)
                if not textscan.in_set(cp, ascii_set, wide_set):
                    break
                e = b
            if e > s:
                out[k] = _xxh64(data, s, e, np.uint64(0))
                k += 1
            p = q + 1
        out_off[r + 1] = k
    return out[:k], out_off


def word_hashes(data: npt.NDArray[np.uint8], offsets: I64, strip: str) -> tuple[npt.NDArray[np.uint64], I64]:
    """XXH64 (seed 0) of every word of each row, in order, flattened, with row offsets: the rows are UTF-8
    text (``data`` sliced by ``offsets``), a word is what lies between single spaces, with the characters of
    ``strip`` taken off both its ends; a word left empty is dropped (see ``sketch.token_hashes``)."""
    ascii_set, wide = textscan.char_set(strip)
    flat, off = _tokens(data, np.ascontiguousarray(offsets, dtype=np.int64), ascii_set, wide)
    return flat, off


@njit(cache=True, nogil=True)
def _string_hashes(
    data: npt.NDArray[np.uint8], offsets: I64, seed: np.uint64
) -> npt.NDArray[np.uint64]:  # pragma: no cover
    out = np.empty(offsets.shape[0] - 1, dtype=np.uint64)
    for r in range(out.shape[0]):
        out[r] = _xxh64(data, offsets[r], offsets[r + 1], seed)
    return out


def string_hashes(arr: pa.Array, seed: int = 0) -> npt.NDArray[np.uint64]:
    """``xxhash.xxh64_intdigest(text.encode(), seed)`` of every string of ``arr`` (a null hashes as "")."""
    data, offsets = textscan.utf8_buffers(arr)
    out: npt.NDArray[np.uint64] = _string_hashes(data, offsets, np.uint64(seed))
    return out


@njit(cache=True, nogil=True)
def _shingles(
    tok: npt.NDArray[np.uint64],
    offsets: I64,
    k: int,
    window: int,
    primes: npt.NDArray[np.uint64],
    out_off: I64,
    out: npt.NDArray[np.uint64],
) -> None:  # pragma: no cover - compiled
    n_p = primes.shape[0]
    for r in range(offsets.shape[0] - 1):
        start, end = offsets[r], offsets[r + 1]
        length = end - start
        if length == 0:
            continue
        n_sh = length - k + 1 if length >= k else 1
        o = out_off[r]
        for rank in range(n_sh):
            if window >= 0 and rank >= window and rank < n_sh - window:
                continue
            p = start + rank
            comb = np.uint64(0)
            for j in range(k):
                if j == 0 or p + j < end:  # a word past the row's end adds nothing
                    comb ^= tok[p + j] * primes[j % n_p] + np.uint64(j)
                comb ^= comb >> np.uint64(31)
            out[o] = comb
            o += 1


def shingles(
    tok: npt.NDArray[np.uint64], offsets: I64, k: int, window: int | None, primes: npt.NDArray[np.uint64]
) -> tuple[npt.NDArray[np.uint64], I64]:
    """Hashes of word k-grams per row (see ``sketch.shingle_hashes``, which defines them), compiled: one
    pass per kept shingle instead of k passes over every token."""
    lengths = np.diff(offsets)
    n_sh = np.where(lengths >= k, lengths - k + 1, np.minimum(lengths, 1))
    kept = n_sh if window is None else np.minimum(n_sh, 2 * window)
    out_off = np.zeros(len(lengths) + 1, dtype=np.int64)
    np.cumsum(kept, out=out_off[1:])
    out = np.empty(int(out_off[-1]), dtype=np.uint64)
    _shingles(
        np.ascontiguousarray(tok, dtype=np.uint64),
        np.ascontiguousarray(offsets, dtype=np.int64),
        k,
        -1 if window is None else window,
        primes,
        out_off,
        out,
    )
    return out, out_off


def _warm_up() -> None:
    # In the order the stage first needs them: the streaming half (raw-text keys, masking, sketching),
    # then clustering.
    string_hashes(pa.array(["a"]), 1)
    table = U64Table()
    table.get(table.put(np.ones(1, dtype=np.uint64), np.ones(1, dtype=np.uint64)).astype(np.uint64))
    textscan.gates(pa.array(["a"]), ["A"])
    textscan.collapse(pa.array(["a"]), " ")
    word_hashes(np.frombuffer(b"a b", dtype=np.uint8), np.array([0, 3], dtype=np.int64), ".")
    shingles(np.zeros(2, dtype=np.uint64), np.array([0, 2], dtype=np.int64), 2, None, np.ones(1, dtype=np.uint64))
    minhash(np.zeros(1, dtype=np.uint64), np.array([0, 1], dtype=np.int64), 8, 0)
    sig = np.zeros((2, 8), dtype=np.uint16)
    pair = np.zeros(1, dtype=np.int64)
    equal_slots(sig, pair, pair)
    equal_slots(sig.astype(np.uint32), pair, pair)  # the unpacked path (32-bit or odd slot counts)
    component_minima(2, np.zeros((1, 2), dtype=np.int64))
    forest = np.arange(2, dtype=np.int64)
    union(forest, pair, pair)
    minima(forest)
    band_pairs(sig, np.arange(2, dtype=np.int64), 0, 2, 1, forest)
    peel(sig, sig, np.ones(2, dtype=bool), (1, 1, 1), np.array([0, 2], dtype=np.int64), 1)
    peel(sig, None, None, (1, 1, 1), np.array([0, 2], dtype=np.int64), 1)
    majority_agreement(pair, sig[:1])
    gather(np.empty((1, 8), dtype=np.uint16), 0, sig, pair, 8)


_warming: Future[None] | None = None
_warming_lock = threading.Lock()


def warm_up() -> Future[None]:
    """Load the compiled kernels in a background thread, once per process (the first call of a process costs
    ~0.9 s of CPU: numba starts its compiler runtime, imports its typing registries and reads its cache), so
    that the stream, clustering, or the gateway's first family match, does not wait for it. Later calls return
    the same future."""
    global _warming
    with _warming_lock:
        if _warming is None:
            pool = ThreadPoolExecutor(1, thread_name_prefix="numba-warm-up")
            _warming = pool.submit(_warm_up)
            pool.shutdown(wait=False)
        return _warming


_MASK64 = (1 << 64) - 1


def permutations(num_perm: int, seed: int) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.uint64]]:
    """The (a, b) pairs of the ``num_perm`` hash functions ``h(x) = (a * x + b) mod 2**64 >> 32`` (a odd),
    drawn from SplitMix64 seeded with ``seed``: plain integer arithmetic, the same on every machine and
    numpy version."""
    state = seed & _MASK64
    draws = []
    for _ in range(2 * num_perm):
        state = (state + 0x9E3779B97F4A7C15) & _MASK64
        z = state
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & _MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK64
        draws.append(z ^ (z >> 31))
    a = np.array([d | 1 for d in draws[0::2]], dtype=np.uint64)
    b = np.array(draws[1::2], dtype=np.uint64)
    return a, b


@njit(cache=True, nogil=True)
def _minhash(
    flat: npt.NDArray[np.uint64],
    offsets: I64,
    a: npt.NDArray[np.uint64],
    b: npt.NDArray[np.uint64],
    out: npt.NDArray[np.uint32],
) -> None:  # pragma: no cover - compiled
    m = a.shape[0]
    low = np.empty(m, dtype=np.uint64)
    for r in range(offsets.shape[0] - 1):
        for j in range(m):
            low[j] = np.uint64(0xFFFFFFFFFFFFFFFF)
        for t in range(offsets[r], offsets[r + 1]):
            x = flat[t]
            for j in range(m):  # the loop over hash functions vectorises
                h = (a[j] * x + b[j]) >> np.uint64(32)
                if h < low[j]:
                    low[j] = h
        for j in range(m):
            out[r, j] = np.uint32(low[j] & np.uint64(0xFFFFFFFF))


def minhash(flat: npt.NDArray[Any], offsets: I64, num_perm: int, seed: int) -> npt.NDArray[np.uint32]:
    """MinHash signature (``num_perm`` uint32 slots) of each row of pre-hashed shingles (row ``r`` is
    ``flat[offsets[r]:offsets[r + 1]]``): per hash function, the smallest ``(a * x + b) mod 2**64 >> 32``
    over the row. An empty row is all 0xFFFFFFFF. Rows are split over two threads when many."""
    a, b = permutations(num_perm, seed)
    values = np.ascontiguousarray(flat, dtype=np.uint64)
    offs = np.ascontiguousarray(offsets, dtype=np.int64)
    n = len(offs) - 1
    out = np.empty((n, num_perm), dtype=np.uint32)
    _split(n, 4096, lambda lo, hi: _minhash(values, offs[lo : hi + 1], a, b, out[lo:hi]))
    return out
