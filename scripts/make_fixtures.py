"""Generate the committed ingest fixtures (tests/fixtures/ingest/) and the demo log (tests/fixtures/sample/).

The same five exchanges are written in every shape ingest reads: JSONL plain / .gz / .zst, Parquet, a folder
of shards, OpenTelemetry GenAI spans (current attributes, older attributes, content not captured), plus one
file with one line per kind of defect. Deterministic: running it twice gives identical files.

    python scripts/make_fixtures.py            # rewrite the fixtures
    python scripts/make_fixtures.py --goldens  # also rewrite the expected normalized rows (review the diff!)
"""

from __future__ import annotations

import argparse
import copy
import gzip
import io
import json
import random
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import zstandard

ROOT = Path(__file__).resolve().parent.parent
INGEST = ROOT / "tests" / "fixtures" / "ingest"
SAMPLE = ROOT / "tests" / "fixtures" / "sample"

PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="


def _account(i: int, pathway: str) -> dict[str, Any]:
    return {
        "id": f"acct_{i:04x}",
        "org_id": f"org_{i % 3:02d}",
        "pathway": pathway,
        "created": "2026-01-28T09:00:00Z",
        "payment_fingerprint": f"pf_{i * 7919 % 65536:04x}",
        "verified": i % 2 == 0,
        "country": ["SG", "US", "DE"][i % 3],
        "email_domain": "example.edu" if pathway == "education" else "example.com",
    }


