"""Capability and harvesting cues (data in ``cues.toml``) and the per-family classification.

A skeleton gets a bit mask of the cues it matches, once per unique skeleton. A family is classified
once from the shares of its exchanges that carry each cue, plus structural shares (tools offered,
images, thinking requested) aggregated over its members; the result is then attributed to every
exchange of the family.
"""

from __future__ import annotations

import importlib
import re
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt

from distillguard.errors import ConfigError

# The regex parser (private, stable since 3.11) only derives literal prefilters from the patterns;
# if it ever changes, _literal_prefixes returns None and every pattern simply runs.
sre_parse: Any = importlib.import_module("re._parser")
sre_c: Any = importlib.import_module("re._constants")

CUES: tuple[str, ...] = (
    "cot_elicitation",
    "reasoning_reconstruction",
    "trace_coercion",
    "rubric_grading",
    "sensitive_rewrite",
    "refusal_probe",
    "reasoning",
    "coding",
    "agentic",
    "data_analysis",
    "computer_use",
    "vision",
)
"""Cue names, in bit order."""

FLAGS: tuple[str, ...] = CUES[:6]
"""Cues reported as per-exchange booleans and per-family shares."""

AREAS: tuple[str, ...] = (
    "reasoning",
    "coding",
    "agentic",
    "data_analysis",
    "computer_use",
    "vision",
    "rubric_grading",
    "sensitive_rewrite",
    "chat",
)
"""Capability areas, the values of the ``capability`` column."""

# When several areas pass the bar the most specific wins: a grading prompt that asks for reasoning
# is grading; a computer-use agent offers tools and sends screenshots but is computer use.
PRIORITY: tuple[str, ...] = (
    "rubric_grading",
    "sensitive_rewrite",
    "computer_use",
    "vision",
    "agentic",
    "data_analysis",
    "coding",
    "reasoning",
)

STRUCT: tuple[str, ...] = ("tools", "computer_tools", "tool_results", "images", "thinking", "multi_turn")
"""Structural per-exchange bits, in bit order."""

BIT = {name: 1 << i for i, name in enumerate(CUES)}
SBIT = {name: 1 << i for i, name in enumerate(STRUCT)}


@dataclass(frozen=True)
class Pattern:
    """One top-level alternative of a cue pattern, with the prefilters derived from it."""

    regex: re.Pattern[str]
    boundary: bool  # had a leading \b: checked after the match (a leading \b makes the engine slow)
    prefixes: frozenset[str] | None  # literal strings every match starts with (None: unknown)
    words: frozenset[str] | None  # the same, cut to their first word, for ASCII text


@dataclass(frozen=True)
class Cue:
    name: str
    patterns: tuple[Pattern, ...]
    gate: re.Pattern[str] | None  # any match of any pattern starts with one of these literals
    gate_words: frozenset[str] | None  # ... and, in ASCII text, at a word starting with one of these
    tools: re.Pattern[str] | None
    match: tuple[str, ...]
    no_match: tuple[str, ...]


def _split_top(pattern: str) -> list[str]:
    """Split a regular expression at its top-level ``|`` (outside groups and character classes)."""
    parts, depth, in_class, cur, i = [], 0, False, [], 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            cur.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
        elif ch == "[":
            in_class = True
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "|" and depth == 0:
            parts.append("".join(cur))
            cur = []
            i += 1
            continue
        cur.append(ch)
        i += 1
    parts.append("".join(cur))
    return parts


def _compile(name: str, key: str, patterns: Any) -> tuple[Pattern, ...]:
    """Compile each top-level alternative on its own, with its literal prefixes as prefilters.

    Python's engine finds a pattern that starts with literal text quickly but tries a leading
    ``\\b`` or a mixed alternation at every position, which is ten times slower on long prompts.
    """
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns) or not patterns:
        raise ConfigError(f"cues.toml: cue.{name}.{key} must be a non-empty list of strings")
    out = []
    for pattern in patterns:
        for alt in _split_top(pattern):
            boundary = alt.startswith("\\b")
            try:
                regex = re.compile(alt[2:] if boundary else alt)
            except re.error as exc:
                raise ConfigError(f"cues.toml: cue.{name}.{key}: bad regular expression {alt!r}: {exc}") from exc
            prefixes = _literal_prefixes(regex)
            out.append(Pattern(regex, boundary, prefixes, _first_words(prefixes)))
    return tuple(out)


_PREFIX_LEN = 4
_WORD = re.compile(r"[<\[/]*\w+")


def _prefixes(items: list[Any], acc: str) -> set[str]:
    """Literal strings one of which every match of the parsed pattern ``items`` starts with."""
    if len(acc) >= _PREFIX_LEN or not items:
        return {acc}
    op, av = items[0]
    rest = list(items[1:])
    if op is sre_c.LITERAL:
        return _prefixes(rest, acc + chr(av))
    if op is sre_c.AT:
        return _prefixes(rest, acc)
    if op is sre_c.IN and len(av) <= 4 and all(o is sre_c.LITERAL for o, _ in av):
        return set().union(*(_prefixes(rest, acc + chr(c)) for _, c in av))
    if op is sre_c.SUBPATTERN:
        return _prefixes(list(av[3]) + rest, acc)
    if op is sre_c.BRANCH:
        return set().union(*(_prefixes(list(b) + rest, acc) for b in av[1]))
    if op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT):
        lo, hi, inner = av
        once = _prefixes(list(inner) + rest, acc) if hi == 1 else _prefixes(list(inner), acc)
        return once | _prefixes(rest, acc) if lo == 0 else once
    return {acc}


