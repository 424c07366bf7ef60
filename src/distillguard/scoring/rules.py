"""Rules as data: conditions over feature columns, points, and the evidence sentence each one writes.

A rule file (TOML) holds ``[[account]]`` and ``[[campaign]]`` tables::

    [[account]]
    name = "single-turn harvesting"
    when = { single_turn_share = ">= 0.9", high_value_share = ">= 0.8" }
    points = 1.0
    evidence = "{single_turn_share:.0%} single-turn, {high_value_share:.0%} high-value"
    examples.match = [{ single_turn_share = 0.95, high_value_share = 0.9 }]
    examples.no_match = [{ single_turn_share = 0.5, high_value_share = 0.9 }]

Negative points are positive evidence of legitimacy. Every condition must hold for a rule to match;
a missing (null) value never matches. The examples are executed by the test suite.
"""

from __future__ import annotations

import math
import operator
import re
import string
import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.errors import ConfigError

_OPS: dict[str, Callable[[Any, Any], Any]] = {
    ">=": operator.ge,
    "<=": operator.le,
    ">": operator.gt,
    "<": operator.lt,
    "==": operator.eq,
    "!=": operator.ne,
}
_COND = re.compile(r"^\s*(>=|<=|==|!=|>|<|in|not in)\s+(.+?)\s*$")


@dataclass(frozen=True)
class Condition:
    column: str
    op: str
    value: Any

    def mask(self, table: Mapping[str, np.ndarray]) -> np.ndarray:
        col = table[self.column]
        if self.op in ("in", "not in"):
            hit = np.isin(col.astype(object), list(self.value))
            present = np.array([v is not None for v in col], dtype=bool)
            return present & (hit if self.op == "in" else ~hit)
        if isinstance(self.value, str) or col.dtype == object:
            out = np.array([v is not None and bool(_OPS[self.op](v, self.value)) for v in col], dtype=bool)
            return out
        with np.errstate(invalid="ignore"):
            res = _OPS[self.op](col.astype(np.float64), float(self.value))
        return np.asarray(res & ~np.isnan(col.astype(np.float64)), dtype=bool)


@dataclass(frozen=True)
class Rule:
    name: str
    level: str
    conditions: tuple[Condition, ...]
    points: float
    evidence: str
    examples_match: tuple[Mapping[str, Any], ...] = ()
    examples_no_match: tuple[Mapping[str, Any], ...] = ()

    def mask(self, table: Mapping[str, np.ndarray], n: int) -> np.ndarray:
        """Rows where every condition holds; a column the table lacks (not measured) holds nowhere."""
        out = np.ones(n, dtype=bool)
        for cond in self.conditions:
            if cond.column not in table:
                return np.zeros(n, dtype=bool)
            out &= cond.mask(table)
        return out

    def explain(self, row: Mapping[str, Any]) -> str:
        try:
            text = self.evidence.format_map(_Fmt(row))
        except (ValueError, KeyError, TypeError):
            text = self.evidence
        sign = "+" if self.points >= 0 else "−"
        return f"{self.name} ({sign}{abs(self.points):g}): {text}"


class _Fmt(dict[str, Any]):
    def __init__(self, row: Mapping[str, Any]) -> None:
        super().__init__({k: (math.nan if v is None else v) for k, v in row.items()})

    def __missing__(self, key: str) -> str:
        return "?"


@dataclass(frozen=True)
class RuleSet:
    account: tuple[Rule, ...]
    campaign: tuple[Rule, ...]
    settings: Mapping[str, Any]
    source: str

    def setting(self, key: str, default: Any = ...) -> Any:
        """A value of ``[settings]``; without a ``default``, a missing key is a configuration error."""
        if key not in self.settings:
            if default is not ...:
                return default
            raise ConfigError(f"{self.source}: [settings] lacks '{key}'")
        return self.settings[key]


def _parse_value(text: str) -> Any:
    text = text.strip()
    if text.startswith("["):
        return [_parse_value(p) for p in text.strip("[]").split(",") if p.strip()]
    if text in ("true", "false"):
        return text == "true"
    if text[:1] in "\"'":
        return text.strip("\"'")
    try:
        return float(text)
    except ValueError:
        return text


def _parse_condition(source: str, rule: str, column: str, spec: Any) -> Condition:
    if isinstance(spec, bool | int | float):
        return Condition(column, "==", spec)
    if not isinstance(spec, str) or not (m := _COND.match(spec)):
        raise ConfigError(f"{source}: rule '{rule}': condition on '{column}' must look like '>= 0.9', got {spec!r}")
    return Condition(column, m.group(1), _parse_value(m.group(2)))


