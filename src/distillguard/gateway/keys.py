"""API keys are never written in clear: the log and the key table hold a keyed hash (BLAKE2b, 128 bits)."""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

from distillguard.errors import ConfigError

SECRET_FILE = "key-secret"


def key_hash(secret: bytes, key: bytes | str) -> str:
    """``kh_`` + 32 hex digits: stable for one secret, useless without it."""
    raw = key.encode() if isinstance(key, str) else key
    return "kh_" + hashlib.blake2b(raw, key=secret[:64], digest_size=16).hexdigest()


def load_secret(path: Path | None, log_dir: Path) -> bytes:
    """The secret from ``path``, from $DISTILLGUARD_KEY_SECRET, or one created once in the log folder."""
    if path is not None:
        try:
            data = path.read_bytes().strip()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read the key-hash secret ({exc.strerror})") from None
        if len(data) < 16:
            raise ConfigError(f"{path}: the key-hash secret must be at least 16 bytes")
        return data
    env = os.environ.get("DISTILLGUARD_KEY_SECRET")
    if env:
        if len(env) < 16:
            raise ConfigError("DISTILLGUARD_KEY_SECRET must be at least 16 characters")
        return env.encode()
    log_dir.mkdir(parents=True, exist_ok=True)
    own = log_dir / SECRET_FILE
    if not own.exists():
        fd = os.open(own, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(secrets.token_hex(32))
    return own.read_bytes().strip()
