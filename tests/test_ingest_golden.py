"""Every shape of the same five exchanges normalizes to the committed expected rows."""

from __future__ import annotations

import json

import pytest

from ingest_golden import FIXTURES, SHAPES, normalized_rows


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_shape_matches_golden(shape: str) -> None:
    path, golden = SHAPES[shape]
    expected = json.loads((FIXTURES / "expected" / f"{golden}.json").read_text())
    assert normalized_rows(FIXTURES / path) == expected


def test_exchange_log_golden_pins_usage_and_reasoning_definitions() -> None:
    rows = {r["request_id"]: r for r in json.loads((FIXTURES / "expected" / "exchange_log.json").read_text())}
    agent, tools, graded = rows["req_a1"], rows["req_o1"], rows["req_o2"]
    # Anthropic input_tokens excludes cache reads/writes: the schema's input_tokens is the sum.
    assert agent["input_tokens"] == 812 + 2048 + 100
    assert agent["cached_input_tokens"] == 2048
    # OpenAI prompt_tokens already includes cached tokens.
    assert (tools["input_tokens"], tools["cached_input_tokens"], tools["reasoning_tokens"]) == (1500, 1024, 500)
    assert (agent["stop_reason"], tools["stop_reason"], graded["stop_reason"]) == ("tool_use", "tool_use", "max_tokens")
    assert agent["thinking_budget"] == 8000 and agent["thinking_redacted"] is True
    assert (tools["reasoning_effort"], graded["reasoning_effort"]) == ("high", "medium")
    assert agent["n_images"] == 2 and tools["n_images"] == 1
    assert (agent["end_user_id"], tools["end_user_id"], graded["end_user_id"]) == (
        "enduser-77",
        "user-hash-9",
        "legacy-user-1",
    )


def test_otel_without_content_keeps_metadata_and_nulls_content_counts() -> None:
    rows = json.loads((FIXTURES / "expected" / "otel_nocontent.json").read_text())
    assert len(rows) == 5
    assert all(r["first_user_text"] is None and r["n_messages"] is None for r in rows)
    assert [r["account_id"] for r in rows] == ["acct_0001", "acct_0002", "acct_0003", "acct_0004", "acct_0005"]
    assert rows[0]["input_tokens"] == 2960 and rows[0]["model"] == "frontier-2"
