"""What the request/response bodies of each API say, reduced to the schema's body columns.

One function per API (``anthropic_body``, ``openai_body``) fills a ``BodyInfo``; both reject a body that
does not have its API's shape (``RecordError('body_mismatch')``) rather than guess. Definitions follow
``distillguard.schema``: ``input_tokens`` includes cached prompt tokens (Anthropic's three counters are
summed, OpenAI's ``prompt_tokens`` already includes them); ``output_tokens`` includes reasoning tokens.
"""

from __future__ import annotations

from typing import Any

import xxhash

from distillguard.errors import RecordError

ANTHROPIC_STOP = frozenset(
    {"end_turn", "max_tokens", "tool_use", "stop_sequence", "refusal", "pause_turn", "model_context_window_exceeded"}
)
OPENAI_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "function_call": "tool_use",
    "content_filter": "refusal",
}
_ANTHROPIC_ROLES = frozenset({"user", "assistant"})
_OPENAI_ROLES = frozenset({"system", "developer", "user", "assistant", "tool", "function"})
# Block types that exist only in the other API: seeing one means the body was filed under the wrong api.
_OPENAI_ONLY_PARTS = frozenset({"image_url", "input_audio", "input_text", "input_image", "function"})
_ANTHROPIC_ONLY_BLOCKS = frozenset(
    {"tool_use", "tool_result", "thinking", "redacted_thinking", "image", "document", "server_tool_use"}
)


class BodyInfo:
    """Mutable accumulator of the body columns of one exchange (internal to ingest)."""

    __slots__ = (
        "cached_input_tokens",
        "context_digest",
        "end_user_id",
        "first_user_text",
        "input_tokens",
        "last_user_text",
        "max_tokens",
        "model",
        "n_assistant_turns",
        "n_images",
        "n_messages",
        "n_tool_calls",
        "n_tool_results",
        "n_user_turns",
        "output_tokens",
        "reasoning_effort",
        "reasoning_tokens",
        "reply_digest",
        "response_chars",
        "stop_reason",
        "system_text",
        "temperature",
        "thinking_budget",
        "thinking_chars",
        "thinking_redacted",
        "thinking_requested",
        "thinking_returned",
        "tools_offered",
        "tools_used",
    )

    def __init__(self) -> None:
        self.model: str | None = None
        self.end_user_id: str | None = None
        self.system_text: str | None = None
        self.first_user_text: str | None = None
        self.last_user_text: str | None = None
        self.n_messages = 0
        self.n_user_turns = 0
        self.n_assistant_turns = 0
        self.tools_offered: list[str] = []
        self.tools_used: list[str] = []
        self.n_tool_calls = 0
        self.n_tool_results = 0
        self.n_images = 0
        self.thinking_requested = False
        self.thinking_budget: int | None = None
        self.reasoning_effort: str | None = None
        self.thinking_returned = False
        self.thinking_chars = 0
        self.thinking_redacted = False
        self.response_chars = 0
        self.context_digest: int | None = None
        self.reply_digest: int | None = None
        self.max_tokens: int | None = None
        self.temperature: float | None = None
        self.input_tokens: int | None = None
        self.cached_input_tokens: int | None = None
        self.output_tokens: int | None = None
        self.reasoning_tokens: int | None = None
        self.stop_reason: str | None = None

    def user_text(self, text: str) -> None:
        """Record the text of one user turn (first and last are kept)."""
        self.n_user_turns += 1
        if self.first_user_text is None:
            self.first_user_text = text
        self.last_user_text = text

    def tool_used(self, name: Any) -> None:
        if isinstance(name, str) and name not in self.tools_used:
            self.tools_used.append(name)


_TOOL_USE = frozenset({"tool_use", "server_tool_use"})


def _digest(text: str) -> int:
    """xxh3-64 of the UTF-8 text, reinterpreted as a signed 64-bit integer (the column is int64)."""
    value = xxhash.xxh3_64_intdigest(text.encode("utf-8", "surrogatepass"))
    return value - (1 << 64) if value >= 1 << 63 else value


def text_digest(text: str) -> int | None:
    """Digest of an assistant message's text, stripped; null when there is no text."""
    text = text.strip()
    return _digest(text) if text else None


def calls_digest(ids: list[str]) -> int | None:
    """Digest of an assistant message's tool-call ids joined by newlines (null when no id was recorded)."""
    return _digest("\n".join(ids)) if any(ids) else None


