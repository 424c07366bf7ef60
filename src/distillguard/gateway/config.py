"""Gateway configuration: one frozen object, checked once at the edge."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from distillguard.errors import ConfigError

ROUTES: dict[str, str] = {
    "/v1/messages": "anthropic.messages",
    "/v1/chat/completions": "openai.chat.completions",
}
"""The only paths forwarded upstream (the gateway is never an open proxy), and the API each one speaks."""

FSYNC_POLICIES = ("always", "interval", "never")


@dataclass(frozen=True)
class GatewayConfig:
    """Everything the gateway needs; see docs/gateway.md for each knob.

    ``fsync``: ``always`` fsyncs each group of log lines before their responses are released (survives
    power loss); ``interval`` writes each group to the OS before release and fsyncs every
    ``fsync_interval_s`` (survives a crash or kill of the gateway, not of the machine); ``never`` leaves
    syncing to the OS. ``fail_mode``: what a request gets when its exchange cannot be logged (sink
    error, or the queue stayed full for ``queue_timeout_s``): ``closed`` answers 503, ``open`` releases
    the response and counts the loss.
    """

    upstream: str
    log_dir: Path
    snapshot: Path | None = None
    store: Path | None = None
    policy: Path | None = None
    account_header: str = "x-account-id"
    pathway_header: str = "x-account-pathway"
    payment_header: str = "x-payment-fingerprint"
    verified_header: str = "x-account-verified"
    country_header: str = "x-account-country"
    client_ip_header: str | None = None
    key_secret: bytes = b""
    watermark_secret: bytes | None = None  # default: key_secret
    admin_token: str | None = None
    max_body_bytes: int = 4 * 1024 * 1024
    max_response_bytes: int = 64 * 1024 * 1024
    body_timeout_s: float = 30.0
    upstream_timeout_s: float = 600.0
    connect_timeout_s: float = 5.0
    shard_bytes: int = 64 * 1024 * 1024
    shard_seconds: float = 3600.0
    fsync: str = "interval"
    fsync_interval_s: float = 1.0
    queue_size: int = 10_000
    queue_timeout_s: float = 5.0
    fail_mode: str = "closed"
    reload_interval_s: float = 0.5
    max_connections: int = 512

    def __post_init__(self) -> None:
        parts = urlsplit(self.upstream)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"--upstream {self.upstream!r}: expected an http(s) URL such as http://127.0.0.1:9000")
        if parts.query or parts.fragment:
            raise ConfigError(f"--upstream {self.upstream!r}: no query or fragment allowed")
        if self.fsync not in FSYNC_POLICIES:
            raise ConfigError(f"fsync must be one of {FSYNC_POLICIES}, got {self.fsync!r}")
        if self.fail_mode not in ("open", "closed"):
            raise ConfigError(f"fail mode must be 'open' or 'closed', got {self.fail_mode!r}")
        for name in ("max_body_bytes", "max_response_bytes", "shard_bytes", "queue_size", "max_connections"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be >= 1")
        for name in ("body_timeout_s", "upstream_timeout_s", "connect_timeout_s", "queue_timeout_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"{name} must be > 0")
        if len(self.key_secret) < 16:
            raise ConfigError("the key-hash secret must be at least 16 bytes")

    @property
    def upstream_base(self) -> str:
        return self.upstream.rstrip("/")
