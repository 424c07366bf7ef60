"""STIX 2.1 import: which of my accounts share indicators with a partner's campaigns.

A partner's bundle is parsed (and validated) with ``stix2``; each Indicator pattern is read with the STIX
pattern grammar, and the kinds distillguard exports are matched against the store: address ranges
(CIDR or single address), user agents, keyed hashes of payment fingerprints and account ids (hashed here
under the same group salt), and template-family MinHash signatures (estimated Jaccard similarity with my
families). Each (account, indicator) match becomes a row of evidence; an indicator that matches a crowd
(more than ``max_accounts`` of my accounts, or ``max_share`` of them) is recorded as too broad and not
applied, because a partner's NAT or reseller range would otherwise condemn ordinary customers.

Results go to the store (``intel_matches``: one row per account and indicator, replaced per bundle;
``intel_accounts``: one row per matched account with readable evidence, rebuilt from all bundles) and,
with ``out_dir``, to ``intel_matches.parquet`` and ``intel_accounts.parquet``.
"""

from __future__ import annotations

import ipaddress
import json
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import stix2
from stix2.exceptions import STIXError
from stix2patterns.v21.pattern import Pattern

from distillguard.errors import InputError
from distillguard.fingerprint import FingerprintConfig
from distillguard.fingerprint.sketch import MINHASH
from distillguard.intel.keys import ACCOUNT_TYPE, FAMILY_TYPE, PAYMENT_TYPE, keyed_hash, unquote
from distillguard.report.results import arrow, has_table
from distillguard.sqlconn import registered
from distillguard.store import Store

log = logging.getLogger(__name__)

TS = pa.timestamp("us", tz="UTC")
MATCHES = pa.schema(
    [
        ("bundle_id", pa.string()),
        ("partner", pa.string()),
        ("partner_campaign", pa.string()),
        ("campaign_name", pa.string()),
        ("indicator_id", pa.string()),
        ("kind", pa.string()),
        ("value", pa.string()),
        ("account_id", pa.string()),
        ("exchanges", pa.int64()),
        ("first_seen", TS),
        ("last_seen", TS),
        ("confidence", pa.int64()),
        ("evidence", pa.string()),
        ("imported_at", TS),
    ]
)
ACCOUNTS = pa.schema(
    [
        ("account_id", pa.string()),
        ("partner_campaigns", pa.list_(pa.string())),
        ("kinds", pa.list_(pa.string())),
        ("n_indicators", pa.int64()),
        ("strength", pa.string()),
        ("confidence", pa.int64()),
        ("evidence", pa.list_(pa.string())),
    ]
)
_IDENTITY_KINDS = {"payment", "account"}


@dataclass(frozen=True)
class ImportOptions:
    family_similarity: float = 0.6
    max_accounts: int = 50
    max_share: float = 0.05


@dataclass(frozen=True)
class ImportSummary:
    bundle_id: str
    partner: str
    campaigns: int
    indicators: int
    unsupported: int
    too_broad: tuple[str, ...]
    matches: int
    accounts: int
    by_kind: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class _Indicator:
    id: str
    kind: str
    value: str
    campaign: str
    confidence: int


