"""The evaluation report: frozen records with a JSON-ready ``to_dict``."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class AccountMetrics:
    accounts: int
    attack_accounts: int
    flagged: int
    tp: int
    fp: int
    fn: int
    tn: int
    precision: float | None
    recall: float | None
    f1: float | None
    pr_auc: float | None


@dataclass(frozen=True)
class CampaignMetrics:
    campaign: str
    accounts: int
    found: int  # flagged accounts of this campaign
    exchanges: int
    exchange_coverage: float  # share of its exchanges sent by flagged accounts
    predicted_campaign: str | None  # the detector campaign holding most of its accounts
    predicted_share: float | None  # share of this campaign's accounts inside predicted_campaign
    purity: float | None  # share of predicted_campaign's accounts that belong to this campaign
    first_exchange_at: datetime | None
    first_flag_at: datetime | None
    time_to_first_flag_s: float | None
    leak_before_detection: float  # share of its exchanges sent before their account was flagged


@dataclass(frozen=True)
class ArchetypeMetrics:
    archetype: str
    accounts: int
    flagged: int
    false_positive_rate: float | None
    flagged_accounts: tuple[str, ...]


@dataclass(frozen=True)
class EvaluationReport:
    accounts: AccountMetrics
    attack_exchanges: int
    exchange_weighted_recall: float | None
    campaigns: tuple[CampaignMetrics, ...]
    archetypes: tuple[ArchetypeMetrics, ...]
    missing_accounts: int  # in the labels, absent from the results (counted as not flagged, risk 0)
    extra_accounts: int  # in the results, absent from the labels (ignored)
    warnings: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return _plain(dataclasses.asdict(self))  # type: ignore[no-any-return]


def _plain(x: Any) -> Any:
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [_plain(v) for v in x]
    if isinstance(x, datetime):
        return x.isoformat().replace("+00:00", "Z")
    return x
