"""The ASGI reverse proxy: authenticate, check, enforce, forward, rewrite, log, release.

Plain ASGI (no framework) because every microsecond here is added to every API call. One request:

1. route: only ``POST /v1/messages`` and ``POST /v1/chat/completions`` go upstream (exact paths, nothing
   else is ever forwarded); ``/_distillguard/...`` is the admin API; anything else is a 404;
2. account: the provider's auth header (``x-account-id`` by default) or the keyed hash of the API key
   looked up in the snapshot's key table; neither gives 401;
3. body: size-capped (413), read under a deadline (408), JSON object checked with the ingest body
   normalizer so that whatever is forwarded also logs cleanly (400 otherwise);
4. enforcement: campaign membership (analysis or online link), then suspend / verification (403),
   throttle (429 + Retry-After);
5. forward to the configured upstream, hop-by-hop headers dropped; stream or not;
6. rewrite (withheld reasoning, watermark), log the exchange, and only then release the response (or,
   for a stream, its terminal event).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import os
import re
import time
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import UTC, datetime
from typing import Any

import orjson

from distillguard.errors import RecordError
from distillguard.fingerprint import kernels
from distillguard.gateway.admin import handle as admin_handle
from distillguard.gateway.config import ROUTES, GatewayConfig
from distillguard.gateway.enforce import Enforcement, Verdict
from distillguard.gateway.exchange_log import ExchangeLog, LogUnavailable
from distillguard.gateway.keys import key_hash
from distillguard.gateway.marks import Marker
from distillguard.gateway.online import Counters, Linker, rebuild_counters
from distillguard.gateway.shapes import error_body
from distillguard.gateway.transform import StreamRewriter, rewrite_body
from distillguard.gateway.upstream import UpstreamError, UpstreamPool, UpstreamResponse, UpstreamTimeout
from distillguard.ingest.bodies import anthropic_body, openai_body
from distillguard.policy.model import Policy
from distillguard.policy.snapshot import read_snapshot

log = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

HOP_BY_HOP = frozenset(
    {
        b"connection",
        b"keep-alive",
        b"proxy-authenticate",
        b"proxy-authorization",
        b"proxy-connection",
        b"te",
        b"trailer",
        b"transfer-encoding",
        b"upgrade",
    }
)
_NOT_FORWARDED = HOP_BY_HOP | {b"host", b"content-length", b"accept-encoding", b"expect"}
_NOT_RETURNED = HOP_BY_HOP | {b"content-length", b"content-encoding", b"date", b"server"}
_ID = re.compile(r"^[\x21-\x7e]{1,256}$")
_SHORT = re.compile(r"^[\x20-\x7e]{1,256}$")
_BODY_CHECK = {"anthropic.messages": anthropic_body, "openai.chat.completions": openai_body}
_JSON = [(b"content-type", b"application/json")]


class Reject(Exception):
    """A request refused before it reaches the upstream."""

    def __init__(self, status: int, message: str, headers: list[tuple[bytes, bytes]] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or []


class ClientGone(Exception):
    """The client disconnected before its request was complete."""


class Gateway:
    """The ASGI application (see the module docstring)."""

    def __init__(self, config: GatewayConfig, policy: Policy) -> None:
        self.config = config
        self.policy = policy
        self.log = ExchangeLog(
            config.log_dir,
            shard_bytes=config.shard_bytes,
            shard_seconds=config.shard_seconds,
            fsync=config.fsync,
            fsync_interval_s=config.fsync_interval_s,
            queue_size=config.queue_size,
            queue_timeout_s=config.queue_timeout_s,
        )
        self.counters = Counters(horizon_s=max(3600.0, float(policy.defaults.counter_window_s)))
        self.linker = Linker(policy.online, config.log_dir)
        self.enforcement = Enforcement({})
        self.snapshot_key: tuple[int, int] | None = None
        self.stats = {"requests": 0, "forwarded": 0, "rejected": 0, "unlogged": 0, "upstream_errors": 0}
        self.upstream: UpstreamPool | None = None
        self._watcher: asyncio.Task[None] | None = None
        self._account_header = config.account_header.lower().encode()
        self._ip_header = config.client_ip_header.lower().encode() if config.client_ip_header else None

    # ------------------------------------------------------------------ lifetime

    async def startup(self) -> None:
        kernels.warm_up()  # the online family match's MinHash is compiled: loaded now, not on a request
        self.log.start()
        n = await asyncio.to_thread(rebuild_counters, self.counters, self.config.log_dir)
        log.info("counters rebuilt from %d logged requests", n)
        await self.reload(force=True)
        cfg = self.config
        self.upstream = UpstreamPool(
            cfg.upstream_base, cfg.max_connections, cfg.connect_timeout_s, read_timeout=cfg.upstream_timeout_s
        )
        self._watcher = asyncio.create_task(self._watch())

    async def shutdown(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
        if self.upstream is not None:
            await self.upstream.aclose()
        await self.log.close()

    async def _watch(self) -> None:
        while True:
            await asyncio.sleep(self.config.reload_interval_s)
            try:
                await self.reload()
            except Exception:  # keep enforcing the last good snapshot
                log.exception("snapshot reload failed")

    async def reload(self, force: bool = False) -> bool:
        """Load the snapshot when it changed (or ``force``); True when a new one was loaded."""
        path = self.config.snapshot
        if path is None:
            return False
        try:
            st = os.stat(path)
        except FileNotFoundError:
            return False
        key = (st.st_mtime_ns, st.st_size)
        if key == self.snapshot_key and not force:
            return False
        snap = await asyncio.to_thread(read_snapshot, path)
        self.linker.load(snap)
        self.enforcement = Enforcement(snap)
        self.snapshot_key = key
        log.info("enforcement snapshot loaded: %d decisions", len(snap.get("decisions", [])))
        return True

    # ------------------------------------------------------------------ ASGI

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            await self._http(scope, receive, send)
        elif scope["type"] == "lifespan":
            await self._lifespan(receive, send)

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            msg = await receive()
            if msg["type"] == "lifespan.startup":
                try:
                    await self.startup()
                except Exception as exc:
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif msg["type"] == "lifespan.shutdown":
                await self.shutdown()
                await send({"type": "lifespan.shutdown.complete"})
                return

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if path.startswith("/_distillguard/"):
            await admin_handle(self, scope, receive, send)
            return
        api = ROUTES.get(path)
        self.stats["requests"] += 1
        if api is None or scope.get("raw_path", path.encode()) != path.encode() or scope.get("query_string"):
            guess = "openai.chat.completions" if "chat" in path else "anthropic.messages"
            await respond(send, 404, error_body(guess, 404, "not found"), _JSON)
            self.stats["rejected"] += 1
            return
        if scope["method"] != "POST":
            await respond(send, 405, error_body(api, 405, "method not allowed"), [*_JSON, (b"allow", b"POST")])
            self.stats["rejected"] += 1
            return
        try:
            await Exchange(self, api, scope, receive, send).run()
        except ClientGone:
            self.stats["rejected"] += 1
        except Reject as rej:
            self.stats["rejected"] += 1
            await respond(send, rej.status, error_body(api, rej.status, rej.message), _JSON + rej.headers)


async def respond(send: Send, status: int, body: bytes, headers: list[tuple[bytes, bytes]]) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class Exchange:
    """One proxied request, from admission to the logged, released response."""

    def __init__(self, gw: Gateway, api: str, scope: Scope, receive: Receive, send: Send) -> None:
        self.gw = gw
        self.api = api
        self.scope = scope
        self.receive = receive
        self.send = send
        self.t0 = time.perf_counter()
        self.ts = _now_iso()
        self.request_id = f"gw_{time.time_ns():x}{os.urandom(5).hex()}"
        self.headers: dict[bytes, bytes] = {}
        for k, v in scope["headers"]:
            self.headers.setdefault(k.lower(), v)

    def header(self, name: bytes) -> str | None:
        v = self.headers.get(name)
        if v is None:
            return None
        text = v.decode("latin-1")
        if not _SHORT.match(text):
            raise Reject(400, f"header {name.decode()} has an invalid value")
        return text

    # ------------------------------------------------------------------ admission

    def _account(self) -> tuple[str, str | None]:
        cfg = self.gw.config
        raw_key = self.headers.get(b"x-api-key")
        auth = self.headers.get(b"authorization")
        if raw_key is None and auth is not None and auth[:7].lower() == b"bearer ":
            raw_key = auth[7:].strip()
        key_id = key_hash(cfg.key_secret, raw_key) if raw_key else None
        account = self.header(self._name(cfg.account_header))
        if account is None and key_id is not None:
            account = self.gw.enforcement.api_keys.get(key_id)
        if account is None:
            raise Reject(401, "no authenticated account for this request")
        if not _ID.match(account):
            raise Reject(400, "invalid account id")
        return account, key_id

    @staticmethod
    def _name(header: str) -> bytes:
        return header.lower().encode()

    def _client_ip(self) -> str:
        if self.gw._ip_header is not None:
            value = self.header(self.gw._ip_header)
            if value is None:
                raise Reject(400, f"missing {self.gw._ip_header.decode()} header")
            try:
                return str(ipaddress.ip_address(value.strip()))
            except ValueError:
                raise Reject(400, f"{self.gw._ip_header.decode()} is not an address") from None
        client = self.scope.get("client")
        return str(client[0]) if client else "0.0.0.0"

    async def _body(self) -> bytes:
        cfg = self.gw.config
        declared = self.headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                raise Reject(400, "invalid content-length")
            if int(declared) > cfg.max_body_bytes:
                raise Reject(413, f"request body over {cfg.max_body_bytes} bytes")
        deadline = asyncio.get_running_loop().time() + cfg.body_timeout_s
        parts: list[bytes] = []
        size = 0
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    msg = await self.receive()
            except TimeoutError:
                raise Reject(408, "request body not received in time") from None
            if msg["type"] == "http.disconnect":
                raise ClientGone
            chunk = msg.get("body", b"")
            size += len(chunk)
            if size > cfg.max_body_bytes:
                raise Reject(413, f"request body over {cfg.max_body_bytes} bytes")
            parts.append(chunk)
            if not msg.get("more_body", False):
                return b"".join(parts)

    def _request(self, body: bytes) -> tuple[dict[str, Any], str | None]:
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError as exc:
            raise Reject(400, f"request body is not valid JSON: {exc}") from None
        if not isinstance(request, dict):
            raise Reject(400, "request body must be a JSON object")
        try:
            info = _BODY_CHECK[self.api](request, None)
        except RecordError as exc:
            raise Reject(400, f"invalid request: {exc.detail or exc.reason}") from None
        return request, info.first_user_text

    # ------------------------------------------------------------------ the exchange

    async def run(self) -> None:
        gw, cfg = self.gw, self.gw.config
        account, key_id = self._account()
        ip = self._client_ip()
        ua = self.header(b"user-agent")
        payment = self.header(self._name(cfg.payment_header))
        body = await self._body()
        request, first_text = self._request(body)
        self.record: dict[str, Any] = {
            "request_id": self.request_id,
            "ts": self.ts,
            "account": self._account_section(account, payment),
            "client": {"ip": ip, **({"user_agent": ua} if ua else {})},
            "api": self.api,
            "request": request,
        }
        if key_id is not None:
            self.record["api_key_id"] = key_id
        campaign = gw.linker.campaign_of(account)
        if campaign is None:
            link = gw.linker.observe(account, ip, payment, ua, first_text)
            campaign = link.campaign_id if link is not None else None
        verdict = gw.enforcement.verdict(account, campaign)
        blocked = self._blocked(account, verdict)
        if blocked is not None:
            await self._log(blocked.status, None, fail_closed=False)
            raise blocked
        gw.counters.hit(account, time.time())
        marker = Marker(cfg.watermark_secret or cfg.key_secret, account) if verdict.watermark else None
        if request.get("stream") is True:
            await self._stream(body, verdict, marker)
        else:
            await self._plain(body, verdict, marker)

    def _account_section(self, account: str, payment: str | None) -> dict[str, Any]:
        cfg = self.gw.config
        out: dict[str, Any] = {"id": account}
        pathway = self.header(self._name(cfg.pathway_header))
        if pathway:
            out["pathway"] = pathway
        if payment:
            out["payment_fingerprint"] = payment
        verified = self.headers.get(self._name(cfg.verified_header))
        if verified is not None:
            out["verified"] = verified.strip().lower() in (b"true", b"1", b"yes")
        country = self.header(self._name(cfg.country_header))
        if country:
            out["country"] = country
        return out

    def _blocked(self, account: str, verdict: Verdict) -> Reject | None:
        if verdict.suspend:
            return Reject(403, "this account is suspended")
        if verdict.require_verification and not self.record["account"].get("verified"):
            return Reject(403, "identity verification is required for this account")
        limit = verdict.throttle_per_minute
        if limit is not None:
            now = time.time()
            window = 60.0
            if self.gw.counters.count(account, window, now) >= limit:
                wait = self.gw.counters.retry_after(account, limit, window, now)
                return Reject(
                    429,
                    f"rate limited to {limit} requests per minute",
                    [(b"retry-after", str(max(1, math.ceil(wait))).encode())],
                )
        return None

    def _upstream_headers(self) -> list[tuple[bytes, bytes]]:
        named = self.headers.get(b"connection", b"")
        drop = _NOT_FORWARDED | {t.strip().lower() for t in named.split(b",")} if named else _NOT_FORWARDED
        return [(k, v) for k, v in self.scope["headers"] if k.lower() not in drop]

    async def _open_upstream(self, body: bytes) -> UpstreamResponse:
        assert self.gw.upstream is not None
        try:
            return await self.gw.upstream.request(self.scope["path"], self._upstream_headers(), body)
        except UpstreamTimeout:
            self.gw.stats["upstream_errors"] += 1
            await self._log(504, None, fail_closed=False)
            raise Reject(504, "upstream timed out") from None
        except UpstreamError as exc:
            self.gw.stats["upstream_errors"] += 1
            await self._log(502, None, fail_closed=False)
            raise Reject(502, f"upstream unavailable ({exc})") from None

    async def _read_all(self, resp: UpstreamResponse) -> bytes:
        try:
            return await resp.read(self.gw.config.max_response_bytes)
        except UpstreamTimeout:
            raise Reject(504, "upstream timed out") from None
        except UpstreamError as exc:
            raise Reject(502, str(exc)) from None
        finally:
            await resp.aclose()

    def _response_headers(self, resp: UpstreamResponse) -> list[tuple[bytes, bytes]]:
        out = [(k, v) for k, v in resp.headers if k not in _NOT_RETURNED]
        out.append((b"x-distillguard-request-id", self.request_id.encode()))
        return out

    async def _plain(self, body: bytes, verdict: Verdict, marker: Marker | None) -> None:
        resp = await self._open_upstream(body)
        self.gw.stats["forwarded"] += 1
        data = await self._read_all(resp)
        parsed: Any = None
        if data[:1] == b"{":
            try:
                parsed = orjson.loads(data)
            except orjson.JSONDecodeError:
                parsed = None
        if isinstance(parsed, dict) and resp.status == 200 and verdict.changes_response:
            parsed = rewrite_body(self.api, parsed, verdict.withhold, marker)
            data = orjson.dumps(parsed)
        await self._log(resp.status, parsed if isinstance(parsed, dict) else None, fail_closed=True)
        await respond(self.send, resp.status, data, self._response_headers(resp))

    async def _stream(self, body: bytes, verdict: Verdict, marker: Marker | None) -> None:
        resp = await self._open_upstream(body)
        self.gw.stats["forwarded"] += 1
        if resp.status != 200 or not (resp.header(b"content-type") or b"").startswith(b"text/event-stream"):
            await self._plain_from(resp)
            return
        rw = StreamRewriter(self.api, verdict.withhold, marker)
        await self.send({"type": "http.response.start", "status": 200, "headers": self._response_headers(resp)})
        status = 200
        try:
            async for chunk in resp.stream():
                out = rw.feed(chunk)
                if out:
                    await self.send({"type": "http.response.body", "body": out, "more_body": True})
            out = rw.close()
            if out:
                await self.send({"type": "http.response.body", "body": out, "more_body": True})
        except UpstreamError:
            status = 502  # the stream broke: log what was received; the client sees a truncated stream
        finally:
            await resp.aclose()
        try:
            await self._log(status, rw.response(), fail_closed=True)
        except Reject as rej:
            tail = _stream_error(self.api, rej.message)
        else:
            tail = rw.terminal
        await self.send({"type": "http.response.body", "body": tail, "more_body": False})

    async def _plain_from(self, resp: UpstreamResponse) -> None:
        data = await self._read_all(resp)
        parsed: Any = None
        try:
            parsed = orjson.loads(data) if data[:1] == b"{" else None
        except orjson.JSONDecodeError:
            parsed = None
        await self._log(resp.status, parsed if isinstance(parsed, dict) else None, fail_closed=True)
        await respond(self.send, resp.status, data, self._response_headers(resp))

    # ------------------------------------------------------------------ logging

    async def _log(self, status: int, response: dict[str, Any] | None, fail_closed: bool) -> None:
        rec = self.record
        if response is not None:
            try:
                _BODY_CHECK[self.api](rec["request"], response)
            except RecordError as exc:
                # An upstream body that would not ingest is logged without it (and said so), never dropped.
                log.warning("%s: upstream response not loggable (%s); logged without it", self.request_id, exc)
                response = None
        rec["response"] = response
        rec["status"] = status
        rec["latency_ms"] = int((time.perf_counter() - self.t0) * 1000)
        try:
            await self.gw.log.append(orjson.dumps(rec))
        except LogUnavailable as exc:
            self.gw.stats["unlogged"] += 1
            if fail_closed and self.gw.config.fail_mode == "closed":
                raise Reject(503, f"request not served: {exc}") from None
            log.error("%s: exchange not logged (%s); released (fail-open)", self.request_id, exc)


def _stream_error(api: str, message: str) -> bytes:
    if api == "anthropic.messages":
        return b"event: error\ndata: " + error_body(api, 503, message) + b"\n\n"
    return b"data: " + error_body(api, 503, message) + b"\n\n"
