"""The typed fast path gives exactly the general normalizer's row for every record it accepts."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distillguard.errors import RecordError
from distillguard.ingest.fast import FAST_ERRORS, fast_row
from distillguard.ingest.normalize import NormalizeOptions, exchange_row
from ingest_golden import FIXTURES

SAMPLE = Path(__file__).parent / "fixtures" / "sample" / "exchanges.jsonl"
BASE = [json.loads(line) for line in (FIXTURES / "exchanges.jsonl").read_text().splitlines()]
OPTIONS = (NormalizeOptions(), NormalizeOptions(privacy=True))


def _both(line: bytes, opts: NormalizeOptions) -> tuple[tuple[Any, ...] | None, tuple[Any, ...] | str]:
    """(fast row or None when it passes the record on, general row or the general path's reason)."""
    try:
        fast: tuple[Any, ...] | None = fast_row(line, "f", 1, opts)
    except FAST_ERRORS:
        fast = None
    try:
        general: tuple[Any, ...] | str = exchange_row(json.loads(line), "f", 1, opts)
    except (RecordError, ValueError) as exc:
        general = getattr(exc, "reason", "invalid_json")
    return fast, general


def test_fixtures_take_the_fast_path_with_identical_rows() -> None:
    lines = [line for line in (FIXTURES / "exchanges.jsonl").read_bytes().splitlines()]
    lines += [line for line in SAMPLE.read_bytes().splitlines() if line.strip()]
    taken = 0
    for line in lines:
        for opts in OPTIONS:
            fast, general = _both(line, opts)
            if fast is not None:
                assert fast == general
                taken += 1
    assert taken >= 0.95 * len(lines) * len(OPTIONS)  # the fast path is the common path, not a bystander


def test_keep_bodies_uses_the_general_path() -> None:
    line = (FIXTURES / "exchanges.jsonl").read_bytes().splitlines()[0]
    assert _both(line, NormalizeOptions(keep_bodies=True))[0] is None


def _child(node: Any, key: str | int) -> Any:
    if isinstance(node, dict) and isinstance(key, str):
        return node.get(key)
    if isinstance(node, list) and isinstance(key, int) and key < len(node):
        return node[key]
    return None


def _set(record: dict[str, Any], path: list[str | int], value: Any) -> dict[str, Any]:
    """A copy of ``record`` with ``value`` at ``path``, when the path's parent exists (else unchanged)."""
    out = copy.deepcopy(record)
    target: Any = out
    for key in path[:-1]:
        target = _child(target, key)
    last = path[-1]
    settable = isinstance(target, dict) and isinstance(last, str)
    if settable or (isinstance(target, list) and isinstance(last, int) and last < len(target)):
        target[last] = value
    return out


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=12)
    | st.sampled_from(["text", "tool_use", "image", "thinking", "assistant", "user", "tool", "2026-02-10T12:00:00Z"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
        ["type", "text", "id", "name", "role", "content", "function", "thinking", "effort", "x"]), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip

paths = st.sampled_from(
    [
        ["request_id"], ["ts"], ["api"], ["status"], ["latency_ms"], ["account"], ["account", "id"],
        ["account", "created"], ["account", "verified"], ["client", "ip"], ["client", "asn"],
        ["client", "header_order"], ["request"], ["request", "messages"], ["request", "system"],
        ["request", "tools"], ["request", "thinking"], ["request", "max_tokens"], ["request", "temperature"],
        ["request", "reasoning_effort"], ["request", "reasoning"], ["request", "metadata"], ["request", "user"],
        ["request", "messages", 0], ["request", "messages", 0, "content"], ["request", "messages", 1, "role"],
        ["request", "messages", 1, "content"], ["request", "messages", 1, "tool_calls"],
        ["request", "messages", 0, "content", 0], ["request", "messages", 1, "content", 0, "type"],
        ["request", "messages", 2, "content", 0, "content"], ["request", "tools", 0],
        ["response"], ["response", "content"], ["response", "content", 0], ["response", "content", 1, "id"],
        ["response", "choices"], ["response", "choices", 0, "message"],
        ["response", "choices", 0, "message", "content"],
        ["response", "choices", 0, "message", "tool_calls"], ["response", "choices", 0, "message", "function_call"],
        ["response", "choices", 0, "message", "reasoning"], ["response", "usage"], ["response", "error"],
        ["response", "type"], ["response", "stop_reason"], ["response", "usage", "input_tokens"],
    ]
)  # fmt: skip


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.integers(0, len(BASE) - 1), st.lists(st.tuples(paths, json_values), min_size=1, max_size=3))
def test_fast_path_agrees_with_the_general_path(index: int, mutations: list[tuple[list[Any], Any]]) -> None:
    record = BASE[index]
    for path, value in mutations:
        record = _set(record, path, value)
    line = json.dumps(record).encode()
    for opts in OPTIONS:
        fast, general = _both(line, opts)
        if fast is not None:
            assert fast == general