def import_bundle(
    bundle: str | Path,
    store: str | Path,
    salt: bytes,
    *,
    out_dir: str | Path | None = None,
    options: ImportOptions | None = None,
) -> ImportSummary:
    """Match the bundle at ``bundle`` against the store at ``store``; write the evidence (see module doc)."""
    opt = options or ImportOptions()
    parsed = _parse(Path(bundle))
    objects = list(parsed.get("objects", []))
    partner, campaigns, indicators, families, unsupported = _read_objects(objects)
    now = datetime.now(UTC)
    with Store.open(store) as st:
        con = st.connection
        n_accounts = int(con.execute("SELECT count(DISTINCT account_id) FROM exchanges").fetchall()[0][0])
        limit = max(opt.max_accounts, int(opt.max_share * n_accounts))
        rows, too_broad = [], []
        for ind, hits in _match(con, salt, indicators, families, opt):
            if len(hits) > limit:
                too_broad.append(ind.id)
                log.warning("%s matches %d of my accounts: too broad, not applied", ind.id, len(hits))
                continue
            camp = campaigns.get(ind.campaign, {})
            for h in hits:
                rows.append(_row(parsed["id"], partner, camp, ind, h, now))
        matches = pa.Table.from_pylist(rows, schema=MATCHES)
        if has_table(con, "intel_matches"):
            con.execute("DELETE FROM intel_matches WHERE bundle_id = ?", [parsed["id"]])
        st.write_table("intel_matches", matches, replace=not has_table(con, "intel_matches"))
        accounts = _per_account(st.read_table("intel_matches"))
        st.write_table("intel_accounts", accounts)
    if out_dir is not None:
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        pq.write_table(matches, out / "intel_matches.parquet")
        pq.write_table(_per_account(matches), out / "intel_accounts.parquet")
    by_kind: dict[str, int] = defaultdict(int)
    for r in rows:
        by_kind[r["kind"]] += 1
    return ImportSummary(
        bundle_id=parsed["id"], partner=partner, campaigns=len(campaigns), indicators=len(indicators) + len(families),
        unsupported=unsupported, too_broad=tuple(too_broad), matches=len(rows),
        accounts=len({r["account_id"] for r in rows}), by_kind=dict(by_kind),
    )  # fmt: skip


