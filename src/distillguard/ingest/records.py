"""Typed shapes of an exchange-log record and of both APIs' bodies, decoded by msgspec (the fast path).

Each field has its *usual* type plus null; a record whose field holds anything else does not decode (a
``msgspec.ValidationError``) and is handed to the general dict-based normalizer (``normalize``), which
either accepts it or says which contract rule it breaks. So these types never decide what is valid: they
only pick the records that the fast path (``fast``) can normalize without looking further. Unknown fields
are skipped (files from other tools load unchanged). ``UNSET`` marks fields whose mere presence matters.
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from msgspec import UNSET, Meta, Raw, Struct, UnsetType

Int64 = Annotated[int, Meta(ge=-(1 << 63), le=(1 << 63) - 1)]
Int32 = Annotated[int, Meta(ge=-(1 << 31), le=(1 << 31) - 1)]
"""Integers that fit the column (a larger one goes to the general path, which rejects it)."""

# ---------------------------------------------------------------- the record


class Account(Struct, gc=False):
    id: str | None = None
    org_id: str | None = None
    pathway: str | None = None
    created: str | None = None
    payment_fingerprint: str | None = None
    verified: bool | None = None
    country: str | None = None
    email_domain: str | None = None


class Client(Struct, gc=False):
    ip: str | None = None
    asn: Int64 | None = None
    user_agent: str | None = None
    ja4: str | None = None
    ja3: str | None = None
    http2_fingerprint: str | None = None
    header_order: list[str] | str | None = None


class Record(Struct, gc=False):
    """The envelope; the bodies stay raw until ``api`` says which API's shape to decode them with."""

    request_id: str | None = None
    ts: str | None = None
    account: Account | None = None
    api_key_id: str | None = None
    client: Client | None = None
    api: str | None = None
    request: Raw = Raw()
    response: Raw = Raw()
    status: Int32 | None = None
    latency_ms: Int64 | None = None


# ---------------------------------------------------------------- shared pieces


class Named(Struct, gc=False):
    name: str | None = None


class Tool(Struct, gc=False):
    """A tool definition: Anthropic ``{name}``, OpenAI ``{function: {name}}`` or legacy ``{name}``."""

    name: str | None = None
    function: Named | None = None


class Inner(Struct, gc=False):
    """An item of ``tool_result`` content: only image items are counted."""

    type: str | None = None


# ---------------------------------------------------------------- Anthropic Messages


class Block(Struct, gc=False):
    """Any Anthropic content block; the normalizer reads the fields that its ``type`` gives meaning to."""

    type: str
    text: str | None = None
    thinking: str | None = None
    id: str | None = None
    name: str | None = None
    content: str | list[Inner] | None = None


class AnthropicMessage(Struct, gc=False):
    role: str | None = None
    content: str | list[Block] | None = None


class Thinking(Struct, gc=False):
    type: str | None = None
    budget_tokens: Int32 | None = None


class Metadata(Struct, gc=False):
    user_id: str | None = None


class AnthropicRequest(Struct, gc=False):
    messages: list[AnthropicMessage]
    model: str | None = None
    system: str | list[Block] | None = None
    tools: list[Tool] | None = None
    thinking: Thinking | None = None
    metadata: Metadata | None = None
    max_tokens: Int32 | None = None
    temperature: float | None = None


class AnthropicUsage(Struct, gc=False):
    input_tokens: Int64 | None = None
    output_tokens: Int64 | None = None
    cache_read_input_tokens: Int64 | None = None
    cache_creation_input_tokens: Int64 | None = None


class AnthropicResponse(Struct, gc=False):
    type: str | None = None
    content: str | list[Block] | UnsetType | None = UNSET
    stop_reason: str | None = None
    usage: AnthropicUsage | None = None
    model: str | None = None
    error: Any = UNSET
    choices: Any = UNSET


# ---------------------------------------------------------------- OpenAI Chat Completions


class Part(Struct, gc=False):
    type: str
    text: str | None = None


class FunctionCall(Struct, gc=False):
    name: str | None = None
    arguments: str | None = None


class ToolCall(Struct, gc=False):
    id: str | None = None
    function: Named | None = None


class OpenAIMessage(Struct, gc=False):
    role: str | None = None
    content: str | list[Part] | None = None
    tool_calls: list[ToolCall] | None = None
    function_call: FunctionCall | None = None
    reasoning_content: str | None = None
    reasoning: str | None = None


class Reasoning(Struct, gc=False):
    effort: str | None = None


class OpenAIRequest(Struct, gc=False):
    messages: list[OpenAIMessage]
    model: str | None = None
    system: Any = UNSET
    tools: list[Tool] | None = None
    functions: list[Tool] | None = None
    reasoning_effort: str | None = None
    reasoning: Reasoning | None = None
    safety_identifier: str | None = None
    user: str | None = None
    max_completion_tokens: Int32 | None = None
    max_tokens: Int32 | None = None
    temperature: float | None = None


class Choice(Struct, gc=False):
    message: OpenAIMessage | None = None
    finish_reason: str | None = None


class Cached(Struct, gc=False):
    cached_tokens: Int64 | None = None


class Reasoned(Struct, gc=False):
    reasoning_tokens: Int64 | None = None


class OpenAIUsage(Struct, gc=False):
    prompt_tokens: Int64 | None = None
    completion_tokens: Int64 | None = None
    prompt_tokens_details: Cached | None = None
    completion_tokens_details: Reasoned | None = None


class OpenAIResponse(Struct, gc=False):
    choices: list[Choice] | UnsetType = UNSET
    usage: OpenAIUsage | None = None
    model: str | None = None
    error: Any = UNSET


RECORD = msgspec.json.Decoder(Record)
ANTHROPIC_REQUEST = msgspec.json.Decoder(AnthropicRequest)
ANTHROPIC_RESPONSE = msgspec.json.Decoder(AnthropicResponse)
OPENAI_REQUEST = msgspec.json.Decoder(OpenAIRequest)
OPENAI_RESPONSE = msgspec.json.Decoder(OpenAIResponse)
