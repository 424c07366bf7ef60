"""Reading a policy file (TOML) into a frozen ``Policy``; every mistake is reported with file, line and reason.

Format (see docs/policy.md)::

    [defaults]
    throttle_rate_per_minute = 20

    [online]
    link_threshold = 1.0
    weights = { payment = 1.0, family = 0.5, net = 0.5, user_agent = 0.25 }

    [[rule]]
    name = "campaign-withhold"
    scope = "campaign"                 # or "account"
    action = "withhold_reasoning"
    params = { mode = "strip" }
    approval = "auto"                  # or "analyst"
    when = { campaign_risk_min = 0.7 } # FIELD (equals), FIELD_min, FIELD_max, FIELD_in, FIELD_any
    examples.match = [{ campaign_risk = 0.9 }]
    examples.no_match = [{ campaign_risk = 0.3 }]
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any

from distillguard.errors import ConfigError
from distillguard.policy.model import (
    ACTION_PARAMS,
    FIELDS,
    WITHHOLD_MODES,
    Action,
    Condition,
    OnlineSettings,
    Policy,
    PolicyDefaults,
    Rule,
    Scope,
)

_SUFFIXES = ("_min", "_max", "_in", "_any")
_TOP = {"version", "defaults", "online", "rule"}
_RULE_KEYS = {"name", "scope", "action", "params", "approval", "when", "description", "examples"}


class _Where:
    """Finds the line of a rule (or of a key inside it) in the raw text, for error messages."""

    def __init__(self, source: str, text: str) -> None:
        self.source = source
        self.lines = text.splitlines()
        self.headers = [i for i, ln in enumerate(self.lines) if re.match(r"^\s*\[\[\s*rule\s*\]\]", ln)]

    def line(self, rule_index: int | None = None, key: str | None = None, section: str | None = None) -> int:
        start, end = 0, len(self.lines)
        if rule_index is not None and rule_index < len(self.headers):
            start = self.headers[rule_index]
            end = self.headers[rule_index + 1] if rule_index + 1 < len(self.headers) else end
        elif section is not None:
            for i, ln in enumerate(self.lines):
                if re.match(rf"^\s*\[\s*{re.escape(section)}\s*\]", ln):
                    start = i
                    break
        if key is not None:
            pattern = re.compile(rf"^\s*{re.escape(key)}\b|[{{,]\s*{re.escape(key)}\s*=")
            for i in range(start, end):
                if pattern.search(self.lines[i]):
                    return i + 1
        return start + 1

    def error(
        self, reason: str, rule_index: int | None = None, key: str | None = None, section: str | None = None
    ) -> ConfigError:
        return ConfigError(f"{self.source}:{self.line(rule_index, key, section)}: {reason}")


def load_policy(path: str | Path) -> Policy:
    """Read and validate a policy file; ``ConfigError`` names the file, the line and the reason."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read policy file ({exc.strerror})") from None
    except UnicodeDecodeError:
        raise ConfigError(f"{path}:1: not UTF-8 text") from None
    return parse_policy(text, str(path))


def default_policy() -> Policy:
    """The policy that ships with distillguard (``policy/default.toml``)."""
    text = resources.files("distillguard.policy").joinpath("default.toml").read_text(encoding="utf-8")
    return parse_policy(text, "distillguard/policy/default.toml")


def parse_policy(text: str, source: str = "<policy>") -> Policy:
    where = _Where(source, text)
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        m = re.search(r"line (\d+)", str(exc))
        raise ConfigError(f"{source}:{m.group(1) if m else 1}: invalid TOML ({exc})") from None
    for key in doc:
        if key not in _TOP:
            raise where.error(f"unknown top-level key {key!r} (expected one of {sorted(_TOP)})", key=key)
    if doc.get("version", 1) != 1:
        raise where.error(f"unsupported policy version {doc['version']!r} (this distillguard reads 1)", key="version")
    defaults = _defaults(doc.get("defaults", {}), where)
    online = _online(doc.get("online", {}), where)
    raw_rules = doc.get("rule", [])
    if not isinstance(raw_rules, list):
        raise where.error("'rule' must be an array of tables ([[rule]])", key="rule")
    rules = tuple(_rule(i, r, where, defaults) for i, r in enumerate(raw_rules))
    names = [r.name for r in rules]
    for i, name in enumerate(names):
        if name in names[:i]:
            raise where.error(f"duplicate rule name {name!r}", rule_index=i, key="name")
    return Policy(rules=rules, defaults=defaults, online=online, source=source)


