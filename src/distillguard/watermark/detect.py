"""Which account keys a set of texts carries, with an exact p-value per key.

The test. Scanning the texts gives *units*: distinct (slot, previous word) pairs, each with the count
of every variant seen there. A key picks one variant per unit, ``g_u``; the statistic is
``T = sum_u f_u(g_u)`` with ``f_u(v) = c_uv / p_v - n_u`` (``c_uv`` the count of variant ``v`` in unit
``u``, ``n_u`` its total, ``p_v`` the smoothed share of ``v`` over all units of the same slot): the
locally most powerful score when a fraction of the texts follows the key and the rest follows the
natural preference, which the ``p_v`` term removes.

Under the null hypothesis (the texts were written without this key) the texts are independent of the
key, so, given the texts, the ``g_u`` are independent and uniform over each slot's variants (HMAC as a
pseudo-random function, distinct units hash distinct inputs). ``T`` is then a sum of independent
discrete uniforms over known values, and its distribution is computed exactly by convolution after
rounding ``f`` to a grid. The rounding is a function of the texts alone, so the test stays exact for
the rounded statistic; the grid is only made coarser when the texts are huge. P-values are therefore
exact conditional tail probabilities, not normal approximations, and the false-positive rate at any
threshold is at most that threshold (checked empirically in the tests and in bench/watermark.py).
With several keys, ``p_adjusted`` applies the Bonferroni factor (the number of keys tested).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import numpy as np

from distillguard.watermark.lexicon import SLOTS
from distillguard.watermark.marker import KeyedChoice
from distillguard.watermark.scan import ScanState, Unit, scan_text

_FLOOR = 0.05  # lowest class share used in the score: caps one rare-variant occurrence at 20
_MAX_SCALE = 16.0  # grid steps per unit of score when the texts are small
_BUDGET = 3e8  # convolution work (cells) allowed before the grid coarsens
_P_FLOOR = 1e-300


@dataclass(frozen=True)
class Detection:
    """The evidence for one key: exact p-value, z-score and the counts behind them."""

    key_id: str
    p_value: float  # P(T >= observed) under no watermark, exact for the rounded statistic
    p_adjusted: float  # Bonferroni over the keys tested together
    z: float  # (T - E[T]) / sd(T) under the null, for reading, not for the decision
    detected: bool  # p_adjusted < alpha
    units: int  # informative units (distinct slot and context pairs whose score can vary)
    agree: int  # of those, units where the key's variant is the most frequent one
    occurrences: int  # slot occurrences behind those units
    texts: int


@dataclass(frozen=True)
class UnitCounts:
    """Variant counts per unit, gathered once from the texts and tested against any number of keys."""

    sids: np.ndarray  # int, one per unit
    prevs: tuple[str, ...]
    counts: np.ndarray  # int, units x max variants (zero beyond a slot's own variants)
    texts: int

    @classmethod
    def collect(cls, texts: Iterable[str]) -> UnitCounts:
        table: dict[tuple[int, str], np.ndarray] = {}
        kmax = max(s.k for s in SLOTS)
        n = 0
        for text in texts:
            n += 1
            units: list[Unit] = []
            scan_text(text, ScanState(), None, units)
            for u in units:
                row = table.get((u.sid, u.prev))
                if row is None:
                    row = table[(u.sid, u.prev)] = np.zeros(kmax, dtype=np.int64)
                row[u.variant] += 1
        keys = list(table)
        counts = np.array([table[k] for k in keys], dtype=np.int64).reshape(len(keys), kmax)
        return cls(np.array([k[0] for k in keys], dtype=np.int64), tuple(k[1] for k in keys), counts, n)


@dataclass(frozen=True)
class _Null:
    offsets: np.ndarray  # units x kmax integer scores, minimum 0 per unit (unused variants: 0)
    ks: np.ndarray  # variants per unit
    tail: np.ndarray  # tail[t] = P(T >= t) under the null
    mean: float
    sd: float
    keep: np.ndarray  # units whose score can vary


def _scores(uc: UnitCounts) -> tuple[np.ndarray, np.ndarray]:
    ks = np.array([SLOTS[s].k for s in uc.sids], dtype=np.int64)
    kmax = uc.counts.shape[1]
    f = np.zeros(uc.counts.shape, dtype=np.float64)
    for sid in np.unique(uc.sids):
        rows = uc.sids == sid
        k = SLOTS[sid].k
        c = uc.counts[rows, :k].astype(np.float64)
        share = (c.sum(axis=0) + 0.5) / (c.sum() + 0.5 * k)
        f[np.ix_(rows, np.arange(k))] = c / np.maximum(share, _FLOOR) - c.sum(axis=1, keepdims=True)
    valid = np.arange(kmax)[None, :] < ks[:, None]
    return f, valid


def _null(uc: UnitCounts) -> _Null:
    f, valid = _scores(uc)
    big, small = np.where(valid, f, -np.inf).max(axis=1), np.where(valid, f, np.inf).min(axis=1)
    span = big - small if len(f) else np.zeros(0)
    keep = span > 1e-9
    total = float(span[keep].sum())
    scale = min(_MAX_SCALE, _BUDGET / max(1.0, keep.sum() * total)) if total else 1.0
    r = np.where(valid, np.rint(f * scale), 0).astype(np.int64)
    rmin = np.where(valid, r, np.iinfo(np.int64).max).min(axis=1, initial=np.iinfo(np.int64).max)
    offsets = np.where(valid, r - rmin[:, None], 0) if len(r) else r
    keep &= offsets.max(axis=1, initial=0) > 0 if len(r) else keep
    ks = np.array([SLOTS[s].k for s in uc.sids], dtype=np.int64)
    pmf = np.ones(1)
    mean = var = 0.0
    for u in np.flatnonzero(keep):
        d = offsets[u, : ks[u]]
        new = np.zeros(len(pmf) + int(d.max()))
        for shift in d:
            new[shift : shift + len(pmf)] += pmf
        pmf = new / ks[u]
        mean += float(d.mean())
        var += float(d.var())
    tail = np.cumsum(pmf[::-1])[::-1]
    return _Null(offsets, ks, np.minimum(tail, 1.0), mean, var**0.5, keep)


def _test(uc: UnitCounts, null: _Null, key_id: str, key: bytes, n_keys: int, alpha: float) -> Detection:
    choose = KeyedChoice(key)
    idx = np.flatnonzero(null.keep)
    g = np.array([choose.pick(int(uc.sids[u]), uc.prevs[u], int(null.ks[u])) for u in idx], dtype=np.int64)
    t = int(null.offsets[idx, g].sum()) if len(idx) else 0
    p = float(null.tail[t]) if t < len(null.tail) else 0.0
    p = max(p, _P_FLOOR)
    c = uc.counts[idx]
    mine = c[np.arange(len(idx)), g]
    others = c.copy()
    others[np.arange(len(idx)), g] = -1
    agree = int((mine > others.max(axis=1, initial=-1)).sum()) if len(idx) else 0
    z = (t - null.mean) / null.sd if null.sd > 0 else 0.0
    p_adj = min(1.0, p * n_keys)
    return Detection(key_id, p, p_adj, z, p_adj < alpha, len(idx), agree, int(c.sum()), uc.texts)


def detect(texts: Iterable[str], keys: Mapping[str, bytes], alpha: float = 1e-6) -> list[Detection]:
    """Test every key against the texts; one Detection per key, strongest evidence first."""
    return detect_counts(UnitCounts.collect(texts), keys, alpha)


def detect_counts(uc: UnitCounts, keys: Mapping[str, bytes], alpha: float = 1e-6) -> list[Detection]:
    """As :func:`detect`, on units already collected (to test many key sets against one scan)."""
    null = _null(uc)
    out = [_test(uc, null, kid, key, len(keys), alpha) for kid, key in keys.items()]
    return sorted(out, key=lambda d: (d.p_value, -d.z))
