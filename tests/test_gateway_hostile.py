"""Hostile requests get clear errors, never reach the upstream, and never take the gateway down."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from gateway_world import GatewayProcess, Upstream, anthropic_request, openai_request, read_log, run_upstream


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Upstream, GatewayProcess]]:
    tmp = tmp_path_factory.mktemp("hostile")
    with run_upstream() as (upstream, url):
        proc = GatewayProcess(url, tmp / "log", ["--max-body-mib", "0.01", "--body-timeout", "1"])
        try:
            yield upstream, proc
        finally:
            proc.stop()


def _raw(port: int, data: bytes, wait_s: float = 5.0) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as s:
        s.sendall(data)
        chunks = []
        try:
            while True:
                part = s.recv(65536)
                if not part:
                    break
                chunks.append(part)
                if b"\r\n\r\n" in b"".join(chunks) and b"content-length" in b"".join(chunks).lower():
                    head, _, body = b"".join(chunks).partition(b"\r\n\r\n")
                    length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
                    if len(body) >= length:
                        break
        except TimeoutError:
            pass
    return b"".join(chunks)


CASES = [
    ("malformed json", "/v1/messages", b"{not json", {}, 400, "not valid JSON"),
    ("json array", "/v1/messages", b"[1, 2]", {}, 400, "JSON object"),
    ("messages not a list", "/v1/messages", b'{"model": "m", "messages": "hi"}', {}, 400, "invalid request"),
    ("wrong api shape", "/v1/chat/completions", b'{"model": "m", "system": "s", "messages": []}', {}, 400, "invalid"),
    ("no account", "/v1/messages", b'{"model": "m", "messages": []}', {"x-account-id": None}, 401, "account"),
    ("bad account id", "/v1/messages", b'{"model": "m", "messages": []}', {"x-account-id": "a b\tc"}, 400, "account"),
    ("huge declared body", "/v1/messages", b"x" * 20_000, {}, 413, "over"),
]


@pytest.mark.parametrize(("name", "path", "body", "headers", "status", "needle"), CASES, ids=[c[0] for c in CASES])
def test_bad_requests_are_refused_before_the_upstream(
    gw: tuple[Upstream, GatewayProcess],
    name: str,
    path: str,
    body: bytes,
    headers: dict[str, str | None],
    status: int,
    needle: str,
) -> None:
    upstream, proc = gw
    before = len(upstream.seen)
    hdrs = {"x-account-id": "h1", "content-type": "application/json", **headers}
    r = httpx.post(proc.url + path, content=body, headers={k: v for k, v in hdrs.items() if v is not None})
    assert r.status_code == status, r.text
    err = r.json()
    message = err["error"]["message"]
    assert needle in message
    if path == "/v1/messages":
        assert err["type"] == "error"
    assert len(upstream.seen) == before


def test_huge_chunked_body_is_cut_off(gw: tuple[Upstream, GatewayProcess]) -> None:
    upstream, proc = gw
    before = len(upstream.seen)

    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"a" * 1000

    r = httpx.post(proc.url + "/v1/messages", content=chunks(), headers={"x-account-id": "h1"})
    assert r.status_code == 413
    assert len(upstream.seen) == before


@pytest.mark.parametrize(
    "path",
    [
        "/v1/../admin",
        "/v1/messages/../../etc/passwd",
        "/v1/%2e%2e/messages",
        "//v1/messages",
        "/v1/messages?x=1",
        "/v1/Messages",
        "/v1/models",
        "/http://evil.example/v1/messages",
        "/v1/messages%00",
    ],
)
def test_only_exact_api_paths_are_forwarded(gw: tuple[Upstream, GatewayProcess], path: str) -> None:
    upstream, proc = gw
    before = len(upstream.seen)
    req = f"POST {path} HTTP/1.1\r\nHost: x\r\nx-account-id: h1\r\ncontent-type: application/json\r\n"
    body = b'{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'
    reply = _raw(proc.port, req.encode() + f"content-length: {len(body)}\r\n\r\n".encode() + body)
    status = int(reply.split(b" ", 2)[1]) if reply else 0
    assert status in (400, 404), reply[:200]
    assert len(upstream.seen) == before


def test_absolute_form_target_is_not_an_open_proxy(gw: tuple[Upstream, GatewayProcess]) -> None:
    upstream, proc = gw
    before = len(upstream.seen)
    body = b'{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'
    req = (
        b"POST http://evil.example/v1/messages HTTP/1.1\r\nHost: evil.example\r\nx-account-id: abs\r\n"
        + f"content-length: {len(body)}\r\n\r\n".encode()
        + body
    )
    reply = _raw(proc.port, req)
    # Either refused, or served by the configured upstream only: the upstream saw the request, never evil.example.
    if reply.startswith(b"HTTP/1.1 200"):
        assert upstream.seen[-1]["headers"]["host"].startswith("127.0.0.1")
    else:
        assert len(upstream.seen) == before


def test_header_injection_is_refused(gw: tuple[Upstream, GatewayProcess]) -> None:
    upstream, proc = gw
    before = len(upstream.seen)
    body = b'{"model":"m","max_tokens":5,"messages":[{"role":"user","content":"hi"}]}'
    for evil in (b"x-account-id: a\rInjected: 1", b"x-account-id: a\x00b", b"x-account-id: \xff\xfe"):
        req = b"POST /v1/messages HTTP/1.1\r\nHost: x\r\n" + evil + f"\r\ncontent-length: {len(body)}\r\n\r\n".encode()
        reply = _raw(proc.port, req + body)
        assert reply.startswith((b"HTTP/1.1 400", b"HTTP/1.1 401")) or reply == b"", reply[:100]
    assert len(upstream.seen) == before


def test_slow_client_times_out_and_others_are_served(gw: tuple[Upstream, GatewayProcess]) -> None:
    upstream, proc = gw
    before = len(upstream.seen)
    with socket.create_connection(("127.0.0.1", proc.port), timeout=10) as slow:
        slow.sendall(b"POST /v1/messages HTTP/1.1\r\nHost: x\r\nx-account-id: s1\r\ncontent-length: 500\r\n\r\n{")
        # While one client dribbles, another is served at once.
        t0 = time.monotonic()
        r = httpx.post(proc.url + "/v1/chat/completions", json=openai_request("fast"), headers={"x-account-id": "f1"})
        assert r.status_code == 200 and time.monotonic() - t0 < 2
        reply = slow.recv(65536)
    assert reply.startswith(b"HTTP/1.1 408"), reply[:100]
    assert len(upstream.seen) == before + 1


def test_gateway_survives_and_logs_only_real_exchanges(gw: tuple[Upstream, GatewayProcess]) -> None:
    # Self-contained: under pytest-xdist the other tests of this module may run on another worker's gateway.
    _, proc = gw
    rejected_before = proc.health()["stats"]["rejected"]
    for _name, path, body, headers, status, _needle in CASES:
        hdrs = {"x-account-id": "h1", "content-type": "application/json", **headers}
        bad = httpx.post(proc.url + path, content=body, headers={k: v for k, v in hdrs.items() if v is not None})
        assert bad.status_code == status
    r = httpx.post(proc.url + "/v1/messages", json=anthropic_request("still alive"), headers={"x-account-id": "h2"})
    assert r.status_code == 200
    health = proc.health()
    assert health["status"] == "ok" and health["stats"]["rejected"] >= rejected_before + len(CASES)
    logged = read_log(Path(proc.log_dir))
    assert {rec["account"]["id"] for rec in logged} <= {"f1", "h2", "abs"}