def mismatch(detail: str) -> RecordError:
    return RecordError("body_mismatch", detail)


def opt_int(value: Any, name: str, bits: int = 64) -> int | None:
    """An optional integer that fits a signed ``bits``-bit column; anything else is an invalid field."""
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        if -(1 << (bits - 1)) <= value < (1 << (bits - 1)):
            return value
        raise RecordError("invalid_field", f"{name} is out of range: {value!r:.80}")
    raise RecordError("invalid_field", f"{name} is not an integer: {value!r:.80}")


def opt_float(value: Any, name: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise RecordError("invalid_field", f"{name} is not a number: {value!r:.80}")


def opt_str(value: Any, name: str) -> str | None:
    if value is None or isinstance(value, str):
        return value
    raise RecordError("invalid_field", f"{name} is not a string: {value!r:.80}")


def _messages(request: dict[str, Any]) -> list[Any]:
    messages = request.get("messages")
    if not isinstance(messages, list):
        raise mismatch("request.messages is missing or not a list")
    return messages


def _tool_names(tools: Any, info: BodyInfo) -> None:
    if not isinstance(tools, list):
        return
    for tool in tools:
        if not isinstance(tool, dict):
            raise mismatch("request.tools holds a non-object")
        fn = tool.get("function")
        name = fn.get("name") if isinstance(fn, dict) else tool.get("name")
        if isinstance(name, str):
            info.tools_offered.append(name)


# ---------------------------------------------------------------- Anthropic Messages API


def _anthropic_blocks(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"type": "text", "text": content}]
    if content is None:
        return []
    if not isinstance(content, list):
        raise mismatch(f"{where} content is neither text nor a list of blocks")
    for block in content:
        if not isinstance(block, dict) or not isinstance(block.get("type"), str):
            raise mismatch(f"{where} holds a block without a type")
        if block["type"] in _OPENAI_ONLY_PARTS:
            raise mismatch(f"{where} holds an OpenAI part {block['type']!r}")
    return content


def _anthropic_text(blocks: list[dict[str, Any]]) -> str:
    texts = [b["text"] for b in blocks if b["type"] == "text" and isinstance(b.get("text"), str)]
    return texts[0] if len(texts) == 1 else "\n".join(texts)


def anthropic_digest(blocks: list[dict[str, Any]]) -> int | None:
    """Continuity digest of an assistant message: its tool-use ids, else its text (thinking excluded)."""
    ids = [b.get("id") for b in blocks if b["type"] in _TOOL_USE]
    if ids:
        return calls_digest([i if isinstance(i, str) else "" for i in ids])
    return text_digest(_anthropic_text(blocks))


def _anthropic_request(request: dict[str, Any], info: BodyInfo) -> None:
    system = request.get("system")
    if isinstance(system, str):
        info.system_text = system
    elif isinstance(system, list):
        info.system_text = _anthropic_text(_anthropic_blocks(system, "request.system"))
    elif system is not None:
        raise mismatch("request.system is neither text nor blocks")
    messages = _messages(request)
    info.n_messages = len(messages)
    last_assistant: list[dict[str, Any]] | None = None
    for i, msg in enumerate(messages):
        if not isinstance(msg, dict) or not isinstance(msg.get("role"), str) or msg["role"] not in _ANTHROPIC_ROLES:
            raise mismatch(f"request.messages[{i}] has no Anthropic role (user/assistant)")
        blocks = _anthropic_blocks(msg.get("content"), f"request.messages[{i}]")
        if msg["role"] == "assistant":
            info.n_assistant_turns += 1
            last_assistant = blocks
            for b in blocks:
                if b["type"] in _TOOL_USE:
                    info.tool_used(b.get("name"))
            continue
        for b in blocks:
            kind = b["type"]
            if kind == "image":
                info.n_images += 1
            elif kind == "tool_result":
                info.n_tool_results += 1
                inner = b.get("content")
                if isinstance(inner, list):
                    info.n_images += sum(1 for x in inner if isinstance(x, dict) and x.get("type") == "image")
        text = _anthropic_text(blocks)
        if text:
            info.user_text(text)
    if last_assistant is not None:
        info.context_digest = anthropic_digest(last_assistant)
    _tool_names(request.get("tools"), info)
    thinking = request.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "adaptive"):
        info.thinking_requested = True
        info.thinking_budget = opt_int(thinking.get("budget_tokens"), "request.thinking.budget_tokens", 32)
    metadata = request.get("metadata")
    if isinstance(metadata, dict):
        info.end_user_id = opt_str(metadata.get("user_id"), "request.metadata.user_id")


