"""The fast path: one JSON Lines record -> one row, through typed msgspec structs (``records``).

``fast_row`` handles the records whose fields have their usual types (nearly all of a real log) in a few
microseconds. Anything else raises one of ``FAST_ERRORS`` and the caller hands the line to the general
normalizer (``normalize.exchange_row`` over orjson dicts), which is the reference: a record the fast path
accepts yields exactly the row the general path would (a differential test holds the two together), and
every rejection reason comes from the general path. Its one deliberate difference: a number that no
double can hold (``1e999``) in a field ingest does not read is accepted here, while the general path
rejects the line as invalid JSON (the number is valid JSON; only orjson refuses it).
"""

from __future__ import annotations

from typing import Any

import msgspec

from distillguard.errors import RecordError
from distillguard.ingest import records as r
from distillguard.ingest.bodies import (
    _ANTHROPIC_ONLY_BLOCKS,
    _ANTHROPIC_ROLES,
    _OPENAI_ONLY_PARTS,
    _OPENAI_ROLES,
    _TOOL_USE,
    ANTHROPIC_STOP,
    OPENAI_STOP,
    BodyInfo,
    calls_digest,
    text_digest,
)
from distillguard.ingest.normalize import APIS, NormalizeOptions, ip_network, text_column, ts_micros


class Fallback(Exception):
    """The record is outside the fast path's shapes; the general normalizer decides."""


FAST_ERRORS = (msgspec.DecodeError, msgspec.ValidationError, UnicodeDecodeError, RecordError, Fallback)


def fast_row(data: bytes, source: str, line: int, opts: NormalizeOptions) -> tuple[Any, ...]:
    """The row of one JSON Lines record, or one of ``FAST_ERRORS`` (then use the general path)."""
    if opts.keep_bodies:
        raise Fallback  # bodies are re-serialized from the parsed JSON by the general path
    if not data.isascii():
        data.decode("utf-8")  # msgspec does not check UTF-8 inside what it skips; orjson rejects it
    rec = r.RECORD.decode(data)
    account, client, api = rec.account, rec.client, rec.api
    if not rec.request_id or rec.ts is None or account is None or not account.id or client is None:
        raise Fallback
    ip = client.ip
    if not ip or api not in APIS:
        raise Fallback
    net = _networks.get(ip)
    if net is None:
        net = _cached(_networks, ip, ip_network(ip))
    created: int | None = None
    if account.created is not None:
        text = account.created
        created = _created.get(text) or _cached(_created, text, ts_micros(text, "account.created"))
    header_order = client.header_order
    if isinstance(header_order, list):
        header_order = ",".join(header_order)
    request, response = rec.request, rec.response
    has_response = len(response) > 0 and bytes(response) != b"null"
    if api == "anthropic.messages":
        info = _anthropic(r.ANTHROPIC_REQUEST.decode(request))
        if has_response:
            _anthropic_response(r.ANTHROPIC_RESPONSE.decode(response), info)
    else:
        info = _openai(r.OPENAI_REQUEST.decode(request))
        if has_response:
            _openai_response(r.OPENAI_RESPONSE.decode(response), info)
    system, system_chars = text_column(info.system_text, opts)
    first, first_chars = text_column(info.first_user_text, opts)
    last, last_chars = text_column(info.last_user_text, opts)
    return (
        rec.request_id, ts_micros(rec.ts, "ts"), account.id, account.org_id, account.pathway, created,
        account.payment_fingerprint, account.verified, account.country, account.email_domain, rec.api_key_id,
        info.end_user_id, ip, net, client.asn, client.user_agent, client.ja4, client.ja3,
        client.http2_fingerprint, header_order, api, info.model, system, system_chars, first, first_chars, last,
        last_chars, info.n_messages, info.n_user_turns, info.n_assistant_turns, info.tools_offered,
        info.tools_used, info.n_tool_calls, info.n_tool_results, info.n_images, info.thinking_requested,
        info.thinking_budget, info.reasoning_effort, info.thinking_returned, info.thinking_chars,
        info.thinking_redacted, info.response_chars, info.context_digest, info.reply_digest, info.max_tokens,
        info.temperature, info.input_tokens, info.cached_input_tokens, info.output_tokens, info.reasoning_tokens,
        info.stop_reason, rec.status, rec.latency_ms, source, line, None, None,
    )  # fmt: skip


