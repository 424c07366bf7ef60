"""Policy evaluation: accounts and campaigns (the ``analyze`` outputs) -> proposed decisions with evidence.

Pure: tables in, frozen ``Proposal`` records out. A proposal's ``decision_id`` is derived from the subject
and the rule, so re-running the policy on new results finds the decision it already made.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import xxhash

from distillguard.policy.model import Action, Policy, Rule, Scope, Status


@dataclass(frozen=True)
class Proposal:
    decision_id: str
    subject_kind: Scope
    subject_id: str
    action: Action
    params: Mapping[str, Any]
    status: Status
    rule: str
    reason: str
    evidence: tuple[str, ...]
    members: tuple[str, ...] = ()


def decision_id(kind: Scope | str, subject: str, rule: str) -> str:
    """Stable id of the decision a rule makes on a subject: ``D`` + 16 hex digits."""
    return "D" + xxhash.xxh3_64_hexdigest(f"{kind}\x1f{subject}\x1f{rule}".encode())


def account_subjects(accounts: pa.Table) -> Iterator[dict[str, Any]]:
    """Rows of accounts.parquet as the mappings account rules test (``in_campaign`` added)."""
    for batch in accounts.to_batches(8192):
        for row in batch.to_pylist():
            row["in_campaign"] = row.get("campaign_id") is not None
            yield row


def campaign_subjects(campaigns: pa.Table) -> Iterator[dict[str, Any]]:
    """Rows of campaigns.parquet renamed to the campaign rule fields."""
    for row in campaigns.to_pylist():
        caps = row.get("capabilities") or []
        yield {
            "campaign_id": row["campaign_id"],
            "campaign_risk": row.get("risk"),
            "campaign_accounts": row.get("accounts"),
            "campaign_exchanges": row.get("exchanges"),
            "n_nets": row.get("n_nets"),
            "n_payment_fingerprints": row.get("n_payment_fingerprints"),
            "capabilities": [c["name"] for c in caps if c],
            "evidence": list(row.get("evidence") or []),
            "account_ids": list(row.get("account_ids") or []),
        }


def evaluate(policy: Policy, accounts: pa.Table | None, campaigns: pa.Table | None) -> list[Proposal]:
    """Every (rule, subject) match as a proposal, campaigns first, then accounts, in table order."""
    out: list[Proposal] = []
    by_scope: dict[Scope, list[Rule]] = {s: [r for r in policy.rules if r.scope is s] for s in Scope}
    if campaigns is not None and by_scope[Scope.campaign]:
        for subject in campaign_subjects(campaigns):
            for rule in by_scope[Scope.campaign]:
                if rule.matches(subject):
                    out.append(_proposal(rule, Scope.campaign, subject["campaign_id"], subject))
    if accounts is not None and by_scope[Scope.account]:
        for subject in account_subjects(accounts):
            for rule in by_scope[Scope.account]:
                if rule.matches(subject):
                    out.append(_proposal(rule, Scope.account, subject["account_id"], subject))
    return out


def _proposal(rule: Rule, kind: Scope, subject_id: str, subject: Mapping[str, Any]) -> Proposal:
    members = tuple(subject.get("account_ids") or ()) if kind is Scope.campaign else ()
    return Proposal(
        decision_id=decision_id(kind, subject_id, rule.name),
        subject_kind=kind,
        subject_id=subject_id,
        action=rule.action,
        params=dict(rule.params),
        status=Status.active if rule.approval == "auto" else Status.proposed,
        rule=rule.name,
        reason=rule.explain(subject),
        evidence=tuple(str(e) for e in (subject.get("evidence") or ())),
        members=members,
    )