def _anthropic_response(response: dict[str, Any], info: BodyInfo) -> None:
    if response.get("type") == "error" or ("error" in response and "content" not in response):
        return
    if "choices" in response and "content" not in response:
        raise mismatch("response has OpenAI 'choices', not Anthropic 'content'")
    blocks = _anthropic_blocks(response.get("content"), "response")
    info.reply_digest = anthropic_digest(blocks)
    for b in blocks:
        kind = b["type"]
        if kind == "text":
            text = b.get("text")
            info.response_chars += len(text) if isinstance(text, str) else 0
        elif kind == "thinking":
            thought = b.get("thinking")
            info.thinking_returned = True
            info.thinking_chars += len(thought) if isinstance(thought, str) else 0
        elif kind == "redacted_thinking":
            info.thinking_redacted = True
        elif kind in _TOOL_USE:
            info.n_tool_calls += 1
            info.tool_used(b.get("name"))
    stop = response.get("stop_reason")
    if isinstance(stop, str):
        info.stop_reason = stop if stop in ANTHROPIC_STOP else "other"
    usage = response.get("usage")
    if isinstance(usage, dict):
        base = opt_int(usage.get("input_tokens"), "usage.input_tokens")
        read = opt_int(usage.get("cache_read_input_tokens"), "usage.cache_read_input_tokens")
        written = opt_int(usage.get("cache_creation_input_tokens"), "usage.cache_creation_input_tokens")
        if base is not None or read is not None or written is not None:
            info.input_tokens = (base or 0) + (read or 0) + (written or 0)
        info.cached_input_tokens = read
        info.output_tokens = opt_int(usage.get("output_tokens"), "usage.output_tokens")
    if info.model is None:
        info.model = opt_str(response.get("model"), "response.model")


def anthropic_body(request: dict[str, Any], response: dict[str, Any] | None) -> BodyInfo:
    """Body columns of an ``anthropic.messages`` exchange."""
    info = BodyInfo()
    info.model = opt_str(request.get("model"), "request.model")
    _anthropic_request(request, info)
    info.max_tokens = opt_int(request.get("max_tokens"), "request.max_tokens", 32)
    info.temperature = opt_float(request.get("temperature"), "request.temperature")
    if response is not None:
        _anthropic_response(response, info)
    return info


# ---------------------------------------------------------------- OpenAI Chat Completions API


def _openai_text(content: Any, where: str, info: BodyInfo | None) -> str:
    if isinstance(content, str):
        return content
    if content is None:
        return ""
    if not isinstance(content, list):
        raise mismatch(f"{where} content is neither text nor a list of parts")
    texts = []
    for part in content:
        if not isinstance(part, dict) or not isinstance(part.get("type"), str):
            raise mismatch(f"{where} holds a part without a type")
        kind = part["type"]
        if kind == "text" and isinstance(part.get("text"), str):
            texts.append(part["text"])
        elif kind == "image_url" and info is not None:
            info.n_images += 1
        elif kind in _ANTHROPIC_ONLY_BLOCKS:
            raise mismatch(f"{where} holds an Anthropic block {kind!r}")
    return texts[0] if len(texts) == 1 else "\n".join(texts)


def _openai_calls(message: dict[str, Any], info: BodyInfo) -> int:
    calls = message.get("tool_calls")
    count = 0
    if isinstance(calls, list):
        for call in calls:
            fn = call.get("function") if isinstance(call, dict) else None
            info.tool_used(fn.get("name") if isinstance(fn, dict) else None)
            count += 1
    legacy = message.get("function_call")
    if isinstance(legacy, dict):
        info.tool_used(legacy.get("name"))
        count += 1
    return count


