"""ECS alert documents and their Splunk HEC wrapping (see the package docstring)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from distillguard.report.results import Results, load_results

ECS_VERSION = "8.17.0"
NAMESPACE = uuid.UUID("0b7c1a52-93f4-4d0e-8f57-3c1d9e2a6b10")
SOURCETYPE = "distillguard:alert"
RELATED_CAP = 1000
"""At most this many account ids in one campaign alert's ``related.user`` (a SIEM field, not a dump)."""

THREAT = {
    "framework": "MITRE ATLAS",
    "tactic": {"id": ["AML.TA0010"], "name": ["Exfiltration"], "reference": ["https://atlas.mitre.org/tactics/AML.TA0010"]},
    "technique": {
        "id": ["AML.T0024"],
        "name": ["Exfiltration via AI Inference API"],
        "reference": ["https://atlas.mitre.org/techniques/AML.T0024"],
        "subtechnique": {
            "id": ["AML.T0024.002"],
            "name": ["Extract AI Model"],
            "reference": ["https://atlas.mitre.org/techniques/AML.T0024.002"],
        },
    },
}  # fmt: skip


@dataclass(frozen=True)
class AlertSummary:
    campaigns: int
    accounts: int
    ecs_path: str | None
    hec_path: str | None


def _iso(v: Any) -> str | None:
    return v.astimezone(UTC).isoformat().replace("+00:00", "Z") if isinstance(v, datetime) else None


def _severity(risk: float) -> tuple[int, str]:
    score = round(100 * risk)
    label = "critical" if score >= 90 else "high" if score >= 70 else "medium" if score >= 40 else "low"
    return score, label


def _models(c: dict[str, Any]) -> list[str]:
    return [str(m["name"]) for m in c.get("models") or [] if m.get("name")]


def _base(kind: str, key: str, ts: Any, risk: float, now: datetime) -> dict[str, Any]:
    score, label = _severity(risk)
    return {
        "@timestamp": _iso(ts) or _iso(now),
        "ecs": {"version": ECS_VERSION},
        "event": {
            "kind": "alert",
            "category": ["threat"],
            "type": ["indicator"],
            "module": "distillguard",
            "dataset": f"distillguard.{kind}",
            "provider": "distillguard",
            "id": str(uuid.uuid5(NAMESPACE, f"{kind}|{key}|{_iso(ts)}")),
            "created": _iso(now),
            "severity": score,
            "risk_score": float(score),
            "risk_score_norm": float(score),
        },
        "log": {"level": label},
        "rule": {"name": f"distillation {kind}", "category": "distillation", "ruleset": "distillguard"},
        "threat": json.loads(json.dumps(THREAT)),
        "tags": ["distillation", f"severity:{label}"],
    }


def _campaign_doc(c: dict[str, Any], first_flag: Any, now: datetime) -> dict[str, Any]:
    doc = _base("campaign", c["campaign_id"], first_flag or c.get("last_seen"), float(c.get("risk") or 0.0), now)
    caps = ", ".join(f"{x['name']} {x['share']:.0%}" for x in (c.get("capabilities") or [])[:4])
    evidence = [str(e) for e in c.get("evidence") or []]
    models = _models(c)
    doc["message"] = (
        f"Distillation campaign {c['campaign_id']}: {c['accounts']} accounts, {c['exchanges']} exchanges ({caps})"
    )
    doc["event"] |= {"start": _iso(c.get("first_seen")), "end": _iso(c.get("last_seen")), "reason": "; ".join(evidence)}
    doc["threat"]["group"] = {"id": c["campaign_id"], "name": f"distillation campaign {c['campaign_id']}"}
    doc["related"] = {"user": list((c.get("account_ids") or [])[:RELATED_CAP])}
    doc["gen_ai"] = {"operation": {"name": "chat"}, "request": {"model": models[0] if models else None}}
    doc["distillguard"] = {
        "campaign_id": c["campaign_id"],
        "accounts": int(c.get("accounts") or 0),
        "exchanges": int(c.get("exchanges") or 0),
        "risk": float(c.get("risk") or 0.0),
        "models": models,
        "capabilities": [{"name": x["name"], "share": x["share"]} for x in c.get("capabilities") or []],
        "n_nets": c.get("n_nets"),
        "n_payment_fingerprints": c.get("n_payment_fingerprints"),
        "evidence": evidence,
    }
    return doc


