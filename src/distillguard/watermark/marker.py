"""Keyed marking of response text, whole or streamed, and of complete API response bodies."""

from __future__ import annotations

import copy
import hashlib
import hmac
from typing import Any

from distillguard.errors import InputError
from distillguard.watermark.lexicon import Slot
from distillguard.watermark.scan import ScanState, cut_points, scan_block, scan_text


def account_key(secret: bytes, account_id: str) -> bytes:
    """The marking key of one account: HMAC-SHA256 of the account id under the provider's secret."""
    if not secret:
        raise InputError("watermark secret is empty")
    return hmac.digest(secret, account_id.encode("utf-8"), "sha256")


class KeyedChoice:
    """The variant a key picks for a slot in a context: HMAC(key, slot id, previous word) mod k.

    Distinct (slot, context) pairs get independent, uniform choices (HMAC as a pseudo-random
    function); that independence is what the detector's exact test rests on.
    """

    def __init__(self, key: bytes) -> None:
        if not key:
            raise InputError("watermark key is empty")
        self._key = key
        self._cache: dict[tuple[int, str], int] = {}

    def __call__(self, slot: Slot, prev: str) -> int:
        return self.pick(slot.sid, prev, slot.k)

    def pick(self, sid: int, prev: str, k: int) -> int:
        got = self._cache.get((sid, prev))
        if got is None:
            mac = hmac.digest(self._key, f"{sid}\x1f{prev}".encode(), "sha256")
            got = int.from_bytes(mac[:8], "big") % k
            if len(self._cache) < 200_000:
                self._cache[(sid, prev)] = got
        return got


def mark_text(text: str, key: bytes) -> str:
    """``text`` with the key's choice written at every slot; code, JSON, numbers and quotes untouched."""
    return scan_text(text, ScanState(), KeyedChoice(key), None)


class StreamMarker:
    """Marks a streamed response: ``feed`` each text delta, then ``flush`` once at the end.

    The concatenated outputs equal ``mark_text`` of the concatenated deltas, whatever the chunking:
    text is held back only until the next block boundary (normally the end of the current sentence or
    line), and each finished block is marked exactly as ``mark_text`` marks it.
    """

    def __init__(self, key: bytes) -> None:
        self._choose = KeyedChoice(key)
        self._state = ScanState()
        self._buf = ""
        self._from = 0  # where the search for the next boundary resumes

    def feed(self, text_delta: str) -> str:
        if self._state.raw:  # a JSON text passes through whole; no boundary can change that
            passed, self._buf = self._buf + text_delta, ""
            return passed
        self._buf += text_delta
        cuts = cut_points(self._buf, self._from)
        if not cuts:
            # resume at the last non-space character: a boundary needs the punctuation before the space
            stripped = self._buf.rstrip()
            self._from = max(0, len(stripped) - 1)
            return ""
        out: list[str] = []
        last = 0
        for cut in cuts:
            out.append(scan_block(self._buf[last:cut], self._state, self._choose, None))
            last = cut
        self._buf = self._buf[last:]
        self._from = 0
        return "".join(out)

    def flush(self) -> str:
        out = scan_block(self._buf, self._state, self._choose, None) if self._buf else ""
        self._buf, self._from = "", 0
        return out


def mark_anthropic_response(body: dict[str, Any], key: bytes) -> dict[str, Any]:
    """A copy of a Messages API response with every ``text`` block marked.

    ``thinking`` blocks are left alone (their signature covers the text), as are ``tool_use`` blocks.
    """
    out = copy.deepcopy(body)
    for block in out.get("content") or ():
        if isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str):
            block["text"] = mark_text(block["text"], key)
    return out


def mark_openai_response(body: dict[str, Any], key: bytes) -> dict[str, Any]:
    """A copy of a Chat Completions response with each choice's message text marked.

    String content, ``text`` content parts and ``reasoning_content`` are marked; ``tool_calls``,
    refusals and everything else are left alone.
    """
    out = copy.deepcopy(body)
    for choice in out.get("choices") or ():
        msg = choice.get("message") if isinstance(choice, dict) else None
        if not isinstance(msg, dict):
            continue
        content = msg.get("content")
        if isinstance(content, str):
            msg["content"] = mark_text(content, key)
        elif isinstance(content, list):
            for part in content:
                if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
                    part["text"] = mark_text(part["text"], key)
        if isinstance(msg.get("reasoning_content"), str):
            msg["reasoning_content"] = mark_text(msg["reasoning_content"], key)
    return out


def key_fingerprint(key: bytes) -> str:
    """A short public label for a key (for logs and reports; reveals nothing usable)."""
    return hashlib.sha256(b"distillguard-watermark-key\x00" + key).hexdigest()[:12]
