"""The hook between the ``watermark`` action and the watermark package.

``distillguard.watermark`` (a separate package) provides ``mark_text(text, key)``,
``account_key(secret, account_id)`` and ``StreamMarker(key)`` with ``feed(delta)`` / ``flush()``. It is
looked up at run time: where it is not installed, ``WATERMARK_AVAILABLE`` is False, marking leaves text
unchanged and the gateway logs one warning, so the rest of the gateway works without it.
"""

from __future__ import annotations

import importlib
import logging
from typing import Any, Protocol

log = logging.getLogger(__name__)


class StreamMark(Protocol):
    def feed(self, text_delta: str) -> str: ...
    def flush(self) -> str: ...


class _Unchanged:
    def feed(self, text_delta: str) -> str:
        return text_delta

    def flush(self) -> str:
        return ""


def _module() -> Any:
    try:
        mod = importlib.import_module("distillguard.watermark")
    except ImportError:
        return None
    if all(hasattr(mod, n) for n in ("mark_text", "account_key", "StreamMarker")):
        return mod
    return None


_MOD = _module()
WATERMARK_AVAILABLE = _MOD is not None
_warned = False


def _warn() -> None:
    global _warned
    if not _warned:
        _warned = True
        log.warning("watermark action requested but distillguard.watermark is not available: text left unmarked")


class Marker:
    """Watermarking for one account: ``text`` for whole bodies, ``stream()`` for SSE deltas."""

    def __init__(self, secret: bytes, account_id: str) -> None:
        self._key: bytes | None = _MOD.account_key(secret, account_id) if _MOD is not None else None

    def text(self, text: str) -> str:
        if self._key is None:
            _warn()
            return text
        out: str = _MOD.mark_text(text, self._key)
        return out

    def stream(self) -> StreamMark:
        if self._key is None:
            _warn()
            return _Unchanged()
        marker: StreamMark = _MOD.StreamMarker(self._key)
        return marker
