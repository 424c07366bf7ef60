"""Masking of variable spans: the skeleton of a prompt, which is what a template family shares.

Pure functions, no state. Used by ingest (privacy mode stores only skeletons) and by fingerprinting.
A prompt built by filling a template's slots keeps its skeleton when the slot values change: numbers,
quoted text, code, URLs, e-mail addresses, file paths, identifiers, capitalised names and long opaque
tokens are each replaced by one placeholder.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

_FENCED_CODE = re.compile(r"```.*?(?:```|$)", re.S)
_INLINE_CODE = re.compile(r"`[^`\n]{1,200}`")
_URL = re.compile(r"\b(?:https?|ftp)://\S+|\bwww\.\S+", re.I)
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+\.[\w.-]*\w")
_PATH = re.compile(r"(?:[A-Za-z]:)?[\w.~-]*/[\w.-]+/[\w./-]*")
_DQUOTE = re.compile(r"\"[^\"\n]{1,400}\"|“[^”\n]{1,400}”|«[^»\n]{1,400}»|「[^」\n]{1,400}」")
_SQUOTE = re.compile(r"(?<![\w])'[^'\n]{3,400}'(?![\w])")
_LONGTOKEN = re.compile(r"[A-Za-z0-9_-]{12,}")
_DIGIT = re.compile(r"[0-9]")
_NUMBER = re.compile(r"[0-9][0-9,]*(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?%?")
_SNAKE = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b")
_CAMEL = re.compile(r"\b[a-z]+[A-Z][A-Za-z0-9]*\b")
_CAMEL_GATE = re.compile(r"[a-z][A-Z]")
# Language names are capitalised but are part of an instruction ("answer in French"), not a slot.
_LANGUAGES = "English|Chinese|Mandarin|Spanish|French|German|Russian|Japanese|Korean|Arabic|Portuguese|Italian|Hindi"
_NAME = re.compile(rf"([a-z,;:] )(?!(?:{_LANGUAGES})\b)[A-Z][a-z]+(?: [A-Z][a-z]+)*")


def _long_token(m: re.Match[str]) -> str:
    # An opaque id (key, hash, uuid) mixes letters with digits; a long plain word is kept.
    tok = m.group()
    return " <id> " if _DIGIT.search(tok) else tok


def mask(text: str, cap: int | None = None) -> str:
    """Return the skeleton of ``text``: variable spans replaced by placeholders, whitespace collapsed.

    ``cap`` bounds the work on huge inputs: only the first ``cap`` characters are masked. Idempotent:
    ``mask(mask(t)) == mask(t)``. Each pattern runs only when a cheap substring test says it can
    match, because a regex scan costs microseconds per pattern and masking is on the hot path.
    """
    if cap is not None and len(text) > cap:
        text = text[:cap]
    if "`" in text:
        text = _INLINE_CODE.sub(" <code> ", _FENCED_CODE.sub(" <code> ", text))
    if "://" in text or "www." in text:
        text = _URL.sub(" <url> ", text)
    if "@" in text:
        text = _EMAIL.sub(" <email> ", text)
    if text.count("/") >= 2:
        text = _PATH.sub(" <path> ", text)
    if '"' in text or "“" in text or "«" in text or "「" in text:
        text = _DQUOTE.sub(" <quote> ", text)
    if "'" in text:
        text = _SQUOTE.sub(" <quote> ", text)
    if _DIGIT.search(text):
        text = _NUMBER.sub(" <num> ", _LONGTOKEN.sub(_long_token, text))
    if "_" in text:
        text = _SNAKE.sub(" <ident> ", text)
    if _CAMEL_GATE.search(text):
        text = _CAMEL.sub(" <ident> ", text)
    text = _NAME.sub(r"\1<name>", text)
    return " ".join(text.split())


@lru_cache(maxsize=65536)
def network_of(ip: str) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network of an address, as text; None when it is no address."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv4Address):
        return str(ipaddress.ip_network(f"{addr}/24", strict=False))
    if addr.ipv4_mapped is not None:
        return str(ipaddress.ip_network(f"{addr.ipv4_mapped}/24", strict=False))
    return str(ipaddress.ip_network(f"{addr}/48", strict=False))
