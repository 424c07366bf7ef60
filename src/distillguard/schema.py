"""Arrow schemas of the tables that cross stage boundaries, declared once.

``EXCHANGES`` is the normalized exchange: one row per API request/response, whatever the source
(exchange-log JSONL/Parquet, OpenTelemetry GenAI spans). Every later stage reads only these columns.

Text columns hold at most ``TEXT_CAP`` characters (the ``*_chars`` columns keep the full length). In
privacy mode the three text columns hold the *masked skeleton* of the text (``distillguard.text.mask``:
numbers, quoted spans, code, URLs, e-mail addresses, names and long tokens replaced by placeholders), which is
all that fingerprinting needs, and the bodies are never kept.
"""

from __future__ import annotations

import pyarrow as pa

SCHEMA_VERSION = 2
"""Bumped whenever a stored table changes shape; the store refuses or migrates older files."""

TEXT_CAP = 4000
"""Characters of system / first-user / last-user text kept per exchange."""

TS = pa.timestamp("us", tz="UTC")
STR_LIST = pa.list_(pa.string())

EXCHANGE_FIELDS: list[tuple[str, pa.DataType, str]] = [
    ("request_id", pa.string(), "unique id of the exchange (ingest is idempotent on it)"),
    ("ts", TS, "arrival time of the request, UTC"),
    ("account_id", pa.string(), "authenticated account"),
    ("org_id", pa.string(), "organisation of the account"),
    ("pathway", pa.string(), "sign-up pathway: standard, education, research, startup, enterprise, trial, reseller"),
    ("account_created", TS, "account creation time"),
    ("payment_fingerprint", pa.string(), "opaque payment-method fingerprint"),
    ("verified", pa.bool_(), "identity verification passed"),
    ("country", pa.string(), "ISO country of the account"),
    ("email_domain", pa.string(), "domain of the sign-up address"),
    ("api_key_id", pa.string(), "API key used"),
    ("end_user_id", pa.string(), "caller-declared end user: metadata.user_id / safety_identifier / user"),
    ("client_ip", pa.string(), "source address as the provider saw it"),
    ("client_net", pa.string(), "source network: IPv4 /24 or IPv6 /48, e.g. 203.0.113.0/24"),
    ("client_asn", pa.int64(), "autonomous system number"),
    ("user_agent", pa.string(), "HTTP user agent"),
    ("ja4", pa.string(), "TLS JA4 fingerprint"),
    ("ja3", pa.string(), "TLS JA3 fingerprint"),
    ("http2_fingerprint", pa.string(), "HTTP/2 fingerprint"),
    ("header_order", pa.string(), "request header names in arrival order, joined by ','"),
    ("api", pa.string(), "anthropic.messages or openai.chat.completions"),
    ("model", pa.string(), "model requested"),
    ("system_text", pa.string(), "system prompt text (capped; masked in privacy mode)"),
    ("system_chars", pa.int32(), "full length of the system prompt"),
    ("first_user_text", pa.string(), "text of the first user turn (capped; masked in privacy mode)"),
    ("first_user_chars", pa.int32(), "full length of the first user turn"),
    ("last_user_text", pa.string(), "text of the last user turn (capped; masked in privacy mode)"),
    ("last_user_chars", pa.int32(), "full length of the last user turn"),
    ("n_messages", pa.int32(), "messages in the request"),
    ("n_user_turns", pa.int32(), "user messages in the request that carry text"),
    ("n_assistant_turns", pa.int32(), "assistant messages in the request"),
    ("tools_offered", STR_LIST, "names of the tools defined in the request"),
    ("tools_used", STR_LIST, "names of tools called, in the request history and in the response"),
    ("n_tool_calls", pa.int32(), "tool calls in the response"),
    ("n_tool_results", pa.int32(), "tool results sent back in the request"),
    ("n_images", pa.int32(), "images in the request"),
    ("thinking_requested", pa.bool_(), "extended thinking / reasoning was requested"),
    ("thinking_budget", pa.int32(), "requested thinking budget in tokens (Anthropic) or null"),
    ("reasoning_effort", pa.string(), "requested reasoning effort (OpenAI) or null"),
    ("thinking_returned", pa.bool_(), "the response carried thinking / reasoning content"),
    ("thinking_chars", pa.int32(), "characters of returned thinking / reasoning"),
    ("thinking_redacted", pa.bool_(), "the response carried redacted thinking"),
    ("response_chars", pa.int32(), "characters of response text"),
    (
        "context_digest",
        pa.int64(),
        "xxh3-64 (signed) of the last assistant message in the request history: its tool-call ids, else its "
        "text; null without one (docs/ingest.md)",
    ),
    ("reply_digest", pa.int64(), "the same digest of the assistant message in the response; null without one"),
    ("max_tokens", pa.int32(), "max_tokens / max_completion_tokens requested"),
    ("temperature", pa.float64(), "sampling temperature requested"),
    ("input_tokens", pa.int64(), "prompt tokens INCLUDING cached ones (OpenAI style; Anthropic's are summed)"),
    ("cached_input_tokens", pa.int64(), "prompt tokens read from cache"),
    ("output_tokens", pa.int64(), "completion tokens, reasoning included"),
    ("reasoning_tokens", pa.int64(), "reasoning tokens where the API reports them"),
    ("stop_reason", pa.string(), "end_turn, max_tokens, tool_use, stop_sequence, refusal, pause_turn or other"),
    ("status", pa.int32(), "HTTP status"),
    ("latency_ms", pa.int64(), "time to last byte"),
    ("source", pa.string(), "file (or adapter) the exchange came from"),
    ("source_line", pa.int64(), "line (1-based) or row within the source"),
    ("request_body", pa.string(), "raw request JSON, only with --keep-bodies"),
    ("response_body", pa.string(), "raw response JSON, only with --keep-bodies"),
]

EXCHANGES = pa.schema([pa.field(n, t) for n, t, _ in EXCHANGE_FIELDS])
EXCHANGE_COLUMNS = [n for n, _, _ in EXCHANGE_FIELDS]

ROW_KEY = "ex_key"
"""An engine's integer id of an exchange row (BIGINT, unique within one analysis; the store's ``rowid``): where
an engine has one, analysis joins its per-exchange tables to the exchanges on it instead of the request_id."""

QUARANTINE = pa.schema(
    [
        pa.field("source", pa.string()),
        pa.field("line", pa.int64()),
        pa.field("reason", pa.string()),
        pa.field("detail", pa.string()),
        pa.field("raw", pa.string()),
    ]
)
"""A rejected input record: where it was, why, and (up to 64 KiB of) what it was."""


def empty_exchanges() -> pa.Table:
    return EXCHANGES.empty_table()
