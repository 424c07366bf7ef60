"""The plan: every account of a scaled scenario, with its identity, infrastructure and volume.

Planning is cheap (one small record per account) and deterministic in (scenario, scale, seed); the
exchanges themselves are generated later, account by account, from each account's own seed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from random import Random

import numpy as np
import xxhash

from distillguard.simulate import population as pop
from distillguard.simulate.scenario import Group, Scenario

US = 1_000_000
DAY = 86_400 * US
HOUR = 3_600 * US
RESELLER_POOL = 24  # egress addresses of a reseller / proxy network, whichever group names it


def subseed(*parts: object) -> int:
    """A 63-bit seed derived from ``parts`` (stable across runs and platforms)."""
    return xxhash.xxh3_64_intdigest("/".join(map(str, parts)).encode()) >> 1


@dataclass(frozen=True, slots=True)
class Account:
    index: int
    group: int
    k: int  # position within its group
    account_id: str
    org_id: str
    org: int
    pathway: str
    created_us: int
    payment: str | None
    verified: bool
    country: str
    email_domain: str
    keys: tuple[str, ...]
    api: str
    user_agent: str
    ja4: str
    tz: float
    ips: tuple[tuple[str, int], ...]
    ip_mode: str  # sticky: own addresses; pool: any of ips per request; fresh: a new residential one
    n: int
    start_us: int
    end_us: int
    seed: int
    releases: tuple[tuple[int, int, float], ...]  # (model index, from time, share of traffic)


@dataclass(frozen=True)
class Plan:
    scenario: Scenario
    scale: float
    seed: int
    start_us: int
    end_us: int
    accounts: tuple[Account, ...]

    @property
    def total(self) -> int:
        return sum(a.n for a in self.accounts)

    def group_seed(self, g: int) -> int:
        return subseed(self.seed, "group", g)


def make_plan(scenario: Scenario, scale: float, seed: int) -> Plan:
    sc = scenario.scaled(scale)
    start = int(sc.start.timestamp() * US)
    end = start + int(sc.days * DAY)
    accounts: list[Account] = []
    for gi, g in enumerate(sc.groups):
        accounts.extend(_group_accounts(sc, gi, g, seed, start, len(accounts)))
    return Plan(sc, scale, seed, start, end, tuple(accounts))


def _volumes(g: Group, rng: np.random.Generator, spans_days: np.ndarray) -> np.ndarray:
    k, total = g.accounts, g.exchanges
    if g.timing == "load_balanced":
        return np.array([len(range(i, total, k)) for i in range(k)], dtype=np.int64)
    w = rng.lognormal(0.0, g.volume_sigma, k) if g.volume_sigma > 0 else np.ones(k)
    n = 1 + np.floor((total - k) * w / w.sum()).astype(np.int64)
    n[np.argsort(-w)[: total - int(n.sum())]] += 1
    if g.daily_cap:
        cap = np.maximum(1, np.floor(g.daily_cap * np.maximum(spans_days, 1.0))).astype(np.int64)
        for _ in range(20):  # move the excess onto accounts still under their cap
            over = np.maximum(n - cap, 0).sum()
            n = np.minimum(n, cap)
            room = cap - n
            if over == 0 or room.sum() == 0:
                break
            add = np.floor(over * room / room.sum()).astype(np.int64)
            n += np.minimum(add, room)
    out: np.ndarray = n
    return out


def _group_accounts(sc: Scenario, gi: int, g: Group, seed: int, start: int, base: int) -> list[Account]:
    gseed = subseed(seed, "group", gi)
    r = Random(gseed)
    rng = np.random.default_rng(gseed)
    w0, w1 = start + int(g.window[0] * DAY), start + int(g.window[1] * DAY)
    life = int(g.lifetime_days * DAY) if g.lifetime_days else 0
    if life and life < w1 - w0:
        starts = w0 + (rng.random(g.accounts) * (w1 - w0 - life)).astype(np.int64)
        ends = starts + life
    else:
        starts, ends = np.full(g.accounts, w0), np.full(g.accounts, w1)
    n = _volumes(g, rng, (ends - starts) / DAY)

    shared_api = pop.weighted(r, g.api or pop.API_POP)
    shared_ua = pop.user_agent(r, shared_api)
    n_orgs = g.orgs or g.accounts
    org_ids = [f"org_{pop.hexid(r, 12)}" for _ in range(n_orgs)]
    org_domain = [pop.corp_domain(r) if g.pathways[0][0] != "education" else pop.edu_domain(r) for _ in org_ids]
    org_pay = [f"pf_{pop.hexid(r, 12)}" for _ in org_ids]
    pay_pool = [f"pf_{pop.hexid(r, 12)}" for _ in range(g.payment_pool)]
    group_domain = pop.edu_domain(r) if g.network == "campus" else pop.corp_domain(r)
    group_pool = _group_pool(r, g, seed)
    group_t0 = w0 - int((0.5 + 2.5 * r.random()) * DAY)
    group_tz = g.tz
    releases = _release_plan(sc, g, r, start)
    # a campaign moves an exact share of its accounts to a new model (chosen at random)
    pivots = set(r.sample(range(g.accounts), round(g.accounts * g.pivot_share)))

    out: list[Account] = []
    for k in range(g.accounts):
        aseed = subseed(seed, "acct", gi, k)
        ar = Random(aseed)
        pathway = pop.weighted(ar, g.pathways)
        cc = pop.weighted(ar, g.countries) if g.countries else pop.country(ar)
        org = k % n_orgs if g.orgs else k
        api = shared_api if g.user_agent == "shared" else pop.weighted(ar, g.api or pop.API_POP)
        ua, ja4 = shared_ua if g.user_agent == "shared" else pop.user_agent(ar, api)
        if g.tls_fingerprint == "shared":  # one client stack behind varied user-agent strings
            ja4 = shared_ua[1]
        email = {"org": org_domain[org], "shared": group_domain}.get(g.email) or pop.email_domain(ar, pathway)
        payment = {
            "own": f"pf_{pop.hexid(ar, 12)}",
            "org": org_pay[org],
            "shared": pay_pool[k % len(pay_pool)],
            "none": None,
        }[g.payment]
        ips, mode = _account_ips(ar, g, group_pool)
        a_start, a_end = int(starts[k]), int(ends[k])
        out.append(
            Account(
                index=base + k,
                group=gi,
                k=k,
                account_id=f"acct_{pop.hexid(ar, 16)}",
                org_id=org_ids[org],
                org=org,
                pathway=pathway,
                created_us=_created(ar, g, a_start, group_t0),
                payment=payment,
                verified=ar.random() < g.verified,
                country=cc,
                email_domain=email,
                keys=tuple(f"key_{pop.hexid(ar, 12)}" for _ in range(g.keys_per_account)),
                api=api,
                user_agent=ua,
                ja4=ja4,
                tz=group_tz if group_tz is not None else pop.tz_for(ar, cc),
                ips=ips,
                ip_mode=mode,
                n=int(n[k]),
                start_us=a_start,
                end_us=a_end,
                seed=aseed,
                releases=tuple(_account_release(ar, g, rel, k in pivots) for rel in releases),
            )
        )
    return out


def _group_pool(r: Random, g: Group, seed: int) -> list[tuple[str, int]]:
    if g.network == "reseller":  # same reseller name, same egress addresses, whichever group uses it
        return pop.subnet_pool(Random(subseed(seed, "reseller", g.reseller)), "datacenter", RESELLER_POOL)
    if g.network == "campus":
        return pop.subnet_pool(r, "campus", g.ip_pool or 4)
    if g.network == "datacenter" and g.ip_pool:
        return pop.subnet_pool(r, "datacenter", g.ip_pool)
    return []


def _account_ips(r: Random, g: Group, pool: list[tuple[str, int]]) -> tuple[tuple[tuple[str, int], ...], str]:
    if g.network in ("reseller", "campus"):
        return tuple(pool), "pool"
    if g.network == "datacenter" and pool:
        if g.rotation == "request":
            return tuple(pool), "pool"
        return tuple(r.sample(pool, min(len(pool), r.randint(1, 2)))), "sticky"
    if g.network == "proxy" and g.rotation == "request":
        return (), "fresh"
    kind = "residential" if g.network == "proxy" else g.network
    return tuple(pop.ip_in(r, kind) for _ in range(r.randint(1, 3))), "sticky"


def _created(r: Random, g: Group, a_start: int, group_t0: int) -> int:
    if g.created == "aged":
        return a_start - int((2 + 400 * r.random() ** 2) * DAY)
    if g.created == "same_day":
        return group_t0 - group_t0 % DAY + int((8 + 9 * r.random()) * HOUR)
    if g.lifetime_days:
        return a_start - int((0.1 + 2 * r.random()) * DAY)
    return group_t0 + int(12 * r.random() * HOUR)


def _release_plan(sc: Scenario, g: Group, r: Random, start: int) -> list[tuple[int, int]]:
    """(model index, group-level switch time) for each model released inside the span."""
    out = []
    for mi, m in enumerate(sc.models):
        rel = int(m.released.timestamp() * US)
        if rel <= start:
            continue
        if g.attack:
            out.append((mi, rel + int((0.15 + 0.75 * r.random()) * g.pivot_within_hours * HOUR)))
        else:
            out.append((mi, rel))
    return out


def _account_release(r: Random, g: Group, rel: tuple[int, int], pivots: bool) -> tuple[int, int, float]:
    mi, at = rel
    if g.attack:
        if pivots:
            return (mi, at + int(r.random() * 0.1 * g.pivot_within_hours * HOUR), 1.0)
        return (mi, 2**62, 0.0)
    if r.random() < g.adopt_share:
        delay = -math.log(1.0 - r.random()) * g.adoption_days * DAY
        return (mi, at + int(delay), 0.5 + 0.5 * r.random())
    return (mi, 2**62, 0.0)


def base_model(sc: Scenario) -> int:
    """Index of the newest model released before the span starts (the default everyone uses)."""
    best = 0
    for i, m in enumerate(sc.models):
        if m.released <= sc.start:
            best = i
    return best
