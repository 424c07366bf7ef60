"""Capability and harvesting cues (data in ``cues.toml``) and the per-family classification.

A skeleton gets a bit mask of the cues it matches, once per unique skeleton. A family is classified
once from the shares of its exchanges that carry each cue, plus structural shares (tools offered,
images, thinking requested) aggregated over its members; the result is then attributed to every
exchange of the family.
"""

from __future__ import annotations

import re
import tomllib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from distillguard.errors import ConfigError

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
class Cue:
    name: str
    pattern: str  # the cue's patterns as one RE2 alternation, searched in lower-cased skeletons
    tools: re.Pattern[str] | None
    match: tuple[str, ...]
    no_match: tuple[str, ...]

    @property
    def scan(self) -> str:
        """``pattern`` with every bounded repetition ``{m,n}`` left open (``{m,}``): it matches every text
        ``pattern`` matches (and some more), and RE2 runs it as a small automaton where a repetition bounded
        at hundreds of characters makes it fall back to its slow engine (the reasoning cue's word-problem
        patterns: 0.15 s per 20k skeletons each, against 0.004 s open). ``cue_bits_array`` searches
        ``pattern`` only in the texts ``scan`` found."""
        return _open_repetitions(self.pattern)


_BOUNDED = re.compile(r"(?<!\\)\{(\d+),\d+\}")


def _open_repetitions(pattern: str) -> str:
    return _BOUNDED.sub(lambda m: "{" + m.group(1) + ",}", pattern)


def _compile(name: str, key: str, patterns: Any) -> str:
    """The cue's patterns as one alternation, checked by the engine that runs it (RE2, in Arrow).

    One alternation is one scan per text whatever the number of patterns (RE2 runs them as one
    automaton), where Python's engine would try each alternative at every position.
    """
    if not isinstance(patterns, list) or not all(isinstance(p, str) for p in patterns) or not patterns:
        raise ConfigError(f"cues.toml: cue.{name}.{key} must be a non-empty list of strings")
    for p in patterns:
        try:
            pc.match_substring_regex(_PROBE, p)
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError) as exc:
            raise ConfigError(f"cues.toml: cue.{name}.{key}: bad regular expression {p!r}: {exc}") from exc
    return "|".join(f"(?:{p})" for p in patterns)


_PROBE = pa.array([""], type=pa.string())


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
                pattern=_compile(name, "patterns", entry.get("patterns")),
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
    return int(cue_bits_array(pa.array([skeleton], type=pa.string()), cues)[0])


def cue_bits_array(skeletons: pa.Array, cues: tuple[Cue, ...], threads: int = 2) -> npt.NDArray[np.int64]:
    """Bit mask of the cues found in each skeleton (case-insensitive; null: none): one scan per cue, the
    cues shared among ``threads`` threads (Arrow's regex kernel releases the GIL; the machine has 2 cores)."""
    low = pc.utf8_lower(skeletons)

    def matches(texts: pa.Array, pattern: str) -> npt.NDArray[np.bool_]:
        return np.array(pc.fill_null(pc.match_substring_regex(texts, pattern), False).to_numpy(zero_copy_only=False))

    def scan(i: int) -> npt.NDArray[np.int64]:
        cue = cues[i]
        hit = matches(low, cue.scan)
        rows = np.flatnonzero(hit)
        if cue.scan != cue.pattern and len(rows):  # the exact pattern only where its open form matched
            hit[rows] = matches(low.take(pa.array(rows)), cue.pattern)
        return np.asarray(hit, dtype=np.int64) << i

    bits = np.zeros(len(skeletons), dtype=np.int64)
    if threads < 2 or len(skeletons) < 1024:
        for i in range(len(cues)):
            bits |= scan(i)
        return bits
    with ThreadPoolExecutor(threads) as pool:
        for part in pool.map(scan, range(len(cues))):
            bits |= part
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
