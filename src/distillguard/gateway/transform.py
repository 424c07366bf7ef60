"""Response rewriting (withheld reasoning, watermarks) for whole bodies and for SSE streams.

Whole bodies: thinking blocks (Anthropic) or ``reasoning_content`` (OpenAI) are removed (``strip``) or
replaced by a one-sentence summary (``summarize``); text is watermarked. The result is still a valid body
of the same API.

Streams: ``StreamRewriter`` parses server-sent events as they arrive, drops or summarizes thinking
blocks (renumbering the later Anthropic content-block indices so the stream stays valid), watermarks text
deltas, and rebuilds the whole response from the events it emits, for the exchange log. The terminal
event (``message_stop`` / ``data: [DONE]``) is handed back separately so the caller can hold it until
the exchange is logged.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

from distillguard.gateway.marks import Marker, StreamMark

_SENTENCE = re.compile(r"^(.{1,200}?[.!?])(\s|$)", re.S)


def summarize(thought: str) -> str:
    """First sentence (at most 200 characters) of a reasoning trace, and a note that the rest is withheld."""
    m = _SENTENCE.match(thought.strip())
    head = m.group(1) if m else thought.strip()[:200]
    return f"{head} [reasoning withheld: {len(thought):,} characters]"


def rewrite_body(api: str, body: dict[str, Any], withhold: str | None, marker: Marker | None) -> dict[str, Any]:
    if api == "anthropic.messages":
        content = body.get("content")
        if isinstance(content, list):
            body["content"] = _anthropic_blocks(content, withhold, marker)
        return body
    choices = body.get("choices")
    if isinstance(choices, list):
        for choice in choices:
            msg = choice.get("message") if isinstance(choice, dict) else None
            if isinstance(msg, dict):
                _openai_message(msg, withhold, marker)
    return body


def _anthropic_blocks(blocks: list[Any], withhold: str | None, marker: Marker | None) -> list[Any]:
    out = []
    for b in blocks:
        kind = b.get("type") if isinstance(b, dict) else None
        if withhold and kind in ("thinking", "redacted_thinking"):
            if withhold == "strip" or kind == "redacted_thinking":
                continue
            b = {"type": "thinking", "thinking": summarize(str(b.get("thinking", ""))), "signature": ""}
        elif marker is not None and kind == "text" and isinstance(b.get("text"), str):
            b = {**b, "text": marker.text(b["text"])}
        out.append(b)
    return out


def _openai_message(msg: dict[str, Any], withhold: str | None, marker: Marker | None) -> None:
    if withhold:
        for key in ("reasoning_content", "reasoning"):
            if isinstance(msg.get(key), str):
                if withhold == "strip":
                    del msg[key]
                else:
                    msg[key] = summarize(msg[key])
    if marker is not None and isinstance(msg.get("content"), str):
        msg["content"] = marker.text(msg["content"])


# ---------------------------------------------------------------------------------------------- streams


def _event(name: str | None, data: bytes) -> bytes:
    return (f"event: {name}\n".encode() if name else b"") + b"data: " + data + b"\n\n"


class StreamRewriter:
    """Rewrite one SSE response stream; ``feed`` returns bytes to send now, ``terminal`` the held last event."""

    def __init__(self, api: str, withhold: str | None, marker: Marker | None) -> None:
        self.api = api
        self.withhold = withhold
        self.marker = marker
        self.terminal: bytes = b""
        self._buf = b""
        self._acc: dict[str, Any] | None = None
        # Anthropic: upstream block index -> emitted index (None: dropped), per-block state.
        self._index: dict[int, int | None] = {}
        self._next = 0
        self._src_of: dict[int, int] = {}
        self._blocks: dict[int, dict[str, Any]] = {}
        self._thought: dict[int, list[str]] = {}
        self._marks: dict[int, StreamMark] = {}
        self._json: dict[int, list[str]] = {}
        # OpenAI: per choice.
        self._choices: dict[int, dict[str, Any]] = {}
        self._held_reasoning: dict[int, list[str]] = {}

    # ------------------------------------------------------------------ framing

    def feed(self, chunk: bytes) -> bytes:
        self._buf += chunk.replace(b"\r\n", b"\n")
        out = []
        while True:
            cut = self._buf.find(b"\n\n")
            if cut < 0:
                break
            raw, self._buf = self._buf[:cut], self._buf[cut + 2 :]
            out.append(self._raw_event(raw))
        return b"".join(out)

    def close(self) -> bytes:
        """Whatever is left when the upstream stream ends (an unterminated last event passes unchanged)."""
        rest, self._buf = self._buf, b""
        return self._raw_event(rest) if rest.strip() else b""

    def _raw_event(self, raw: bytes) -> bytes:
        name: str | None = None
        data: list[bytes] = []
        for line in raw.split(b"\n"):
            if line.startswith(b"event:"):
                name = line[6:].strip().decode("utf-8", "replace")
            elif line.startswith(b"data:"):
                data.append(line[5:].removeprefix(b" "))
        if not data:
            return raw + b"\n\n"  # comments and keep-alives pass unchanged
        payload = b"\n".join(data)
        if self.api == "anthropic.messages":
            return self._anthropic(name, payload)
        return self._openai(payload)

    # ------------------------------------------------------------------ Anthropic

    def _anthropic(self, name: str | None, payload: bytes) -> bytes:
        try:
            ev = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return _event(name, payload)
        kind = ev.get("type") if isinstance(ev, dict) else None
        if kind == "message_start":
            msg = ev.get("message")
            self._acc = dict(msg) if isinstance(msg, dict) else {}
            self._acc["content"] = []
            return _event(name, payload)
        if kind in ("content_block_start", "content_block_delta", "content_block_stop"):
            return self._anthropic_block(name, kind, ev)
        if kind == "message_delta" and self._acc is not None:
            delta = ev.get("delta") or {}
            self._acc.update({k: v for k, v in delta.items() if k in ("stop_reason", "stop_sequence")})
            usage = ev.get("usage")
            if isinstance(usage, dict):
                self._acc["usage"] = {**(self._acc.get("usage") or {}), **usage}
        if kind == "message_stop":
            self.terminal = _event(name, payload)
            return b""
        return _event(name, payload)

    def _anthropic_block(self, name: str | None, kind: str, ev: dict[str, Any]) -> bytes:
        src = ev.get("index")
        if not isinstance(src, int):
            return _event(name, orjson.dumps(ev))
        if kind == "content_block_start":
            block = ev.get("content_block") or {}
            btype = block.get("type")
            if (
                self.withhold
                and btype in ("thinking", "redacted_thinking")
                and (self.withhold == "strip" or btype == "redacted_thinking")
            ):
                self._index[src] = None
                return b""
            self._index[src] = self._next
            self._src_of[self._next] = src
            self._next += 1
            block = dict(block)
            if btype == "thinking" and self.withhold == "summarize":
                block["thinking"], block["signature"] = "", ""
                self._thought[src] = []
            if btype == "text" and self.marker is not None:
                self._marks[src] = self.marker.stream()
            self._blocks[src] = dict(block)
            return self._emit(name, {**ev, "index": self._index[src], "content_block": block})
        dst = self._index.get(src)
        if dst is None:
            return b""
        if kind == "content_block_delta":
            return self._anthropic_delta(name, src, dst, ev)
        out = b""
        if src in self._thought:
            text = summarize("".join(self._thought.pop(src)))
            out += self._emit("content_block_delta", _delta(dst, {"type": "thinking_delta", "thinking": text}))
        if src in self._marks:
            tail = self._marks.pop(src).flush()
            if tail:
                out += self._emit("content_block_delta", _delta(dst, {"type": "text_delta", "text": tail}))
        self._finish_block(src)
        return out + self._emit(name, {**ev, "index": dst})

    def _anthropic_delta(self, name: str | None, src: int, dst: int, ev: dict[str, Any]) -> bytes:
        delta = ev.get("delta") or {}
        dtype = delta.get("type")
        if src in self._thought:
            if dtype == "thinking_delta":
                self._thought[src].append(str(delta.get("thinking", "")))
            return b""  # signature deltas of a summarized block are dropped with it
        if src in self._marks and dtype == "text_delta":
            text = self._marks[src].feed(str(delta.get("text", "")))
            if not text:
                return b""
            delta = {**delta, "text": text}
        return self._emit(name, {**ev, "index": dst, "delta": delta})

    def _emit(self, name: str | None, ev: dict[str, Any]) -> bytes:
        """Send an Anthropic event and fold it into the rebuilt message."""
        kind = ev.get("type")
        if kind == "content_block_delta" and self._acc is not None:
            self._fold_delta(ev["index"], ev.get("delta") or {})
        return _event(name, orjson.dumps(ev))

    def _fold_delta(self, dst: int, delta: dict[str, Any]) -> None:
        src = self._src_of.get(dst)
        if src is None or src not in self._blocks:
            return
        block = self._blocks[src]
        dtype = delta.get("type")
        if dtype == "text_delta":
            block["text"] = block.get("text", "") + str(delta.get("text", ""))
        elif dtype == "thinking_delta":
            block["thinking"] = block.get("thinking", "") + str(delta.get("thinking", ""))
        elif dtype == "signature_delta":
            block["signature"] = block.get("signature", "") + str(delta.get("signature", ""))
        elif dtype == "input_json_delta":
            self._json.setdefault(src, []).append(str(delta.get("partial_json", "")))

    def _finish_block(self, src: int) -> None:
        block = self._blocks.get(src)
        if block is None or self._acc is None:
            return
        if src in self._json:
            try:
                block["input"] = orjson.loads("".join(self._json.pop(src)) or "{}")
            except orjson.JSONDecodeError:
                block["input"] = {}
        self._acc["content"].append(block)

    # ------------------------------------------------------------------ OpenAI

    def _openai(self, payload: bytes) -> bytes:
        if payload.strip() == b"[DONE]":
            self.terminal = _event(None, payload)
            return b""
        try:
            chunk = orjson.loads(payload)
        except orjson.JSONDecodeError:
            return _event(None, payload)
        if not isinstance(chunk, dict):
            return _event(None, payload)
        if self._acc is None:
            self._acc = {k: chunk.get(k) for k in ("id", "created", "model", "system_fingerprint")}
            self._acc["object"] = "chat.completion"
        if isinstance(chunk.get("usage"), dict):
            self._acc["usage"] = chunk["usage"]
        choices = chunk.get("choices")
        if isinstance(choices, list):
            chunk["choices"] = [self._openai_choice(c) for c in choices if isinstance(c, dict)]
        return _event(None, orjson.dumps(chunk))

    def _openai_choice(self, choice: dict[str, Any]) -> dict[str, Any]:
        i = int(choice.get("index", 0))
        state = self._choices.setdefault(i, {"index": i, "message": {"role": "assistant", "content": None}})
        delta = dict(choice.get("delta") or {})
        finishing = choice.get("finish_reason") is not None
        for key in ("reasoning_content", "reasoning"):
            if self.withhold and isinstance(delta.get(key), str):
                thought = delta.pop(key)
                if self.withhold == "summarize":
                    self._held_reasoning.setdefault(i, []).append(thought)
        if self.withhold == "summarize" and i in self._held_reasoning and (finishing or delta.get("content")):
            delta["reasoning_content"] = summarize("".join(self._held_reasoning.pop(i)))
        if self.marker is not None:
            mark = self._marks.get(i)
            if isinstance(delta.get("content"), str):
                if mark is None:
                    mark = self._marks[i] = self.marker.stream()
                delta["content"] = mark.feed(delta["content"])
            if finishing and mark is not None:
                delta["content"] = (delta.get("content") or "") + mark.flush()
                self._marks.pop(i, None)
        self._fold_openai(state, delta, choice.get("finish_reason"))
        return {**choice, "delta": delta}

    def _fold_openai(self, state: dict[str, Any], delta: dict[str, Any], finish: Any) -> None:
        msg = state["message"]
        if isinstance(delta.get("content"), str):
            msg["content"] = (msg.get("content") or "") + delta["content"]
        for key in ("reasoning_content", "reasoning"):
            if isinstance(delta.get(key), str):
                msg[key] = msg.get(key, "") + delta[key]
        for call in delta.get("tool_calls") or []:
            if not isinstance(call, dict):
                continue
            calls = msg.setdefault("tool_calls", [])
            j = int(call.get("index", len(calls)))
            while len(calls) <= j:
                calls.append({"id": None, "type": "function", "function": {"name": None, "arguments": ""}})
            slot = calls[j]
            if call.get("id"):
                slot["id"] = call["id"]
            fn = call.get("function") or {}
            if fn.get("name"):
                slot["function"]["name"] = fn["name"]
            slot["function"]["arguments"] += str(fn.get("arguments") or "")
        if finish is not None:
            state["finish_reason"] = finish

    # ------------------------------------------------------------------ result

    def response(self) -> dict[str, Any] | None:
        """The whole response as the client received it, in the API's non-streaming shape."""
        if self._acc is None:
            return None
        if self.api == "anthropic.messages":
            for src in sorted(self._blocks):  # blocks the stream never closed
                if not any(b is self._blocks[src] for b in self._acc["content"]):
                    self._finish_block(src)
            return self._acc
        out = dict(self._acc)
        out["choices"] = [
            {"index": i, "message": s["message"], "finish_reason": s.get("finish_reason")}
            for i, s in sorted(self._choices.items())
        ]
        return out


def _delta(index: int, delta: dict[str, Any]) -> dict[str, Any]:
    return {"type": "content_block_delta", "index": index, "delta": delta}
