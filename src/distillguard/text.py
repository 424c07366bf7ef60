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
_EMAIL = re.compile(r"\b[\w.+-]+@[\w-]+\.[\w.-]+\b")
_PATH = re.compile(r"(?:(?<=\s)|^)(?:[A-Za-z]:)?(?:[./~]?[\w.-]+/){2,}[\w.-]*")
_DQUOTE = re.compile(r"\"[^\"\n]{1,400}\"|“[^”\n]{1,400}”")
_SQUOTE = re.compile(r"(?<![\w])'[^'\n]{3,400}'(?![\w])")
_HEXLIKE = re.compile(r"\b(?=[A-Za-z_]*\d)[A-Za-z0-9_\-]{12,}\b")
_NUMBER = re.compile(r"[-+]?(?:\d[\d,]*\.?\d*|\.\d+)(?:[eE][-+]?\d+)?%?")
_IDENT = re.compile(r"\b[a-z]+(?:_[a-z0-9]+)+\b|\b[a-z]+[A-Z][A-Za-z0-9]*\b")
_NAME = re.compile(r"(?<=[a-z,;:] )[A-Z][a-z]+(?: [A-Z][a-z]+)*")
_SPACE = re.compile(r"\s+")

_STEPS: tuple[tuple[re.Pattern[str], str], ...] = (
    (_FENCED_CODE, " <code> "),
    (_INLINE_CODE, " <code> "),
    (_URL, " <url> "),
    (_EMAIL, " <email> "),
    (_PATH, " <path> "),
    (_DQUOTE, " <quote> "),
    (_SQUOTE, " <quote> "),
    (_HEXLIKE, " <id> "),
    (_NUMBER, " <num> "),
    (_IDENT, " <ident> "),
    (_NAME, " <name> "),
)


def mask(text: str, cap: int | None = None) -> str:
    """Return the skeleton of ``text``: variable spans replaced by placeholders, whitespace collapsed.

    ``cap`` bounds the work on huge inputs: only the first ``cap`` characters are masked.
    """
    if cap is not None and len(text) > cap:
        text = text[:cap]
    for pattern, placeholder in _STEPS:
        text = pattern.sub(placeholder, text)
    return _SPACE.sub(" ", text).strip()


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