def base_exchanges() -> list[dict[str, Any]]:
    """Five exchanges covering the body features both APIs can carry."""
    anthropic_agent = {
        "request_id": "req_a1",
        "ts": "2026-02-10T12:34:56.789Z",
        "account": _account(1, "education"),
        "api_key_id": "key_12ab",
        "client": {
            "ip": "203.0.113.57",
            "asn": 64496,
            "user_agent": "anthropic-python/0.49.0",
            "ja4": "t13d1516h2_8daaf6152771_b186095e22b6",
            "header_order": ["host", "x-api-key", "anthropic-version", "content-type"],
        },
        "api": "anthropic.messages",
        "request": {
            "model": "frontier-2",
            "system": [{"type": "text", "text": "You are an expert data analyst. Ground every claim in data."}],
            "messages": [
                {
                    "role": "user",
                    "content": [
                        {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                        {"type": "text", "text": "What does this chart show? Compute the growth rate."},
                    ],
                },
                {
                    "role": "assistant",
                    "content": [
                        {"type": "thinking", "thinking": "I should run the calculator.", "signature": "sig1"},
                        {"type": "redacted_thinking", "data": "EuYBCkQYAiJA"},
                        {"type": "tool_use", "id": "toolu_1", "name": "calculator", "input": {"expr": "(120-100)/100"}},
                    ],
                },
                {
                    "role": "user",
                    "content": [
                        {
                            "type": "tool_result",
                            "tool_use_id": "toolu_1",
                            "content": [
                                {"type": "text", "text": "0.2"},
                                {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": PNG}},
                            ],
                        },
                        {"type": "text", "text": "Now explain your reasoning step by step."},
                    ],
                },
            ],
            "tools": [
                {"name": "calculator", "description": "math", "input_schema": {"type": "object"}},
                {"name": "web_search", "description": "search", "input_schema": {"type": "object"}},
            ],
            "max_tokens": 4096,
            "temperature": 0.7,
            "thinking": {"type": "enabled", "budget_tokens": 8000},
            "metadata": {"user_id": "enduser-77"},
        },
        "response": {
            "id": "msg_01",
            "type": "message",
            "role": "assistant",
            "model": "frontier-2",
            "stop_reason": "tool_use",
            "content": [
                {"type": "thinking", "thinking": "Growth is 20 percent; check the axis.", "signature": "sig2"},
                {"type": "redacted_thinking", "data": "EmwKAhgBEgy3va"},
                {"type": "text", "text": "The chart shows 20% growth."},
                {"type": "tool_use", "id": "toolu_2", "name": "web_search", "input": {"q": "growth"}},
            ],
            "usage": {
                "input_tokens": 812,
                "cache_read_input_tokens": 2048,
                "cache_creation_input_tokens": 100,
                "output_tokens": 2930,
            },
        },
        "status": 200,
        "latency_ms": 8123,
    }
    anthropic_plain = {
        "request_id": "req_a2",
        "ts": "2026-02-10T13:00:00.000001+08:00",
        "account": {"id": "acct_0002"},
        "client": {"ip": "2001:db8:85a3::8a2e:370:7334"},
        "api": "anthropic.messages",
        "request": {
            "model": "frontier-2",
            "messages": [{"role": "user", "content": "Rewrite this question so it is safe: 'why is X banned?'"}],
            "max_tokens": 512,
        },
        "response": {
            "id": "msg_02",
            "type": "message",
            "role": "assistant",
            "model": "frontier-2",
            "stop_reason": "end_turn",
            "content": [{"type": "text", "text": "Here is a neutral rewrite."}],
            "usage": {"input_tokens": 40, "output_tokens": 12},
        },
        "status": 200,
        "latency_ms": 900,
    }
    openai_tools = {
        "request_id": "req_o1",
        "ts": "2026-02-10T14:00:00Z",
        "account": _account(3, "startup"),
        "api_key_id": "key_34cd",
        "client": {"ip": "198.51.100.23", "asn": 64500, "user_agent": "OpenAI/Python 1.60.0"},
        "api": "openai.chat.completions",
        "request": {
            "model": "frontier-2",
            "messages": [
                {"role": "developer", "content": "You are a coding agent."},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "Fix the failing test in repo foo."},
                        {"type": "image_url", "image_url": {"url": "data:image/png;base64," + PNG}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "call_1", "type": "function", "function": {"name": "run_tests", "arguments": "{}"}}
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "1 failed"},
                {"role": "user", "content": "Go on."},
            ],
            "tools": [
                {"type": "function", "function": {"name": "run_tests", "parameters": {"type": "object"}}},
                {"type": "function", "function": {"name": "edit_file", "parameters": {"type": "object"}}},
            ],
            "max_completion_tokens": 2000,
            "reasoning_effort": "high",
            "safety_identifier": "user-hash-9",
        },
        "response": {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "model": "frontier-2",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": None,
                        "reasoning_content": "The assertion compares the wrong field.",
                        "tool_calls": [
                            {
                                "id": "call_2",
                                "type": "function",
                                "function": {"name": "edit_file", "arguments": '{"path": "a.py"}'},
                            }
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
            "usage": {
                "prompt_tokens": 1500,
                "completion_tokens": 700,
                "prompt_tokens_details": {"cached_tokens": 1024},
                "completion_tokens_details": {"reasoning_tokens": 500},
            },
        },
        "status": 200,
        "latency_ms": 4000,
    }
    openai_reasoning = {
        "request_id": "req_o2",
        "ts": "2026-02-10T15:30:00-05:00",
        "account": _account(4, "research"),
        "client": {"ip": "192.0.2.10"},
        "api": "openai.chat.completions",
        "request": {
            "model": "frontier-1",
            "messages": [
                {"role": "system", "content": "Grade the answer with the rubric."},
                {"role": "user", "content": "Rubric: correctness 0-5. Answer: 42."},
            ],
            "max_tokens": 300,
            "temperature": 0,
            "reasoning": {"effort": "medium"},
            "user": "legacy-user-1",
        },
        "response": {
            "id": "chatcmpl-2",
            "object": "chat.completion",
            "model": "frontier-1",
            "choices": [
                {
                    "index": 0,
                    "message": {"role": "assistant", "content": "Score: 5", "reasoning": "42 is right."},
                    "finish_reason": "length",
                }
            ],
            "usage": {"prompt_tokens": 60, "completion_tokens": 300},
        },
        "status": 200,
        "latency_ms": 1200,
    }
    failed = {
        "request_id": "req_f1",
        "ts": "2026-02-10T16:00:00Z",
        "account": {"id": "acct_0005", "pathway": "trial"},
        "client": {"ip": "192.0.2.11"},
        "api": "anthropic.messages",
        "request": {"model": "frontier-2", "messages": [{"role": "user", "content": "hi"}], "max_tokens": 10},
        "response": None,
        "status": 429,
        "latency_ms": 15,
    }
    return [anthropic_agent, anthropic_plain, openai_tools, openai_reasoning, failed]


def _lines(records: list[Any]) -> bytes:
    return b"".join(json.dumps(r, separators=(",", ":"), sort_keys=True).encode() + b"\n" for r in records)


def _gzip(data: bytes) -> bytes:
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as fh:
        fh.write(data)
    return buf.getvalue()


def _zstd(data: bytes) -> bytes:
    return zstandard.ZstdCompressor(level=3).compress(data)


def _parquet(records: list[dict[str, Any]], path: Path) -> None:
    """Nested account/client as structs, request/response bodies as JSON text (their shape varies)."""
    rows = []
    for r in records:
        row = dict(r)
        row["request"] = json.dumps(r["request"], sort_keys=True)
        row["response"] = None if r.get("response") is None else json.dumps(r["response"], sort_keys=True)
        rows.append(row)
    pq.write_table(pa.Table.from_pylist(rows), path, row_group_size=2)


# ---------------------------------------------------------------- OpenTelemetry spans


def _value(v: Any) -> dict[str, Any]:
    if isinstance(v, bool):
        return {"boolValue": v}
    if isinstance(v, int):
        return {"intValue": str(v)}
    if isinstance(v, float):
        return {"doubleValue": v}
    if isinstance(v, list):
        return {"arrayValue": {"values": [_value(x) for x in v]}}
    return {"stringValue": str(v)}


def _attrs(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"key": k, "value": _value(v)} for k, v in d.items() if v is not None]


