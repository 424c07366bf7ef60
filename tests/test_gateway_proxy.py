"""The gateway over real HTTP: both APIs, streaming and not, logging, enforcement, reload, admin API."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from typer.testing import CliRunner

from distillguard.cli import app
from distillguard.gateway.marks import WATERMARK_AVAILABLE
from distillguard.policy import Action, Scope, export_snapshot
from distillguard.policy import decisions as dec
from distillguard.store import Store
from gateway_world import (
    THOUGHT,
    GatewayProcess,
    Upstream,
    anthropic_request,
    openai_request,
    read_log,
    run_upstream,
)

ADMIN = "admin-token-for-tests"
ACCOUNT_DECISIONS = {
    "susp": (Action.suspend, {}),
    "verify": (Action.require_verification, {}),
    "slow": (Action.throttle, {"rate_per_minute": 3}),
    "quiet": (Action.withhold_reasoning, {"mode": "strip"}),
    "brief": (Action.withhold_reasoning, {"mode": "summarize"}),
    "marked": (Action.watermark, {}),
}


class World:
    def __init__(self, upstream: Upstream, gw: GatewayProcess, store: Path, snapshot: Path) -> None:
        self.upstream = upstream
        self.gw = gw
        self.store = store
        self.snapshot = snapshot
        self.client = httpx.Client(base_url=gw.url, timeout=10)

    def post(self, api: str, account: str | None, body: dict[str, Any], **headers: str) -> httpx.Response:
        path = "/v1/messages" if api == "anthropic" else "/v1/chat/completions"
        hdrs = {"x-client-ip": "198.51.100.7", **headers}
        if account is not None:
            hdrs["x-account-id"] = account
        return self.client.post(path, json=body, headers=hdrs)

    def stream(self, api: str, account: str, body: dict[str, Any]) -> tuple[int, str]:
        path = "/v1/messages" if api == "anthropic" else "/v1/chat/completions"
        with self.client.stream(
            "POST", path, json=body, headers={"x-account-id": account, "x-client-ip": "198.51.100.7"}
        ) as r:
            return r.status_code, r.read().decode()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    tmp = tmp_path_factory.mktemp("gw")
    store_path, snap = tmp / "store.duckdb", tmp / "store.enforcement.json"
    with Store.open(store_path) as st:
        for acct, (action, params) in ACCOUNT_DECISIONS.items():
            dec.create(st, Scope.account, acct, action, params, "tester")
        export_snapshot(st, snap, dec_online())
    with run_upstream() as (upstream, url):
        gw = GatewayProcess(
            url,
            tmp / "log",
            ["--store", str(store_path), "--client-ip-header", "x-client-ip"],
            env={"DISTILLGUARD_ADMIN_TOKEN": ADMIN},
        )
        try:
            yield World(upstream, gw, store_path, snap)
        finally:
            gw.stop()


def dec_online() -> Any:
    from distillguard.policy import default_policy

    return default_policy().online


def sse_events(text: str) -> list[tuple[str | None, Any]]:
    out: list[tuple[str | None, Any]] = []
    for raw in text.strip().split("\n\n"):
        name, data = None, []
        for line in raw.split("\n"):
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        payload = "\n".join(data)
        out.append((name, payload if payload == "[DONE]" else orjson.loads(payload)))
    return out


def rebuild_anthropic(events: list[tuple[str | None, Any]]) -> list[dict[str, Any]]:
    """Content blocks from a stream, checking the indices a client library relies on."""
    blocks: list[dict[str, Any]] = []
    open_index: int | None = None
    for _, ev in events:
        kind = ev["type"]
        if kind == "content_block_start":
            assert ev["index"] == len(blocks) and open_index is None
            blocks.append(dict(ev["content_block"]))
            open_index = ev["index"]
        elif kind == "content_block_delta":
            assert ev["index"] == open_index
            d = ev["delta"]
            field = {"text_delta": "text", "thinking_delta": "thinking", "signature_delta": "signature"}[d["type"]]
            blocks[-1][field] = blocks[-1].get(field, "") + d[field]
        elif kind == "content_block_stop":
            assert ev["index"] == open_index
            open_index = None
    assert events[-1][1]["type"] == "message_stop"
    return blocks


def openai_stream_text(events: list[tuple[str | None, Any]]) -> tuple[str, str]:
    assert events[-1][1] == "[DONE]"
    content = "".join(e["choices"][0]["delta"].get("content") or "" for _, e in events[:-1] if e["choices"])
    thought = "".join(e["choices"][0]["delta"].get("reasoning_content") or "" for _, e in events[:-1] if e["choices"])
    return content, thought


# ---------------------------------------------------------------------------------------------- pass-through


def test_both_apis_plain_and_streaming_pass_through(world: World) -> None:
    r = world.post("anthropic", "ok1", anthropic_request("What is 6*7?", thinking=True))
    assert r.status_code == 200
    body = r.json()
    assert [b["type"] for b in body["content"]] == ["thinking", "text"]
    assert body["content"][1]["text"].startswith("Echo: What is 6*7?")
    assert r.headers["request-id"] == "req_up" and r.headers["x-distillguard-request-id"].startswith("gw_")

    r = world.post("openai", "ok1", openai_request("hello", reasoning=True))
    assert r.status_code == 200 and r.json()["choices"][0]["message"]["reasoning_content"] == THOUGHT

    status, text = world.stream("anthropic", "ok1", anthropic_request("stream please", thinking=True, stream=True))
    blocks = rebuild_anthropic(sse_events(text))
    assert status == 200 and blocks[0]["thinking"].strip() == THOUGHT and "stream please" in blocks[1]["text"]

    status, text = world.stream("openai", "ok1", openai_request("stream please", reasoning=True, stream=True))
    content, thought = openai_stream_text(sse_events(text))
    assert status == 200 and thought.strip() == THOUGHT and "stream please" in content

    logged = [rec for rec in read_log(world.gw.log_dir) if rec["account"]["id"] == "ok1"]
    assert len(logged) == 4
    streamed = [rec for rec in logged if rec["request"].get("stream")]
    assert {rec["api"] for rec in streamed} == {"anthropic.messages", "openai.chat.completions"}
    anth = next(rec for rec in streamed if rec["api"] == "anthropic.messages")
    # The stream is logged as the whole message the client received.
    assert [b["type"] for b in anth["response"]["content"]] == ["thinking", "text"]
    assert anth["response"]["stop_reason"] == "end_turn" and anth["status"] == 200
    assert all(rec["client"]["ip"] == "198.51.100.7" for rec in logged)


def test_api_key_is_hashed_and_hop_by_hop_headers_dropped(world: World) -> None:
    before = len(world.upstream.seen)
    r = world.post(
        "anthropic",
        "ok2",
        anthropic_request("keys"),
        **{
            "x-api-key": "sk-live-VERY-SECRET-123",
            "x-custom": "kept",
            "proxy-authorization": "Basic xyz",
            "te": "trailers",
            "keep-alive": "timeout=5",
            "connection": "keep-alive, x-hop-only",
            "x-hop-only": "1",
        },
    )
    assert r.status_code == 200
    seen = world.upstream.seen[before]["headers"]
    assert seen["x-custom"] == "kept" and seen["x-api-key"] == "sk-live-VERY-SECRET-123"
    for hop in ("proxy-authorization", "te", "keep-alive", "x-hop-only"):
        assert hop not in seen, hop
    raw = b"".join(p.read_bytes() for p in world.gw.log_dir.glob("exchanges-*"))
    assert b"VERY-SECRET" not in raw
    rec = next(rec for rec in read_log(world.gw.log_dir) if rec["account"]["id"] == "ok2")
    assert rec["api_key_id"].startswith("kh_") and len(rec["api_key_id"]) == 35


# ---------------------------------------------------------------------------------------------- enforcement


@pytest.mark.parametrize("api", ["anthropic", "openai"])
def test_suspended_account_gets_403_in_the_api_shape(world: World, api: str) -> None:
    before = len(world.upstream.seen)
    body = anthropic_request("x") if api == "anthropic" else openai_request("x")
    r = world.post(api, "susp", body)
    assert r.status_code == 403
    err = r.json()
    if api == "anthropic":
        assert err["type"] == "error" and err["error"]["type"] == "permission_error"
    else:
        assert err["error"]["type"] == "permission_error" and "message" in err["error"]
    assert len(world.upstream.seen) == before  # never reached the model


def test_verification_required_unless_verified(world: World) -> None:
    assert world.post("anthropic", "verify", anthropic_request("x")).status_code == 403
    r = world.post("anthropic", "verify", anthropic_request("x"), **{"x-account-verified": "true"})
    assert r.status_code == 200


def test_throttle_gives_429_with_retry_after(world: World) -> None:
    codes = [world.post("openai", "slow", openai_request(f"q{i}")).status_code for i in range(3)]
    assert codes == [200, 200, 200]
    r = world.post("openai", "slow", openai_request("one too many"))
    assert r.status_code == 429 and r.json()["error"]["type"] == "rate_limit_error"
    assert 1 <= int(r.headers["retry-after"]) <= 60


def test_withheld_reasoning_plain_bodies(world: World) -> None:
    a = world.post("anthropic", "quiet", anthropic_request("x", thinking=True)).json()
    assert [b["type"] for b in a["content"]] == ["text"] and a["stop_reason"] == "end_turn"
    o = world.post("openai", "quiet", openai_request("x", reasoning=True)).json()
    assert "reasoning_content" not in o["choices"][0]["message"] and o["choices"][0]["message"]["content"]
    s = world.post("anthropic", "brief", anthropic_request("x", thinking=True)).json()
    assert s["content"][0]["type"] == "thinking" and "[reasoning withheld" in s["content"][0]["thinking"]
    assert THOUGHT not in s["content"][0]["thinking"]
    logged = [r for r in read_log(world.gw.log_dir) if r["account"]["id"] == "quiet"]
    assert logged and all("thinking" not in orjson.dumps(r["response"]).decode() for r in logged)


def test_withheld_reasoning_streams_stay_valid(world: World) -> None:
    status, text = world.stream("anthropic", "quiet", anthropic_request("s", thinking=True, stream=True))
    blocks = rebuild_anthropic(sse_events(text))
    assert status == 200 and [b["type"] for b in blocks] == ["text"]  # index renumbered to 0
    status, text = world.stream("anthropic", "brief", anthropic_request("s", thinking=True, stream=True))
    blocks = rebuild_anthropic(sse_events(text))
    assert [b["type"] for b in blocks] == ["thinking", "text"]
    assert "[reasoning withheld" in blocks[0]["thinking"] and THOUGHT not in blocks[0]["thinking"]
    content, thought = openai_stream_text(
        sse_events(world.stream("openai", "quiet", openai_request("s", reasoning=True, stream=True))[1])
    )
    assert thought == "" and content.startswith("Echo: s")
    content, thought = openai_stream_text(
        sse_events(world.stream("openai", "brief", openai_request("s", reasoning=True, stream=True))[1])
    )
    assert "[reasoning withheld" in thought and content.startswith("Echo: s")


@pytest.mark.skipif(not WATERMARK_AVAILABLE, reason="distillguard.watermark not installed")
def test_watermark_marks_text_and_stream_equals_body(world: World) -> None:
    from distillguard.watermark import account_key, mark_text

    prompt = "Actually it is basically fine, do not worry"
    plain = world.post("anthropic", "marked", anthropic_request(prompt)).json()["content"][0]["text"]
    expected = mark_text(
        f"Echo: {prompt[:40]}. The answer is 42.", account_key(b"test-secret-0123456789abcdef", "marked")
    )
    assert plain == expected
    _, text = world.stream("anthropic", "marked", anthropic_request(prompt, stream=True))
    assert rebuild_anthropic(sse_events(text))[0]["text"] == expected


def test_decisions_reload_without_restart(world: World) -> None:
    assert world.post("anthropic", "late", anthropic_request("x")).status_code == 200
    res = CliRunner().invoke(
        app,
        [
            "decide",
            "add",
            "--store",
            str(world.store),
            "--actor",
            "alice",
            "--kind",
            "account",
            "--subject",
            "late",
            "--action",
            "suspend",
            "--note",
            "caught late",
        ],
    )
    assert res.exit_code == 0, res.output
    deadline = time.monotonic() + 10
    while world.post("anthropic", "late", anthropic_request("x")).status_code != 403:
        assert time.monotonic() < deadline, "the gateway did not pick up the new decision"
        time.sleep(0.1)


def test_admin_api(world: World) -> None:
    c = world.client
    assert c.get("/_distillguard/accounts/susp").status_code == 401
    view = c.get("/_distillguard/accounts/slow", headers={"x-admin-token": ADMIN}).json()
    assert view["verdict"]["throttle_per_minute"] == 3 and view["requests_last_minute"] >= 3
    decided = c.get("/_distillguard/decisions", headers={"x-admin-token": ADMIN}).json()["decisions"]
    did = next(d["decision_id"] for d in decided if d["subject_id"] == "verify")
    r = c.post(
        f"/_distillguard/decisions/{did}/lift",
        headers={"x-admin-token": ADMIN},
        json={"actor": "carol", "note": "verified by phone"},
    )
    assert r.status_code == 200 and r.json()["decision"]["status"] == "lifted"
    assert world.post("anthropic", "verify", anthropic_request("x")).status_code == 200
    r = c.post(f"/_distillguard/decisions/{did}/lift", headers={"x-admin-token": ADMIN}, json={"actor": "carol"})
    assert r.status_code == 400 and "already lifted" in r.json()["error"]
    with Store.open(world.store, read_only=True) as st:
        assert [e["event"] for e in dec.audit_trail(st, did)] == ["created", "lifted"]
