"""Policy stage: risk, evidence and campaigns -> decisions with an audit trail -> enforcement snapshot.

Contract::

    from distillguard.policy import load_policy, default_policy, decide
    policy = load_policy("policy.toml")           # ConfigError with file:line: reason when invalid
    result = decide(store, policy)                # evaluate analyze's accounts/campaigns, record, export

* A policy file (TOML, docs/policy.md) holds ``[[rule]]`` tables: scope (account | campaign), conditions
  over the ``analyze`` outputs, an action (monitor, require_verification, throttle, withhold_reasoning,
  watermark, suspend) with params, approval (auto | analyst) and match / no-match examples that the
  tests execute (``check_examples``).
* ``evaluate(policy, accounts, campaigns)`` is pure: tables in, ``Proposal`` records out.
* Decisions live in the store's append-only ``decision_audit`` table (``policy.decisions``): approve,
  override, lift and create append entries; nothing is deleted.
* ``export_snapshot`` writes the JSON the gateway enforces (``policy.snapshot``): active decisions,
  campaign members and the campaign indicators (address ranges, payment fingerprints, user agents,
  template-family signatures) used to link new accounts online.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.parquet as pq

from distillguard.errors import InputError
from distillguard.policy.decisions import RunSummary, current_decisions, record_proposals
from distillguard.policy.engine import Proposal, decision_id, evaluate
from distillguard.policy.load import check_examples, default_policy, load_policy, parse_policy
from distillguard.policy.model import Action, Decision, OnlineSettings, Policy, Rule, Scope, Status
from distillguard.policy.snapshot import default_snapshot_path, export_snapshot, read_snapshot

if TYPE_CHECKING:
    from distillguard.store import Store

__all__ = [
    "Action",
    "DecideResult",
    "Decision",
    "OnlineSettings",
    "Policy",
    "Proposal",
    "Rule",
    "Scope",
    "Status",
    "check_examples",
    "current_decisions",
    "decide",
    "decision_id",
    "default_policy",
    "default_snapshot_path",
    "evaluate",
    "export_snapshot",
    "load_policy",
    "parse_policy",
    "read_snapshot",
]


@dataclass(frozen=True)
class DecideResult:
    proposals: int
    recorded: RunSummary
    snapshot: Path


def _results(store: Store, results: Path | None) -> tuple[pa.Table | None, pa.Table | None]:
    if results is not None:
        acc, camp = results / "accounts.parquet", results / "campaigns.parquet"
        if not acc.is_file():
            raise InputError(f"{results}: no accounts.parquet (run `distillguard analyze` first)")
        return pq.read_table(acc), pq.read_table(camp) if camp.is_file() else None
    names = {r[0] for r in store.connection.execute("SELECT table_name FROM information_schema.tables").fetchall()}
    if "accounts" not in names:
        raise InputError(f"{store.path}: no accounts table (run `distillguard analyze --store` first)")
    return store.read_table("accounts"), store.read_table("campaigns") if "campaigns" in names else None


def decide(
    store: Store,
    policy: Policy,
    results: str | os.PathLike[str] | None = None,
    snapshot: str | os.PathLike[str] | None = None,
) -> DecideResult:
    """Evaluate the policy on the latest analysis (store tables, or a results folder), record new decisions
    in the audit table and rewrite the enforcement snapshot."""
    accounts, campaigns = _results(store, Path(results) if results is not None else None)
    proposals = evaluate(policy, accounts, campaigns)
    summary = record_proposals(store, proposals)
    path = export_snapshot(store, snapshot or default_snapshot_path(store.path), policy.online)
    return DecideResult(proposals=len(proposals), recorded=summary, snapshot=path)
