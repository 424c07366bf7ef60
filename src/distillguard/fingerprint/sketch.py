"""Shingles, MinHash signatures and LSH clustering over arrays (no pairwise comparison of all skeletons).

Signatures are rows of a ``uint32`` matrix (MinHash, ``kernels.minhash``). Candidate pairs come from LSH bands:
rows are sorted by each band's key and only neighbours inside one bucket are compared, so work grows
with the number of skeletons, not its square. A candidate pair becomes an edge only when the
estimated Jaccard similarity reaches the threshold; connected components of the edges are families.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from distillguard import textscan
from distillguard.fingerprint import kernels

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]
Slots = npt.NDArray[np.uint16] | npt.NDArray[np.uint32]
"""A signature matrix, full (uint32) or cut to the low 16 bits of each slot for comparisons."""

MINHASH = "distillguard-minhash-1"
"""Names the MinHash function (``kernels.minhash``). Two signatures are comparable only when they have the
same name, ``num_perm`` and seed: intel bundles and policy snapshots carry all three. (Before this name
existed, signatures came from rensa's R-MinHash, which they cannot be compared with.)"""

EMPTY_SLOT = np.uint32(0xFFFFFFFF)
"""The value in every slot of the signature of an empty token set."""

_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)
# CJK, kana and hangul have no spaces: one token per character. Placeholders ("<num>") stay whole.
_CJK = r"([\x{3040}-\x{30ff}\x{3400}-\x{9fff}\x{ac00}-\x{d7af}])"
# Stripped from both ends of a token: ASCII punctuation but the placeholder brackets and "_", common
# Unicode punctuation, and whitespace (skeletons hold single spaces, but callers may pass other text).
_PUNCT = "!\"#$%&'()*+,-./:;=?@[\\]^`{|}~“”‘’«»…–—―‐‑•·、。，！？：；（）「」『』【】〈〉《》・～¡¿\t\n\r\x0b\x0c\xa0"
_PRIMES = tuple(np.uint64(p) for p in (0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0xD6E8FEB86659FD93))
_PRIME_ARRAY = np.array(_PRIMES, dtype=np.uint64)


def token_hashes(texts: list[str] | pa.Array) -> tuple[U64, I64]:
    """64-bit hashes (XXH64) of the lower-cased word tokens of each text, flattened, with row offsets.

    A token is a space-separated word with punctuation stripped from its ends (a CJK character is a
    word). Lower-casing and the spacing of CJK rows run in Arrow's kernels; splitting, stripping and
    hashing in one compiled pass over the text bytes (``kernels.word_hashes``).
    """
    arr = texts if isinstance(texts, pa.Array) else pa.array(texts, type=pa.string())
    low = pc.utf8_lower(arr)
    wide = pc.invert(pc.fill_null(pc.string_is_ascii(low), True))
    if pc.any(wide).as_py():
        spaced = pc.replace_substring_regex(low.filter(wide), _CJK, r" \1 ")
        low = pc.replace_with_mask(low, wide, spaced)
    data, offsets = textscan.utf8_buffers(low)
    return kernels.word_hashes(data, offsets, _PUNCT)


def shingle_hashes(tok: U64, offsets: I64, k: int, window: int | None = None) -> tuple[U64, I64]:
    """Hashes of word k-grams per row (a row shorter than k is one shingle of all its words).

    A shingle starting at token p folds its words in order: ``h ^= tok[p + j] * P[j % 4] + j`` for each of
    its k words (a word past the row's end adds nothing), then ``h ^= h >> 31``; ``P`` are the 64-bit odd
    constants ``_PRIMES``. ``window`` keeps only the first and last ``window`` shingles of each row.
    Compiled (``kernels.shingles``): one pass per kept shingle.
    """
    if len(tok) == 0:
        return tok, np.zeros(len(offsets), dtype=np.int64)
    return kernels.shingles(tok, offsets, k, window, _PRIME_ARRAY)


def signatures(flat: U64 | U32, offsets: I64, num_perm: int, seed: int) -> U32:
    """MinHash signature per row of pre-hashed shingles; an empty row is all ``EMPTY_SLOT``
    (``kernels.minhash``: ``num_perm`` affine hash functions drawn from ``seed``, compiled)."""
    return kernels.minhash(flat, offsets, num_perm, seed)


def equal_slots(sig: Slots, a: I64, b: I64) -> I64:
    """Number of equal slots between rows a[i] and b[i] of a signature matrix: the inner loop of
    clustering, compiled (``kernels``): each compared row is read in place, not gathered into a copy."""
    return kernels.equal_slots(sig, a, b)


def local_ids(n: int, idx: I64) -> I64:
    """Position of each of ``n`` nodes inside ``idx`` (-1 where absent): renumbers edges among ``idx``."""
    pos = np.full(n, -1, dtype=np.int64)
    pos[idx] = np.arange(len(idx), dtype=np.int64)
    return pos


Accept = Callable[[I64, I64], npt.NDArray[np.bool_]]


