"""One exchange-log record (a parsed JSON object) -> one row of ``schema.EXCHANGES``.

Rows are plain tuples in ``EXCHANGE_COLUMNS`` order: the batch builder transposes them into Arrow
columns. Anything that breaks the contract (../EXCHANGE_LOG.md) raises ``RecordError`` with one of the
``REASONS`` below; the reader turns it into a quarantine row.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson

from distillguard.errors import RecordError
from distillguard.ingest.bodies import BodyInfo, anthropic_body, openai_body, opt_int, opt_str
from distillguard.schema import EXCHANGE_COLUMNS, TEXT_CAP
from distillguard.text import mask, network_of

APIS = ("anthropic.messages", "openai.chat.completions")
REASONS = (
    "invalid_json",
    "invalid_utf8",
    "not_an_object",
    "missing_field",
    "invalid_field",
    "timestamp_without_offset",
    "invalid_timestamp",
    "unknown_api",
    "body_mismatch",
    "line_too_long",
    "truncated_stream",
)
"""Every quarantine reason ingest writes."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
_COLUMN_COUNT = len(EXCHANGE_COLUMNS)


@dataclass(frozen=True)
class NormalizeOptions:
    """``privacy``: store masked skeletons of the three texts, never bodies. ``keep_bodies``: store raw JSON."""

    privacy: bool = False
    keep_bodies: bool = False


def ts_micros(value: Any, name: str) -> int:
    """RFC 3339 text (or an aware datetime) -> microseconds since the epoch, UTC. No offset: rejected."""
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise RecordError("invalid_timestamp", f"{name}={value[:60]!r}") from None
    elif isinstance(value, datetime):
        parsed = value
    else:
        raise RecordError("invalid_timestamp", f"{name} is not a timestamp: {value!r:.60}")
    if parsed.tzinfo is None:
        raise RecordError("timestamp_without_offset", f"{name}={value!s:.60}")
    return (parsed - _EPOCH) // _US


def _octet(p: str) -> bool:
    return p.isdigit() and p.isascii() and (p == "0" or p[0] != "0") and int(p) < 256


def ip_network(ip: str) -> str | None:
    """``text.network_of`` with a fast path for plain dotted IPv4 (the ipaddress module costs ~10 us)."""
    parts = ip.split(".")
    if len(parts) == 4 and all(_octet(p) for p in parts):
        return f"{parts[0]}.{parts[1]}.{parts[2]}.0/24"
    return network_of(ip)


def _required_str(obj: dict[str, Any], key: str, name: str) -> str:
    value = obj.get(key)
    if value is None or value == "":
        raise RecordError("missing_field", name)
    if not isinstance(value, str):
        raise RecordError("invalid_field", f"{name} is not a string: {value!r:.60}")
    return value


def _section(obj: dict[str, Any], key: str) -> dict[str, Any]:
    value = obj.get(key)
    if value is None:
        return {}
    if isinstance(value, str):  # Parquet files may carry nested objects as JSON text
        try:
            value = orjson.loads(value)
        except orjson.JSONDecodeError:
            raise RecordError("invalid_field", f"{key} is not an object") from None
    if not isinstance(value, dict):
        raise RecordError("invalid_field", f"{key} is not an object")
    return value


def text_column(value: str | None, opts: NormalizeOptions) -> tuple[str | None, int | None]:
    if value is None:
        return None, None
    if opts.privacy:
        return mask(value, cap=TEXT_CAP * 2)[:TEXT_CAP], len(value)
    return (value if len(value) <= TEXT_CAP else value[:TEXT_CAP]), len(value)


def _header_order(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list) and all(isinstance(h, str) for h in value):
        return ",".join(value)
    raise RecordError("invalid_field", "client.header_order is not a list of names")


def body_of(api: str, request: dict[str, Any], response: dict[str, Any] | None) -> BodyInfo:
    if api == "anthropic.messages":
        return anthropic_body(request, response)
    return openai_body(request, response)


