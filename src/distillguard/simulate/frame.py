"""The numeric skeleton of one account's traffic: when, which session and turn, what capability, which
model. Pure numpy, no text: ``describe`` aggregates these frames and the writer renders them.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from distillguard.simulate.plan import DAY, HOUR, US, Account, Plan, base_model, subseed
from distillguard.simulate.scenario import CAPABILITIES, SESSIONS, Group

# Share of a person's activity by local hour (a typical knowledge-worker day with an evening bump).
HUMAN = np.array(
    [
        0.15,
        0.08,
        0.05,
        0.04,
        0.04,
        0.07,
        0.2,
        0.45,
        0.8,
        1.0,
        1.0,
        0.95,
        0.8,
        0.9,
        1.0,
        1.0,
        0.9,
        0.8,
        0.65,
        0.6,
        0.6,
        0.55,
        0.45,
        0.3,
    ]
)
WEEKDAY = np.array([1.0, 1.0, 1.0, 1.0, 0.95, 0.45, 0.4])  # Monday first
ERROR_RATE = 0.006
ERROR_STATUS = np.array([429, 500, 529, 429, 400])


@dataclass(frozen=True)
class Frame:
    ts: np.ndarray  # int64 microseconds, sorted
    sess: np.ndarray  # int64 session number within the account
    turn: np.ndarray  # int32 position within the session
    slen: np.ndarray  # int32 session length
    skind: np.ndarray  # int8 index into SESSIONS
    cap: np.ndarray  # int8 index into CAPABILITIES
    phase: np.ndarray  # int8 index into the group's phases
    think: np.ndarray  # bool: extended thinking requested
    harvest: np.ndarray  # bool: chain-of-thought harvesting prompt
    model: np.ndarray  # int8 index into scenario.models
    pivot: np.ndarray  # bool: sent to a new model by a campaign's pivot
    status: np.ndarray  # int16 HTTP status


def _profile(kind: str, start: int, end: int, tz: float) -> np.ndarray:
    hours = np.arange(start // HOUR, -(-end // HOUR), dtype=np.int64)
    local = hours + round(tz)
    hod = local % 24
    dow = (local // 24 + 3) % 7  # 1970-01-01 was a Thursday
    if kind == "flat":
        return np.ones(len(hours))
    if kind == "business":
        return np.where((hod >= 9) & (hod < 18) & (dow < 5), 1.0, 0.03)
    out: np.ndarray = HUMAN[hod] * WEEKDAY[dow]
    return out


def _sample(rng: np.random.Generator, w: np.ndarray, start: int, end: int, m: int) -> np.ndarray:
    cdf = np.cumsum(w)
    bins = np.searchsorted(cdf, rng.random(m) * cdf[-1], side="right")
    t = (start // HOUR + bins) * HOUR + (rng.random(m) * HOUR).astype(np.int64)
    out: np.ndarray = np.clip(t, start, end - 1)
    return out


@lru_cache(maxsize=64)
def _group_cdf(gseed: int, w0: int, w1: int) -> tuple[np.ndarray, np.ndarray]:
    """Cumulative activity of a load-balanced campaign's controller (one operator time zone)."""
    tz = float(np.random.default_rng(gseed).choice([-5, 0, 1, 3, 8, 9]))
    w = _profile("diurnal", w0, w1, tz)
    edges = np.concatenate([[w0], (w0 // HOUR + np.arange(1, len(w) + 1)) * HOUR])
    edges[-1] = w1
    return np.concatenate([[0.0], np.cumsum(w) / w.sum()]), edges


def _starts(plan: Plan, a: Account, g: Group, rng: np.random.Generator, m: int) -> np.ndarray:
    s, e = a.start_us, a.end_us
    tz = a.tz
    if g.timing == "load_balanced":
        cdf, edges = _group_cdf(plan.group_seed(a.group), s, e)
        slots = a.k + g.accounts * np.arange(m)
        q = (slots + 0.5 + 0.3 * (rng.random(m) - 0.5)) / g.exchanges
        lb: np.ndarray = np.interp(q, cdf, edges).astype(np.int64)
        return lb
    if g.timing == "runs":
        runs = max(1, round(m / g.run_items))
        run_start = _sample(rng, _profile("business", s, e, tz), s, e, runs)
        rid = np.sort(rng.integers(0, runs, m))
        gaps = (rng.exponential(g.item_gap_s, m) * US).astype(np.int64)
        csum = np.cumsum(gaps)
        first = np.searchsorted(rid, rid, side="left")
        runs_ts: np.ndarray = np.minimum(run_start[rid] + csum - csum[first] + gaps[first], e - 1)
        return runs_ts
    kind = "diurnal" if g.timing == "diurnal" else g.timing
    w = _profile(kind, s, e, tz)
    if g.daily_cap:  # fill UTC days in proportion to their overlap with the window: no day over the cap
        days = np.arange(s // DAY, -(-e // DAY))
        overlap = np.minimum(e, (days + 1) * DAY) - np.maximum(s, days * DAY)
        share = m * overlap / overlap.sum()
        quota = np.floor(share).astype(np.int64)
        quota[np.argsort(quota - share)[: m - int(quota.sum())]] += 1
        out = np.empty(m, dtype=np.int64)
        pos = 0
        for d, q in zip(days.tolist(), quota.tolist(), strict=True):
            if q:
                ds, de = max(s, d * DAY), min(e, (d + 1) * DAY)
                lo = ds // HOUR - s // HOUR
                out[pos : pos + q] = _sample(rng, w[lo : lo + -(-de // HOUR) - ds // HOUR], ds, de, q)
                pos += q
        return out
    return _sample(rng, w, s, e, m)


def account_frame(plan: Plan, a: Account) -> Frame:
    g = plan.scenario.groups[a.group]
    rng = np.random.default_rng(a.seed)
    n = a.n
    phases = g.phases
    single = g.timing in ("load_balanced", "runs") or g.daily_cap > 0
    kind_w = np.zeros((len(phases), len(SESSIONS)))
    for pi, phz in enumerate(phases):
        for name, w in phz.content.sessions:
            kind_w[pi, SESSIONS.index(name)] = w
    mean_len = 1.0 if single else max(1.0, float(kind_w.mean(0) @ _mean_sizes(g)))
    m = n if single else int(n / mean_len * 1.3) + 8
    while True:
        starts = _starts(plan, a, g, rng, m)
        gw0 = plan.start_us + int(g.window[0] * DAY)
        frac = (starts - gw0) / max(1, int((g.window[1] - g.window[0]) * DAY))
        ph = np.searchsorted(np.array([p.start for p in phases]), frac, side="right") - 1
        ph = np.clip(ph, 0, len(phases) - 1).astype(np.int8)
        if single:
            kinds = np.zeros(m, dtype=np.int8)
            sizes = np.ones(m, dtype=np.int64)
        else:
            cum = np.cumsum(kind_w[ph], axis=1)
            kinds = (rng.random((m, 1)) * cum[:, -1:] > cum).sum(1).astype(np.int8)
            sizes = _sizes(g, rng, kinds)
        if sizes.sum() >= n:
            break
        m *= 2
    cut = int(np.searchsorted(np.cumsum(sizes), n))
    sizes = sizes[: cut + 1].copy()
    sizes[-1] -= int(sizes.sum()) - n
    starts, kinds, ph = starts[: cut + 1], kinds[: cut + 1], ph[: cut + 1]
    ns = len(sizes)
    sess = np.repeat(np.arange(ns), sizes)
    first = np.repeat(np.cumsum(sizes) - sizes, sizes)
    turn = (np.arange(n) - first).astype(np.int32)
    gap_mean = np.where(kinds[sess] == SESSIONS.index("agent_loop"), 9.0, 70.0)
    gaps = (rng.exponential(1.0, n) * gap_mean * US).astype(np.int64)
    gaps[turn == 0] = 0
    cg = np.cumsum(gaps)
    ts = starts[sess] + cg - cg[first]
    ts = np.minimum(ts, a.end_us - 1)

    cap = _pick_caps(rng, phases, ph)
    think_p = np.array([p.content.thinking for p in phases])[ph]
    harv_p = np.array([p.content.cot_harvest for p in phases])[ph]
    think_s = rng.random(ns) < think_p
    harv_s = rng.random(ns) < harv_p

    order = np.argsort(ts, kind="stable")
    ts, sess, turn = ts[order], sess[order], turn[order]
    model = np.full(n, base_model(plan.scenario), dtype=np.int8)
    pivot = np.zeros(n, dtype=bool)
    for mi, at, share in a.releases:
        sw = (ts >= at) & (rng.random(n) < share)
        model[sw] = mi
        if g.attack:
            pivot |= sw
    status = np.where(rng.random(n) < ERROR_RATE, ERROR_STATUS[rng.integers(0, 5, n)], 200).astype(np.int16)
    return Frame(
        ts=ts,
        sess=sess,
        turn=turn,
        slen=sizes[sess].astype(np.int32),
        skind=kinds[sess],
        cap=cap[sess],
        phase=ph[sess],
        think=think_s[sess],
        harvest=harv_s[sess] & (turn == 0),
        model=model,
        pivot=pivot,
        status=status,
    )


def _mean_sizes(g: Group) -> np.ndarray:
    return np.array([1.0, g.turns_mean, (g.agent_steps[0] + g.agent_steps[1]) / 2, 1.0])


def _sizes(g: Group, rng: np.random.Generator, kinds: np.ndarray) -> np.ndarray:
    m = len(kinds)
    chat = rng.geometric(1.0 / g.turns_mean, m)
    agent = rng.integers(g.agent_steps[0], g.agent_steps[1] + 1, m)
    return np.select([kinds == 1, kinds == 2], [chat, agent], 1).astype(np.int64)


def _pick_caps(rng: np.random.Generator, phases: tuple[object, ...], ph: np.ndarray) -> np.ndarray:
    w = np.zeros((len(phases), len(CAPABILITIES)))
    for pi, p in enumerate(phases):
        for name, x in p.content.capabilities:  # type: ignore[attr-defined]
            w[pi, CAPABILITIES.index(name)] = x
    cum = np.cumsum(w[ph], axis=1)
    out: np.ndarray = (rng.random((len(ph), 1)) * cum[:, -1:] > cum).sum(1).astype(np.int8)
    return out


def session_seed(a: Account, sess: int) -> int:
    return subseed(a.seed, "s", sess)
