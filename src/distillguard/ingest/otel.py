"""Adapter: OpenTelemetry GenAI spans (OTLP/JSON) -> exchange rows.

Both generations of the GenAI semantic conventions are read (see docs/ingest.md for the full map):

* current: ``gen_ai.provider.name``, ``gen_ai.input.messages`` / ``gen_ai.output.messages`` /
  ``gen_ai.system_instructions`` (role + typed ``parts``), ``gen_ai.usage.input_tokens`` (includes cached),
  ``gen_ai.usage.cache_read.input_tokens``, ``gen_ai.tool.definitions``;
* older: ``gen_ai.system``, ``gen_ai.prompt.{i}.role/content``, ``gen_ai.completion.{i}.*``,
  ``gen_ai.usage.prompt_tokens`` / ``completion_tokens``, ``gen_ai.request.functions.{i}.name``.

A span whose content was not captured still yields a row: metadata and usage, with text columns and the
content-derived counts null. Spans that are not model calls (no ``gen_ai.*`` attribute, or an operation
such as ``embeddings`` / ``execute_tool`` / ``invoke_agent``) are not exchanges and are skipped uncounted.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from distillguard.errors import RecordError
from distillguard.ingest.batches import BatchBuilder
from distillguard.ingest.bodies import (
    ANTHROPIC_STOP,
    OPENAI_STOP,
    BodyInfo,
    calls_digest,
    opt_float,
    opt_int,
    text_digest,
)
from distillguard.ingest.normalize import NormalizeOptions, build_row
from distillguard.schema import EXCHANGE_COLUMNS
from distillguard.text import network_of

_CHAT_OPERATIONS = frozenset({"chat", "text_completion", "generate_content"})
_PROVIDERS = {
    "anthropic": "anthropic.messages",
    "openai": "openai.chat.completions",
    "azure.ai.openai": "openai.chat.completions",
    "az.ai.openai": "openai.chat.completions",
}
_ACCOUNT_KEYS = ("user.id", "enduser.id", "account.id")
# Columns that only content can fill: null (unknown), not zero, when a span was exported without content.
_CONTENT_COLUMNS = tuple(
    EXCHANGE_COLUMNS.index(name)
    for name in (
        "n_messages", "n_user_turns", "n_assistant_turns", "tools_used", "n_tool_calls", "n_tool_results",
        "n_images", "thinking_returned", "thinking_chars", "thinking_redacted", "response_chars",
    )
)  # fmt: skip
_INDEXED = re.compile(r"^gen_ai\.(prompt|completion)\.(\d+)\.(.+)$")
_CALL_KEY = re.compile(r"^tool_calls\.(\d+)\.(.+)$")


def is_otlp(obj: Any) -> bool:
    return isinstance(obj, dict) and "resourceSpans" in obj


def any_value(value: Any) -> Any:
    """Decode an OTLP/JSON AnyValue (intValue is a string in JSON encoding)."""
    if not isinstance(value, dict):
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        try:
            return int(value["intValue"])
        except (TypeError, ValueError):
            return None
    if "doubleValue" in value:
        return value["doubleValue"]
    if "boolValue" in value:
        return value["boolValue"]
    if "arrayValue" in value:
        items = value["arrayValue"].get("values") if isinstance(value["arrayValue"], dict) else None
        return [any_value(v) for v in items or []]
    if "kvlistValue" in value:
        kv = value["kvlistValue"].get("values") if isinstance(value["kvlistValue"], dict) else None
        return attributes(kv)
    return None


def attributes(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if isinstance(items, list):
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("key"), str):
                out[item["key"]] = any_value(item.get("value"))
    return out


def _spans(obj: dict[str, Any]) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """(resource attributes, span) for every span in an export."""
    found = []
    for rs in obj.get("resourceSpans") or []:
        if not isinstance(rs, dict):
            continue
        resource = attributes((rs.get("resource") or {}).get("attributes"))
        for ss in rs.get("scopeSpans") or rs.get("instrumentationLibrarySpans") or []:
            for span in (ss.get("spans") or []) if isinstance(ss, dict) else []:
                if isinstance(span, dict):
                    found.append((resource, span))
    return found


def otel_rows(obj: dict[str, Any], builder: BatchBuilder, line: int, opts: NormalizeOptions) -> int:
    """Append one row (or quarantine record) per GenAI model-call span; returns how many were read."""
    read = 0
    for resource, span in _spans(obj):
        attrs = attributes(span.get("attributes"))
        if not any(k.startswith("gen_ai.") for k in attrs):
            continue
        operation = attrs.get("gen_ai.operation.name")
        if operation is not None and (not isinstance(operation, str) or operation not in _CHAT_OPERATIONS):
            continue
        read += 1
        try:
            builder.add_row(_span_row(resource, span, attrs, builder.source, line, opts))
        except RecordError as exc:
            builder.reject(line, exc.reason, exc.detail, orjson.dumps(span))
    return read


def _first(keys: tuple[str, ...], *maps: dict[str, Any]) -> Any:
    for mapping in maps:
        for key in keys:
            if mapping.get(key) not in (None, ""):
                return mapping[key]
    return None


def _span_meta(resource: dict[str, Any], span: dict[str, Any], attrs: dict[str, Any]) -> dict[str, Any]:
    trace, span_id = span.get("traceId"), span.get("spanId")
    if not trace or not span_id:
        raise RecordError("missing_field", "traceId/spanId")
    start = opt_int(_nanos(span.get("startTimeUnixNano")), "startTimeUnixNano")
    if not start:
        raise RecordError("missing_field", "startTimeUnixNano")
    end = opt_int(_nanos(span.get("endTimeUnixNano")), "endTimeUnixNano")
    account = _first(_ACCOUNT_KEYS, attrs, resource)
    if account is None:
        raise RecordError("missing_field", "account id (user.id / enduser.id / account.id)")
    provider = attrs.get("gen_ai.provider.name") or attrs.get("gen_ai.system")
    if not isinstance(provider, str) or provider not in _PROVIDERS:
        raise RecordError("unknown_api", f"provider {provider!r:.60}")
    ip = _first(("client.address", "net.sock.peer.addr", "net.peer.ip"), attrs, resource)
    net = network_of(ip) if isinstance(ip, str) else None
    if ip is not None and net is None:
        raise RecordError("invalid_field", f"client.address is not an address: {ip!r:.60}")
    status = _first(("http.response.status_code", "http.status_code"), attrs)
    return {
        "request_id": f"{trace}-{span_id}",
        "ts": start // 1000,
        "latency_ms": (end - start) // 1_000_000 if end and end >= start else None,
        "account_id": str(account),
        "org_id": _first(("organization.id", "org.id"), attrs, resource),
        "api_key_id": _first(("api_key.id",), attrs, resource),
        "client_ip": ip,
        "client_net": net,
        "user_agent": _first(("user_agent.original", "http.user_agent"), attrs, resource),
        "api": _PROVIDERS[provider],
        "status": opt_int(status, "http.response.status_code", 32),
    }


def _nanos(value: Any) -> Any:
    if isinstance(value, str) and value.isdigit():
        return int(value)
    return value


def _span_row(
    resource: dict[str, Any],
    span: dict[str, Any],
    attrs: dict[str, Any],
    source: str,
    line: int,
    opts: NormalizeOptions,
) -> tuple[Any, ...]:
    meta = _span_meta(resource, span, attrs)
    meta["source"], meta["source_line"] = source, line
    info = BodyInfo()
    info.model = _first(("gen_ai.request.model", "gen_ai.response.model"), attrs)
    info.max_tokens = opt_int(attrs.get("gen_ai.request.max_tokens"), "gen_ai.request.max_tokens", 32)
    info.temperature = opt_float(attrs.get("gen_ai.request.temperature"), "gen_ai.request.temperature")
    effort = _first(("gen_ai.request.reasoning_effort", "gen_ai.openai.request.reasoning_effort"), attrs)
    info.reasoning_effort = effort if isinstance(effort, str) else None
    budget = attrs.get("gen_ai.request.thinking.budget_tokens")
    info.thinking_budget = opt_int(budget, "gen_ai.request.thinking.budget_tokens", 32)
    info.thinking_requested = (effort is not None and effort != "none") or bool(budget)
    _usage(attrs, info)
    finish = attrs.get("gen_ai.response.finish_reasons")
    if isinstance(finish, list) and finish and isinstance(finish[0], str):
        info.stop_reason = _stop(finish[0])
    user = attrs.get("gen_ai.request.user") or attrs.get("gen_ai.openai.request.user")
    info.end_user_id = user if isinstance(user, str) else None
    captured = _content_new(attrs, info) or _content_old(attrs, info) or _content_events(span, info)
    row = list(build_row(meta, info, opts, (None, None)))
    if not captured:
        for column in _CONTENT_COLUMNS:
            row[column] = None
    return tuple(row)


def _stop(reason: str) -> str:
    if reason in ANTHROPIC_STOP:
        return reason
    return OPENAI_STOP.get(reason, "other")


def _usage(attrs: dict[str, Any], info: BodyInfo) -> None:
    def first_int(*keys: str) -> int | None:
        return opt_int(_first(keys, attrs), keys[0])

    info.input_tokens = first_int("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
    info.output_tokens = first_int("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
    info.cached_input_tokens = first_int("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens")
    info.reasoning_tokens = first_int("gen_ai.usage.reasoning.output_tokens", "gen_ai.usage.reasoning_tokens")


def _json(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return orjson.loads(value)
        except orjson.JSONDecodeError:
            return None
    return value


def _parts_text(parts: Any, info: BodyInfo | None) -> str:
    texts = []
    for part in parts if isinstance(parts, list) else []:
        if not isinstance(part, dict):
            continue
        kind = part.get("type")
        if kind == "text" and isinstance(part.get("content"), str):
            texts.append(part["content"])
        elif kind in ("blob", "uri", "file", "image") and info is not None and part.get("modality", "image") == "image":
            info.n_images += 1
    return "\n".join(texts)


def _content_new(attrs: dict[str, Any], info: BodyInfo) -> bool:
    system, inputs, outputs = (
        _json(attrs.get(k)) for k in ("gen_ai.system_instructions", "gen_ai.input.messages", "gen_ai.output.messages")
    )
    tools = _json(attrs.get("gen_ai.tool.definitions"))
    if isinstance(tools, list):
        for tool in tools:
            fn = tool.get("function") if isinstance(tool, dict) else None
            name = (fn or tool).get("name") if isinstance(fn or tool, dict) else None
            if isinstance(name, str):
                info.tools_offered.append(name)
    if not any(isinstance(x, list) for x in (system, inputs, outputs)):
        return False
    if isinstance(system, list):
        info.system_text = _parts_text(system, None)
    system_parts: list[str] = []
    last_assistant: Any = None
    for msg in inputs if isinstance(inputs, list) else []:
        if not isinstance(msg, dict):
            continue
        role, parts = msg.get("role"), msg.get("parts")
        info.n_messages += 1
        if role == "system":
            system_parts.append(_parts_text(parts, None))
        elif role == "user":
            info.n_tool_results += _count(parts, "tool_call_response")
            text = _parts_text(parts, info)
            if text:
                info.user_text(text)
        elif role == "assistant":
            info.n_assistant_turns += 1
            last_assistant = parts
            _calls(parts, info)
        elif role == "tool":
            info.n_tool_results += max(1, _count(parts, "tool_call_response"))
    if system_parts and info.system_text is None:
        info.system_text = "\n".join(system_parts)
    if last_assistant is not None:
        info.context_digest = _parts_digest(last_assistant)
    first_output = True
    for msg in outputs if isinstance(outputs, list) else []:
        if not isinstance(msg, dict):
            continue
        parts = msg.get("parts")
        if first_output:
            info.reply_digest, first_output = _parts_digest(parts), False
        info.response_chars += len(_parts_text(parts, None))
        info.n_tool_calls += _calls(parts, info)
        for part in parts if isinstance(parts, list) else []:
            if isinstance(part, dict) and part.get("type") == "reasoning":
                info.thinking_returned = True
                content = part.get("content")
                info.thinking_chars += len(content) if isinstance(content, str) else 0
        if info.stop_reason is None and isinstance(msg.get("finish_reason"), str):
            info.stop_reason = _stop(msg["finish_reason"])
    return True


def _parts_digest(parts: Any) -> int | None:
    """``bodies`` continuity digest of a semconv message: its ``tool_call`` part ids, else its text parts."""
    items = parts if isinstance(parts, list) else []
    calls = [p.get("id") for p in items if isinstance(p, dict) and p.get("type") == "tool_call"]
    if calls:
        return calls_digest([c if isinstance(c, str) else "" for c in calls])
    return text_digest(_parts_text(parts, None))


def _count(parts: Any, kind: str) -> int:
    return sum(1 for p in parts if isinstance(p, dict) and p.get("type") == kind) if isinstance(parts, list) else 0


def _calls(parts: Any, info: BodyInfo) -> int:
    count = 0
    for part in parts if isinstance(parts, list) else []:
        if isinstance(part, dict) and part.get("type") == "tool_call":
            info.tool_used(part.get("name"))
            count += 1
    return count


def _content_old(attrs: dict[str, Any], info: BodyInfo) -> bool:
    """``gen_ai.prompt.{i}.*`` / ``gen_ai.completion.{i}.*`` flattened attributes (pre-1.37 / OpenLLMetry)."""
    prompts: dict[int, dict[str, Any]] = {}
    completions: dict[int, dict[str, Any]] = {}
    for key, value in attrs.items():
        m = _INDEXED.match(key)
        if m:
            target = prompts if m.group(1) == "prompt" else completions
            target.setdefault(int(m.group(2)), {})[m.group(3)] = value
        elif key.startswith("gen_ai.request.functions.") and key.endswith(".name") and isinstance(value, str):
            info.tools_offered.append(value)
    if not prompts and not completions:
        return False
    system: list[str] = []
    last_assistant: dict[str, Any] | None = None
    for i in sorted(prompts):
        fields = prompts[i]
        role, text = fields.get("role"), _old_text(fields.get("content"), info)
        info.n_messages += 1
        if role == "system":
            system.append(text)
        elif role == "user":
            if text:
                info.user_text(text)
        elif role == "assistant":
            info.n_assistant_turns += 1
            last_assistant = fields
            _old_calls(fields, info)
        elif role == "tool":
            info.n_tool_results += 1
    if system:
        info.system_text = "\n".join(system)
    if last_assistant is not None:
        info.context_digest = _old_digest(last_assistant)
    for i in sorted(completions):
        fields = completions[i]
        if i == min(completions):
            info.reply_digest = _old_digest(fields)
        info.response_chars += len(_old_text(fields.get("content"), None))
        info.n_tool_calls += _old_calls(fields, info)
        reasoning = fields.get("reasoning") or fields.get("reasoning_content")
        if isinstance(reasoning, str) and reasoning:
            info.thinking_returned = True
            info.thinking_chars += len(reasoning)
        if info.stop_reason is None and isinstance(fields.get("finish_reason"), str):
            info.stop_reason = _stop(fields["finish_reason"])
    return True


def _old_text(content: Any, info: BodyInfo | None) -> str:
    """Old-style content: plain text, or a JSON list of Anthropic blocks / OpenAI parts."""
    if isinstance(content, str) and content.startswith("[") and isinstance(blocks := _json(content), list):
        content = blocks
    if isinstance(content, list):
        texts = []
        for block in content:
            if isinstance(block, dict):
                if block.get("type") == "text" and isinstance(block.get("text"), str):
                    texts.append(block["text"])
                elif block.get("type") in ("image", "image_url") and info is not None:
                    info.n_images += 1
                elif block.get("type") == "tool_result" and info is not None:
                    info.n_tool_results += 1
        return "\n".join(texts)
    return content if isinstance(content, str) else ""


def _old_digest(fields: dict[str, Any]) -> int | None:
    """Continuity digest of an old-style message: ``tool_calls.{j}.id`` (or the ids of ``tool_use`` blocks in
    JSON content), else its text; null when it made tool calls whose ids were not recorded."""
    calls: dict[int, Any] = {}
    for key, value in fields.items():
        m = _CALL_KEY.match(key)
        if m:
            j = int(m.group(1))
            calls[j] = value if m.group(2) == "id" else calls.get(j)
    ids = [calls[j] for j in sorted(calls)]
    content = fields.get("content")
    if not any(isinstance(i, str) and i for i in ids) and isinstance(content, str) and content.startswith("["):
        blocks = _json(content)
        if isinstance(blocks, list):
            used = [
                b.get("id") for b in blocks if isinstance(b, dict) and b.get("type") in ("tool_use", "server_tool_use")
            ]
            ids = used or ids
    if ids:
        return calls_digest([i if isinstance(i, str) else "" for i in ids])
    return text_digest(_old_text(content, None))


def _old_calls(fields: dict[str, Any], info: BodyInfo) -> int:
    names = [v for k, v in fields.items() if k.startswith("tool_calls.") and k.endswith(".name")]
    for name in names:
        info.tool_used(name)
    return len(names)


def _content_events(span: dict[str, Any], info: BodyInfo) -> bool:
    """1.28-era span events ``gen_ai.content.prompt`` / ``gen_ai.content.completion`` (JSON message lists)."""
    found = False
    for event in span.get("events") or []:
        if not isinstance(event, dict):
            continue
        attrs = attributes(event.get("attributes"))
        if event.get("name") == "gen_ai.content.prompt":
            flat = _flatten(_json(attrs.get("gen_ai.prompt")), "gen_ai.prompt")
        elif event.get("name") == "gen_ai.content.completion":
            flat = _flatten(_json(attrs.get("gen_ai.completion")), "gen_ai.completion")
        else:
            continue
        found = True
        _content_old(flat, info)
    return found


def _flatten(messages: Any, prefix: str) -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for i, msg in enumerate(messages if isinstance(messages, list) else []):
        if isinstance(msg, dict):
            for key in ("role", "content", "finish_reason"):
                if key in msg:
                    flat[f"{prefix}.{i}.{key}"] = msg[key]
    return flat