def _parse_rule(source: str, level: str, raw: Mapping[str, Any], columns: Sequence[str] | None) -> Rule:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise ConfigError(f"{source}: a [[{level}]] rule has no name")
    when = raw.get("when")
    if not isinstance(when, dict) or not when:
        raise ConfigError(f"{source}: rule '{name}': 'when' must be a non-empty table")
    if columns is not None:
        unknown = sorted(set(when) - set(columns))
        if unknown:
            raise ConfigError(f"{source}: rule '{name}': unknown column(s) {', '.join(unknown)}")
    points = raw.get("points")
    if not isinstance(points, int | float):
        raise ConfigError(f"{source}: rule '{name}': 'points' must be a number")
    examples = raw.get("examples", {})
    return Rule(
        name=name,
        level=level,
        conditions=tuple(_parse_condition(source, name, c, s) for c, s in when.items()),
        points=float(points),
        evidence=str(raw.get("evidence", name)),
        examples_match=tuple(examples.get("match", ())),
        examples_no_match=tuple(examples.get("no_match", ())),
    )


def load_rules(
    path: str | Path,
    *,
    account_columns: Sequence[str] | None = None,
    campaign_columns: Sequence[str] | None = None,
) -> RuleSet:
    """Read and validate a rule file; errors name the file, the rule and what is wrong."""
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{p}: no such rule file") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p}: invalid TOML: {exc}") from exc
    settings = data.get("settings", {})
    if not isinstance(settings, dict):
        raise ConfigError(f"{p}: [settings] must be a table")
    return RuleSet(
        account=tuple(_parse_rule(str(p), "account", r, account_columns) for r in data.get("account", [])),
        campaign=tuple(_parse_rule(str(p), "campaign", r, campaign_columns) for r in data.get("campaign", [])),
        settings=settings,
        source=str(p),
    )


def columns_of(table: pa.Table, names: Sequence[str] | None = None) -> dict[str, np.ndarray]:
    """Columns as numpy arrays (numbers and booleans as float64 with NaN for null; others as objects).

    ``names``: only these columns (the replay calls this once per checkpoint on every account, so the
    conversion is limited to what the rules read).
    """
    out: dict[str, np.ndarray] = {}
    for name in table.column_names if names is None else [n for n in names if n in table.column_names]:
        col = table[name]
        if pa.types.is_floating(col.type) or pa.types.is_integer(col.type) or pa.types.is_boolean(col.type):
            out[name] = np.asarray(
                pc.fill_null(col.cast(pa.float64()), np.nan).to_numpy(zero_copy_only=False), dtype=np.float64
            )
        else:
            out[name] = np.array(col.to_pylist(), dtype=object)
    return out


def rule_columns(rules: Sequence[Rule]) -> list[str]:
    """The columns ``rules`` read."""
    return sorted({c.column for rule in rules for c in rule.conditions})


def rule_points(cols: Mapping[str, np.ndarray], n: int, rules: Sequence[Rule]) -> np.ndarray:
    """Total points per row of ``n`` rows given as columns (``columns_of``): no evidence, no table."""
    points = np.zeros(n, dtype=np.float64)
    for rule in rules:
        hit = rule.mask(cols, n)
        if hit.any():
            points[hit] += rule.points
    return points


def apply_rules(table: pa.Table, rules: Sequence[Rule], *, explain: bool = True) -> tuple[np.ndarray, list[list[str]]]:
    """Total points per row and (if ``explain``) the evidence sentences of the rules each row matched."""
    n = table.num_rows
    cols = columns_of(table, rule_columns(rules))
    points = np.zeros(n, dtype=np.float64)
    evidence: list[list[str]] = [[] for _ in range(n)]
    values: dict[str, list[Any]] = {}  # the columns evidence sentences name, as Python values, read once
    for rule in rules:
        hit = rule.mask(cols, n)
        if not hit.any():
            continue
        points[hit] += rule.points
        if not explain:
            continue
        names = [f for f in evidence_fields(rule) if f in table.column_names]
        for f in names:
            if f not in values:
                values[f] = table[f].to_pylist()
        for i in np.flatnonzero(hit).tolist():
            evidence[i].append(rule.explain({f: values[f][i] for f in names}))
    return points, evidence


@lru_cache(maxsize=1024)
def _fields(template: str) -> tuple[str, ...]:
    try:
        parsed = list(string.Formatter().parse(template))
    except ValueError:
        return ()
    return tuple(dict.fromkeys(f.split(".")[0].split("[")[0] for _, f, _, _ in parsed if f))


def evidence_fields(rule: Rule) -> tuple[str, ...]:
    """The columns a rule's evidence sentence names (``{n_exchanges}``, ``{cot_share:.0%}``)."""
    return _fields(rule.evidence)


def rule_matches(rule: Rule, example: Mapping[str, Any]) -> bool:
    """Evaluate one rule on one example row (used by the tests that run every rule's examples)."""
    cols = {k: np.array([v], dtype=object if isinstance(v, str) else np.float64) for k, v in example.items()}
    for cond in rule.conditions:
        if cond.column not in cols:
            return False
    return bool(rule.mask(cols, 1)[0])


def risk_from_points(points: np.ndarray, center: float, slope: float) -> np.ndarray:
    """Logistic map from points to a risk in [0, 1]."""
    return np.asarray(1.0 / (1.0 + np.exp(-slope * (points - center))), dtype=np.float64)