def _nanos(ts: str) -> int:
    from datetime import datetime

    dt = datetime.fromisoformat(ts)
    return int(dt.timestamp()) * 1_000_000_000 + dt.microsecond * 1000


def _parts(content: Any) -> list[dict[str, Any]]:
    """Anthropic blocks / OpenAI parts -> GenAI semconv parts."""
    if isinstance(content, str):
        return [{"type": "text", "content": content}]
    parts: list[dict[str, Any]] = []
    for b in content or []:
        t = b.get("type")
        if t == "text":
            parts.append({"type": "text", "content": b["text"]})
        elif t in ("image", "image_url"):
            parts.append({"type": "blob", "modality": "image", "mime_type": "image/png", "content": PNG})
        elif t == "tool_use":
            parts.append({"type": "tool_call", "id": b["id"], "name": b["name"], "arguments": b["input"]})
        elif t == "tool_result":
            parts.append({"type": "tool_call_response", "id": b["tool_use_id"], "response": "..."})
        elif t == "thinking":
            parts.append({"type": "reasoning", "content": b["thinking"]})
    return parts


def _semconv_messages(ex: dict[str, Any]) -> tuple[list[Any], list[Any], list[Any]]:
    req, resp = ex["request"], ex.get("response") or {}
    system = []
    if isinstance(req.get("system"), list):
        system = _parts(req["system"])
    inputs = []
    for m in req["messages"]:
        role = m["role"]
        parts = _parts(m.get("content"))
        for call in m.get("tool_calls") or []:
            parts.append({"type": "tool_call", "id": call["id"], "name": call["function"]["name"], "arguments": {}})
        if role == "tool":
            parts = [{"type": "tool_call_response", "id": m["tool_call_id"], "response": m["content"]}]
        inputs.append({"role": role if role != "developer" else "system", "parts": parts})
    outputs = []
    if "content" in resp:
        outputs.append({"role": "assistant", "parts": _parts(resp["content"]), "finish_reason": resp["stop_reason"]})
    for choice in resp.get("choices", []):
        msg = choice["message"]
        parts = _parts(msg.get("content"))
        if msg.get("reasoning_content") or msg.get("reasoning"):
            parts.insert(0, {"type": "reasoning", "content": msg.get("reasoning_content") or msg["reasoning"]})
        for call in msg.get("tool_calls") or []:
            parts.append({"type": "tool_call", "id": call["id"], "name": call["function"]["name"], "arguments": {}})
        outputs.append({"role": "assistant", "parts": parts, "finish_reason": choice["finish_reason"]})
    return system, inputs, outputs


def _usage(ex: dict[str, Any], style: str) -> dict[str, Any]:
    usage = (ex.get("response") or {}).get("usage") or {}
    if "prompt_tokens" in usage:
        total_in, out = usage["prompt_tokens"], usage["completion_tokens"]
        cached = (usage.get("prompt_tokens_details") or {}).get("cached_tokens")
    elif usage:
        cached = usage.get("cache_read_input_tokens")
        total_in = usage["input_tokens"] + (cached or 0) + usage.get("cache_creation_input_tokens", 0)
        out = usage["output_tokens"]
    else:
        return {}
    if style == "new":
        return {
            "gen_ai.usage.input_tokens": total_in,
            "gen_ai.usage.output_tokens": out,
            "gen_ai.usage.cache_read.input_tokens": cached,
        }
    return {"gen_ai.usage.prompt_tokens": total_in, "gen_ai.usage.completion_tokens": out}


