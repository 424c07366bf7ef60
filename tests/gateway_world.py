"""Test harness for the gateway: a real upstream ASGI server on loopback and a gateway subprocess.

``Upstream`` speaks the Anthropic Messages and OpenAI Chat Completions APIs, streaming (SSE) and not,
returns reasoning when asked for it, and remembers every request it received (``/_seen``), so tests can
check that a rejected request never reached it. ``GatewayProcess`` runs ``distillguard gateway`` as a
child process (so it can be killed) on a free port.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import uvicorn

Scope = dict[str, Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _user_text(req: dict[str, Any]) -> str:
    for msg in req.get("messages", []):
        if msg.get("role") == "user":
            c = msg.get("content")
            if isinstance(c, str):
                return c
            if isinstance(c, list):
                return " ".join(b.get("text", "") for b in c if isinstance(b, dict))
    return ""


THOUGHT = "First, restate the problem. Then check each case carefully. Finally combine the results."


def _pieces(text: str) -> list[str]:
    """Sentence-sized stream deltas that join back to exactly ``text``."""
    return [p for p in re.split(r"(?<=\. )", text) if p]


def anthropic_message(req: dict[str, Any]) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if isinstance(req.get("thinking"), dict):
        content.append({"type": "thinking", "thinking": THOUGHT, "signature": "sig-abc"})
    content.append({"type": "text", "text": f"Echo: {_user_text(req)[:40]}. The answer is 42."})
    return {
        "id": "msg_up_1",
        "type": "message",
        "role": "assistant",
        "model": req.get("model", "m"),
        "content": content,
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 30},
    }


def openai_completion(req: dict[str, Any]) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": f"Echo: {_user_text(req)[:40]}. The answer is 42."}
    if req.get("reasoning_effort"):
        msg["reasoning_content"] = THOUGHT
    return {
        "id": "chatcmpl-up-1",
        "object": "chat.completion",
        "created": 1767225600,
        "model": req.get("model", "m"),
        "choices": [{"index": 0, "message": msg, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 12, "completion_tokens": 30, "total_tokens": 42},
    }


def _sse(name: str | None, data: Any) -> bytes:
    body = data if isinstance(data, bytes) else orjson.dumps(data)
    return (f"event: {name}\n".encode() if name else b"") + b"data: " + body + b"\n\n"


def anthropic_events(req: dict[str, Any]) -> list[bytes]:
    msg = anthropic_message(req)
    start = {**msg, "content": [], "stop_reason": None, "usage": {"input_tokens": 12, "output_tokens": 1}}
    out = [_sse("message_start", {"type": "message_start", "message": start})]
    for i, block in enumerate(msg["content"]):
        if block["type"] == "thinking":
            out.append(
                _sse(
                    "content_block_start",
                    {"type": "content_block_start", "index": i, "content_block": {"type": "thinking", "thinking": ""}},
                )
            )
            for part in _pieces(THOUGHT):
                out.append(
                    _sse(
                        "content_block_delta",
                        {
                            "type": "content_block_delta",
                            "index": i,
                            "delta": {"type": "thinking_delta", "thinking": part},
                        },
                    )
                )
            out.append(
                _sse(
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": i,
                        "delta": {"type": "signature_delta", "signature": "sig-abc"},
                    },
                )
            )
        else:
            out.append(
                _sse(
                    "content_block_start",
                    {"type": "content_block_start", "index": i, "content_block": {"type": "text", "text": ""}},
                )
            )
            words = block["text"].split(" ")
            for j, w in enumerate(words):
                piece = w if j == 0 else " " + w
                out.append(
                    _sse(
                        "content_block_delta",
                        {"type": "content_block_delta", "index": i, "delta": {"type": "text_delta", "text": piece}},
                    )
                )
        out.append(_sse("content_block_stop", {"type": "content_block_stop", "index": i}))
    out.append(_sse("ping", {"type": "ping"}))
    out.append(
        _sse(
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                "usage": {"output_tokens": 30},
            },
        )
    )
    out.append(_sse("message_stop", {"type": "message_stop"}))
    return out


def openai_events(req: dict[str, Any]) -> list[bytes]:
    full = openai_completion(req)
    base = {k: full[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
    msg = full["choices"][0]["message"]
    out = [
        _sse(
            None,
            {**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]},
        )
    ]
    if "reasoning_content" in msg:
        for part in _pieces(THOUGHT):
            out.append(
                _sse(
                    None,
                    {
                        **base,
                        "choices": [{"index": 0, "delta": {"reasoning_content": part}, "finish_reason": None}],
                    },
                )
            )
    for j, w in enumerate(msg["content"].split(" ")):
        piece = w if j == 0 else " " + w
        out.append(_sse(None, {**base, "choices": [{"index": 0, "delta": {"content": piece}, "finish_reason": None}]}))
    out.append(
        _sse(None, {**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}], "usage": full["usage"]})
    )
    out.append(b"data: [DONE]\n\n")
    return out


class Upstream:
    """The fake model API (a real ASGI app served by uvicorn on loopback)."""

    def __init__(self) -> None:
        self.seen: list[dict[str, Any]] = []
        self.delay_s = 0.0

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while True:
                msg = await receive()
                if msg["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                else:
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        body = b""
        while True:
            msg = await receive()
            body += msg.get("body", b"")
            if not msg.get("more_body"):
                break
        path = scope["path"]
        if path == "/_seen":
            await self._reply(send, 200, orjson.dumps({"n": len(self.seen), "seen": self.seen[-50:]}))
            return
        headers = {k.decode(): v.decode("latin-1") for k, v in scope["headers"]}
        self.seen.append(
            {
                "path": path,
                "query": scope.get("query_string", b"").decode(),
                "headers": headers,
                "body": body.decode("utf-8", "replace")[:2000],
            }
        )
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        try:
            req = orjson.loads(body)
        except orjson.JSONDecodeError:
            await self._reply(send, 400, b'{"type":"error","error":{"type":"invalid_request_error","message":"x"}}')
            return
        if path == "/v1/messages":
            if req.get("stream"):
                await self._stream(send, anthropic_events(req))
            else:
                await self._reply(send, 200, orjson.dumps(anthropic_message(req)), {"request-id": "req_up"})
        elif path == "/v1/chat/completions":
            if req.get("stream"):
                await self._stream(send, openai_events(req))
            else:
                await self._reply(send, 200, orjson.dumps(openai_completion(req)))
        else:
            await self._reply(send, 404, b'{"error":"upstream: no such path"}')

    async def _reply(self, send: Any, status: int, body: bytes, extra: dict[str, str] | None = None) -> None:
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        headers += [(k.encode(), v.encode()) for k, v in (extra or {}).items()]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    async def _stream(self, send: Any, events: list[bytes]) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream"), (b"cache-control", b"no-cache")],
            }
        )
        for ev in events:
            await send({"type": "http.response.body", "body": ev, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})


@contextmanager
def run_upstream() -> Iterator[tuple[Upstream, str]]:
    """Serve an ``Upstream`` in a background thread; yields it and its base URL."""
    app = Upstream()
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 60  # generous: CI machines run other tests beside this one
    while not server.started:
        if time.monotonic() > deadline:
            raise RuntimeError("upstream did not start")
        time.sleep(0.01)
    try:
        yield app, f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(5)


class GatewayProcess:
    """``distillguard gateway`` in a child process."""

    def __init__(
        self,
        upstream: str,
        log_dir: Path,
        extra: Sequence[str] = (),
        env: dict[str, str] | None = None,
        preexec: Any = None,
    ) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_dir = log_dir
        cmd = [
            sys.executable,
            "-m",
            "distillguard",
            "gateway",
            "--upstream",
            upstream,
            "--log-dir",
            str(log_dir),
            "--listen",
            f"127.0.0.1:{self.port}",
            *extra,
        ]
        full_env = {**os.environ, "DISTILLGUARD_KEY_SECRET": "test-secret-0123456789abcdef", **(env or {})}
        self.proc = subprocess.Popen(
            cmd, env=full_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, preexec_fn=preexec
        )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 60  # a loaded machine imports slowly
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                out = self.proc.stdout.read().decode() if self.proc.stdout else ""
                raise RuntimeError(f"gateway exited with {self.proc.returncode}: {out}")
            try:
                if httpx.get(self.url + "/_distillguard/health", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.kill()
        raise RuntimeError("gateway did not become ready")

    def health(self) -> dict[str, Any]:
        return dict(httpx.get(self.url + "/_distillguard/health", timeout=5).json())

    def stop(self) -> str:
        """SIGTERM (clean shutdown: the open shard is closed); returns the process output."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return self.proc.stdout.read().decode() if self.proc.stdout else ""

    def kill(self) -> None:
        """SIGKILL: no shutdown code runs."""
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def read_log(log_dir: Path) -> list[dict[str, Any]]:
    """Every exchange in the gateway's shards (open or closed)."""
    out = []
    for p in sorted(log_dir.glob("exchanges-*")):
        out.extend(orjson.loads(line) for line in p.read_bytes().splitlines() if line.strip())
    return out


def anthropic_request(
    text: str, thinking: bool = False, stream: bool = False, model: str = "frontier-2"
) -> dict[str, Any]:
    req: dict[str, Any] = {"model": model, "max_tokens": 256, "messages": [{"role": "user", "content": text}]}
    if thinking:
        req["thinking"] = {"type": "enabled", "budget_tokens": 2000}
    if stream:
        req["stream"] = True
    return req


def openai_request(
    text: str, reasoning: bool = False, stream: bool = False, model: str = "frontier-2"
) -> dict[str, Any]:
    req: dict[str, Any] = {"model": model, "messages": [{"role": "user", "content": text}]}
    if reasoning:
        req["reasoning_effort"] = "high"
    if stream:
        req["stream"] = True
    return req