def _parse(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read the bundle ({exc})") from None
    try:
        bundle = stix2.parse(text, allow_custom=True)
    except (STIXError, ValueError) as exc:
        raise InputError(f"{path}: not a valid STIX 2.1 bundle ({str(exc).splitlines()[0]})") from None
    if bundle.get("type") != "bundle":
        raise InputError(f"{path}: expected a STIX bundle, found a {bundle.get('type')!r} object")
    # Plain dicts from here: custom objects come back as dicts or as classes depending on registration.
    data: dict[str, Any] = json.loads(text)
    return data


def _read_objects(
    objects: list[dict[str, Any]],
) -> tuple[str, dict[str, dict[str, Any]], list[_Indicator], list[tuple[_Indicator, np.ndarray]], int]:
    identities = {o["id"]: o.get("name", o["id"]) for o in objects if o.get("type") == "identity"}
    campaigns = {o["id"]: o for o in objects if o.get("type") == "campaign"}
    partner = next(iter(identities.values()), "unknown partner")
    target: dict[str, str] = {}
    for o in objects:
        if o.get("type") != "relationship":
            continue
        src, dst = o.get("source_ref", ""), o.get("target_ref", "")
        if src in campaigns:
            target.setdefault(dst, src)
        elif dst in campaigns:
            target.setdefault(src, dst)
    indicators: list[_Indicator] = []
    families: list[tuple[_Indicator, np.ndarray]] = []
    unsupported = 0
    for o in objects:
        camp = target.get(o.get("id", ""), "")
        conf = int(o.get("confidence", campaigns.get(camp, {}).get("confidence", 50)))
        if o.get("type") == "indicator" and o.get("pattern_type") == "stix":
            found = _pattern_keys(o["pattern"])
            unsupported += not found
            indicators += [_Indicator(o["id"], kind, value, camp, conf) for kind, value in found]
        elif o.get("type") == FAMILY_TYPE and o.get("signature"):
            if not comparable_signature(o):
                log.warning(
                    "%s: template family signed with MinHash %s, seed %s; mine are %s, seed %s: not comparable",
                    o.get("id"), o.get("minhash", "rensa R-MinHash (unnamed)"), o.get("seed"), MINHASH,
                    FingerprintConfig().seed,
                )  # fmt: skip
                unsupported += 1
                continue
            sig = np.asarray(o["signature"], dtype=np.uint64)
            families.append((_Indicator(o["id"], "family", f"{o.get('capability', '')} family", camp, conf), sig))
    return partner, campaigns, indicators, families, unsupported


def comparable_signature(family: dict[str, Any]) -> bool:
    """Whether a shared family's signature was made by this MinHash function with this seed (a signature
    of another function or seed agrees with mine only by chance)."""
    seed = family.get("seed")
    return family.get("minhash") == MINHASH and (seed is None or int(seed) == FingerprintConfig().seed)


def _pattern_keys(pattern: str) -> list[tuple[str, str]]:
    """(kind, value) of each equality comparison distillguard can match; others are ignored."""
    try:
        comparisons = Pattern(pattern).inspect().comparisons
    except Exception:  # the pattern library raises its own parse errors; an unreadable pattern is skipped
        log.warning("unreadable STIX pattern skipped: %.120s", pattern)
        return []
    out = []
    for obj_type, items in comparisons.items():
        for path, op, literal in items:
            if op not in ("=", "ISSUBSET"):
                continue
            value = unquote(literal)
            if obj_type in ("ipv4-addr", "ipv6-addr") and path == ["value"]:
                out.append(("net", value))
            elif obj_type == "network-traffic" and [x.strip("'").lower() for x in path][-1:] == ["user-agent"]:
                out.append(("user_agent", value))
            elif obj_type == PAYMENT_TYPE and path == ["keyed_hash"]:
                out.append(("payment", value))
            elif obj_type == ACCOUNT_TYPE and path == ["keyed_hash"]:
                out.append(("account", value))
    return out


_HITS = """SELECT k.indicator_id, e.account_id, count(*) AS exchanges, min(e.ts) AS first_seen, max(e.ts) AS last_seen
           FROM exchanges e JOIN intel_keys k ON e.{col} = k.key GROUP BY ALL"""


def _match(
    con: duckdb.DuckDBPyConnection,
    salt: bytes,
    indicators: list[_Indicator],
    families: list[tuple[_Indicator, np.ndarray]],
    opt: ImportOptions,
) -> list[tuple[_Indicator, list[dict[str, Any]]]]:
    keys: dict[str, list[tuple[str, str]]] = defaultdict(list)  # column -> (indicator id, key)
    for ind in indicators:
        if ind.kind == "net":
            keys["client_ip"] += [(ind.id, ip) for ip in _addresses_in(con, ind.value)]
        elif ind.kind == "user_agent":
            keys["user_agent"].append((ind.id, ind.value))
    for kind, col in (("payment", "payment_fingerprint"), ("account", "account_id")):
        wanted = {ind.value: ind.id for ind in indicators if ind.kind == kind}
        if wanted:
            values = [
                r[0] for r in con.execute(f"SELECT DISTINCT {col} FROM exchanges WHERE {col} IS NOT NULL").fetchall()
            ]
            keys[col] += [(wanted[h], v) for v in values if (h := keyed_hash(salt, kind, v)) in wanted]
    hits: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for col, pairs in keys.items():
        if not pairs:
            continue
        table = pa.table({"indicator_id": [p[0] for p in pairs], "key": [p[1] for p in pairs]})
        with registered(con, {"intel_keys": table}):
            for r in arrow(con, _HITS.format(col=col)).to_pylist():
                hits[r["indicator_id"]].append(r)
    for ind, matched in _family_hits(con, families, opt.family_similarity):
        hits[ind.id] += matched
    by_id = {ind.id: ind for ind in indicators} | {ind.id: ind for ind, _ in families}
    return [(by_id[i], h) for i, h in hits.items()]


def _addresses_in(con: duckdb.DuckDBPyConnection, value: str) -> list[str]:
    try:
        net = ipaddress.ip_network(value, strict=False)
    except ValueError:
        log.warning("not an address or range: %.80s", value)
        return []
    if net.num_addresses == 1:
        return [str(net.network_address)]
    # Ranges the size of the store's own networks are found by key; others by testing each address.
    if net.prefixlen == (24 if net.version == 4 else 48):
        sql, params = "SELECT DISTINCT client_ip FROM exchanges WHERE client_net = ?", [str(net)]
    else:
        sql, params = "SELECT DISTINCT client_ip FROM exchanges WHERE client_ip IS NOT NULL", []
    out = []
    for (ip,) in con.execute(sql, params).fetchall():
        try:
            if ipaddress.ip_address(ip) in net:
                out.append(ip)
        except ValueError:
            continue
    return out


def _family_hits(
    con: duckdb.DuckDBPyConnection, families: list[tuple[_Indicator, np.ndarray]], threshold: float
) -> list[tuple[_Indicator, list[dict[str, Any]]]]:
    if not families or not (has_table(con, "fp_families") and has_table(con, "fp_exchanges")):
        return []
    mine = arrow(con, "SELECT family_id, signature FROM fp_families WHERE signature IS NOT NULL")
    if mine.num_rows == 0:
        return []
    ids = mine["family_id"].to_numpy()
    sigs = np.asarray(mine["signature"].to_pylist(), dtype=np.uint64)
    out = []
    for ind, sig in families:
        if sig.shape[0] != sigs.shape[1]:
            log.warning("%s: signature of %d values, mine have %d: not comparable", ind.id, sig.shape[0], sigs.shape[1])
            continue
        similarity = (sigs == sig[None, :]).mean(axis=1)
        close = ids[similarity >= threshold]
        if close.size == 0:
            continue
        with registered(con, {"intel_fams": pa.table({"family_id": close})}):
            rows = arrow(
                con,
                """SELECT e.account_id, count(*) AS exchanges, min(e.ts) AS first_seen, max(e.ts) AS last_seen
                   FROM exchanges e JOIN fp_exchanges f USING (request_id) JOIN intel_fams USING (family_id)
                   GROUP BY ALL""",
            ).to_pylist()
        best = float(similarity.max())
        out.append((ind, [r | {"similarity": best} for r in rows]))
    return out


def _row(
    bundle_id: str, partner: str, camp: dict[str, Any], ind: _Indicator, hit: dict[str, Any], now: datetime
) -> dict[str, Any]:
    name = camp.get("name", ind.campaign or "an unnamed campaign")
    what = {
        "net": f"uses address range {ind.value}",
        "user_agent": f"uses user agent {ind.value!r}",
        "payment": "pays with one of its payment methods (keyed hash)",
        "account": "is one of its accounts (keyed hash)",
        "family": f"sends its prompt template (signature similarity {hit.get('similarity', 0):.2f})",
    }[ind.kind]
    return {
        "bundle_id": bundle_id, "partner": partner, "partner_campaign": ind.campaign, "campaign_name": name,
        "indicator_id": ind.id, "kind": ind.kind,
        "value": ind.value if ind.kind in ("net", "user_agent", "family") else ind.value[:16],
        "account_id": hit["account_id"], "exchanges": int(hit["exchanges"]), "first_seen": hit["first_seen"],
        "last_seen": hit["last_seen"], "confidence": ind.confidence,
        "evidence": f"partner intel from {partner} on {name!r}: {what} ({hit['exchanges']} exchanges here)",
        "imported_at": now,
    }  # fmt: skip


def _per_account(matches: pa.Table) -> pa.Table:
    groups: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in matches.select(
        ["account_id", "partner_campaign", "kind", "indicator_id", "confidence", "evidence"]
    ).to_pylist():
        groups[r["account_id"]].append(r)
    rows = []
    for account, items in sorted(groups.items()):
        kinds = sorted({i["kind"] for i in items})
        rows.append(
            {
                "account_id": account,
                "partner_campaigns": sorted({i["partner_campaign"] for i in items}),
                "kinds": kinds,
                "n_indicators": len({i["indicator_id"] for i in items}),
                # A shared payment method or account is the partner's identity evidence; a shared range or
                # template alone can be a coincidence of infrastructure and needs corroboration.
                "strength": "identity" if _IDENTITY_KINDS & set(kinds) else "infrastructure",
                "confidence": max(int(i["confidence"]) for i in items),
                "evidence": sorted({i["evidence"] for i in items}),
            }
        )
    return pa.Table.from_pylist(rows, schema=ACCOUNTS)