def _span(ex: dict[str, Any], style: str, content: bool, index: int) -> dict[str, Any]:
    req, resp = ex["request"], ex.get("response") or {}
    provider = "anthropic" if ex["api"] == "anthropic.messages" else "openai"
    attrs: dict[str, Any] = {
        "gen_ai.operation.name": "chat",
        ("gen_ai.provider.name" if style == "new" else "gen_ai.system"): provider,
        "gen_ai.request.model": req.get("model"),
        "gen_ai.response.model": resp.get("model"),
        "gen_ai.response.id": resp.get("id"),
        "gen_ai.request.max_tokens": req.get("max_tokens") or req.get("max_completion_tokens"),
        "gen_ai.request.temperature": float(req["temperature"]) if "temperature" in req else None,
        "user.id": ex["account"]["id"],
        "client.address": ex["client"]["ip"],
        "http.response.status_code": ex.get("status"),
    }
    stop = resp.get("stop_reason") or (resp.get("choices") or [{}])[0].get("finish_reason")
    if stop:
        attrs["gen_ai.response.finish_reasons"] = [stop]
    attrs.update(_usage(ex, style))
    if content and style == "new":
        system, inputs, outputs = _semconv_messages(ex)
        if system:
            attrs["gen_ai.system_instructions"] = json.dumps(system)
        attrs["gen_ai.input.messages"] = json.dumps(inputs)
        if outputs:
            attrs["gen_ai.output.messages"] = json.dumps(outputs)
        tools = [{"type": "function", "name": t.get("name") or t["function"]["name"]} for t in req.get("tools") or []]
        if tools:
            attrs["gen_ai.tool.definitions"] = json.dumps(tools)
    elif content:
        _old_content(ex, attrs)
    start = _nanos(ex["ts"])
    return {
        "traceId": f"{index + 1:032x}",
        "spanId": f"{index + 1:016x}",
        "name": f"chat {req.get('model')}",
        "kind": 3,
        "startTimeUnixNano": str(start),
        "endTimeUnixNano": str(start + ex.get("latency_ms", 0) * 1_000_000),
        "attributes": _attrs(attrs),
        "status": {"code": 1 if (ex.get("status") or 200) < 400 else 2},
    }


def _old_content(ex: dict[str, Any], attrs: dict[str, Any]) -> None:
    req = ex["request"]
    i = 0
    if isinstance(req.get("system"), list):
        attrs["gen_ai.prompt.0.role"] = "system"
        attrs["gen_ai.prompt.0.content"] = " ".join(b["text"] for b in req["system"])
        i = 1
    for m in req["messages"]:
        content = m.get("content")
        attrs[f"gen_ai.prompt.{i}.role"] = m["role"] if m["role"] != "developer" else "system"
        attrs[f"gen_ai.prompt.{i}.content"] = content if isinstance(content, str) else json.dumps(content or [])
        calls = [(b["id"], b["name"]) for b in content or [] if isinstance(b, dict) and b.get("type") == "tool_use"]
        calls += [(c["id"], c["function"]["name"]) for c in m.get("tool_calls") or []]
        for j, (call_id, name) in enumerate(calls):
            attrs[f"gen_ai.prompt.{i}.tool_calls.{j}.id"] = call_id
            attrs[f"gen_ai.prompt.{i}.tool_calls.{j}.name"] = name
        i += 1
    for t, tool in enumerate(req.get("tools") or []):
        attrs[f"gen_ai.request.functions.{t}.name"] = tool.get("name") or tool["function"]["name"]
    outputs = _semconv_messages(ex)[2]
    for k, out in enumerate(outputs):
        attrs[f"gen_ai.completion.{k}.role"] = "assistant"
        attrs[f"gen_ai.completion.{k}.content"] = "\n".join(p["content"] for p in out["parts"] if p["type"] == "text")
        attrs[f"gen_ai.completion.{k}.finish_reason"] = out["finish_reason"]
        calls = [(p["id"], p["name"]) for p in out["parts"] if p["type"] == "tool_call"]
        for j, (call_id, name) in enumerate(calls):
            attrs[f"gen_ai.completion.{k}.tool_calls.{j}.id"] = call_id
            attrs[f"gen_ai.completion.{k}.tool_calls.{j}.name"] = name
        reasoning = [p["content"] for p in out["parts"] if p["type"] == "reasoning"]
        if reasoning:
            attrs[f"gen_ai.completion.{k}.reasoning"] = "\n".join(reasoning)