# Addresses and account-creation times repeat across a log: convert each once (bounded caches).
_CACHE_SIZE = 1 << 16
_networks: dict[str, str] = {}
_created: dict[str, int] = {}


def _cached(cache: dict[str, Any], key: str, value: Any) -> Any:
    if value is None:
        raise Fallback
    if len(cache) >= _CACHE_SIZE:
        cache.clear()
    cache[key] = value
    return value


# ---------------------------------------------------------------- Anthropic


def _blocks(content: str | list[r.Block] | None) -> list[r.Block]:
    if isinstance(content, str):
        return [r.Block("text", text=content)]
    if content is None:
        return []
    for block in content:
        if block.type in _OPENAI_ONLY_PARTS:
            raise Fallback
    return content


def _text(blocks: list[r.Block]) -> str:
    texts = [b.text for b in blocks if b.type == "text" and b.text is not None]
    return texts[0] if len(texts) == 1 else "\n".join(texts)


def _digest(blocks: list[r.Block]) -> int | None:
    ids = [b.id or "" for b in blocks if b.type in _TOOL_USE]
    return calls_digest(ids) if ids else text_digest(_text(blocks))


def _tools(tools: list[r.Tool] | None, info: BodyInfo) -> None:
    for tool in tools or ():
        name = tool.function.name if tool.function is not None else tool.name
        if name is not None:
            info.tools_offered.append(name)


def _anthropic(req: r.AnthropicRequest) -> BodyInfo:
    info = BodyInfo()
    info.model = req.model
    system = req.system
    if system is not None:
        info.system_text = system if isinstance(system, str) else _text(_blocks(system))
    info.n_messages = len(req.messages)
    last_assistant = None
    for msg in req.messages:
        if msg.role not in _ANTHROPIC_ROLES:
            raise Fallback
        blocks = _blocks(msg.content)
        if msg.role == "assistant":
            info.n_assistant_turns += 1
            last_assistant = blocks
            for b in blocks:
                if b.type in _TOOL_USE:
                    info.tool_used(b.name)
            continue
        for b in blocks:
            if b.type == "image":
                info.n_images += 1
            elif b.type == "tool_result":
                info.n_tool_results += 1
                if isinstance(b.content, list):
                    info.n_images += sum(1 for x in b.content if x.type == "image")
        text = _text(blocks)
        if text:
            info.user_text(text)
    if last_assistant is not None:
        info.context_digest = _digest(last_assistant)
    _tools(req.tools, info)
    thinking = req.thinking
    if thinking is not None and thinking.type in ("enabled", "adaptive"):
        info.thinking_requested = True
        info.thinking_budget = thinking.budget_tokens
    if req.metadata is not None:
        info.end_user_id = req.metadata.user_id
    info.max_tokens = req.max_tokens
    info.temperature = req.temperature
    return info


def _anthropic_response(resp: r.AnthropicResponse, info: BodyInfo) -> None:
    if resp.type == "error" or (resp.error is not msgspec.UNSET and resp.content is msgspec.UNSET):
        return
    if resp.choices is not msgspec.UNSET and resp.content is msgspec.UNSET:
        raise Fallback
    blocks = _blocks(None if resp.content is msgspec.UNSET else resp.content)
    info.reply_digest = _digest(blocks)
    for b in blocks:
        kind = b.type
        if kind == "text":
            info.response_chars += len(b.text) if b.text is not None else 0
        elif kind == "thinking":
            info.thinking_returned = True
            info.thinking_chars += len(b.thinking) if b.thinking is not None else 0
        elif kind == "redacted_thinking":
            info.thinking_redacted = True
        elif kind in _TOOL_USE:
            info.n_tool_calls += 1
            info.tool_used(b.name)
    if resp.stop_reason is not None:
        info.stop_reason = resp.stop_reason if resp.stop_reason in ANTHROPIC_STOP else "other"
    usage = resp.usage
    if usage is not None:
        base, read, written = usage.input_tokens, usage.cache_read_input_tokens, usage.cache_creation_input_tokens
        if base is not None or read is not None or written is not None:
            info.input_tokens = (base or 0) + (read or 0) + (written or 0)
        info.cached_input_tokens = read
        info.output_tokens = usage.output_tokens
    if info.model is None:
        info.model = resp.model


