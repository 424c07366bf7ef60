"""Pure metric functions (no I/O), each pinned by hand-computed tests."""

from __future__ import annotations

import numpy as np


def ratio(num: float, den: float) -> float | None:
    """``num / den``, or None when the denominator is zero (the metric is undefined)."""
    return None if den == 0 else num / den


def prf(tp: int, fp: int, fn: int) -> tuple[float | None, float | None, float | None]:
    """Precision, recall and F1; None where undefined (nothing flagged, no positives)."""
    p = ratio(tp, tp + fp)
    r = ratio(tp, tp + fn)
    if p is None or r is None:
        return p, r, None
    return p, r, (0.0 if p + r == 0 else 2 * p * r / (p + r))


def average_precision(scores: np.ndarray, positive: np.ndarray) -> float | None:
    """Area under the precision-recall curve as average precision.

    AP = sum over distinct score thresholds t (descending) of (R(t) - R(t_prev)) * P(t), where an
    account is predicted positive when its score >= t. Tied scores enter together, so the value does
    not depend on the order of tied accounts. None when there are no positives.
    """
    pos = np.asarray(positive, dtype=bool)
    n_pos = int(pos.sum())
    if n_pos == 0:
        return None
    s = np.asarray(scores, dtype=np.float64)
    order = np.argsort(-s, kind="stable")
    s, pos = s[order], pos[order]
    tp = np.cumsum(pos)
    last_of_tie = np.r_[s[1:] != s[:-1], True]
    tp_t = tp[last_of_tie]
    k_t = np.flatnonzero(last_of_tie) + 1
    precision = tp_t / k_t
    recall = tp_t / n_pos
    prev = np.r_[0.0, recall[:-1]]
    return float(np.sum((recall - prev) * precision))