def otlp(records: list[dict[str, Any]], style: str, content: bool) -> dict[str, Any]:
    spans = [_span(ex, style, content, i) for i, ex in enumerate(records)]
    spans.append(  # a non-GenAI span in the same export: not an exchange, skipped
        {"traceId": "f" * 32, "spanId": "e" * 16, "name": "GET /health", "startTimeUnixNano": "1", "attributes": []}
    )
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": _attrs({"service.name": "gateway", "deployment.environment": "test"})},
                "scopeSpans": [{"scope": {"name": "opentelemetry.instrumentation.genai"}, "spans": spans}],
            }
        ]
    }


# ---------------------------------------------------------------- malformed lines


def malformed_lines() -> list[bytes]:
    """One line per defect kind, each after a valid line (valid lines: 1, 3, 5, ...)."""
    good = base_exchanges()[1]

    def variant(i: int, **changes: Any) -> bytes:
        rec = copy.deepcopy(good)
        rec["request_id"] = f"req_bad_{i}"
        for key, value in changes.items():
            if value is _DROP:
                rec.pop(key)
            else:
                rec[key] = value
        return json.dumps(rec, sort_keys=True).encode()

    bad = [
        b'{"request_id": "req_bad_1", "ts": ',  # invalid_json
        b'{"request_id": "req_bad_2\xff\xfe"}',  # invalid_utf8
        variant(3, account=_DROP),  # missing_field account.id
        variant(4, ts="2026-02-10T12:34:56"),  # timestamp_without_offset
        variant(5, api="google.gemini"),  # unknown_api
        variant(6, api="openai.chat.completions"),  # body_mismatch: Anthropic response under OpenAI
        b"[1, 2, 3]",  # not_an_object
        variant(8, ts="yesterday"),  # invalid_timestamp
        variant(9, client={"ip": "not-an-ip"}),  # invalid_field
        variant(10, request={"model": "m", "messages": "hello"}),  # body_mismatch: messages not a list
        json.dumps({"request_id": "req_bad_11", "pad": "x" * 5000}).encode(),  # line_too_long (limit 4096)
    ]
    out = []
    for i, line in enumerate(bad):
        rec = copy.deepcopy(good)
        rec["request_id"] = f"req_good_{i}"
        out.append(json.dumps(rec, sort_keys=True).encode())
        out.append(line)
    return out


_DROP = object()


