"""The report's content as plain data: one dict per campaign plus a summary, ready for any renderer.

Everything here comes from the results folder and, when found, the store (activity over time, model
releases and pivots, template families with representative prompts, payment clusters, ASN classes).
Prompt text is attacker-controlled and may be personal: it is masked (``distillguard.text.mask``) and
capped here, once, before any renderer sees it; renderers still escape everything they print.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa
import xxhash

from distillguard.report.actions import recommend
from distillguard.report.results import Results, arrow, has_table, read_store
from distillguard.sqlconn import registered
from distillguard.text import mask

log = logging.getLogger(__name__)

PROMPT_CAP = 240
"""Characters of a representative prompt shown (after masking)."""
FAMILIES_PER_CAMPAIGN = 5
EXAMPLES_PER_FAMILY = 2
ACCOUNTS_SHOWN = 15
PIVOT_WINDOW = timedelta(hours=24)
PIVOT_SHARE = 0.3
"""A campaign 'pivots' to a new model when at least this share of its traffic in the 24 h after the
release goes to that model (the reported campaign moved about half within a day)."""

_RULE = re.compile(r"^(?:cluster: )?([\w-]+) \(\+")


def redact(text: str | None, cap: int = PROMPT_CAP) -> str:
    """Masked skeleton of ``text`` cut to ``cap`` characters (an ellipsis marks the cut)."""
    if not text:
        return ""
    skeleton = mask(text, cap=cap * 8)
    return skeleton if len(skeleton) <= cap else skeleton[: cap - 1].rstrip() + "…"


def payment_label(value: str) -> str:
    """A short stable label for a payment fingerprint: reports never print the raw value."""
    return "pay-" + xxhash.xxh3_64_hexdigest(value.encode("utf-8"))[:8]


def build_report(results: Results) -> dict[str, Any]:
    """The whole report as data: ``{generated_at, summary, releases, campaigns: [...]}``."""
    campaigns = results.campaign_rows()
    extra: dict[str, dict[str, Any]] = {c["campaign_id"]: {} for c in campaigns}
    releases: list[dict[str, Any]] = []
    bucket = None
    if results.store is not None and campaigns:
        with read_store(results.store) as con:
            members = _members(results)
            with registered(con, {"report_members": members}):
                releases = _releases(con)
                bucket = _bucket(con)
                _timelines(con, bucket, extra)
                _pivots(con, releases, extra)
                _families(con, extra)
                _payments(con, extra)
                _asn_classes(con, extra)
    else:
        log.info("no store found for %s: the report leaves out timelines, prompts and payment clusters", results.folder)
    accounts = results.accounts
    out = []
    for rank, c in enumerate(campaigns, start=1):
        detail = extra[c["campaign_id"]]
        out.append(
            {
                "rank": rank,
                **{k: v for k, v in c.items() if k != "account_ids"},
                "account_ids": c.get("account_ids") or [],
                "first_flagged_at": None,
                **detail,
                "account_evidence": [],
                "top_accounts": [],
                "actions": recommend(c, detail.get("pivots")),
            }
        )
    _account_details(accounts, out)
    flagged = accounts.filter(accounts["flagged"]) if "flagged" in accounts.column_names else accounts
    return {
        "generated_at": datetime.now(UTC),
        "results": str(results.folder.name),
        "store_used": results.store is not None,
        "summary": {
            "exchanges": results.summary.get("exchanges"),
            "accounts": accounts.num_rows,
            "flagged_accounts": flagged.num_rows,
            "campaigns": len(campaigns),
            "campaign_exchanges": sum(int(c.get("exchanges") or 0) for c in campaigns),
        },
        "bucket": bucket,
        "releases": releases,
        "campaigns": out,
    }


def _members(results: Results) -> pa.Table:
    acc = results.accounts
    flagged = acc.filter(acc["flagged"])
    return flagged.select(["account_id", "campaign_id"]).filter(flagged["campaign_id"].is_valid())


def _releases(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    if has_table(con, "model_releases"):
        rows = arrow(con, "SELECT model, released FROM model_releases ORDER BY released").to_pylist()
    else:
        # Scenario-free fallback: a model first seen well after the log starts was released then.
        rows = arrow(
            con,
            "SELECT model, min(ts) AS released FROM exchanges GROUP BY model "
            "HAVING min(ts) > (SELECT min(ts) FROM exchanges) + INTERVAL 1 DAY ORDER BY released",
        ).to_pylist()
    return [{"model": r["model"], "released": r["released"]} for r in rows]


def _bucket(con: duckdb.DuckDBPyConnection) -> str:
    first, last = con.execute("SELECT min(ts), max(ts) FROM exchanges").fetchall()[0]
    span = (last - first) if first and last else timedelta(0)
    for limit, name in (
        (timedelta(days=2), "1 hour"),
        (timedelta(days=14), "3 hours"),
        (timedelta(days=60), "6 hours"),
    ):
        if span <= limit:
            return name
    return "1 day"


def _timelines(con: duckdb.DuckDBPyConnection, bucket: str, extra: dict[str, dict[str, Any]]) -> None:
    rows = arrow(
        con,
        f"""SELECT m.campaign_id, time_bucket(INTERVAL '{bucket}', e.ts) AS t, e.model, count(*) AS n
            FROM exchanges e JOIN report_members m USING (account_id) GROUP BY ALL ORDER BY t""",
    ).to_pylist()
    for r in rows:
        extra[r["campaign_id"]].setdefault("timeline", []).append({"t": r["t"], "model": r["model"], "n": r["n"]})


def _pivots(con: duckdb.DuckDBPyConnection, releases: list[dict[str, Any]], extra: dict[str, dict[str, Any]]) -> None:
    for rel in releases:
        # Share of each campaign's (and everyone else's) traffic on the new model in the day after launch.
        rows = arrow(
            con,
            """SELECT coalesce(m.campaign_id, '') AS campaign_id, avg(CASE WHEN e.model = ? THEN 1 ELSE 0 END) AS share,
                      count(*) AS n
               FROM exchanges e LEFT JOIN report_members m USING (account_id)
               WHERE e.ts >= ? AND e.ts < ? GROUP BY ALL""",
            [rel["model"], rel["released"], rel["released"] + PIVOT_WINDOW],
        ).to_pylist()
        baseline = next((r["share"] for r in rows if r["campaign_id"] == ""), None)
        for r in rows:
            if r["campaign_id"] in extra:
                share = float(r["share"])
                extra[r["campaign_id"]].setdefault("pivots", []).append(
                    {
                        "model": rel["model"],
                        "released": rel["released"],
                        "share_24h": share,
                        "others_share_24h": None if baseline is None else float(baseline),
                        "exchanges_24h": int(r["n"]),
                        "pivot": share >= PIVOT_SHARE,
                    }
                )


def _families(con: duckdb.DuckDBPyConnection, extra: dict[str, dict[str, Any]]) -> None:
    if not has_table(con, "fp_exchanges"):
        return
    fams = arrow(
        con,
        f"""WITH x AS (
              SELECT m.campaign_id, f.family_id, f.capability, e.account_id, e.request_id, e.system_text,
                     e.first_user_text
              FROM exchanges e JOIN report_members m USING (account_id) JOIN fp_exchanges f USING (request_id)),
            top AS (
              SELECT * FROM (
                SELECT campaign_id, family_id, any_value(capability) AS capability, count(*) AS n_exchanges,
                       count(DISTINCT account_id) AS n_accounts,
                       row_number() OVER (PARTITION BY campaign_id ORDER BY count(*) DESC, family_id) AS rn
                FROM x GROUP BY campaign_id, family_id) WHERE rn <= {FAMILIES_PER_CAMPAIGN})
            SELECT t.campaign_id, t.family_id, t.capability, t.n_exchanges, t.n_accounts, t.rn,
                   (SELECT list(struct_pack(system := s.system_text, user := s.first_user_text))
                    FROM (SELECT system_text, first_user_text FROM x
                          WHERE x.campaign_id = t.campaign_id AND x.family_id = t.family_id
                          GROUP BY ALL ORDER BY min(request_id) LIMIT {4 * EXAMPLES_PER_FAMILY}) s) AS examples
            FROM top t ORDER BY t.campaign_id, t.rn""",
    ).to_pylist()
    for f in fams:
        examples: list[dict[str, str]] = []
        for e in f["examples"] or []:
            shown = {"system": redact(e["system"], PROMPT_CAP // 2), "user": redact(e["user"])}
            # Texts that differ only in their masked slots look the same: show each skeleton once.
            if shown not in examples and len(examples) < EXAMPLES_PER_FAMILY:
                examples.append(shown)
        extra[f["campaign_id"]].setdefault("families", []).append(
            {
                "family_id": str(f["family_id"]),
                "capability": f["capability"],
                "n_exchanges": int(f["n_exchanges"]),
                "n_accounts": int(f["n_accounts"]),
                "examples": examples,
            }
        )


def _payments(con: duckdb.DuckDBPyConnection, extra: dict[str, dict[str, Any]]) -> None:
    rows = arrow(
        con,
        """SELECT campaign_id, payment_fingerprint AS pf, count(DISTINCT account_id) AS accounts FROM (
             SELECT DISTINCT m.campaign_id, e.account_id, e.payment_fingerprint
             FROM exchanges e JOIN report_members m USING (account_id) WHERE e.payment_fingerprint IS NOT NULL)
           GROUP BY ALL ORDER BY accounts DESC, pf""",
    ).to_pylist()
    for r in rows:
        lst = extra[r["campaign_id"]].setdefault("payment_clusters", [])
        if len(lst) < 10:
            lst.append({"name": payment_label(r["pf"]), "accounts": int(r["accounts"])})


def _asn_classes(con: duckdb.DuckDBPyConnection, extra: dict[str, dict[str, Any]]) -> None:
    # No ASN database ships with distillguard, so the class is what the log itself shows: whether the
    # campaign has the network to itself or hides among other customers there.
    rows = arrow(
        con,
        """WITH a AS (SELECT client_asn AS asn, account_id, count(*) AS n FROM exchanges
                      WHERE client_asn IS NOT NULL GROUP BY ALL),
                tot AS (SELECT asn, count(*) AS accounts FROM a GROUP BY asn)
           SELECT m.campaign_id, a.asn, count(*) AS campaign_accounts, any_value(tot.accounts) AS all_accounts,
                  sum(a.n) AS exchanges
           FROM a JOIN report_members m USING (account_id) JOIN tot USING (asn)
           GROUP BY ALL ORDER BY exchanges DESC""",
    ).to_pylist()
    for r in rows:
        lst = extra[r["campaign_id"]].setdefault("asn_classes", [])
        if len(lst) >= 10:
            continue
        share = r["campaign_accounts"] / max(r["all_accounts"], 1)
        kind = "dedicated" if share >= 0.8 else "mostly campaign" if share >= 0.5 else "shared with other customers"
        lst.append(
            {
                "asn": str(r["asn"]),
                "campaign_accounts": int(r["campaign_accounts"]),
                "all_accounts": int(r["all_accounts"]),
                "exchanges": int(r["exchanges"]),
                "class": kind,
            }
        )


def _account_details(accounts: pa.Table, campaigns: list[dict[str, Any]]) -> None:
    by_id = {c["campaign_id"]: c for c in campaigns}
    cols = [c for c in ("account_id", "campaign_id", "risk", "n_exchanges", "pathway", "country",
                        "first_flagged_at", "evidence", "top_capability") if c in accounts.column_names]  # fmt: skip
    rows = accounts.filter(accounts["flagged"]).select(cols).to_pylist()
    rules: dict[str, Counter[str]] = {cid: Counter() for cid in by_id}
    example: dict[tuple[str, str], str] = {}
    for r in sorted(rows, key=lambda r: (-(r.get("risk") or 0.0), r["account_id"])):
        c = by_id.get(r.get("campaign_id") or "")
        if c is None:
            continue
        first = r.get("first_flagged_at")
        if first is not None and (c["first_flagged_at"] is None or first < c["first_flagged_at"]):
            c["first_flagged_at"] = first
        if len(c["top_accounts"]) < ACCOUNTS_SHOWN:
            c["top_accounts"].append({k: v for k, v in r.items() if k not in ("evidence", "campaign_id")})
        for sentence in r.get("evidence") or []:
            m = _RULE.match(sentence)
            if m and not sentence.startswith("cluster: "):
                rules[c["campaign_id"]][m.group(1)] += 1
                example.setdefault((c["campaign_id"], m.group(1)), sentence)
    for cid, counter in rules.items():
        by_id[cid]["account_evidence"] = [
            {"rule": rule, "accounts": n, "example": example[(cid, rule)]} for rule, n in counter.most_common(8)
        ]
