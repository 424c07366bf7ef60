"""STIX 2.1 export: a provider's campaigns as indicators other providers can match, without raw data.

What goes out, per campaign: a Campaign; Indicators for address ranges (CIDR) and user agents used
*only* by flagged accounts (share of flagged accounts on the key >= ``min_share``, by default all of
them, so no range or agent of a legitimate customer is shared); keyed hashes (HMAC-SHA256 under the
group's salt) of the payment fingerprints used only by flagged accounts and of the campaign's account
ids; template-family signatures (MinHash, a custom object, never prompt text) for families mostly used by
flagged accounts; Relationships tying them to the campaign. Everything is marked TLP:AMBER, created by
the provider's Identity, and has a deterministic id so a re-export updates the same objects.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import stix2
from stix2 import properties as p

from distillguard.errors import InputError
from distillguard.fingerprint import FingerprintConfig
from distillguard.fingerprint.sketch import MINHASH
from distillguard.intel.keys import ACCOUNT_TYPE, FAMILY_TYPE, PAYMENT_TYPE, UA_PATH, keyed_hash, quote, stix_id
from distillguard.report.results import Results, arrow, has_table, load_results, read_store
from distillguard.sqlconn import registered

log = logging.getLogger(__name__)


class _TemplateFamily:
    """MinHash signature of a template family's skeleton (distillguard's fingerprint settings)."""


TemplateFamily: Any = stix2.CustomObject(
    FAMILY_TYPE,
    [
        ("name", p.StringProperty()),
        ("signature", p.ListProperty(p.IntegerProperty(min=0, max=2**64 - 1), required=True)),
        ("num_perm", p.IntegerProperty(min=1, required=True)),
        ("seed", p.IntegerProperty()),
        ("minhash", p.StringProperty()),  # the MinHash function's name (fingerprint.sketch.MINHASH)
        ("capability", p.StringProperty()),
        ("n_exchanges", p.IntegerProperty(min=0)),
        ("n_accounts", p.IntegerProperty(min=0)),
        ("flagged_share", p.FloatProperty(min=0, max=1)),
    ],
)(_TemplateFamily)


@dataclass(frozen=True)
class ExportOptions:
    """``min_share``: least share of flagged accounts among all accounts on an address range, user agent
    or payment fingerprint for it to be shared. ``family_share``: the same for template families.
    ``valid_days``: indicators stay valid this long after the campaign was last seen."""

    provider: str = "distillguard user"
    min_share: float = 1.0
    family_share: float = 0.5
    families_per_campaign: int = 10
    valid_days: int = 90
    tlp: str = "amber"


_TLP = {"clear": stix2.TLP_WHITE, "white": stix2.TLP_WHITE, "green": stix2.TLP_GREEN,
        "amber": stix2.TLP_AMBER, "red": stix2.TLP_RED}  # fmt: skip


def export_objects(
    results_dir: str | Path,
    salt: bytes,
    options: ExportOptions | None = None,
    *,
    store: str | Path | None = None,
    now: datetime | None = None,
) -> list[Any]:
    """The STIX objects of one export (Identity, marking, Campaigns, Indicators, families, Relationships).

    This is also what a TAXII collection serves (``collection_objects``)."""
    opt = options or ExportOptions()
    if opt.tlp not in _TLP:
        raise InputError(f"unknown TLP level {opt.tlp!r}; use one of {', '.join(sorted(_TLP))}")
    results = load_results(results_dir, store)
    if results.store is None:
        raise InputError(
            f"{results.folder}: intel export needs the store the results came from (to check that no indicator "
            "is shared with legitimate accounts); pass --store"
        )
    now = now or datetime.now(UTC)
    marking = _TLP[opt.tlp]
    identity = stix2.Identity(
        id=stix_id("identity", opt.provider), name=opt.provider, identity_class="organization",
        created=now, modified=now, object_marking_refs=[marking],
    )  # fmt: skip
    common = {"created_by_ref": identity.id, "created": now, "modified": now, "object_marking_refs": [marking]}
    objects: list[Any] = [marking, identity]
    campaigns = {c["campaign_id"]: c for c in results.campaign_rows()}
    with read_store(results.store) as con, registered(con, {"intel_flagged": _flagged(results)}):
        keys = _exclusive_keys(con, opt.min_share)
        families = _families(con, results, opt)
    for cid, c in campaigns.items():
        camp = _campaign(c, opt, common)
        objects.append(camp)
        valid = {"valid_from": c["first_seen"], "valid_until": c["last_seen"] + timedelta(days=opt.valid_days)}
        for row in keys.get(cid, []):
            ind = _indicator(row, c, salt, camp, valid, common)
            objects += [ind, _rel(ind.id, "indicates", camp.id, common)]
        for acct in c.get("account_ids") or []:
            ind = stix2.Indicator(
                id=stix_id("indicator", opt.provider, "account", acct),
                name=f"account of campaign {cid} (keyed hash)",
                pattern=f"[{ACCOUNT_TYPE}:keyed_hash = {quote(keyed_hash(salt, 'account', acct))}]",
                pattern_type="stix", indicator_types=["malicious-activity"], confidence=camp.confidence,
                allow_custom=True, x_distillguard_kind="account", **valid, **common,
            )  # fmt: skip
            objects += [ind, _rel(ind.id, "indicates", camp.id, common)]
        for fam in families.get(cid, []):
            obj = TemplateFamily(id=stix_id(FAMILY_TYPE, opt.provider, fam["family_id"]), **fam["props"], **common)
            objects += [obj, _rel(camp.id, "uses", obj.id, common)]
    return objects


def collection_objects(
    results_dir: str | Path, salt: bytes, options: ExportOptions | None = None, *, store: str | Path | None = None
) -> list[dict[str, Any]]:
    """The export as plain JSON objects, the form a read-only TAXII 2.1 collection serves."""
    return [json.loads(o.serialize()) for o in export_objects(results_dir, salt, options, store=store)]


def export_bundle(
    results_dir: str | Path,
    out: str | Path,
    salt: bytes,
    options: ExportOptions | None = None,
    *,
    store: str | Path | None = None,
    now: datetime | None = None,
) -> stix2.Bundle:
    """Write the export as a STIX 2.1 bundle to ``out`` and return it."""
    bundle = stix2.Bundle(objects=export_objects(results_dir, salt, options, store=store, now=now), allow_custom=True)
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(bundle.serialize(pretty=True) + "\n", encoding="utf-8")
    return bundle


def _flagged(results: Results) -> pa.Table:
    acc = results.accounts
    return acc.select(["account_id", "flagged", "campaign_id"])


def _rel(source: str, kind: str, target: str, common: dict[str, Any]) -> stix2.Relationship:
    return stix2.Relationship(
        id=stix_id("relationship", source, kind, target), source_ref=source, relationship_type=kind,
        target_ref=target, allow_custom=True, **common,
    )  # fmt: skip


def _campaign(c: dict[str, Any], opt: ExportOptions, common: dict[str, Any]) -> stix2.Campaign:
    caps = ", ".join(f"{x['name']} {x['share']:.0%}" for x in (c.get("capabilities") or [])[:5])
    return stix2.Campaign(
        id=stix_id("campaign", opt.provider, c["campaign_id"]),
        name=f"{opt.provider} distillation campaign {c['campaign_id']}",
        description=(
            f"Distillation campaign seen by {opt.provider}: {c['accounts']} accounts, {c['exchanges']} exchanges, "
            f"{c.get('n_nets')} networks, {c.get('n_payment_fingerprints')} payment methods."
        ),
        objective=f"harvest model capabilities: {caps}",
        first_seen=c["first_seen"], last_seen=c["last_seen"],
        confidence=max(0, min(100, round(100 * float(c.get("risk") or 0.0)))),
        labels=["distillation"], allow_custom=True,
        x_distillguard_accounts=int(c["accounts"]), x_distillguard_exchanges=int(c["exchanges"]), **common,
    )  # fmt: skip


_KEY_SQL = """
WITH use AS (SELECT account_id, {col} AS key, count(*) AS n FROM exchanges WHERE {col} IS NOT NULL GROUP BY ALL),
per_key AS (
  SELECT key, count(*) AS all_accounts, count(*) FILTER (WHERE coalesce(f.flagged, false)) AS flagged_accounts
  FROM use LEFT JOIN intel_flagged f USING (account_id) GROUP BY key)
