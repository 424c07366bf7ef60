"""Scoring of a detection run against the simulator's ground truth.

Contract: ``evaluate(labels_dir, results_dir) -> EvaluationReport``.

* ``labels_dir`` holds ``accounts.parquet`` (account_id, label, campaign, archetype) and
  ``exchanges.parquet`` (request_id, account_id, ts, campaign, phase), as ``simulate`` writes them;
* ``results_dir`` holds the detector's ``accounts.parquet``: account_id, risk (0..1), flagged, and
  optionally campaign_id and first_flagged_at (UTC timestamp).

Accounts in the labels but not in the results count as not flagged with risk 0; accounts in the
results but not in the labels are ignored. Both are counted in the report. Metric definitions:
docs/evaluation.md. Pure SQL/numpy over the two folders; nothing is printed.
"""

from __future__ import annotations

from distillguard.evaluate.metrics import average_precision, prf
from distillguard.evaluate.report import (
    AccountMetrics,
    ArchetypeMetrics,
    CampaignMetrics,
    EvaluationReport,
)
from distillguard.evaluate.run import evaluate

__all__ = [
    "AccountMetrics",
    "ArchetypeMetrics",
    "CampaignMetrics",
    "EvaluationReport",
    "average_precision",
    "evaluate",
    "prf",
]