def _literal_prefixes(regex: re.Pattern[str]) -> frozenset[str] | None:
    try:
        found = _prefixes(list(sre_parse.parse(regex.pattern)), "")
    except Exception:  # a parser detail changed: no prefilter, same results
        return None
    return frozenset(found) if all(len(p) >= 2 for p in found) and len(found) <= 256 else None


def _first_words(prefixes: frozenset[str] | None) -> frozenset[str] | None:
    """Prefixes cut to their first word ("do a" of "do anything" -> "do"); None if one is too short."""
    if prefixes is None:
        return None
    words = [_WORD.match(p) for p in prefixes]
    if any(m is None or len(m.group()) < 2 for m in words):
        return None
    return frozenset(m.group() for m in words if m is not None)


def _gates(patterns: tuple[Pattern, ...]) -> tuple[re.Pattern[str] | None, frozenset[str] | None]:
    """Union of the patterns' prefilters: a literal alternation, and a set of word starts."""
    if any(p.prefixes is None for p in patterns):
        return None, None
    literals: set[str] = set().union(*(p.prefixes or () for p in patterns))
    gate = re.compile("|".join(re.escape(p) for p in sorted(literals, key=lambda p: (-len(p), p))))
    if any(p.words is None for p in patterns):
        return gate, None
    words: frozenset[str] = frozenset().union(*(p.words or () for p in patterns))
    return gate, words


def _word_starts(low: str) -> set[str]:
    """First 2, 3 and 4 characters of every word: the gate test for ASCII text is a set intersection."""
    out: set[str] = set()
    for w in _WORD.findall(low):
        out.update((w[:2], w[:3], w[:4]))
    return out


def _found(patterns: tuple[Pattern, ...], text: str, starts: set[str] | None) -> bool:
    for p in patterns:
        if starts is not None and p.words is not None and p.words.isdisjoint(starts):
            continue
        for m in p.regex.finditer(text):
            at = m.start()
            if not p.boundary or at == 0 or not (text[at - 1].isalnum() or text[at - 1] == "_"):
                return True
    return False


def parse_cues(text: str) -> tuple[Cue, ...]:
    """Parse and validate a cue file; every name in ``CUES`` must be defined, and nothing else."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"cues.toml: {exc}") from exc
    table = data.get("cue")
    if not isinstance(table, dict) or set(table) != set(CUES):
        raise ConfigError(f"cues.toml: [cue.*] must define exactly {', '.join(CUES)}")
    out = []
    for name in CUES:
        entry = table[name]
        tools = re.compile("|".join(entry["tools"])) if "tools" in entry else None
        out.append(
            Cue(
                name=name,
                patterns=(compiled := _compile(name, "patterns", entry.get("patterns"))),
                gate=(gates := _gates(compiled))[0],
                gate_words=gates[1],
                tools=tools,
                match=tuple(entry.get("match", ())),
                no_match=tuple(entry.get("no_match", ())),
            )
        )
    return tuple(out)


@cache
def load_cues() -> tuple[Cue, ...]:
    """The cues shipped with the package (parsed once per process)."""
    return parse_cues(resources.files(__package__).joinpath("cues.toml").read_text(encoding="utf-8"))


def cue_bits(skeleton: str, cues: tuple[Cue, ...]) -> int:
    """Bit mask of the cues found in one skeleton (case-insensitive)."""
    low = skeleton.lower()
    starts = _word_starts(low) if low.isascii() else None
    bits = 0
    for i, cue in enumerate(cues):
        if starts is not None and cue.gate_words is not None:
            passed = not cue.gate_words.isdisjoint(starts)
        else:
            passed = cue.gate is None or cue.gate.search(low) is not None
        if passed and _found(cue.patterns, low, starts):
            bits |= 1 << i
    return bits


def computer_tool(name: str, cues: tuple[Cue, ...]) -> bool:
    """A tool whose name says it drives a computer or browser."""
    pattern = cues[CUES.index("computer_use")].tools
    return bool(pattern is not None and pattern.search(name.lower()))


F64 = npt.NDArray[np.float64]


def area_scores(cue: dict[str, F64], struct: dict[str, F64]) -> dict[str, F64]:
    """Score in [0, 1] per capability area from per-family shares (arrays, one value per family).

    Text cues give the share of a family's exchanges whose prompt carries the cue; structure adds the
    evidence that does not depend on wording (tool definitions, images, requested thinking).
    """
    harvest = np.maximum.reduce([cue["cot_elicitation"], cue["reasoning_reconstruction"], cue["trace_coercion"]])
    raw = {
        "reasoning": np.maximum(cue["reasoning"], harvest) + 0.3 * struct["thinking"],
        "coding": cue["coding"],
        "agentic": 0.6 * cue["agentic"] + struct["tools"],
        "data_analysis": cue["data_analysis"],
        "computer_use": 0.6 * cue["computer_use"] + struct["computer_tools"],
        "vision": 0.4 * cue["vision"] + struct["images"],
        "rubric_grading": cue["rubric_grading"],
        "sensitive_rewrite": cue["sensitive_rewrite"],
    }
    scores = {k: np.clip(v, 0.0, 1.0) for k, v in raw.items()}
    scores["chat"] = 1.0 - np.maximum.reduce(list(scores.values()))
    return scores


def pick_area(scores: dict[str, F64], min_score: float) -> npt.NDArray[np.int64]:
    """Index into ``AREAS`` per family: the first area in ``PRIORITY`` scoring >= min_score, else chat."""
    n = len(scores["chat"])
    out = np.full(n, AREAS.index("chat"), dtype=np.int64)
    undecided = np.ones(n, dtype=bool)
    for area in PRIORITY:
        hit = undecided & (scores[area] >= min_score)
        out[hit] = AREAS.index(area)
        undecided &= ~hit
    return out