SELECT f.campaign_id, use.key, count(*) AS accounts, sum(use.n) AS exchanges,
       any_value(k.all_accounts) AS all_accounts, any_value(k.flagged_accounts) AS flagged_accounts
FROM use JOIN intel_flagged f USING (account_id) JOIN per_key k USING (key)
WHERE f.flagged AND f.campaign_id IS NOT NULL
GROUP BY ALL
HAVING any_value(k.flagged_accounts) >= ? * any_value(k.all_accounts)
ORDER BY f.campaign_id, exchanges DESC, use.key
"""


def _exclusive_keys(con: duckdb.DuckDBPyConnection, min_share: float) -> dict[str, list[dict[str, Any]]]:
    """Per campaign, the address ranges, user agents and payment fingerprints only flagged accounts use."""
    out: dict[str, list[dict[str, Any]]] = {}
    for kind, col in (("net", "client_net"), ("user_agent", "user_agent"), ("payment", "payment_fingerprint")):
        for row in arrow(con, _KEY_SQL.format(col=col), [min_share]).to_pylist():
            out.setdefault(row["campaign_id"], []).append(row | {"kind": kind})
    return out


def _indicator(
    row: dict[str, Any], c: dict[str, Any], salt: bytes, camp: stix2.Campaign, valid: dict[str, Any],
    common: dict[str, Any],
) -> stix2.Indicator:  # fmt: skip
    kind, key = row["kind"], str(row["key"])
    share = row["flagged_accounts"] / max(row["all_accounts"], 1)
    used = f"used by {row['accounts']} of campaign {c['campaign_id']}'s accounts ({row['exchanges']} exchanges)"
    if kind == "net":
        version = ipaddress.ip_network(key, strict=False).version
        pattern, name = f"[ipv{version}-addr:value = {quote(key)}]", f"address range {used}"
    elif kind == "user_agent":
        pattern, name = f"[{UA_PATH} = {quote(key)}]", f"user agent {used}"
    else:
        key = keyed_hash(salt, "payment", key)
        pattern, name = f"[{PAYMENT_TYPE}:keyed_hash = {quote(key)}]", f"payment method (keyed hash) {used}"
    return stix2.Indicator(
        id=stix_id("indicator", camp.id, kind, key), name=name,
        description=f"{share:.0%} of the {row['all_accounts']} accounts seen with it were flagged.",
        pattern=pattern, pattern_type="stix", indicator_types=["malicious-activity"],
        confidence=round(camp.confidence * share), allow_custom=True, x_distillguard_kind=kind, **valid, **common,
    )  # fmt: skip


def _families(con: duckdb.DuckDBPyConnection, results: Results, opt: ExportOptions) -> dict[str, list[dict[str, Any]]]:
    if not (has_table(con, "fp_exchanges") and has_table(con, "fp_families")):
        log.warning("the store has no fingerprint tables: template families are left out of the export")
        return {}
    rows = arrow(
        con,
        """WITH x AS (SELECT e.account_id, f.family_id FROM exchanges e JOIN fp_exchanges f USING (request_id)),
             fam AS (SELECT family_id, count(DISTINCT account_id) AS all_accounts,
                            count(DISTINCT account_id) FILTER (WHERE coalesce(g.flagged, false)) AS flagged_accounts
                     FROM x LEFT JOIN intel_flagged g USING (account_id) GROUP BY family_id),
             camp AS (SELECT g.campaign_id, x.family_id, count(*) AS n_exchanges,
                             count(DISTINCT x.account_id) AS n_accounts
                      FROM x JOIN intel_flagged g USING (account_id) WHERE g.flagged AND g.campaign_id IS NOT NULL
                      GROUP BY ALL)
           SELECT camp.*, fam.flagged_accounts / fam.all_accounts AS flagged_share, ff.capability, ff.signature
           FROM camp JOIN fam USING (family_id) JOIN fp_families ff USING (family_id)
           WHERE fam.flagged_accounts >= ? * fam.all_accounts AND ff.signature IS NOT NULL
           ORDER BY camp.campaign_id, camp.n_exchanges DESC, camp.family_id""",
        [opt.family_share],
    ).to_pylist()
    cfg = FingerprintConfig()
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        lst = out.setdefault(r["campaign_id"], [])
        if len(lst) < opt.families_per_campaign:
            props = {
                "name": f"template family used by campaign {r['campaign_id']}",
                "signature": [int(v) for v in r["signature"]], "num_perm": len(r["signature"]), "seed": cfg.seed,
                "minhash": MINHASH,
                "capability": r["capability"], "n_exchanges": int(r["n_exchanges"]),
                "n_accounts": int(r["n_accounts"]), "flagged_share": round(float(r["flagged_share"]), 4),
            }  # fmt: skip
            lst.append({"family_id": str(r["family_id"]), "props": props})
    return out