def openai_digest(message: dict[str, Any], text: str) -> int | None:
    """Continuity digest of an assistant message (``text`` = its content text): tool-call ids, else text.

    A legacy ``function_call`` has no id: its name + arguments stand in for one.
    """
    calls = message.get("tool_calls")
    ids = [c.get("id") if isinstance(c, dict) else None for c in calls] if isinstance(calls, list) else []
    legacy = message.get("function_call")
    if isinstance(legacy, dict):
        name, args = legacy.get("name"), legacy.get("arguments")
        ids.append((name if isinstance(name, str) else "") + (args if isinstance(args, str) else ""))
    if ids:
        return calls_digest([i if isinstance(i, str) else "" for i in ids])
    return text_digest(text)


def _openai_request(request: dict[str, Any], info: BodyInfo) -> None:
    messages = _messages(request)
    info.n_messages = len(messages)
    system: list[str] = []
    for i, msg in enumerate(messages):
        role = msg.get("role") if isinstance(msg, dict) else None
        if not isinstance(role, str) or role not in _OPENAI_ROLES:
            raise mismatch(f"request.messages[{i}] has no OpenAI role")
        assert isinstance(msg, dict)
        where = f"request.messages[{i}]"
        if role in ("system", "developer"):
            system.append(_openai_text(msg.get("content"), where, None))
        elif role == "user":
            text = _openai_text(msg.get("content"), where, info)
            if text:
                info.user_text(text)
        elif role == "assistant":
            info.n_assistant_turns += 1
            info.context_digest = openai_digest(msg, _openai_text(msg.get("content"), where, None))
            _openai_calls(msg, info)
        else:
            info.n_tool_results += 1
    if system:
        info.system_text = "\n".join(system)
    _tool_names(request.get("tools") or request.get("functions"), info)
    effort = request.get("reasoning_effort")
    reasoning = request.get("reasoning")
    if effort is None and isinstance(reasoning, dict):
        effort = reasoning.get("effort")
    info.reasoning_effort = opt_str(effort, "request.reasoning_effort")
    info.thinking_requested = effort is not None and effort != "none"
    info.end_user_id = opt_str(request.get("safety_identifier") or request.get("user"), "request.user")


def _openai_response(response: dict[str, Any], info: BodyInfo) -> None:
    if "error" in response and "choices" not in response:
        return
    choices = response.get("choices")
    if not isinstance(choices, list):
        raise mismatch("response has no OpenAI 'choices' list")
    for i, choice in enumerate(choices):
        message = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(message, dict):
            raise mismatch(f"response.choices[{i}] has no message")
        text = _openai_text(message.get("content"), f"response.choices[{i}]", None)
        info.response_chars += len(text)
        if i == 0:
            info.reply_digest = openai_digest(message, text)
        info.n_tool_calls += _openai_calls(message, info)
        thought = message.get("reasoning_content") or message.get("reasoning")
        if isinstance(thought, str) and thought:
            info.thinking_returned = True
            info.thinking_chars += len(thought)
        if i == 0 and isinstance(choice.get("finish_reason"), str):
            info.stop_reason = OPENAI_STOP.get(choice["finish_reason"], "other")
    usage = response.get("usage")
    if isinstance(usage, dict):
        info.input_tokens = opt_int(usage.get("prompt_tokens"), "usage.prompt_tokens")
        info.output_tokens = opt_int(usage.get("completion_tokens"), "usage.completion_tokens")
        details = usage.get("prompt_tokens_details")
        if isinstance(details, dict):
            info.cached_input_tokens = opt_int(details.get("cached_tokens"), "usage.cached_tokens")
        details = usage.get("completion_tokens_details")
        if isinstance(details, dict):
            info.reasoning_tokens = opt_int(details.get("reasoning_tokens"), "usage.reasoning_tokens")
    if info.model is None:
        info.model = opt_str(response.get("model"), "response.model")


def openai_body(request: dict[str, Any], response: dict[str, Any] | None) -> BodyInfo:
    """Body columns of an ``openai.chat.completions`` exchange."""
    info = BodyInfo()
    info.model = opt_str(request.get("model"), "request.model")
    if "system" in request and isinstance(request["system"], (str, list)):
        raise mismatch("request has a top-level 'system' (Anthropic), not a system message")
    _openai_request(request, info)
    max_tokens = request.get("max_completion_tokens")
    info.max_tokens = opt_int(max_tokens if max_tokens is not None else request.get("max_tokens"), "max_tokens", 32)
    info.temperature = opt_float(request.get("temperature"), "request.temperature")
    if response is not None:
        _openai_response(response, info)
    return info