# ---------------------------------------------------------------- OpenAI


def _parts_text(content: str | list[r.Part] | None, info: BodyInfo | None) -> str:
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    texts = []
    for part in content:
        kind = part.type
        if kind == "text" and part.text is not None:
            texts.append(part.text)
        elif kind == "image_url" and info is not None:
            info.n_images += 1
        elif kind in _ANTHROPIC_ONLY_BLOCKS:
            raise Fallback
    return texts[0] if len(texts) == 1 else "\n".join(texts)


def _calls(msg: r.OpenAIMessage, text: str, info: BodyInfo) -> tuple[int, int | None]:
    """(tool calls in the message, its continuity digest); records the tool names used."""
    ids: list[str] = []
    for call in msg.tool_calls or ():
        info.tool_used(call.function.name if call.function is not None else None)
        ids.append(call.id or "")
    legacy = msg.function_call
    if legacy is not None:
        info.tool_used(legacy.name)
        ids.append((legacy.name or "") + (legacy.arguments or ""))
    return len(ids), (calls_digest(ids) if ids else text_digest(text))


def _openai(req: r.OpenAIRequest) -> BodyInfo:
    if isinstance(req.system, (str, list)):
        raise Fallback
    info = BodyInfo()
    info.model = req.model
    info.n_messages = len(req.messages)
    system: list[str] = []
    for msg in req.messages:
        role = msg.role
        if role not in _OPENAI_ROLES:
            raise Fallback
        if role == "system" or role == "developer":
            system.append(_parts_text(msg.content, None))
        elif role == "user":
            text = _parts_text(msg.content, info)
            if text:
                info.user_text(text)
        elif role == "assistant":
            info.n_assistant_turns += 1
            info.context_digest = _calls(msg, _parts_text(msg.content, None), info)[1]
        else:
            info.n_tool_results += 1
    if system:
        info.system_text = "\n".join(system)
    _tools(req.tools or req.functions, info)
    effort = req.reasoning_effort
    if effort is None and req.reasoning is not None:
        effort = req.reasoning.effort
    info.reasoning_effort = effort
    info.thinking_requested = effort is not None and effort != "none"
    info.end_user_id = req.safety_identifier or req.user
    max_tokens = req.max_completion_tokens if req.max_completion_tokens is not None else req.max_tokens
    info.max_tokens = max_tokens
    info.temperature = req.temperature
    return info


def _openai_response(resp: r.OpenAIResponse, info: BodyInfo) -> None:
    if resp.error is not msgspec.UNSET and resp.choices is msgspec.UNSET:
        return
    if resp.choices is msgspec.UNSET:
        raise Fallback
    for i, choice in enumerate(resp.choices):
        message = choice.message
        if message is None:
            raise Fallback
        text = _parts_text(message.content, None)
        info.response_chars += len(text)
        calls, digest = _calls(message, text, info)
        info.n_tool_calls += calls
        if i == 0:
            info.reply_digest = digest
        thought = message.reasoning_content or message.reasoning
        if thought:
            info.thinking_returned = True
            info.thinking_chars += len(thought)
        if i == 0 and choice.finish_reason is not None:
            info.stop_reason = OPENAI_STOP.get(choice.finish_reason, "other")
    usage = resp.usage
    if usage is not None:
        info.input_tokens, info.output_tokens = usage.prompt_tokens, usage.completion_tokens
        if usage.prompt_tokens_details is not None:
            info.cached_input_tokens = usage.prompt_tokens_details.cached_tokens
        if usage.completion_tokens_details is not None:
            info.reasoning_tokens = usage.completion_tokens_details.reasoning_tokens
    if info.model is None:
        info.model = resp.model