def verified_edges(
    sig: Slots, active: npt.NDArray[np.bool_], bands: int, rows: int, threshold: float, accept: Accept | None = None
) -> I64:
    """Edges between active rows whose estimated Jaccard similarity (share of equal slots) reaches
    ``threshold``, found among rows sharing an LSH bucket (each row against the previous row of its bucket,
    ``kernels.band_pairs``), and that ``accept`` (if given) lets through.

    Edges are only ever read as connectivity: they go into a union-find forest as each band finds them,
    and a later band does not compare a pair the forest already joins (template traffic puts thousands of
    rows in one bucket in every band). The result is that connectivity with one edge per joined row (each
    to its component's smallest row), so memory stays linear in unique skeletons.
    """
    idx = np.flatnonzero(active).astype(np.int64)
    if len(idx) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    need = int(np.ceil(threshold * sig.shape[1] - 1e-9))
    parent = np.arange(len(idx), dtype=np.int64)  # positions in idx

    cols = kernels.columns(sig, idx, 0, bands * rows)  # every band's key slots, read once

    def band_edges(b: int) -> tuple[I64, I64]:
        left, right = kernels.band_pairs(sig, idx, b, rows, need, parent, cols)
        if accept is not None and len(left):
            ok = accept(idx[left], idx[right])  # the extra test only on the pairs that passed this one
            left, right = left[ok], right[ok]
        return left, right

    # Two bands at a time: the kernel releases the GIL (the machine this targets has 2 cores). Only this
    # thread writes the forest; the order bands arrive in does not change what is connected.
    with ThreadPoolExecutor(2) as pool:
        for left, right in pool.map(band_edges, range(bands)):
            kernels.union(parent, left, right)
    root = kernels.minima(parent)
    joined = np.flatnonzero(root != np.arange(len(idx)))
    return np.stack([idx[joined], idx[root[joined]]], axis=1)


def components(n: int, edges: I64) -> I64:
    """Connected-component label per node (0..n-1) of an undirected edge list.

    Labels are numbered in the order of each component's smallest node (a traversal from node 0 up).
    """
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if len(edges) == 0:
        return np.arange(n, dtype=np.int64)
    root = kernels.component_minima(n, edges)  # union-find: each node's smallest node
    rank = np.cumsum(root == np.arange(n)) - 1  # roots in increasing order are labels 0, 1, ...
    out: I64 = rank[root]
    return out


def template_part(
    flat: U32, offsets: I64, min_df: int, min_run: int, spread: float = 2.0, chunk: int = 65536
) -> tuple[U32, I64]:
    """Keep, per row, the shingles of its *template*: runs of at least ``min_run`` consecutive shingles
    that each recur in at least ``min_df`` distinct rows, and among those only the runs whose mean
    log2 document frequency is within ``spread`` of the row's most frequent run.

    Stray common phrases ("how do i") are isolated shared shingles and drop out; a fixed instruction
    wrapped around varying text is a long run shared by every member and stays. Content reused in a
    few places (one benchmark question sent inside several templates) is a run too, but far rarer
    than the instruction next to it, so it is dropped from that row and cannot chain templates.
    """
    n_rows = len(offsets) - 1
    # Document frequency, counted as occurrences: a shingle repeated inside one window is rare, and
    # one sort is the cost that matters here. The rest goes a block of rows at a time (bounded memory).
    uniq, counts = np.unique(flat, return_counts=True)  # no inverse: it would cost 8 B per shingle
    df_of = kernels.U64Table(len(uniq))  # a hash table, built once: a binary search per shingle cost 10x
    df_of.put(uniq, counts.astype(np.uint64))
    kept: list[U32] = []
    per_row: list[I64] = []
    for r0 in range(0, n_rows, chunk):
        r1 = min(n_rows, r0 + chunk)
        part = flat[offsets[r0] : offsets[r1]]
        df = df_of.get(part)[0].astype(np.int64)  # every shingle is one of ``uniq``
        keep = _template_runs(df, offsets[r0 : r1 + 1] - offsets[r0], min_df, min_run, spread)
        rows = np.repeat(np.arange(r1 - r0), np.diff(offsets[r0 : r1 + 1]))
        kept.append(part[keep])
        per_row.append(np.bincount(rows[keep], minlength=r1 - r0))
    new_offsets = np.zeros(n_rows + 1, dtype=np.int64)
    if per_row:
        np.cumsum(np.concatenate(per_row), out=new_offsets[1:])
    return (np.concatenate(kept) if kept else flat[:0]), new_offsets


def _template_runs(df: I64, offsets: I64, min_df: int, min_run: int, spread: float) -> npt.NDArray[np.bool_]:
    """Which shingles of a block of rows belong to their row's template (see ``template_part``)."""
    n_rows = len(offsets) - 1
    if len(df) == 0:
        return np.zeros(0, dtype=bool)
    row = np.repeat(np.arange(n_rows), np.diff(offsets))
    shared = df >= min_df
    # Runs of consecutive shared shingles, broken at row boundaries and where the frequency jumps
    # (an instruction shared by thousands next to a question shared by three).
    level = np.log2(df)
    start = np.ones(len(df), dtype=bool)
    start[1:] = (shared[1:] != shared[:-1]) | (row[1:] != row[:-1]) | (np.abs(np.diff(level)) > spread)
    run_id = np.cumsum(start) - 1
    run_len = np.bincount(run_id)
    run_row = row[start]
    run_ok = shared[start] & (run_len >= min_run)
    run_level = np.bincount(run_id, weights=level) / run_len
    best = np.full(n_rows, -np.inf)
    np.maximum.at(best, run_row[run_ok], run_level[run_ok])
    run_keep = run_ok & (run_level >= best[run_row] - spread)
    out: npt.NDArray[np.bool_] = run_keep[run_id]
    return out
