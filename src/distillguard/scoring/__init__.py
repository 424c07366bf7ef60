"""Scoring: account and campaign risk, each with the evidence that produced it.

Contract
--------
in:  account features (``distillguard.features``), the linkage (``distillguard.linking``) and a rule file
     (``default_rules()`` or the user's, TOML, see ``scoring.rules``).
out: ``score(...)`` -> ``Scores`` with
     - ``accounts``: account_id, risk, flagged, cluster_id, affinity, account_risk, campaign_risk, evidence;
     - ``clusters``: the cluster features (``CLUSTER_DOC``) plus risk and evidence.

Risk is explainable by construction: a rule matched, it added its points, it wrote a sentence with the
values that triggered it. Legitimacy is positive evidence too (rules with negative points: real
conversations, real tool loops, one organisation's own traffic), never a list of exempt customers.
An account inherits its cluster's risk only in proportion to its affinity to what the cluster shares.
"""

from __future__ import annotations

from distillguard.scoring.rules import RuleSet, apply_rules, load_rules
from distillguard.scoring.score import Scores, default_rules, default_rules_path, score

__all__ = ["RuleSet", "Scores", "apply_rules", "default_rules", "default_rules_path", "load_rules", "score"]