def _account_doc(a: dict[str, Any], models: list[str], now: datetime) -> dict[str, Any]:
    doc = _base("account", a["account_id"], a.get("first_flagged_at"), float(a.get("risk") or 0.0), now)
    evidence = [str(e) for e in a.get("evidence") or []]
    campaign = a.get("campaign_id")
    doc["message"] = f"Account {a['account_id']} flagged for distillation" + (
        f" (campaign {campaign})" if campaign else ""
    )
    doc["event"]["reason"] = "; ".join(evidence)
    doc["user"] = {"id": a["account_id"]}
    doc["related"] = {"user": [a["account_id"]]}
    if campaign:
        doc["threat"]["group"] = {"id": campaign, "name": f"distillation campaign {campaign}"}
    doc["gen_ai"] = {"operation": {"name": "chat"}, "request": {"model": models[0] if models else None}}
    doc["distillguard"] = {
        "account_id": a["account_id"],
        "campaign_id": campaign,
        "risk": float(a.get("risk") or 0.0),
        "exchanges": int(a.get("n_exchanges") or 0),
        "top_capability": a.get("top_capability"),
        "pathway": a.get("pathway"),
        "country": a.get("country"),
        "evidence": evidence,
    }
    return doc


def build_alerts(results: str | Path | Results, *, now: datetime | None = None) -> list[dict[str, Any]]:
    """ECS alert documents: one per campaign (ranked by risk) then one per flagged account."""
    res = results if isinstance(results, Results) else load_results(results)
    now = now or datetime.now(UTC)
    acc = res.accounts
    flagged = acc.filter(acc["flagged"]).to_pylist()
    first: dict[str, datetime] = {}
    for a in flagged:
        cid, t = a.get("campaign_id"), a.get("first_flagged_at")
        if cid and t is not None and (cid not in first or t < first[cid]):
            first[cid] = t
    campaigns = res.campaign_rows()
    models = {c["campaign_id"]: _models(c) for c in campaigns}
    docs = [_campaign_doc(c, first.get(c["campaign_id"]), now) for c in campaigns]
    flagged.sort(key=lambda a: (-(a.get("risk") or 0.0), a["account_id"]))
    docs += [_account_doc(a, models.get(a.get("campaign_id") or "", []), now) for a in flagged]
    return docs


def hec_event(doc: dict[str, Any], *, index: str | None = None, host: str = "distillguard") -> dict[str, Any]:
    """One Splunk HTTP Event Collector event wrapping an ECS document."""
    ts = datetime.fromisoformat(doc["@timestamp"].replace("Z", "+00:00"))
    event: dict[str, Any] = {
        "time": round(ts.timestamp(), 3),
        "host": host,
        "source": "distillguard",
        "sourcetype": SOURCETYPE,
        "event": doc,
        "fields": {
            "severity": doc["log"]["level"],
            "campaign_id": doc["distillguard"].get("campaign_id") or "",
            "alert_kind": doc["event"]["dataset"].rsplit(".", 1)[-1],
        },
    }
    if index:
        event["index"] = index
    return event


def _write_lines(path: str | Path, docs: list[dict[str, Any]]) -> str:
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with p.open("w", encoding="utf-8") as fh:
        for d in docs:
            fh.write(json.dumps(d, ensure_ascii=False, separators=(",", ":")) + "\n")
    return str(p)


def write_alerts(
    results_dir: str | Path,
    ecs_path: str | Path | None = None,
    hec_path: str | Path | None = None,
    *,
    hec_index: str | None = None,
    now: datetime | None = None,
) -> AlertSummary:
    """Write the alerts of ``results_dir`` as ECS JSON lines and/or Splunk HEC JSON lines."""
    docs = build_alerts(results_dir, now=now)
    n_campaigns = sum(1 for d in docs if d["event"]["dataset"] == "distillguard.campaign")
    return AlertSummary(
        campaigns=n_campaigns,
        accounts=len(docs) - n_campaigns,
        ecs_path=_write_lines(ecs_path, docs) if ecs_path else None,
        hec_path=_write_lines(hec_path, [hec_event(d, index=hec_index) for d in docs]) if hec_path else None,
    )
