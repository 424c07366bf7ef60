"""Keyed hashes and STIX pattern text: the two ways a raw value is kept out of a shared bundle."""

from __future__ import annotations

import hashlib
import hmac
import re
import uuid
from pathlib import Path

from distillguard.errors import ConfigError, InputError

MIN_SALT_BYTES = 16
NAMESPACE = uuid.UUID("6d1f6f0e-5c38-4c4b-9a57-1b6b1f0d7e21")
"""uuid5 namespace of distillguard's STIX ids: re-exporting a campaign updates the same objects."""

PAYMENT_TYPE = "x-distillguard-payment"
ACCOUNT_TYPE = "x-distillguard-account"
FAMILY_TYPE = "x-distillguard-template-family"
UA_PATH = "network-traffic:extensions.'http-request-ext'.request_header.'User-Agent'"


def read_salt(path: str | Path) -> bytes:
    """The sharing group's salt from a file (surrounding whitespace ignored; at least 16 bytes)."""
    p = Path(path)
    try:
        salt = p.read_bytes().strip()
    except OSError as exc:
        raise InputError(f"{p}: cannot read the salt file ({exc.strerror})") from None
    if len(salt) < MIN_SALT_BYTES:
        raise ConfigError(
            f"{p}: the salt has {len(salt)} bytes, fewer than {MIN_SALT_BYTES}; a short salt lets anyone "
            "holding the bundle test guesses (e.g. `openssl rand -hex 32 > salt.txt`, shared within the group)"
        )
    return salt


def keyed_hash(salt: bytes, kind: str, value: str) -> str:
    """HMAC-SHA256 of ``kind`` and ``value`` under ``salt``, hex. The kind keeps an account id and a payment
    fingerprint with the same text apart."""
    return hmac.new(salt, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()


def stix_id(kind: str, *parts: str) -> str:
    return f"{kind}--{uuid.uuid5(NAMESPACE, '|'.join((kind, *parts)))}"


def quote(value: str) -> str:
    """A STIX pattern string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


_ESCAPE = re.compile(r"\\(.)", re.S)


def unquote(literal: str) -> str:
    if len(literal) >= 2 and literal[0] == literal[-1] == "'":
        return _ESCAPE.sub(r"\1", literal[1:-1])
    return literal
