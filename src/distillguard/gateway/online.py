"""Online state: per-account sliding-window counters and the campaign-indicator index for new accounts.

``Counters`` keep each account's recent request times (bounded) and give the request rate over a window,
which throttling and the online risk signal use. After a restart they are rebuilt from the last shards
of the gateway's own log (``rebuild_counters``).

``Linker`` matches an account that is not a known campaign member against the snapshot's indicators:
its address range (/24 or /48), payment fingerprint, user agent and the MinHash signature of its prompt
skeleton (``distillguard.text.mask`` and the fingerprint stage's sketch functions, with the parameters
the families were made with). Each indicator kind adds its weight once per campaign; at
``link_threshold`` the account joins the campaign and gets its decisions. Only an account's first
``max_requests`` requests are matched, so established traffic costs nothing. Links are appended to
``online-links.log`` in the log folder and read back after a restart.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import orjson

from distillguard.fingerprint import sketch
from distillguard.gateway.exchange_log import shards
from distillguard.policy.model import OnlineSettings
from distillguard.text import mask, network_of

log = logging.getLogger(__name__)

LINKS_FILE = "online-links.log"
_NOT_SERVED = frozenset({401, 403, 429})


class Counters:
    """Request times per account over the last ``horizon_s`` seconds (at most ``cap`` kept per account)."""

    def __init__(self, horizon_s: float = 3600.0, cap: int = 4096) -> None:
        self.horizon_s = horizon_s
        self.cap = cap
        self._times: dict[str, deque[float]] = {}

    def hit(self, account: str, now: float) -> None:
        q = self._times.get(account)
        if q is None:
            q = self._times[account] = deque(maxlen=self.cap)
        q.append(now)

    def count(self, account: str, window_s: float, now: float) -> int:
        q = self._times.get(account)
        if not q:
            return 0
        while q and q[0] < now - self.horizon_s:
            q.popleft()
        lo = now - window_s
        n = 0
        for t in reversed(q):
            if t < lo:
                break
            n += 1
        return n

    def retry_after(self, account: str, limit: int, window_s: float, now: float) -> float:
        """Seconds until fewer than ``limit`` requests fall in the window."""
        q = self._times.get(account)
        if not q or len(q) < limit:
            return 0.0
        oldest_counted = q[-limit]
        return max(0.0, oldest_counted + window_s - now)

    def accounts(self) -> int:
        return len(self._times)


def rebuild_counters(counters: Counters, log_dir: Path, now: float | None = None) -> int:
    """Replay the request times of the last ``horizon_s`` seconds from the log shards; lines replayed."""
    now = time.time() if now is None else now
    since = now - counters.horizon_s
    n = 0
    if not log_dir.is_dir():
        return 0
    for path in shards(log_dir):
        if path.stat().st_mtime < since:
            continue
        with open(path, "rb") as fh:
            for line in fh:
                try:
                    rec = orjson.loads(line)
                    ts = datetime.fromisoformat(rec["ts"].replace("Z", "+00:00")).timestamp()
                    acct = rec["account"]["id"]
                except (orjson.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError):
                    continue
                if rec.get("status") in _NOT_SERVED:
                    continue  # refused by the gateway: not part of the served rate
                if ts >= since and isinstance(acct, str):
                    counters.hit(acct, ts)
                    n += 1
    return n


@dataclass
class _Progress:
    requests: int = 0
    kinds: dict[str, set[str]] = field(default_factory=dict)  # campaign -> indicator kinds seen
    evidence: dict[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Link:
    account_id: str
    campaign_id: str
    score: float
    evidence: tuple[str, ...]
    request_number: int
    at: float


class Linker:
    """Campaign-indicator index of one snapshot plus the per-account matching state (kept across reloads)."""

    def __init__(self, settings: OnlineSettings, log_dir: Path | None = None) -> None:
        self.settings = settings
        self.log_dir = log_dir
        self.links: dict[str, Link] = {}
        self._progress: dict[str, _Progress] = {}
        self._members: dict[str, str] = {}
        self._keys: dict[tuple[str, str], tuple[str, ...]] = {}
        self._fam_sig = np.zeros((0, 1), dtype=np.uint32)
        self._fam_campaign: list[str] = []
        self._fam_ids: list[str] = []
        self._fp: Mapping[str, Any] = {}
        if log_dir is not None:
            self._load_links(log_dir / LINKS_FILE)

    def load(self, snapshot: Mapping[str, Any]) -> None:
        """Index a snapshot's members and indicators (called on every reload)."""
        members = {a: c for c, accts in snapshot.get("campaign_members", {}).items() for a in accts}
        keys: dict[tuple[str, str], list[str]] = {}
        for ind in snapshot.get("indicators", []):
            keys.setdefault((ind["kind"], ind["key"]), []).append(ind["campaign_id"])
        fams = [f for f in snapshot.get("families", []) if f.get("signature")]
        fp = snapshot.get("fingerprint", {})
        width = int(fp.get("num_perm", 0))
        if fams and fp.get("minhash") != sketch.MINHASH:  # signed by another MinHash function: not comparable
            log.warning("snapshot families signed with MinHash %s, not %s: family matching off until the "
                        "next analysis", fp.get("minhash", "rensa R-MinHash (unnamed)"), sketch.MINHASH)  # fmt: skip
            fams = []
        fams = [f for f in fams if len(f["signature"]) == width]
        self._members = members
        self._keys = {k: tuple(v) for k, v in keys.items()}
        self._fam_sig = np.asarray([f["signature"] for f in fams], dtype=np.uint32).reshape(len(fams), max(width, 1))
        self._fam_campaign = [f["campaign_id"] for f in fams]
        self._fam_ids = [f["family_id"] for f in fams]
        self._fp = fp

    def campaign_of(self, account: str) -> str | None:
        """The campaign an account belongs to: from the analysis, or linked online."""
        cid = self._members.get(account)
        if cid is not None:
            return cid
        link = self.links.get(account)
        return link.campaign_id if link is not None else None

    def observe(
        self, account: str, ip: str | None, payment: str | None, user_agent: str | None, text: str | None
    ) -> Link | None:
        """Match one request of an account that is not (yet) in a campaign; the new link, if it made one."""
        if account in self._members or account in self.links:
            return None
        if not self._keys and not self._fam_campaign:
            return None
        prog = self._progress.get(account)
        if prog is None:
            prog = self._progress[account] = _Progress()
        prog.requests += 1
        if prog.requests > self.settings.max_requests:
            return None
        net = network_of(ip) if ip else None
        for kind, key in (("net", net), ("payment", payment), ("user_agent", user_agent)):
            if key is None:
                continue
            for cid in self._keys.get((kind, key), ()):
                self._note(prog, cid, kind, f"{kind} {key} is a known indicator of campaign {cid}")
        if text and self._fam_campaign:
            for cid, fid, sim in self._family_matches(text):
                self._note(prog, cid, "family", f"prompt matches template family {fid} of campaign {cid} ({sim:.0%})")
        return self._maybe_link(account, prog)

    def _note(self, prog: _Progress, cid: str, kind: str, sentence: str) -> None:
        seen = prog.kinds.setdefault(cid, set())
        if kind not in seen:
            seen.add(kind)
            prog.evidence.setdefault(cid, []).append(sentence)

    def _maybe_link(self, account: str, prog: _Progress) -> Link | None:
        weights = self.settings.weights
        best: tuple[float, str] | None = None
        for cid, kinds in prog.kinds.items():
            score = sum(weights.get(k, 0.0) for k in kinds)
            if score >= self.settings.link_threshold and (best is None or score > best[0]):
                best = (score, cid)
        if best is None:
            return None
        link = Link(account, best[1], best[0], tuple(prog.evidence[best[1]]), prog.requests, time.time())
        self.links[account] = link
        self._progress.pop(account, None)
        self._persist(link)
        return link

    def _family_matches(self, text: str) -> list[tuple[str, str, float]]:
        fp = self._fp
        skeleton = mask(text, int(fp.get("text_cap", 2000)))
        tok, off = sketch.token_hashes([skeleton])
        flat, soff = sketch.shingle_hashes(tok, off, int(fp.get("shingle_size", 2)))
        sig = sketch.signatures(flat, soff, int(fp["num_perm"]), int(fp["seed"]))[0]
        sims = (self._fam_sig == sig).mean(axis=1)
        hits = np.flatnonzero(sims >= self.settings.family_similarity)
        return [(self._fam_campaign[i], self._fam_ids[i], float(sims[i])) for i in hits]

    # ------------------------------------------------------------------ persistence

    def _persist(self, link: Link) -> None:
        log.info("online link: %s -> %s (%s)", link.account_id, link.campaign_id, "; ".join(link.evidence))
        if self.log_dir is None:
            return
        with open(self.log_dir / LINKS_FILE, "ab") as fh:
            fh.write(orjson.dumps(link.__dict__) + b"\n")

    def _load_links(self, path: Path) -> None:
        if not path.is_file():
            return
        for line in path.read_bytes().splitlines():
            try:
                rec = orjson.loads(line)
                link = Link(**{**rec, "evidence": tuple(rec["evidence"])})
            except (orjson.JSONDecodeError, TypeError, KeyError):
                continue  # a torn last line after a crash
            self.links[link.account_id] = link


def links_as_rows(links: Iterable[Link]) -> list[dict[str, Any]]:
    return [{**link.__dict__, "evidence": list(link.evidence)} for link in links]