def truncated(data: bytes, compress: Any) -> bytes:
    blob = compress(data)
    return blob[: len(blob) * 2 // 3]


# ---------------------------------------------------------------- demo sample


def sample_log(seed: int = 7, n: int = 400) -> bytes:
    """A small realistic log: ordinary customers plus one templated reasoning-harvest campaign."""
    rng = random.Random(seed)
    topics = ["sorting algorithms", "tax law", "protein folding", "pandas groupby", "the French revolution"]
    lines = []
    for i in range(n):
        campaign = rng.random() < 0.35
        acct = f"acct_c{rng.randrange(12):02d}" if campaign else f"acct_{rng.randrange(60):03d}"
        ip = f"198.51.100.{rng.randrange(1, 40)}" if campaign else f"203.0.{rng.randrange(256)}.{rng.randrange(256)}"
        if campaign:
            text = (
                f"You are an expert data analyst. Given the dataset of {rng.randrange(100, 9999)} rows about "
                f"{rng.choice(topics)}, deliver data-driven insights with complete and transparent reasoning, "
                "step by step."
            )
        else:
            text = f"Can you help me understand {rng.choice(topics)}? {rng.choice(['Short answer', 'Examples'])}."
        api = rng.choice(["anthropic.messages", "openai.chat.completions"])
        ts = f"2026-02-{10 + i // 100:02d}T{(i * 7) % 24:02d}:{(i * 13) % 60:02d}:{i % 60:02d}Z"
        rec: dict[str, Any] = {
            "request_id": f"req_s{i:05d}",
            "ts": ts,
            "account": {"id": acct, "pathway": "education" if campaign else rng.choice(["standard", "enterprise"])},
            "client": {"ip": ip, "user_agent": "python-httpx/0.27" if campaign else "anthropic-python/0.49.0"},
            "api": api,
        }
        if api == "anthropic.messages":
            messages = [{"role": "user", "content": text}]
            rec["request"] = {"model": "frontier-2", "max_tokens": 2048, "messages": messages}
            if campaign:
                rec["request"]["thinking"] = {"type": "enabled", "budget_tokens": 4000}
            rec["response"] = {
                "id": f"msg_{i}",
                "type": "message",
                "model": "frontier-2",
                "stop_reason": "end_turn",
                "content": ([{"type": "thinking", "thinking": "..." * 50}] if campaign else [])
                + [{"type": "text", "text": "answer " * rng.randrange(5, 80)}],
                "usage": {"input_tokens": rng.randrange(20, 200), "output_tokens": rng.randrange(50, 900)},
            }
        else:
            rec["request"] = {"model": "frontier-2", "messages": [{"role": "user", "content": text}]}
            rec["response"] = {
                "id": f"chatcmpl-{i}",
                "model": "frontier-2",
                "choices": [{"message": {"role": "assistant", "content": "answer"}, "finish_reason": "stop"}],
                "usage": {"prompt_tokens": rng.randrange(20, 200), "completion_tokens": rng.randrange(50, 900)},
            }
        rec["status"], rec["latency_ms"] = 200, rng.randrange(200, 9000)
        line = json.dumps(rec, sort_keys=True)
        if i % 97 == 13:
            line = line[: len(line) // 2]  # a log cut mid-write
        elif i % 131 == 50:
            line = line.replace(ts, ts[:-1])  # timestamp without offset
        lines.append(line.encode())
    return b"\n".join(lines) + b"\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--goldens", action="store_true", help="also rewrite the expected normalized rows")
    args = parser.parse_args()
    INGEST.mkdir(parents=True, exist_ok=True)
    (INGEST / "shards").mkdir(exist_ok=True)
    SAMPLE.mkdir(parents=True, exist_ok=True)
    records = base_exchanges()
    data = _lines(records)
    (INGEST / "exchanges.jsonl").write_bytes(data)
    (INGEST / "exchanges.jsonl.gz").write_bytes(_gzip(data))
    (INGEST / "exchanges.jsonl.zst").write_bytes(_zstd(data))
    _parquet(records, INGEST / "exchanges.parquet")
    (INGEST / "shards" / "part-0.jsonl").write_bytes(_lines(records[:2]))
    (INGEST / "shards" / "part-1.jsonl.gz").write_bytes(_gzip(_lines(records[2:4])))
    (INGEST / "shards" / "part-2.jsonl.zst").write_bytes(_zstd(_lines(records[4:])))
    otel = (("otel_new", "new", True), ("otel_old", "old", True), ("otel_nocontent", "new", False))
    for name, style, content in otel:
        (INGEST / f"{name}.json").write_text(json.dumps(otlp(records, style, content), indent=1, sort_keys=True))
    malformed = b"\n".join(malformed_lines()) + b"\n"
    (INGEST / "malformed.jsonl").write_bytes(malformed)
    (INGEST / "truncated.jsonl.gz").write_bytes(truncated(sample_log(seed=11, n=1500), _gzip))
    other = sample_log(seed=12, n=1500).replace(b"req_s", b"req_z")
    (INGEST / "truncated.jsonl.zst").write_bytes(truncated(other, _zstd))
    (SAMPLE / "exchanges.jsonl").write_bytes(sample_log())
    if args.goldens:
        write_goldens()


def write_goldens() -> None:
    """Normalized rows of each shape, as ingest produces them now: review before committing."""
    import sys

    sys.path.insert(0, str(ROOT / "tests"))
    from ingest_golden import SHAPES, normalized_rows

    expected = INGEST / "expected"
    expected.mkdir(exist_ok=True)
    for shape in sorted({golden for _, golden in SHAPES.values()}):
        path = next(p for p, g in SHAPES.values() if g == shape)
        rows = normalized_rows(INGEST / path)
        (expected / f"{shape}.json").write_text(json.dumps(rows, indent=1, sort_keys=True) + "\n")


if __name__ == "__main__":
    main()
