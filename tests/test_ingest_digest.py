"""context_digest / reply_digest: the same assistant message digests the same in the response that
delivered it and in the next request's history, in both APIs; thinking never counts."""

from __future__ import annotations

import json
from typing import Any

import xxhash

from distillguard.ingest.lines import Block
from distillguard.ingest.normalize import NormalizeOptions
from distillguard.ingest.sources import normalize_block


def _signed(text: str) -> int:
    value = xxhash.xxh3_64_intdigest(text.encode())
    return value - (1 << 64) if value >= 1 << 63 else value


def _rows(records: list[dict[str, Any]], opts: NormalizeOptions | None = None) -> list[dict[str, Any]]:
    lines = [json.dumps(r).encode() for r in records]
    exchanges, quarantine, _ = normalize_block(
        "t", Block(1, len(lines), b"\n".join(lines), (), 0), 1 << 20, opts or NormalizeOptions()
    )
    assert quarantine.num_rows == 0, quarantine.to_pylist()
    return exchanges.select(["context_digest", "reply_digest"]).to_pylist()


def _record(api: str, request: dict[str, Any], response: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "request_id": f"r{id(request)}",
        "ts": "2026-02-10T12:00:00Z",
        "account": {"id": "a"},
        "client": {"ip": "192.0.2.1"},
        "api": api,
        "request": request,
        "response": response,
    }


def test_anthropic_tool_loop_and_text_replies() -> None:
    reply = {
        "content": [
            {"type": "thinking", "thinking": "hidden steps"},
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1", "name": "search", "input": {}},
            {"type": "tool_use", "id": "toolu_2", "name": "calc", "input": {}},
        ],
        "stop_reason": "tool_use",
    }
    history = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "  An earlier answer.\n"},
        {"role": "user", "content": "go on"},
        {"role": "assistant", "content": reply["content"]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "ok"}]},
    ]
    text_reply = {"content": [{"type": "thinking", "thinking": "x"}, {"type": "text", "text": " A "},
                              {"type": "text", "text": "B "}]}  # fmt: skip
    rows = _rows(
        [
            _record("anthropic.messages", {"messages": history[:1]}, reply),
            _record("anthropic.messages", {"messages": history}, text_reply),
            _record("anthropic.messages", {"messages": history[:3]}, {"type": "error", "error": {}}),
            _record(
                "anthropic.messages", {"messages": history[:1]}, {"content": [{"type": "thinking", "thinking": "t"}]}
            ),
        ]
    )
    calls = _signed("toolu_1\ntoolu_2")
    assert rows[0] == {"context_digest": None, "reply_digest": calls}
    assert rows[1] == {"context_digest": calls, "reply_digest": _signed("A \nB")}
    assert rows[2] == {"context_digest": _signed("An earlier answer."), "reply_digest": None}
    assert rows[3] == {"context_digest": None, "reply_digest": None}  # thinking only: no text, no digest


def test_openai_tool_calls_legacy_function_call_and_text() -> None:
    calls = [{"id": "call_a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
             {"id": "call_b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]  # fmt: skip
    called = {"role": "assistant", "content": None, "tool_calls": calls, "reasoning_content": "why"}
    other = {"role": "assistant", "content": "other choice"}
    first = {
        "choices": [{"message": called, "finish_reason": "tool_calls"}, {"message": other, "finish_reason": "stop"}]
    }
    history = [
        {"role": "system", "content": "s"},
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": None, "tool_calls": calls},
        {"role": "tool", "tool_call_id": "call_a", "content": "1"},
    ]
    parts = {"choices": [{"message": {"role": "assistant", "content": [{"type": "text", "text": "x"},
                                                                       {"type": "text", "text": "y\n"}]}}]}  # fmt: skip
    legacy = {"role": "assistant", "content": None, "function_call": {"name": "f", "arguments": '{"a": 1}'}}
    rows = _rows(
        [
            _record("openai.chat.completions", {"messages": history[:2]}, first),
            _record("openai.chat.completions", {"messages": history}, parts),
            _record("openai.chat.completions", {"messages": [*history[:2], legacy]}, None),
            _record(
                "openai.chat.completions", {"messages": [*history[:2], {"role": "assistant", "content": " "}]}, None
            ),
        ]
    )
    assert rows[0] == {"context_digest": None, "reply_digest": _signed("call_a\ncall_b")}
    assert rows[1] == {"context_digest": _signed("call_a\ncall_b"), "reply_digest": _signed("x\ny")}
    assert rows[2] == {"context_digest": _signed('f{"a": 1}'), "reply_digest": None}
    assert rows[3] == {"context_digest": None, "reply_digest": None}  # blank text: null


def test_privacy_mode_keeps_digests() -> None:
    record = _record(
        "anthropic.messages",
        {
            "messages": [
                {"role": "user", "content": "q"},
                {"role": "assistant", "content": "a"},
                {"role": "user", "content": "b"},
            ]
        },
        {"content": [{"type": "text", "text": "c"}]},
    )
    assert _rows([record], NormalizeOptions(privacy=True)) == [
        {"context_digest": _signed("a"), "reply_digest": _signed("c")}
    ]
