"""The admin API under ``/_distillguard/`` (JSON; every route but ``health`` needs ``x-admin-token``).

GET  health                         status, snapshot age, counters (no token needed, no account data)
GET  accounts/{id}                  campaign (analysis or online link), verdict, recent request counts
GET  decisions                      the active decisions being enforced
GET  links                          accounts linked online to a campaign, with the matching indicators
POST reload                         reload the enforcement snapshot now
POST decisions                      {"kind","subject","action","params","actor","note"}: an analyst decision
POST decisions/{id}/approve|lift    {"actor","note"}
POST decisions/{id}/override        {"actor","note","action","params"}

Writes go to the store with a short-lived connection (the gateway never keeps it open), append to the
audit table, rewrite the snapshot and reload it; while another process holds the store they answer 503.
"""

from __future__ import annotations

import asyncio
import hmac
import math
import time
from collections.abc import Awaitable, Callable, MutableMapping
from typing import TYPE_CHECKING, Any

import orjson

from distillguard.errors import DistillguardError, InputError
from distillguard.gateway.online import links_as_rows
from distillguard.policy import decisions as dec
from distillguard.policy.model import Action, Scope
from distillguard.policy.snapshot import export_snapshot
from distillguard.store import Store

if TYPE_CHECKING:
    from distillguard.gateway.app import Gateway

Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
_MAX_ADMIN_BODY = 64 * 1024


async def _reply(send: Send, status: int, payload: Any) -> None:
    body = orjson.dumps(payload, default=str)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


async def _json_body(receive: Receive) -> dict[str, Any]:
    parts, size = [], 0
    while True:
        msg = await receive()
        chunk = msg.get("body", b"")
        size += len(chunk)
        if size > _MAX_ADMIN_BODY:
            raise InputError("admin request body too large")
        parts.append(chunk)
        if not msg.get("more_body", False):
            break
    raw = b"".join(parts)
    if not raw.strip():
        return {}
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InputError(f"invalid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InputError("expected a JSON object")
    return data


def _authorized(gw: Gateway, scope: MutableMapping[str, Any]) -> bool:
    token = gw.config.admin_token
    if not token:
        return False
    given = next((v for k, v in scope["headers"] if k.lower() == b"x-admin-token"), b"")
    return hmac.compare_digest(given, token.encode())


def account_view(gw: Gateway, account: str) -> dict[str, Any]:
    now = time.time()
    campaign = gw.linker.campaign_of(account)
    verdict = gw.enforcement.verdict(account, campaign)
    per_min = gw.counters.count(account, 60.0, now)
    per_hour = gw.counters.count(account, 3600.0, now)
    rate = gw.policy.defaults.throttle_rate_per_minute
    link = gw.linker.links.get(account)
    return {
        "account_id": account,
        "campaign_id": campaign,
        "linked_online": link is not None,
        "link_evidence": list(link.evidence) if link else [],
        "verdict": {k: v for k, v in verdict.__dict__.items()},
        "requests_last_minute": per_min,
        "requests_last_hour": per_hour,
        # Online risk between batch runs: how far the recent rate is into throttling territory.
        "online_risk": round(1.0 - math.exp(-per_min / max(rate, 1)), 4),
    }


async def handle(gw: Gateway, scope: MutableMapping[str, Any], receive: Receive, send: Send) -> None:
    parts = [p for p in scope["path"].split("/")[2:] if p]
    method = scope["method"]
    if parts == ["health"] and method == "GET":
        await _reply(
            send,
            200,
            {
                "status": "ok",
                "snapshot": gw.enforcement.generated_at,
                "links": len(gw.linker.links),
                "log": gw.log.stats.__dict__,
                "stats": gw.stats,
                "accounts_tracked": gw.counters.accounts(),
            },
        )
        return
    if not _authorized(gw, scope):
        await _reply(send, 404 if not gw.config.admin_token else 401, {"error": "admin API needs x-admin-token"})
        return
    try:
        await _route(gw, parts, method, receive, send)
    except DistillguardError as exc:
        await _reply(send, 400, {"error": str(exc)})


async def _route(gw: Gateway, parts: list[str], method: str, receive: Receive, send: Send) -> None:
    if method == "GET" and len(parts) == 2 and parts[0] == "accounts":
        await _reply(send, 200, account_view(gw, parts[1]))
    elif method == "GET" and parts == ["decisions"]:
        all_d = [d for ds in (*gw.enforcement.by_account.values(), *gw.enforcement.by_campaign.values()) for d in ds]
        await _reply(send, 200, {"decisions": all_d})
    elif method == "GET" and parts == ["links"]:
        await _reply(send, 200, {"links": links_as_rows(gw.linker.links.values())})
    elif method == "POST" and parts == ["reload"]:
        loaded = await gw.reload(force=True)
        await _reply(send, 200, {"reloaded": loaded, "snapshot": gw.enforcement.generated_at})
    elif method == "POST" and parts and parts[0] == "decisions" and len(parts) in (1, 3):
        body = await _json_body(receive)
        result = await asyncio.to_thread(_write, gw, parts, body)
        await gw.reload(force=True)
        await _reply(send, 200, result)
    else:
        await _reply(send, 404, {"error": "no such admin route"})


def _write(gw: Gateway, parts: list[str], body: dict[str, Any]) -> dict[str, Any]:
    if gw.config.store is None:
        raise InputError("the gateway was started without --store: decisions are read-only here")
    actor = str(body.get("actor") or "")
    if not actor:
        raise InputError("an 'actor' (who decides) is required")
    note = body.get("note")
    params = body.get("params") or {}
    if not isinstance(params, dict):
        raise InputError("'params' must be an object")
    try:
        store = Store.open(gw.config.store)
    except DistillguardError as exc:
        raise InputError(f"store busy or unavailable, try again ({exc})") from None
    with store:
        if len(parts) == 1:
            if body.get("kind") not in ("account", "campaign") or not body.get("subject"):
                raise InputError("'kind' (account or campaign) and 'subject' are required")
            d = dec.create(store, Scope(body["kind"]), str(body["subject"]), _action(body), params, actor, note)
        elif parts[2] == "approve":
            d = dec.approve(store, parts[1], actor, note)
        elif parts[2] == "lift":
            d = dec.lift(store, parts[1], actor, note)
        elif parts[2] == "override":
            d = dec.override(store, parts[1], actor, _action(body), params, note)
        else:
            raise InputError(f"unknown decision operation {parts[2]!r}")
        if gw.config.snapshot is not None:
            export_snapshot(store, gw.config.snapshot, gw.policy.online)
    return {"decision": {**d.__dict__, "params": dict(d.params)}}


def _action(body: dict[str, Any]) -> Action:
    try:
        return Action(str(body.get("action")))
    except ValueError:
        raise InputError(f"unknown action {body.get('action')!r}") from None
