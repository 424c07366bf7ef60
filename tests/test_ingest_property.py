"""Property-based: hostile input never crashes the reader and no record is lost."""

from __future__ import annotations

import copy
import itertools
import json
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from distillguard.ingest.lines import Block, split_blocks
from distillguard.ingest.normalize import NormalizeOptions
from distillguard.ingest.sources import normalize_block
from ingest_golden import FIXTURES

BASE = [json.loads(line) for line in (FIXTURES / "exchanges.jsonl").read_text().splitlines()]

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts} | {0, len(data)})
    return [data[a:b] for a, b in itertools.pairwise(points)]


@given(st.binary(max_size=400), st.lists(st.integers(min_value=0), max_size=8), st.integers(1, 40), st.integers(1, 5))
def test_split_blocks_matches_plain_split(data: bytes, cuts: list[int], limit: int, block_lines: int) -> None:
    blocks = list(split_blocks(iter(_chunked(data, cuts)), limit, block_lines))
    expected = data.split(b"\n")
    if expected and expected[-1] == b"":
        expected.pop()
    got: list[bytes] = []
    oversize: dict[int, int] = {}
    for block in blocks:
        assert block.first == len(got) + 1
        got.extend(block.lines())
        oversize.update(block.oversize)
    assert len(got) == len(expected)
    for number, (line, want) in enumerate(zip(got, expected, strict=True), start=1):
        if len(want) > limit:
            assert oversize[number] == len(want) and line == b""
        else:
            assert line == want and number not in oversize
    assert blocks[-1].end_offset == len(data)


def _mutate(record: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(record)
    target = out
    for key in path[:-1]:
        nxt = target.get(key)
        if not isinstance(nxt, dict):
            nxt = target[key] = {}
        target = nxt
    target[path[-1]] = value
    return out


paths = st.sampled_from(
    [
        ["request_id"], ["ts"], ["api"], ["status"], ["latency_ms"], ["account"], ["account", "id"],
        ["account", "created"], ["account", "verified"], ["client"], ["client", "ip"], ["client", "asn"],
        ["client", "header_order"], ["request"], ["request", "messages"], ["request", "system"],
        ["request", "tools"], ["request", "thinking"], ["request", "max_tokens"], ["response"],
        ["response", "content"], ["response", "choices"], ["response", "usage"], ["request", "metadata"],
    ]
)  # fmt: skip


@settings(max_examples=300, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(st.lists(st.tuples(st.integers(0, 4), paths, json_values), min_size=1, max_size=6), st.binary(max_size=60))
def test_hostile_records_are_stored_or_quarantined(mutations: list[tuple[int, list[str], Any]], junk: bytes) -> None:
    lines = [json.dumps(_mutate(BASE[i], path, value)).encode() for i, path, value in mutations]
    lines.append(junk.replace(b"\n", b" "))
    lines.append(json.dumps(json.loads(lines[0])).encode()[: len(lines[0]) // 2])
    block = Block(1, len(lines), b"\n".join(lines), (), 0)
    for opts in (NormalizeOptions(), NormalizeOptions(privacy=True), NormalizeOptions(keep_bodies=True)):
        exchanges, quarantine, read = normalize_block("fuzz", block, 1 << 20, opts)
        nonblank = sum(1 for line in lines if line.strip())
        assert read == exchanges.num_rows + quarantine.num_rows == nonblank
        lines_seen = exchanges.column("source_line").to_pylist() + quarantine.column("line").to_pylist()
        assert sorted(lines_seen) == [n for n, line in enumerate(lines, start=1) if line.strip()]


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300), st.integers(1, 40), st.integers(1, 5))
def test_spanned_blocks_read_back_the_same_lines(data: bytes, limit: int, block_lines: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "log.jsonl"
        path.write_bytes(data)
        chunks = [data[i : i + 7] for i in range(0, len(data), 7)]
        plain = list(split_blocks(iter(chunks), limit, block_lines))
        spanned = list(split_blocks(iter(chunks), limit, block_lines, spans=True))
        assert [(b.first, b.count, b.oversize, b.end_offset) for b in plain] == [
            (b.first, b.count, b.oversize, b.end_offset) for b in spanned
        ]
        for p, s in zip(plain, spanned, strict=True):
            assert s.lines(str(path)) == p.lines()
            assert (s.span is None) == bool(s.oversize)
