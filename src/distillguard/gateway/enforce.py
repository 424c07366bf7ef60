"""Which actions apply to an account now: its own decisions plus those of its campaign.

Built from an enforcement snapshot (``distillguard.policy.snapshot``) and swapped whole on reload, so a
request sees one consistent set. ``suspend`` blocks (403); ``require_verification`` blocks an account
whose request does not say it is verified (403); ``throttle`` caps requests per minute (429 with
Retry-After); ``withhold_reasoning`` and ``watermark`` change the response; ``monitor`` only shows.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Verdict:
    suspend: bool = False
    require_verification: bool = False
    throttle_per_minute: int | None = None
    withhold: str | None = None  # "strip" or "summarize"
    watermark: bool = False
    monitor: bool = False
    decisions: tuple[str, ...] = ()

    @property
    def changes_response(self) -> bool:
        return self.withhold is not None or self.watermark


NO_ACTION = Verdict()


class Enforcement:
    """The active decisions of one snapshot, indexed by account and campaign."""

    def __init__(self, snapshot: Mapping[str, Any]) -> None:
        self.by_account: dict[str, list[Mapping[str, Any]]] = {}
        self.by_campaign: dict[str, list[Mapping[str, Any]]] = {}
        for d in snapshot.get("decisions", []):
            index = self.by_account if d["subject_kind"] == "account" else self.by_campaign
            index.setdefault(d["subject_id"], []).append(d)
        self.generated_at = str(snapshot.get("generated_at", ""))
        self.api_keys: dict[str, str] = dict(snapshot.get("api_keys", {}))
        self._cache: dict[tuple[str, str | None], Verdict] = {}

    def verdict(self, account: str, campaign: str | None) -> Verdict:
        key = (account, campaign)
        hit = self._cache.get(key)
        if hit is not None:
            return hit
        decisions = list(self.by_account.get(account, ()))
        if campaign is not None:
            decisions += self.by_campaign.get(campaign, ())
        v = combine(decisions)
        if len(self._cache) > 200_000:
            self._cache.clear()
        self._cache[key] = v
        return v


def combine(decisions: list[Mapping[str, Any]]) -> Verdict:
    """All actions at once; of several throttles the tightest wins, of withholding modes 'strip'."""
    if not decisions:
        return NO_ACTION
    acts = {d["action"] for d in decisions}
    rates = [int(d["params"].get("rate_per_minute", 20)) for d in decisions if d["action"] == "throttle"]
    modes = {str(d["params"].get("mode", "strip")) for d in decisions if d["action"] == "withhold_reasoning"}
    return Verdict(
        suspend="suspend" in acts,
        require_verification="require_verification" in acts,
        throttle_per_minute=min(rates) if rates else None,
        withhold=("strip" if "strip" in modes else "summarize") if modes else None,
        watermark="watermark" in acts,
        monitor="monitor" in acts,
        decisions=tuple(sorted(d["decision_id"] for d in decisions)),
    )
