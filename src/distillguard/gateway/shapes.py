"""Error bodies in each API's own shape, so a client library raises its usual exception."""

from __future__ import annotations

import orjson

_ANTHROPIC_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "request_too_large",
    429: "rate_limit_error",
    502: "api_error",
    503: "overloaded_error",
    504: "timeout_error",
}
_OPENAI_TYPES = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "invalid_request_error",
    405: "invalid_request_error",
    408: "timeout_error",
    413: "invalid_request_error",
    429: "rate_limit_error",
    502: "server_error",
    503: "server_error",
    504: "timeout_error",
}


def error_body(api: str | None, status: int, message: str, code: str | None = None) -> bytes:
    """The JSON error body for ``status`` in the shape of ``api`` (Anthropic's when unknown)."""
    if api == "openai.chat.completions":
        kind = _OPENAI_TYPES.get(status, "server_error")
        return orjson.dumps({"error": {"message": message, "type": kind, "param": None, "code": code}})
    kind = _ANTHROPIC_TYPES.get(status, "api_error")
    return orjson.dumps({"type": "error", "error": {"type": kind, "message": message}})
