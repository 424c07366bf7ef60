"""Shingles, MinHash signatures and LSH clustering over arrays (no pairwise comparison of all skeletons).

Signatures are rows of a ``uint32`` matrix (rensa's MinHash). Candidate pairs come from LSH bands:
rows are sorted by each band's key and only neighbours inside one bucket are compared, so work grows
with the number of skeletons, not its square. A candidate pair becomes an edge only when the
estimated Jaccard similarity reaches the threshold; connected components of the edges are families.
"""

from __future__ import annotations

import re

import numpy as np
import numpy.typing as npt
from rensa import RMinHash
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
I64 = npt.NDArray[np.int64]

EMPTY_SLOT = np.uint32(0xFFFFFFFF)
"""rensa's value in every slot of the signature of an empty token set."""

# Placeholders stay whole; CJK, kana and hangul count one token per character (no spaces to split on).
_TOKEN = re.compile(r"<[a-z]+>|[\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af]|\w+")
_MASK64 = np.uint64(0xFFFFFFFFFFFFFFFF)


def tokens(skeleton: str) -> list[str]:
    """Lower-cased word tokens of a skeleton (punctuation dropped: it carries no template identity)."""
    return _TOKEN.findall(skeleton.lower())


def shingles(toks: list[str], k: int) -> list[str]:
    """Word k-grams in order; a text shorter than k is one shingle; no tokens, no shingles."""
    if len(toks) <= k:
        return [" ".join(toks)] if toks else []
    return [" ".join(toks[i : i + k]) for i in range(len(toks) - k + 1)]


def hash_rows(rows: list[list[str]]) -> tuple[U64, I64]:
    """64-bit hashes of each row's shingles, flattened, with row offsets (len(rows) + 1)."""
    hashed = RMinHash.hash_token_sets(rows)
    lengths = np.fromiter((len(r) for r in hashed), dtype=np.int64, count=len(hashed))
    offsets = np.zeros(len(hashed) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    flat = np.fromiter((h for r in hashed for h in r), dtype=np.uint64, count=int(offsets[-1]))
    return flat, offsets


def signatures(flat: U64, offsets: I64, num_perm: int, seed: int) -> U32:
    """MinHash signature per row of pre-hashed tokens; an empty row is all ``EMPTY_SLOT``."""
    n = len(offsets) - 1
    if n == 0:
        return np.zeros((0, num_perm), dtype=np.uint32)
    matrix = RMinHash.digest_matrix_from_flat_token_hashes(
        np.ascontiguousarray(flat, dtype=np.uint64), offsets.astype(np.uint64), num_perm, seed
    )
    return np.asarray(matrix.to_rows(), dtype=np.uint32).reshape(n, num_perm)


def _band_keys(sig: U32, bands: int, rows: int) -> U64:
    """One 64-bit key per (row, band): a multiply-xor mix of the band's MinHash values."""
    keys = np.zeros((sig.shape[0], bands), dtype=np.uint64)
    with np.errstate(over="ignore"):
        for r in range(rows):
            cols = sig[:, r::rows][:, :bands].astype(np.uint64)
            keys = (keys ^ cols) * np.uint64(0x9E3779B97F4A7C15) & _MASK64
            keys ^= keys >> np.uint64(29)
    return keys


def candidate_edges(sig: U32, active: npt.NDArray[np.bool_], bands: int, rows: int) -> I64:
    """Pairs (i, j) of active rows that share a bucket in some band: neighbours after sorting by key."""
    idx = np.flatnonzero(active)
    if len(idx) < 2:
        return np.zeros((0, 2), dtype=np.int64)
    keys = _band_keys(sig[idx], bands, rows)
    out: list[I64] = []
    for b in range(bands):
        order = np.argsort(keys[:, b], kind="stable")
        k = keys[order, b]
        same = np.flatnonzero(k[1:] == k[:-1])
        if len(same):
            out.append(np.stack([idx[order[same]], idx[order[same + 1]]], axis=1))
    if not out:
        return np.zeros((0, 2), dtype=np.int64)
    return np.unique(np.concatenate(out), axis=0)


def verified_edges(sig: U32, active: npt.NDArray[np.bool_], bands: int, rows: int, threshold: float) -> I64:
    """Candidate pairs whose estimated Jaccard similarity (share of equal slots) reaches ``threshold``."""
    cand = candidate_edges(sig, active, bands, rows)
    if len(cand) == 0:
        return cand
    keep = np.zeros(len(cand), dtype=bool)
    step = 1 << 16  # bounded temporaries on huge candidate lists
    for s in range(0, len(cand), step):
        c = cand[s : s + step]
        keep[s : s + step] = (sig[c[:, 0]] == sig[c[:, 1]]).mean(axis=1) >= threshold
    return cand[keep]


def components(n: int, edges: I64) -> I64:
    """Connected-component label per node (0..n-1) of an undirected edge list."""
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    if len(edges) == 0:
        return np.arange(n, dtype=np.int64)
    data = np.ones(len(edges), dtype=np.int8)
    graph = coo_matrix((data, (edges[:, 0], edges[:, 1])), shape=(n, n)).tocsr()
    _, labels = connected_components(graph, directed=False)
    out: I64 = np.asarray(labels, dtype=np.int64)
    return out


def template_part(flat: U64, offsets: I64, min_df: int, min_run: int, spread: float = 2.0) -> tuple[U64, I64]:
    """Keep, per row, the shingles of its *template*: runs of at least ``min_run`` consecutive shingles
    that each recur in at least ``min_df`` distinct rows, and among those only the runs whose mean
    log2 document frequency is within ``spread`` of the row's most frequent run.

    Stray common phrases ("how do i") are isolated shared shingles and drop out; a fixed instruction
    wrapped around varying text is a long run shared by every member and stays. Content reused in a
    few places (one benchmark question sent inside several templates) is a run too, but far rarer
    than the instruction next to it, so it is dropped from that row and cannot chain templates.
    """
    n_rows = len(offsets) - 1
    if len(flat) == 0:
        return flat, np.zeros(n_rows + 1, dtype=np.int64)
    row = np.repeat(np.arange(n_rows), np.diff(offsets))
    # Document frequency: distinct rows per hash.
    pairs = np.unique(np.stack([flat, row.astype(np.uint64)], axis=1), axis=0)
    uniq, counts = np.unique(pairs[:, 0], return_counts=True)
    df = counts[np.searchsorted(uniq, flat)]
    shared = df >= min_df
    # Runs of consecutive shared shingles, broken at row boundaries and where the frequency jumps
    # (an instruction shared by thousands next to a question shared by three).
    level = np.log2(df)
    start = np.ones(len(flat), dtype=bool)
    start[1:] = (shared[1:] != shared[:-1]) | (row[1:] != row[:-1]) | (np.abs(np.diff(level)) > spread)
    run_id = np.cumsum(start) - 1
    run_len = np.bincount(run_id)
    run_row = row[start]
    run_ok = shared[start] & (run_len >= min_run)
    run_level = np.bincount(run_id, weights=level) / run_len
    best = np.full(n_rows, -np.inf)
    np.maximum.at(best, run_row[run_ok], run_level[run_ok])
    run_keep = run_ok & (run_level >= best[run_row] - spread)
    keep = run_keep[run_id]
    new_offsets = np.zeros(n_rows + 1, dtype=np.int64)
    np.cumsum(np.bincount(row[keep], minlength=n_rows), out=new_offsets[1:])
    return flat[keep], new_offsets
