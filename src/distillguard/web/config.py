"""Dashboard settings: read once at the edge (config file, environment) into a frozen record."""

from __future__ import annotations

import os
import re
import secrets
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from distillguard.errors import ConfigError
from distillguard.intel import read_salt

TOKEN_ENV = "DISTILLGUARD_TOKEN"
MIN_TOKEN_CHARS = 16
_KEYS = {"token", "token_file", "salt_file", "results", "policy", "snapshot", "secure_cookies", "session_hours"}


@dataclass(frozen=True)
class WebSettings:
    """What ``create_app`` needs. ``token``: the shared login secret (also the TAXII bearer token)."""

    store: Path
    token: str
    results: Path | None = None
    salt: bytes | None = None
    policy: Path | None = None
    snapshot: Path | None = None
    secure_cookies: bool = False
    session_hours: float = 12.0
    session_secret: bytes = field(default_factory=lambda: secrets.token_bytes(32), repr=False)

    def __post_init__(self) -> None:
        if len(self.token) < MIN_TOKEN_CHARS:
            raise ConfigError(
                f"the dashboard token has {len(self.token)} characters, fewer than {MIN_TOKEN_CHARS} "
                "(e.g. `openssl rand -hex 24`)"
            )
        if not re.fullmatch(r"[\x21-\x7e]+", self.token):
            raise ConfigError("the dashboard token must be printable ASCII without spaces")


def _read_config(path: Path) -> dict[str, Any]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    section = data.get("dashboard", {})
    if not isinstance(section, dict):
        raise ConfigError(f"{path}: [dashboard] must be a table")
    unknown = set(section) - _KEYS
    if unknown:
        raise ConfigError(f"{path}: unknown [dashboard] key(s) {', '.join(sorted(unknown))} (known: {sorted(_KEYS)})")
    return section


def load_settings(
    store: str | Path,
    config: str | Path | None = None,
    results: str | Path | None = None,
    env: Mapping[str, str] | None = None,
) -> WebSettings:
    """Settings from a TOML file's ``[dashboard]`` table (paths relative to the file) and the environment.

    The token comes from ``DISTILLGUARD_TOKEN`` when set, else ``token`` or ``token_file`` in the config.
    """
    env = os.environ if env is None else env
    section: dict[str, Any] = {}
    base = Path.cwd()
    if config is not None:
        cfg = Path(config)
        section = _read_config(cfg)
        base = cfg.parent

    def path(key: str) -> Path | None:
        value = section.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ConfigError(f"{config}: [dashboard] {key} must be a string path")
        return base / value

    token = env.get(TOKEN_ENV) or section.get("token")
    token_file = path("token_file")
    if not token and token_file is not None:
        try:
            token = token_file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"{token_file}: cannot read the token file ({exc.strerror})") from None
    if not token or not isinstance(token, str):
        raise ConfigError(f"no dashboard token: set {TOKEN_ENV} or `token` / `token_file` in [dashboard] of --config")
    salt_file = path("salt_file")
    store_path = Path(store)
    if not store_path.is_file():
        raise ConfigError(f"{store_path}: no such store (run `distillguard analyze ... --store {store_path}`)")
    return WebSettings(
        store=store_path,
        token=token,
        results=Path(results) if results is not None else path("results"),
        salt=read_salt(salt_file) if salt_file is not None else None,
        policy=path("policy"),
        snapshot=path("snapshot"),
        secure_cookies=bool(section.get("secure_cookies", False)),
        session_hours=float(section.get("session_hours", 12.0)),
    )