def _defaults(raw: Any, where: _Where) -> PolicyDefaults:
    if not isinstance(raw, dict):
        raise where.error("[defaults] must be a table", key="defaults")
    known = {"throttle_rate_per_minute": int, "withhold_mode": str, "counter_window_s": int}
    for key, value in raw.items():
        if key not in known:
            raise where.error(f"unknown key {key!r} in [defaults]", key=key, section="defaults")
        if not isinstance(value, known[key]) or isinstance(value, bool):
            raise where.error(f"[defaults] {key} must be {known[key].__name__}", key=key, section="defaults")
    out = PolicyDefaults(**raw)
    if out.throttle_rate_per_minute < 1 or out.counter_window_s < 1:
        raise where.error("[defaults] rates and windows must be >= 1", section="defaults")
    if out.withhold_mode not in WITHHOLD_MODES:
        raise where.error(f"withhold_mode must be one of {WITHHOLD_MODES}", key="withhold_mode", section="defaults")
    return out


def _online(raw: Any, where: _Where) -> OnlineSettings:
    if not isinstance(raw, dict):
        raise where.error("[online] must be a table", key="online")
    base = OnlineSettings()
    numeric = {"link_threshold", "min_purity", "family_similarity", "max_requests", "min_accounts"}
    values: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "weights":
            if not isinstance(value, dict) or not all(
                isinstance(v, int | float) and not isinstance(v, bool) and v >= 0 for v in value.values()
            ):
                raise where.error(
                    "[online] weights must map indicator kinds to numbers >= 0", key=key, section="online"
                )
            unknown = set(value) - set(base.weights)
            if unknown:
                raise where.error(
                    f"unknown indicator kind(s) {sorted(unknown)} (known: {sorted(base.weights)})",
                    key=key,
                    section="online",
                )
            values[key] = {**base.weights, **{k: float(v) for k, v in value.items()}}
        elif key in numeric:
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise where.error(f"[online] {key} must be a number >= 0", key=key, section="online")
            values[key] = int(value) if key in ("max_requests", "min_accounts") else float(value)
        else:
            raise where.error(f"unknown key {key!r} in [online]", key=key, section="online")
    out = OnlineSettings(**{**base.__dict__, **values})
    if out.min_purity > 1 or out.family_similarity > 1 or out.link_threshold <= 0:
        raise where.error(
            "[online] min_purity and family_similarity must be <= 1, link_threshold > 0", section="online"
        )
    return out


def _rule(i: int, raw: Any, where: _Where, defaults: PolicyDefaults) -> Rule:
    if not isinstance(raw, dict):
        raise where.error("a rule must be a table", rule_index=i)
    for key in raw:
        if key not in _RULE_KEYS:
            raise where.error(f"unknown key {key!r} in rule (expected {sorted(_RULE_KEYS)})", rule_index=i, key=key)
    name = raw.get("name")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}", name):
        raise where.error("rule needs a 'name' of letters, digits, '-', '_' or '.'", rule_index=i, key="name")
    try:
        scope = Scope(raw.get("scope", "account"))
    except ValueError:
        raise where.error(f"rule {name!r}: scope must be 'account' or 'campaign'", rule_index=i, key="scope") from None
    try:
        action = Action(str(raw.get("action")))
    except ValueError:
        raise where.error(
            f"rule {name!r}: unknown action {raw.get('action')!r} (expected one of {[a.value for a in Action]})",
            rule_index=i,
            key="action",
        ) from None
    params = _params(name, action, raw.get("params", {}), where, i, defaults)
    approval = raw.get("approval", "auto")
    if approval not in ("auto", "analyst"):
        raise where.error(f"rule {name!r}: approval must be 'auto' or 'analyst'", rule_index=i, key="approval")
    conditions = _conditions(name, scope, raw.get("when", {}), where, i)
    examples = raw.get("examples", {})
    if not isinstance(examples, dict) or set(examples) - {"match", "no_match"}:
        raise where.error(
            f"rule {name!r}: examples must have only 'match' and 'no_match'", rule_index=i, key="examples"
        )
    ex_match, ex_no = examples.get("match", []), examples.get("no_match", [])
    for ex in (*ex_match, *ex_no):
        if not isinstance(ex, dict):
            raise where.error(f"rule {name!r}: each example must be a table", rule_index=i, key="examples")
    if not ex_match or not ex_no:
        raise where.error(
            f"rule {name!r}: needs at least one examples.match and one examples.no_match", rule_index=i, key="name"
        )
    return Rule(
        name=name,
        scope=scope,
        action=action,
        conditions=conditions,
        params=params,
        approval=approval,
        description=str(raw.get("description", "")),
        examples_match=tuple(ex_match),
        examples_no_match=tuple(ex_no),
    )


