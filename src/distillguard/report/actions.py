"""Recommended actions for a campaign, derived from what the campaign is and how it got in.

A campaign report ends with what to do. These are recommendations, not decisions: the policy stage (and
the analyst) decide. Each action says why it is recommended, so an analyst can discard one knowingly.
"""

from __future__ import annotations

from typing import Any

_REASONING = {"reasoning", "rubric_grading", "sensitive_rewrite"}
_OPEN_PATHWAYS = {"education", "research", "startup", "trial"}


def _names(items: list[dict[str, Any]] | None) -> list[str]:
    return [str(i["name"]) for i in (items or []) if i.get("name") is not None]


def recommend(campaign: dict[str, Any], pivots: list[dict[str, Any]] | None = None) -> list[dict[str, str]]:
    """``[{action, why}]`` for one campaign row of campaigns.parquet (plus its model pivots, if known)."""
    actions = [
        {
            "action": "suspend all linked accounts together",
            "why": f"{campaign.get('accounts', 0)} accounts act as one campaign; banning one at a time changes nothing",
        }
    ]
    caps = {c["name"]: float(c["share"]) for c in campaign.get("capabilities") or [] if c.get("name")}
    reasoning_share = sum(share for name, share in caps.items() if name in _REASONING)
    if reasoning_share >= 0.3:
        actions.append(
            {
                "action": "withhold or summarise reasoning for these accounts until suspended",
                "why": f"{reasoning_share:.0%} of its traffic harvests reasoning, grading or rewrites",
            }
        )
    infra = campaign.get("infrastructure") or {}
    pathways = set(_names(infra.get("pathways"))) & _OPEN_PATHWAYS
    if pathways:
        actions.append(
            {
                "action": f"require stronger verification on the {', '.join(sorted(pathways))} pathway(s)",
                "why": "the campaign opened accounts through programmes with light checks",
            }
        )
    if int(campaign.get("n_payment_fingerprints") or 0) < int(campaign.get("accounts") or 0):
        actions.append(
            {
                "action": "block the shared payment methods for new sign-ups",
                "why": f"{campaign.get('accounts')} accounts pay with {campaign.get('n_payment_fingerprints')} methods",
            }
        )
    if any(p.get("pivot") for p in pivots or []):
        actions.append(
            {
                "action": "watch new-model launches for these indicators in the first 24 hours",
                "why": "the campaign redirected its traffic to a newly released model at once",
            }
        )
    actions.append(
        {
            "action": "screen new accounts against the campaign's indicators and share them with partners",
            "why": "the operators will return with fresh accounts on the same infrastructure "
            "(distillguard intel export)",
        }
    )
    return actions
