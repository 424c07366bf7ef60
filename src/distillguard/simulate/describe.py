"""What a plan will generate, per archetype and campaign: counts, volumes, time profiles, capability mix.

Computed from the numeric frames (the same ones the writer renders), without producing any text, so
the figures are exactly those of the log that ``simulate`` writes with the same scenario, scale and seed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from distillguard.simulate.frame import account_frame
from distillguard.simulate.plan import DAY, HOUR, Plan
from distillguard.simulate.scenario import CAPABILITIES, SESSIONS


@dataclass(frozen=True)
class GroupDescription:
    name: str
    attack: bool
    archetype: str
    accounts: int
    exchanges: int
    per_account_median: float
    per_account_p90: float
    per_account_max: int
    first_day: float  # days after the scenario start
    last_day: float
    hourly_utc: tuple[float, ...]  # share of exchanges per UTC hour
    daily: tuple[int, ...]  # exchanges per day of the span
    capabilities: tuple[tuple[str, float], ...]
    sessions: tuple[tuple[str, float], ...]
    models: tuple[tuple[str, float], ...]
    phases: tuple[tuple[str, float], ...]
    thinking_share: float
    newest_model_share: float | None  # share sent to the newest model from 24 h after its release
    harvest_share: float
    distinct_payment: int
    distinct_user_agents: int
    distinct_tls_fingerprints: int


@dataclass(frozen=True)
class Description:
    scenario: str
    scale: float
    seed: int
    days: float
    accounts: int
    exchanges: int
    groups: tuple[GroupDescription, ...]


def describe(plan: Plan) -> Description:
    sc = plan.scenario
    ndays = int(np.ceil(sc.days))
    out = []
    for gi, g in enumerate(sc.groups):
        accts = [a for a in plan.accounts if a.group == gi]
        hourly = np.zeros(24)
        daily = np.zeros(ndays, dtype=np.int64)
        caps = np.zeros(len(CAPABILITIES))
        sess = np.zeros(len(SESSIONS))
        models = np.zeros(len(sc.models))
        phases = np.zeros(len(g.phases) + 1)
        think = harvest = late = late_new = 0
        newest = len(sc.models) - 1
        after = int(sc.models[-1].released.timestamp() * 1_000_000) + DAY
        first, last = plan.end_us, plan.start_us
        for a in accts:
            f = account_frame(plan, a)
            hourly += np.bincount((f.ts // HOUR) % 24, minlength=24)
            daily += np.bincount(np.clip((f.ts - plan.start_us) // DAY, 0, ndays - 1), minlength=ndays)
            caps += np.bincount(f.cap, minlength=len(CAPABILITIES))
            sess += np.bincount(f.skind, minlength=len(SESSIONS))
            models += np.bincount(f.model, minlength=len(sc.models))
            ph = np.where(f.pivot, len(g.phases), f.phase)
            phases += np.bincount(ph, minlength=len(g.phases) + 1)
            think += int(f.think.sum())
            late += int((f.ts >= after).sum())
            late_new += int(((f.ts >= after) & (f.model == newest)).sum())
            harvest += int(f.harvest.sum())
            first, last = min(first, int(f.ts[0])), max(last, int(f.ts[-1]))
        n = np.array([a.n for a in accts])
        total = int(n.sum())
        phase_names = [p.name for p in g.phases] + ["pivot"]
        out.append(
            GroupDescription(
                name=g.name,
                attack=g.attack,
                archetype=g.archetype,
                accounts=len(accts),
                exchanges=total,
                per_account_median=float(np.median(n)),
                per_account_p90=float(np.percentile(n, 90)),
                per_account_max=int(n.max()),
                first_day=(first - plan.start_us) / DAY,
                last_day=(last - plan.start_us) / DAY,
                hourly_utc=tuple(float(x) for x in hourly / total),
                daily=tuple(int(x) for x in daily),
                capabilities=_mix(CAPABILITIES, caps),
                sessions=_mix(SESSIONS, sess),
                models=_mix(tuple(m.name for m in sc.models), models),
                phases=_mix(tuple(phase_names), phases) if g.attack else (),
                thinking_share=think / total,
                newest_model_share=late_new / late if late else None,
                harvest_share=harvest / total,
                distinct_payment=len({a.payment for a in accts if a.payment}),
                distinct_user_agents=len({a.user_agent for a in accts}),
                distinct_tls_fingerprints=len({a.ja4 for a in accts}),
            )
        )
    return Description(
        scenario=sc.name,
        scale=plan.scale,
        seed=plan.seed,
        days=sc.days,
        accounts=len(plan.accounts),
        exchanges=plan.total,
        groups=tuple(out),
    )


def _mix(names: tuple[str, ...], counts: np.ndarray) -> tuple[tuple[str, float], ...]:
    total = counts.sum()
    pairs = [(n, float(c / total)) for n, c in zip(names, counts, strict=True) if c > 0]
    return tuple(sorted(pairs, key=lambda p: -p[1]))
