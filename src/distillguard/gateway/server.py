"""Running the gateway: one uvicorn process (the counters and the indicator index live in its memory)."""

from __future__ import annotations

import importlib.util
import logging

import uvicorn

from distillguard.gateway.app import Gateway
from distillguard.gateway.config import GatewayConfig
from distillguard.policy.model import Policy

log = logging.getLogger(__name__)


def uvicorn_config(app: Gateway, host: str, port: int) -> uvicorn.Config:
    fast_loop = importlib.util.find_spec("uvloop") is not None
    fast_http = importlib.util.find_spec("httptools") is not None
    return uvicorn.Config(
        app,
        host=host,
        port=port,
        lifespan="on",
        loop="uvloop" if fast_loop else "asyncio",
        http="httptools" if fast_http else "h11",
        log_level="warning",
        access_log=False,
        timeout_keep_alive=30,
        limit_concurrency=app.config.max_connections * 2,
        h11_max_incomplete_event_size=64 * 1024,
        server_header=False,
        proxy_headers=False,  # the client address comes from --client-ip-header, never from X-Forwarded-*
        date_header=False,
    )


def serve(config: GatewayConfig, policy: Policy, host: str, port: int) -> None:
    """Serve until interrupted (SIGINT / SIGTERM close the log shard cleanly)."""
    app = Gateway(config, policy)
    server = uvicorn.Server(uvicorn_config(app, host, port))
    log.info("gateway on %s:%d -> %s", host, port, config.upstream)
    server.run()
    if not server.started:
        from distillguard.errors import ConfigError

        raise ConfigError(f"gateway could not start on {host}:{port} (see the log above)")
