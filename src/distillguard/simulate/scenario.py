"""Scenario files: TOML in, frozen and validated objects out.

A scenario declares the time span, the models (with release times), the legitimate population (one
``[[legit]]`` table per archetype) and the campaigns (one ``[[campaign]]`` table each, optionally with
``[[campaign.phase]]`` tables). Counts in the file are at ``--scale 1`` (a laptop-size run); ``scale``
multiplies exchanges, and accounts where ``growth = "linear"``. Every error names file, key and reason.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from distillguard.errors import ConfigError

CAPABILITIES: tuple[str, ...] = (
    "chat",
    "writing",
    "reasoning",
    "coding",
    "agentic",
    "data_analysis",
    "computer_use",
    "vision",
    "grading",
    "safe_rewrite",
    "extraction",
    "summarization",
    "translation",
    "refusal_probe",
)
SESSIONS: tuple[str, ...] = ("single", "chat", "agent_loop", "synthetic_trace")
PATHWAYS: tuple[str, ...] = ("standard", "education", "research", "startup", "enterprise", "trial", "reseller")
APIS: tuple[str, ...] = ("anthropic.messages", "openai.chat.completions")
TIMINGS = ("diurnal", "business", "flat", "runs", "load_balanced")
NETWORKS = ("residential", "mobile", "datacenter", "campus", "reseller", "proxy")
PROMPT_STYLES = ("fresh", "template", "paraphrase")
CREATED = ("aged", "burst", "same_day")


@dataclass(frozen=True)
class Model:
    name: str
    released: datetime


@dataclass(frozen=True)
class Content:
    """What a group sends: the part of its behaviour a campaign phase may change."""

    capabilities: tuple[tuple[str, float], ...]
    sessions: tuple[tuple[str, float], ...] = (("single", 1.0),)
    prompts: str = "fresh"
    templates: int = 0
    system_prompt: str = ""
    thinking: float = 0.0
    thinking_budget: int = 0
    cot_harvest: float = 0.0
    trace_language: str = ""


@dataclass(frozen=True)
class Phase:
    name: str
    start: float  # fraction of the group's activity window
    content: Content


@dataclass(frozen=True)
class Group:
    """One legitimate archetype or one campaign, with its knobs (see docs/simulate.md)."""

    name: str  # archetype name for legit groups, campaign id for campaigns
    attack: bool
    archetype: str
    accounts: int
    exchanges: int
    phases: tuple[Phase, ...]
    growth: str = "linear"
    volume_sigma: float = 1.0
    daily_cap: int = 0
    window: tuple[float, float] = (0.0, -1.0)
    lifetime_days: float = 0.0
    created: str = "aged"
    pathways: tuple[tuple[str, float], ...] = (("standard", 1.0),)
    verified: float = 0.5
    countries: tuple[tuple[str, float], ...] = ()
    email: str = "population"
    orgs: int = 0
    payment: str = "own"
    payment_pool: int = 1
    network: str = "residential"
    ip_pool: int = 0
    rotation: str = "sticky"
    reseller: str = ""
    user_agent: str = "population"
    tls_fingerprint: str = "population"
    template_scope: str = "group"
    template_pool: str = ""  # "public:<name>": templates (or an app's system prompt) shared by every group naming it
    api: tuple[tuple[str, float], ...] = ()
    keys_per_account: int = 1
    timing: str = "diurnal"
    tz: float | None = None  # None: each account its own zone from the population
    run_items: int = 200
    item_gap_s: float = 2.0
    turns_mean: float = 3.0
    agent_steps: tuple[int, int] = (4, 24)
    end_user_ids: bool = False
    adoption_days: float = 6.0
    adopt_share: float = 0.5
    pivot_share: float = 0.0
    pivot_within_hours: float = 24.0


@dataclass(frozen=True)
class Scenario:
    name: str
    description: str
    start: datetime
    days: float
    reported_scale: float
    models: tuple[Model, ...]
    groups: tuple[Group, ...] = field(default_factory=tuple)
    source: str = ""

    def scaled(self, scale: float) -> Scenario:
        """The scenario at ``scale``: exchanges always scale, accounts only for ``growth = "linear"``."""
        if not scale > 0:
            raise ConfigError(f"scale must be > 0, got {scale}")
        out = []
        for g in self.groups:
            accounts = g.accounts if g.growth == "fixed" else max(1, round(g.accounts * scale))
            exchanges = max(accounts, round(g.exchanges * scale))
            out.append(replace(g, accounts=accounts, exchanges=exchanges))
        return replace(self, groups=tuple(out))


class _Missing:
    pass


_MISSING: Any = _Missing()
_MISSING_INT: Any = _Missing()


BUILTIN = ("reported-2026", "hard-negatives", "adaptive")


def load_scenario(name_or_path: str | Path) -> Scenario:
    """Load a built-in scenario by name or a TOML file by path; raise ConfigError on any defect."""
    text: str
    label = str(name_or_path)
    if isinstance(name_or_path, str) and name_or_path in BUILTIN:
        res = resources.files("distillguard.simulate").joinpath("scenarios").joinpath(f"{name_or_path}.toml")
        text = res.read_text(encoding="utf-8")
        label = f"{name_or_path}.toml (built-in)"
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError(f"{path}: no such scenario file (built-in scenarios: {', '.join(BUILTIN)})")
        text = path.read_text(encoding="utf-8")
    return parse_scenario(text, label)


def parse_scenario(text: str, label: str = "<scenario>") -> Scenario:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{label}: not valid TOML: {exc}") from exc
    t = _Table(data, label, "")
    name = t.str_("name")
    start = t.datetime_("start")
    days = t.float_("days", lo=0.01)
    sc = _Scenario(
        name=name,
        description=t.str_("description", ""),
        start=start,
        days=days,
        reported_scale=t.float_("reported_scale", 1.0, lo=0.0001),
    )
    models = tuple(_model(m) for m in t.tables("models", required=True))
    if len({m.name for m in models}) != len(models):
        raise ConfigError(f"{label}: models: model names must be unique")
    groups = [_group(g, attack=False, days=days) for g in t.tables("legit")]
    groups += [_group(g, attack=True, days=days) for g in t.tables("campaign")]
    t.done()
    if not groups:
        raise ConfigError(f"{label}: the scenario declares no [[legit]] and no [[campaign]] groups")
    names = [g.name for g in groups]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise ConfigError(f"{label}: group names must be unique, repeated: {', '.join(sorted(dup))}")
    return Scenario(
        name=sc.name,
        description=sc.description,
        start=sc.start,
        days=sc.days,
        reported_scale=sc.reported_scale,
        models=tuple(sorted(models, key=lambda m: m.released)),
        groups=tuple(groups),
        source=label,
    )


@dataclass(frozen=True)
class _Scenario:
    name: str
    description: str
    start: datetime
    days: float
    reported_scale: float


def _model(t: _Table) -> Model:
    m = Model(name=t.str_("name"), released=t.datetime_("released"))
    t.done()
    return m


_CONTENT_KEYS = (
    "capabilities",
    "sessions",
    "prompts",
    "templates",
    "system_prompt",
    "thinking",
    "thinking_budget",
    "cot_harvest",
    "trace_language",
)


def _content(t: _Table, base: Content | None) -> Content:
    b = base
    caps = t.weights("capabilities", CAPABILITIES, None if b is None else b.capabilities)
    return Content(
        capabilities=caps,
        sessions=t.weights("sessions", SESSIONS, (("single", 1.0),) if b is None else b.sessions),
        prompts=t.choice("prompts", PROMPT_STYLES, "fresh" if b is None else b.prompts),
        templates=t.int_("templates", 0 if b is None else b.templates, lo=0),
        system_prompt=t.str_("system_prompt", "" if b is None else b.system_prompt),
        thinking=t.float_("thinking", 0.0 if b is None else b.thinking, lo=0.0, hi=1.0),
        thinking_budget=t.int_("thinking_budget", 0 if b is None else b.thinking_budget, lo=0),
        cot_harvest=t.float_("cot_harvest", 0.0 if b is None else b.cot_harvest, lo=0.0, hi=1.0),
        trace_language=t.str_("trace_language", "" if b is None else b.trace_language),
    )


def _group(t: _Table, attack: bool, days: float) -> Group:
    if attack:
        name = t.str_("id")
        archetype = t.str_("archetype", "campaign")
    else:
        archetype = t.str_("archetype")
        name = t.str_("name", archetype)
    content = _content(t, None)
    phases = [Phase("" if not attack else t.str_("phase_name", "main"), 0.0, content)]
    for pt in t.tables("phase") if attack else []:
        ph = Phase(pt.str_("name"), pt.float_("start", lo=0.0, hi=1.0), _content(pt, content))
        pt.done()
        phases.append(ph)
    phases.sort(key=lambda p: p.start)
    window = t.pair("window", (0.0, days), float)
    if not 0.0 <= window[0] < window[1] <= days:
        raise ConfigError(f"{t.where('window')}: must satisfy 0 <= start < end <= days ({days})")
    tz = t.get("tz")
    if tz is not None and not isinstance(tz, int | float):
        raise ConfigError(f"{t.where('tz')}: must be a UTC offset in hours (number)")
    steps = t.pair("agent_steps", (4, 24), int)
    if not 1 <= steps[0] <= steps[1]:
        raise ConfigError(f"{t.where('agent_steps')}: must be [min, max] with 1 <= min <= max")
    g = Group(
        name=name,
        attack=attack,
        archetype=archetype,
        accounts=t.int_("accounts", lo=1),
        exchanges=t.int_("exchanges", lo=1),
        phases=tuple(phases),
        growth=t.choice("growth", ("linear", "fixed"), "linear"),
        volume_sigma=t.float_("volume_sigma", 1.0, lo=0.0, hi=5.0),
        daily_cap=t.int_("daily_cap", 0, lo=0),
        window=window,
        lifetime_days=t.float_("lifetime_days", 0.0, lo=0.0),
        created=t.choice("created", CREATED, "aged"),
        pathways=t.weights("pathways", PATHWAYS, (("standard", 1.0),)),
        verified=t.float_("verified", 0.5, lo=0.0, hi=1.0),
        countries=t.weights("countries", None, ()),
        email=t.choice("email", ("population", "org", "shared"), "population"),
        orgs=t.int_("orgs", 0, lo=0),
        payment=t.choice("payment", ("own", "org", "shared", "none"), "own"),
        payment_pool=t.int_("payment_pool", 1, lo=1),
        network=t.choice("network", NETWORKS, "residential"),
        ip_pool=t.int_("ip_pool", 0, lo=0),
        rotation=t.choice("rotation", ("sticky", "request"), "sticky"),
        reseller=t.str_("reseller", ""),
        user_agent=t.choice("user_agent", ("population", "shared"), "population"),
        tls_fingerprint=t.choice("tls_fingerprint", ("population", "shared"), "population"),
        template_scope=t.choice("template_scope", ("group", "org", "account"), "group"),
        template_pool=_pool(t),
        api=t.weights("api", APIS, ()),
        keys_per_account=t.int_("keys_per_account", 1, lo=1),
        timing=t.choice("timing", TIMINGS, "diurnal"),
        tz=None if tz is None else float(tz),
        run_items=t.int_("run_items", 200, lo=1),
        item_gap_s=t.float_("item_gap_s", 2.0, lo=0.001),
        turns_mean=t.float_("turns_mean", 3.0, lo=1.0),
        agent_steps=steps,
        end_user_ids=t.bool_("end_user_ids", False),
        adoption_days=t.float_("adoption_days", 6.0, lo=0.0),
        adopt_share=t.float_("adopt_share", 0.5, lo=0.0, hi=1.0),
        pivot_share=t.float_("pivot_share", 0.0, lo=0.0, hi=1.0),
        pivot_within_hours=t.float_("pivot_within_hours", 24.0, lo=0.0),
    )
    if g.network == "reseller" and not g.reseller:
        raise ConfigError(f"{t.where('reseller')}: network = 'reseller' needs a reseller name")
    t.done(ignore=(*_CONTENT_KEYS, "phase_name"))
    return g


def _pool(t: _Table) -> str:
    v = t.str_("template_pool", "")
    if v and not re.fullmatch(r"public:[A-Za-z0-9_.-]+", v):
        raise ConfigError(f"{t.where('template_pool')}: must be 'public:<name>' (letters, digits, . _ -), got {v!r}")
    return v


class _Table:
    """A TOML table being validated: typed getters that name file and key, and an unknown-key check."""

    def __init__(self, data: dict[str, Any], label: str, path: str) -> None:
        self.data, self.label, self.path = data, label, path
        self.seen: set[str] = set()

    def where(self, key: str) -> str:
        return f"{self.label}: {self.path}{key}"

    def get(self, key: str) -> Any:
        self.seen.add(key)
        return self.data.get(key)

    def _req(self, key: str, default: Any) -> Any:
        v = self.get(key)
        if v is None:
            if default is _MISSING:
                raise ConfigError(f"{self.where(key)}: required key is missing")
            return default
        return v

    def str_(self, key: str, default: Any = None) -> str:
        v = self._req(key, _MISSING if default is None else default)
        if not isinstance(v, str):
            raise ConfigError(f"{self.where(key)}: must be a string, got {v!r}")
        return v

    def bool_(self, key: str, default: bool) -> bool:
        v = self._req(key, default)
        if not isinstance(v, bool):
            raise ConfigError(f"{self.where(key)}: must be true or false, got {v!r}")
        return v

    def int_(self, key: str, default: Any = _MISSING_INT, lo: int | None = None) -> int:
        v = self._req(key, _MISSING if default is _MISSING_INT else default)
        if isinstance(v, bool) or not isinstance(v, int):
            raise ConfigError(f"{self.where(key)}: must be an integer, got {v!r}")
        if lo is not None and v < lo:
            raise ConfigError(f"{self.where(key)}: must be >= {lo}, got {v}")
        return v

    def float_(self, key: str, default: Any = None, lo: float | None = None, hi: float | None = None) -> float:
        v = self._req(key, _MISSING if default is None else default)
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise ConfigError(f"{self.where(key)}: must be a number, got {v!r}")
        if (lo is not None and v < lo) or (hi is not None and v > hi):
            raise ConfigError(f"{self.where(key)}: must be within [{lo}, {hi}], got {v}")
        return float(v)

    def choice(self, key: str, allowed: tuple[str, ...], default: str) -> str:
        v = self.str_(key, default)
        if v not in allowed:
            raise ConfigError(f"{self.where(key)}: must be one of {', '.join(allowed)}; got {v!r}")
        return v

    def datetime_(self, key: str) -> datetime:
        v = self._req(key, _MISSING)
        if isinstance(v, str):
            try:
                v = datetime.fromisoformat(v.replace("Z", "+00:00"))
            except ValueError as exc:
                raise ConfigError(f"{self.where(key)}: not an RFC 3339 time: {v!r}") from exc
        if not isinstance(v, datetime):
            raise ConfigError(f"{self.where(key)}: must be a date-time with offset, got {v!r}")
        if v.tzinfo is None:
            raise ConfigError(f"{self.where(key)}: a time without UTC offset is ambiguous: {v.isoformat()}")
        return v.astimezone(UTC)

    def pair(self, key: str, default: tuple[Any, Any], typ: type) -> tuple[Any, Any]:
        v = self._req(key, default)
        ok = isinstance(v, list | tuple) and len(v) == 2
        ok = ok and all(isinstance(x, int | float) and not isinstance(x, bool) for x in v)
        if not ok:
            raise ConfigError(f"{self.where(key)}: must be a list of two numbers, got {v!r}")
        return (typ(v[0]), typ(v[1]))

    def weights(self, key: str, allowed: tuple[str, ...] | None, default: Any) -> tuple[tuple[str, float], ...]:
        v = self._req(key, _MISSING if default is None else default)
        if isinstance(v, tuple):
            return v
        if not isinstance(v, dict) or not v:
            raise ConfigError(f"{self.where(key)}: must be a table of name = weight, got {v!r}")
        out = []
        for k, w in v.items():
            if allowed is not None and k not in allowed:
                raise ConfigError(f"{self.where(key)}.{k}: unknown name; allowed: {', '.join(allowed)}")
            if isinstance(w, bool) or not isinstance(w, int | float) or w < 0:
                raise ConfigError(f"{self.where(key)}.{k}: weight must be a number >= 0, got {w!r}")
            out.append((k, float(w)))
        total = sum(w for _, w in out)
        if total <= 0:
            raise ConfigError(f"{self.where(key)}: weights sum to zero")
        return tuple((k, w / total) for k, w in out)

    def tables(self, key: str, required: bool = False) -> list[_Table]:
        v = self.get(key)
        if v is None:
            if required:
                raise ConfigError(f"{self.where(key)}: at least one [[{self.path}{key}]] table is required")
            return []
        if not isinstance(v, list) or not all(isinstance(x, dict) for x in v):
            raise ConfigError(f"{self.where(key)}: must be an array of tables ([[{key}]])")
        return [_Table(x, self.label, f"{self.path}{key}[{i}].") for i, x in enumerate(v)]

    def done(self, ignore: tuple[str, ...] = ()) -> None:
        unknown = set(self.data) - self.seen - set(ignore)
        if unknown:
            raise ConfigError(f"{self.where(sorted(unknown)[0])}: unknown key")
