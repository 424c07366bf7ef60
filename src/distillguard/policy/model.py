"""The records of the policy stage: actions, rules, the policy itself and decisions with their audit entries."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any


class Action(StrEnum):
    """What the gateway does to an account's traffic."""

    monitor = "monitor"
    require_verification = "require_verification"
    throttle = "throttle"
    withhold_reasoning = "withhold_reasoning"
    watermark = "watermark"
    suspend = "suspend"


ACTION_PARAMS: dict[Action, dict[str, type]] = {
    Action.monitor: {},
    Action.require_verification: {},
    Action.throttle: {"rate_per_minute": int},
    Action.withhold_reasoning: {"mode": str},
    Action.watermark: {},
    Action.suspend: {},
}
"""Parameters each action accepts (name -> type); all are optional and have defaults in ``PolicyDefaults``."""

WITHHOLD_MODES = ("strip", "summarize")


class Status(StrEnum):
    """Where a decision stands. Only ``active`` decisions are enforced."""

    proposed = "proposed"  # waits for an analyst's approval
    active = "active"
    lifted = "lifted"


class Scope(StrEnum):
    account = "account"
    campaign = "campaign"


ACCOUNT_FIELDS: dict[str, str] = {
    "account_id": "str",
    "risk": "num",
    "flagged": "bool",
    "campaign_id": "str",
    "evidence": "list",
    "account_risk": "num",
    "campaign_risk": "num",
    "affinity": "num",
    "n_exchanges": "num",
    "top_capability": "str",
    "pathway": "str",
    "country": "str",
    "in_campaign": "bool",
}
"""Fields an account rule may test (accounts.parquet columns plus ``in_campaign``) and their kind."""

CAMPAIGN_FIELDS: dict[str, str] = {
    "campaign_id": "str",
    "campaign_risk": "num",
    "campaign_accounts": "num",
    "campaign_exchanges": "num",
    "n_nets": "num",
    "n_payment_fingerprints": "num",
    "capabilities": "list",
    "evidence": "list",
}
"""Fields a campaign rule may test (campaigns.parquet, names prefixed where they would be ambiguous)."""

FIELDS: dict[Scope, dict[str, str]] = {Scope.account: ACCOUNT_FIELDS, Scope.campaign: CAMPAIGN_FIELDS}


@dataclass(frozen=True)
class Condition:
    """One test on one field: ``op`` is eq, min, max, in (value in a list) or any (a list item contains a text)."""

    field: str
    op: str
    value: Any

    def holds(self, subject: Mapping[str, Any]) -> bool:
        v = subject.get(self.field)
        if v is None:
            return False  # a missing value never matches
        if self.op == "eq":
            return bool(v == self.value)
        if self.op == "min":
            return float(v) >= float(self.value)
        if self.op == "max":
            return float(v) <= float(self.value)
        if self.op == "in":
            return v in self.value
        # "any": some item of a list field contains one of the texts, case-insensitively
        items = [str(x).lower() for x in v]
        return any(t.lower() in item for t in self.value for item in items)


@dataclass(frozen=True)
class Rule:
    """Every condition must hold for the rule to match; a match proposes ``action`` on the subject."""

    name: str
    scope: Scope
    action: Action
    conditions: tuple[Condition, ...]
    params: Mapping[str, Any] = field(default_factory=dict)
    approval: str = "auto"  # "auto": active at once; "analyst": proposed until approved
    description: str = ""
    examples_match: tuple[Mapping[str, Any], ...] = ()
    examples_no_match: tuple[Mapping[str, Any], ...] = ()

    def matches(self, subject: Mapping[str, Any]) -> bool:
        return all(c.holds(subject) for c in self.conditions)

    def explain(self, subject: Mapping[str, Any]) -> str:
        parts = [f"{c.field}={_short(subject.get(c.field))}" for c in self.conditions]
        return f"rule {self.name!r} matched: " + (", ".join(parts) if parts else "unconditional")


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}"
    if isinstance(value, list | tuple):
        return f"[{len(value)} items]"
    return str(value)


@dataclass(frozen=True)
class OnlineSettings:
    """How the gateway links a new account to a known campaign from its first requests.

    Each indicator kind found on an account's requests adds its weight once (per campaign); the
    account is linked when the sum reaches ``link_threshold``. Indicators are kept only when at least
    ``min_purity`` of the accounts carrying them belong to the campaign (a NAT or reseller address shared
    with legitimate users is no indicator). Only the first ``max_requests`` requests of an account that
    is not a campaign member are matched. ``family_similarity``: MinHash agreement with a campaign's
    template-family signature that counts as the same template.
    """

    link_threshold: float = 1.0
    max_requests: int = 50
    min_purity: float = 0.8
    min_accounts: int = 2
    family_similarity: float = 0.5
    weights: Mapping[str, float] = field(
        default_factory=lambda: {"payment": 1.0, "family": 0.5, "net": 0.5, "user_agent": 0.25}
    )


@dataclass(frozen=True)
class PolicyDefaults:
    throttle_rate_per_minute: int = 20
    withhold_mode: str = "strip"
    counter_window_s: int = 60


@dataclass(frozen=True)
class Policy:
    rules: tuple[Rule, ...]
    defaults: PolicyDefaults = PolicyDefaults()
    online: OnlineSettings = OnlineSettings()
    source: str = "<policy>"


@dataclass(frozen=True)
class Decision:
    """The current state of one decision: the latest audit entry of ``decision_id``."""

    decision_id: str
    subject_kind: Scope
    subject_id: str
    action: Action
    params: Mapping[str, Any]
    status: Status
    rule: str
    reason: str
    evidence: tuple[str, ...]
    actor: str
    at: datetime
    members: tuple[str, ...] = ()  # accounts of a campaign when decided (campaign decisions only)