def build_row(
    meta: dict[str, Any], info: BodyInfo, opts: NormalizeOptions, bodies: tuple[str | None, str | None]
) -> tuple[Any, ...]:
    """Assemble the row from already validated metadata (keys = column names) and body columns."""
    system, system_chars = text_column(info.system_text, opts)
    first, first_chars = text_column(info.first_user_text, opts)
    last, last_chars = text_column(info.last_user_text, opts)
    get = meta.get
    row = (
        meta["request_id"], meta["ts"], meta["account_id"], get("org_id"), get("pathway"),
        get("account_created"), get("payment_fingerprint"), get("verified"), get("country"),
        get("email_domain"), get("api_key_id"), info.end_user_id, get("client_ip"), get("client_net"),
        get("client_asn"), get("user_agent"), get("ja4"), get("ja3"), get("http2_fingerprint"),
        get("header_order"), meta["api"], info.model, system, system_chars, first, first_chars, last,
        last_chars, info.n_messages, info.n_user_turns, info.n_assistant_turns, info.tools_offered,
        info.tools_used, info.n_tool_calls, info.n_tool_results, info.n_images, info.thinking_requested,
        info.thinking_budget, info.reasoning_effort, info.thinking_returned, info.thinking_chars,
        info.thinking_redacted, info.response_chars, info.context_digest, info.reply_digest, info.max_tokens,
        info.temperature, info.input_tokens,
        info.cached_input_tokens, info.output_tokens, info.reasoning_tokens, info.stop_reason,
        get("status"), get("latency_ms"), meta["source"], meta["source_line"], bodies[0], bodies[1],
    )  # fmt: skip
    assert len(row) == _COLUMN_COUNT
    return row


def exchange_row(obj: Any, source: str, line: int, opts: NormalizeOptions) -> tuple[Any, ...]:
    """Normalize one exchange-log record; raises RecordError when it breaks the contract."""
    if not isinstance(obj, dict):
        raise RecordError("not_an_object", type(obj).__name__)
    account = _section(obj, "account")
    client = _section(obj, "client")
    meta: dict[str, Any] = {
        "request_id": _required_str(obj, "request_id", "request_id"),
        "source": source,
        "source_line": line,
    }
    if obj.get("ts") is None:
        raise RecordError("missing_field", "ts")
    meta["ts"] = ts_micros(obj["ts"], "ts")
    meta["account_id"] = _required_str(account, "id", "account.id")
    ip = _required_str(client, "ip", "client.ip")
    net = ip_network(ip)
    if net is None:
        raise RecordError("invalid_field", f"client.ip is not an address: {ip[:60]!r}")
    meta["client_ip"], meta["client_net"] = ip, net
    api = obj.get("api")
    if api is None:
        raise RecordError("missing_field", "api")
    if api not in APIS:
        raise RecordError("unknown_api", f"{api!r:.60}")
    meta["api"] = api
    for key, col in (("org_id", "org_id"), ("pathway", "pathway"), ("payment_fingerprint", "payment_fingerprint")):
        meta[col] = opt_str(account.get(key), f"account.{key}")
    meta["country"] = opt_str(account.get("country"), "account.country")
    meta["email_domain"] = opt_str(account.get("email_domain"), "account.email_domain")
    if account.get("created") is not None:
        meta["account_created"] = ts_micros(account["created"], "account.created")
    verified = account.get("verified")
    if verified is not None and not isinstance(verified, bool):
        raise RecordError("invalid_field", "account.verified is not a boolean")
    meta["verified"] = verified
    meta["api_key_id"] = opt_str(obj.get("api_key_id"), "api_key_id")
    meta["client_asn"] = opt_int(client.get("asn"), "client.asn")
    for key in ("user_agent", "ja4", "ja3", "http2_fingerprint"):
        meta[key] = opt_str(client.get(key), f"client.{key}")
    meta["header_order"] = _header_order(client.get("header_order"))
    meta["status"] = opt_int(obj.get("status"), "status", 32)
    meta["latency_ms"] = opt_int(obj.get("latency_ms"), "latency_ms")
    if obj.get("request") is None:
        raise RecordError("missing_field", "request")
    request = _section(obj, "request")
    response = _section(obj, "response") if obj.get("response") is not None else None
    info = body_of(api, request, response)
    bodies: tuple[str | None, str | None] = (None, None)
    if opts.keep_bodies and not opts.privacy:
        bodies = (
            orjson.dumps(request).decode(),
            None if response is None else orjson.dumps(response).decode(),
        )
    return build_row(meta, info, opts, bodies)