def _params(name: str, action: Action, raw: Any, where: _Where, i: int, defaults: PolicyDefaults) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise where.error(f"rule {name!r}: params must be a table", rule_index=i, key="params")
    allowed = ACTION_PARAMS[action]
    for key, value in raw.items():
        if key not in allowed:
            raise where.error(f"rule {name!r}: action {action.value} takes no param {key!r}", rule_index=i, key=key)
        if not isinstance(value, allowed[key]) or isinstance(value, bool):
            raise where.error(f"rule {name!r}: param {key} must be {allowed[key].__name__}", rule_index=i, key=key)
    params = dict(raw)
    if action is Action.throttle:
        params.setdefault("rate_per_minute", defaults.throttle_rate_per_minute)
        if params["rate_per_minute"] < 1:
            raise where.error(f"rule {name!r}: rate_per_minute must be >= 1", rule_index=i, key="rate_per_minute")
    if action is Action.withhold_reasoning:
        params.setdefault("mode", defaults.withhold_mode)
        if params["mode"] not in WITHHOLD_MODES:
            raise where.error(f"rule {name!r}: mode must be one of {WITHHOLD_MODES}", rule_index=i, key="mode")
    return params


def _conditions(name: str, scope: Scope, raw: Any, where: _Where, i: int) -> tuple[Condition, ...]:
    if not isinstance(raw, dict):
        raise where.error(f"rule {name!r}: 'when' must be a table", rule_index=i, key="when")
    fields = FIELDS[scope]
    out = []
    for key, value in raw.items():
        field, op = key, "eq"
        for suffix in _SUFFIXES:
            if key.endswith(suffix) and key[: -len(suffix)] in fields:
                field, op = key[: -len(suffix)], suffix[1:]
                break
        if field not in fields:
            raise where.error(
                f"rule {name!r}: unknown field {key!r} for a {scope.value} rule (fields: {sorted(fields)})",
                rule_index=i,
                key=key,
            )
        _check_value(name, fields[field], op, key, value, where, i)
        out.append(Condition(field, op, tuple(value) if isinstance(value, list) else value))
    return tuple(out)


def _check_value(name: str, kind: str, op: str, key: str, value: Any, where: _Where, i: int) -> None:
    number = isinstance(value, int | float) and not isinstance(value, bool)
    ok = {
        "min": kind == "num" and number,
        "max": kind == "num" and number,
        "in": kind in ("str", "num") and isinstance(value, list) and len(value) > 0,
        "any": kind == "list" and isinstance(value, list) and all(isinstance(v, str) for v in value),
        "eq": (kind == "bool" and isinstance(value, bool))
        or (kind == "str" and isinstance(value, str))
        or (kind == "num" and number),
    }[op]
    if not ok:
        raise where.error(f"rule {name!r}: {key} = {value!r} does not fit a {kind} field", rule_index=i, key=key)


def check_examples(policy: Policy) -> list[str]:
    """Run every rule's examples; the failures as readable lines (empty when all pass)."""
    failures = []
    for rule in policy.rules:
        for ex in rule.examples_match:
            if not rule.matches(_example(ex)):
                failures.append(f"{policy.source}: rule {rule.name!r} should match {ex}")
        for ex in rule.examples_no_match:
            if rule.matches(_example(ex)):
                failures.append(f"{policy.source}: rule {rule.name!r} should not match {ex}")
    return failures


def _example(ex: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(ex)
    if "campaign_id" in out and "in_campaign" not in out:
        out["in_campaign"] = out["campaign_id"] is not None
    return out
