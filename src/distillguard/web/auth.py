"""Login, sessions and CSRF: a shared token to log in, a signed session cookie, per-session form tokens.

The session cookie is ``expiry.nonce.analyst.signature`` signed with HMAC-SHA256 under a secret that
lives only in the server process (a restart logs everyone out). Every state-changing form carries a
CSRF token derived from the session nonce; the login form, before there is a session, uses a
double-submit cookie. Logging out revokes the nonce in memory.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
import threading
import time
from dataclasses import dataclass

SESSION_COOKIE = "dg_session"
LOGIN_COOKIE = "dg_login"
_ANALYST = re.compile(r"^[\w .@-]{1,64}$")


def valid_analyst(name: str) -> bool:
    return bool(_ANALYST.fullmatch(name)) and bool(name.strip())


def same_secret(given: str, expected: str) -> bool:
    """Constant-time comparison (of digests, so the length of the secret does not leak either)."""
    a = hashlib.sha256(given.encode("utf-8", "surrogatepass")).digest()
    b = hashlib.sha256(expected.encode("utf-8")).digest()
    return hmac.compare_digest(a, b)


@dataclass(frozen=True)
class Session:
    nonce: str
    analyst: str
    expires: int


class Sessions:
    def __init__(self, secret: bytes, hours: float) -> None:
        self._secret = secret
        self._ttl = int(hours * 3600)
        self._revoked: set[str] = set()
        self._lock = threading.Lock()

    def _sign(self, payload: str) -> str:
        mac = hmac.new(self._secret, payload.encode("utf-8"), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(mac).decode("ascii").rstrip("=")

    def issue(self, analyst: str) -> str:
        name = base64.urlsafe_b64encode(analyst.encode("utf-8")).decode("ascii").rstrip("=")
        payload = f"{int(time.time()) + self._ttl}.{secrets.token_urlsafe(16)}.{name}"
        return f"{payload}.{self._sign(payload)}"

    def check(self, cookie: str | None) -> Session | None:
        if not cookie or cookie.count(".") != 3:
            return None
        payload, _, sig = cookie.rpartition(".")
        if not hmac.compare_digest(sig, self._sign(payload)):
            return None
        expires, nonce, name = payload.split(".")
        try:
            analyst = base64.urlsafe_b64decode(name + "=" * (-len(name) % 4)).decode("utf-8")
            exp = int(expires)
        except ValueError:
            return None
        with self._lock:
            if exp < time.time() or nonce in self._revoked:
                return None
        return Session(nonce=nonce, analyst=analyst, expires=exp)

    def revoke(self, session: Session) -> None:
        with self._lock:
            self._revoked.add(session.nonce)

    def csrf(self, session: Session) -> str:
        return self._sign("csrf:" + session.nonce)

    def csrf_ok(self, session: Session, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf(session))
