"""Gateway: an ASGI reverse proxy in front of an Anthropic Messages / OpenAI Chat Completions upstream.

Contract::

    from distillguard.gateway import Gateway, GatewayConfig, serve
    app = Gateway(GatewayConfig(upstream="http://127.0.0.1:9000", log_dir=Path("log"), key_secret=...), policy)
    serve(config, policy, "127.0.0.1", 8080)

* Forwards only ``POST /v1/messages`` and ``POST /v1/chat/completions`` to the configured upstream,
  streaming (SSE) and not; never an open proxy. Hostile input (bad JSON, huge or slow bodies, odd
  headers or paths) is answered in the API's own error shape and never reaches the upstream.
* Logs every exchange in the exchange-log format (``gateway.exchange_log``: rotating JSONL shards,
  at-least-once: written before the response is released; keyed hashes instead of API keys).
* Enforces the decisions of the enforcement snapshot (``distillguard.policy.snapshot``), reloaded when
  the file changes, and links new accounts to known campaigns from their first requests
  (``gateway.online``). Admin API under ``/_distillguard/`` (``gateway.admin``).
"""

from distillguard.gateway.app import Gateway
from distillguard.gateway.config import ROUTES, GatewayConfig
from distillguard.gateway.keys import key_hash, load_secret
from distillguard.gateway.server import serve

__all__ = ["ROUTES", "Gateway", "GatewayConfig", "key_hash", "load_secret", "serve"]
