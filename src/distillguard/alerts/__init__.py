"""SIEM alerts from an ``analyze`` results folder: Elastic Common Schema JSON lines and Splunk HEC events.

Contract::

    from distillguard.alerts import write_alerts, build_alerts
    summary = write_alerts("results/", ecs_path="alerts.ecs.jsonl", hec_path="alerts.hec.jsonl")
    docs = build_alerts("results/")          # the ECS documents as dicts, campaigns first

One alert per campaign and one per flagged account. Each ECS document carries ``event.kind: alert``,
``event.category: [threat]``, ``event.severity`` / ``event.risk_score`` from the risk, ``threat.*`` (the
MITRE ATLAS technique for model extraction through an inference API, ``threat.group`` = the campaign),
``gen_ai.*`` (the models the campaign used), ``user.id`` for an account, ``related.user`` and the
readable evidence in ``event.reason`` / ``message``; distillguard's own figures sit under
``distillguard.*``. A Splunk HEC line wraps the same document as ``event`` with ``time``, ``source``,
``sourcetype`` and indexed ``fields``. ``event.id`` is stable (uuid5 of the campaign or account and the
first-flag time), so a SIEM can de-duplicate repeated runs. No prompt text is ever written.
"""

from distillguard.alerts.ecs import AlertSummary, build_alerts, hec_event, write_alerts

__all__ = ["AlertSummary", "build_alerts", "hec_event", "write_alerts"]
