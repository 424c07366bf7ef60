"""A small results folder and store for the report, intel and alerts tests, built without the detector.

A real exchange log (JSON Lines) is ingested into a real store and fingerprinted by the real fingerprint
stage; the detector's verdicts (accounts.parquet, campaigns.parquet) are written by hand, so the tests pin
what the analyst outputs do with a given verdict, whatever the detector's quality at the time.

The world: campaign C001 is a hydra of 10 accounts harvesting reasoning through one payment method and
one user agent, 6 of them on 203.0.113.0/24 (which a legitimate customer also uses) and 4 on the
exclusive 100.64.7.0/24; it pivots to ``frontier-3`` the day it is released. Eight legitimate accounts
each have their own address, payment method and prompts. Some hydra prompts carry script-injection
payloads, an e-mail address and a card number; one hydra request names a hostile model.
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from distillguard.features import model_releases
from distillguard.fingerprint import COLUMNS as FP_COLUMNS
from distillguard.fingerprint import FingerprintConfig, fingerprint
from distillguard.pipeline import ingest_paths
from distillguard.store import Store

T0 = datetime(2026, 2, 1, tzinfo=UTC)
RELEASE = T0 + timedelta(days=6, hours=12)
HYDRA = [f"acct_hydra_{i:02d}" for i in range(10)]
LEGIT = [f"acct_legit_{i:02d}" for i in range(8)]
HYDRA_UA = "hydra-harvester/2.0"
HYDRA_PAYMENT = "pf_hydra_RAWVALUE_77"
SHARED_NET_LEGIT_IP = "203.0.113.200"
XSS = "<script>alert('pwned')</script>"
XSS_MODEL = '</script><script>alert("model")</script>'
SECRET_EMAIL = "victim.person@example.org"
SECRET_CARD = "4111 1111 1111 1111"
PROMPT_WORD = "zanzibarquux"
"""A word that occurs in hydra prompts and must never reach a bundle or an alert."""

_PUZZLES = [
    "a train leaves at {a} km/h and another at {b} km/h",
    "a tank fills at {a} litres per minute and drains at {b}",
    "{a} workers build a wall in {b} days",
    "a price rises by {a}% then falls by {b}%",
]
_LEGIT_TEXTS = [
    "Draft a friendly reply to a customer asking about invoice {a}.",
    "Summarise the meeting notes about the Q{a} roadmap in three bullets.",
    "What is a good name for a bakery that sells {a} kinds of bread?",
    "Translate 'good morning, the shipment {a} is late' into German.",
    "Write a haiku about autumn leaf number {a}.",
    "Explain how HTTP caching works for a junior developer, example {a}.",
    "Suggest {a} weekend activities for a family with two kids.",
    "Fix the grammar: 'they was going to the store {a} times'.",
]


def _exchange(rid: int, account: str, ts: datetime, *, ip: str, ua: str, payment: str, model: str, text: str,
              pathway: str = "standard") -> dict[str, Any]:  # fmt: skip
    return {
        "request_id": f"req_{rid:06d}",
        "ts": ts.isoformat().replace("+00:00", "Z"),
        "account": {"id": account, "org_id": f"org_{account}", "pathway": pathway, "created": "2026-01-20T00:00:00Z",
                    "payment_fingerprint": payment, "verified": False, "country": "US"},
        "client": {"ip": ip, "asn": 64500 if ip.startswith("203.") else 64511 if ip.startswith("100.") else 64496,
                   "user_agent": ua},
        "api": "anthropic.messages",
        "request": {"model": model, "max_tokens": 2048, "messages": [{"role": "user", "content": text}]},
        "response": {"id": f"msg_{rid}", "model": model, "stop_reason": "end_turn",
                     "content": [{"type": "text", "text": "Step 1: ..."}],
                     "usage": {"input_tokens": 300, "output_tokens": 900}},
        "status": 200,
        "latency_ms": 4000,
    }  # fmt: skip


def write_log(path: Path, seed: int = 5) -> None:
    rng = random.Random(seed)
    rows = []
    rid = 0
    for i, account in enumerate(HYDRA):
        ip = f"203.0.113.{10 + i}" if i < 6 else f"100.64.7.{10 + i}"
        for k in range(40):
            ts = T0 + timedelta(days=rng.uniform(0.2, 10))
            model = "frontier-3" if ts >= RELEASE and rng.random() < 0.8 else "frontier-2"
            puzzle = _PUZZLES[k % 4].format(a=rng.randint(2, 99), b=rng.randint(2, 99))
            text = f"Here is a {PROMPT_WORD} puzzle: {puzzle}. Show your reasoning step by step, then the final answer."
            if k == 0:
                text = f"{XSS} {text}"
            elif k == 1:
                text = f"{text} Contact {SECRET_EMAIL}, card {SECRET_CARD}. " + "padding " * 800
            rid += 1
            rows.append(_exchange(rid, account, ts, ip=ip, ua=HYDRA_UA, payment=HYDRA_PAYMENT, model=model, text=text))
    rid += 1
    rows.append(_exchange(rid, HYDRA[0], RELEASE + timedelta(hours=30), ip="203.0.113.10", ua=HYDRA_UA,
                          payment=HYDRA_PAYMENT, model=XSS_MODEL, text=f"Here is a {PROMPT_WORD} puzzle."))  # fmt: skip
    for i, account in enumerate(LEGIT):
        ip = SHARED_NET_LEGIT_IP if i == 7 else f"198.51.{100 + i}.{20 + i}"
        for k in range(15):
            ts = T0 + timedelta(days=rng.uniform(0.1, 10))
            model = "frontier-3" if ts >= RELEASE + timedelta(days=2) and rng.random() < 0.2 else "frontier-2"
            text = _LEGIT_TEXTS[i].format(a=rng.randint(1, 999)) + f" (v{k})"
            rid += 1
            rows.append(_exchange(rid, account, ts, ip=ip, ua="anthropic-python/0.49.0",
                                  payment=f"pf_legit_RAW_{i}", model=model, text=text))  # fmt: skip
    rows.sort(key=lambda r: r["ts"])
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def build_results(root: Path) -> tuple[Path, Path]:
    """Write log, store and results folder under ``root``; return (results folder, store)."""
    log = root / "log.jsonl"
    write_log(log)
    store_path = root / "store.duckdb"
    ingest_paths([log], store_path)
    out = root / "results"
    out.mkdir()
    with Store.open(store_path) as store:
        fps = fingerprint(store.iter_exchange_batches(list(FP_COLUMNS)), FingerprintConfig())
        store.write_table("fp_exchanges", fps.exchanges)
        store.write_table("fp_families", fps.families)
        store.write_table("model_releases", model_releases(store.connection))
        accounts = _accounts(store)
        campaigns = _campaigns(store)
        store.write_table("accounts", accounts)
        store.write_table("campaigns", campaigns)
    pq.write_table(accounts, out / "accounts.parquet")
    pq.write_table(campaigns, out / "campaigns.parquet")
    pq.write_table(fps.families, out / "families.parquet")
    summary = {"store": str(store_path), "exchanges": 10 * 40 + 1 + 8 * 15, "campaigns": 1}
    (out / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    return out, store_path


def _accounts(store: Store) -> pa.Table:
    n = dict(store.connection.execute("SELECT account_id, count(*) FROM exchanges GROUP BY ALL").fetchall())
    rows = []
    for a in HYDRA + LEGIT:
        hydra = a in HYDRA
        rows.append(
            {
                "account_id": a, "risk": 0.9 if hydra else 0.05, "flagged": hydra,
                "campaign_id": "C001" if hydra else None,
                "first_flagged_at": T0 + timedelta(days=3, hours=HYDRA.index(a)) if hydra else None,
                "first_flag_rules": ["cluster: hydra-templates (+1)", "cluster: template-flood (+1.5)",
                                     "carried 100% of its cluster's risk"] if hydra else None,
                "evidence": [f"cot-elicitation (+1.5): 95% ask for step-by-step reasoning; agent {XSS}",
                             "member of linked cluster 1 (10 accounts)"] if hydra else [],
                "cluster_id": 1 if hydra else 2 + LEGIT.index(a), "account_risk": 0.9 if hydra else 0.05,
                "campaign_risk": 0.9 if hydra else 0.0, "affinity": 1.0 if hydra else 0.0, "n_exchanges": n[a],
                "top_capability": "reasoning" if hydra else "chat", "pathway": "standard", "country": "US",
            }
        )  # fmt: skip
    schema = pa.schema([("account_id", pa.string()), ("risk", pa.float64()), ("flagged", pa.bool_()),
                        ("campaign_id", pa.string()), ("first_flagged_at", pa.timestamp("us", tz="UTC")),
                        ("first_flag_rules", pa.list_(pa.string())),
                        ("evidence", pa.list_(pa.string())), ("cluster_id", pa.int64()),
                        ("account_risk", pa.float64()), ("campaign_risk", pa.float64()), ("affinity", pa.float64()),
                        ("n_exchanges", pa.int64()), ("top_capability", pa.string()), ("pathway", pa.string()),
                        ("country", pa.string())])  # fmt: skip
    return pa.Table.from_pylist(rows, schema=schema)


def _top(con: Any, col: str) -> list[dict[str, Any]]:
    sql = f"""SELECT CAST({col} AS VARCHAR) AS name, count(DISTINCT account_id) AS accounts, count(*) AS exchanges
              FROM exchanges WHERE account_id LIKE 'acct_hydra_%' GROUP BY ALL ORDER BY exchanges DESC, name"""
    return [dict(zip(("name", "accounts", "exchanges"), r, strict=True)) for r in con.execute(sql).fetchall()]


def _campaigns(store: Store) -> pa.Table:
    con = store.connection
    first, last, n = con.execute(
        "SELECT min(ts), max(ts), count(*) FROM exchanges WHERE account_id LIKE 'acct_hydra_%'"
    ).fetchall()[0]
    models = [{"name": m, "share": c / n} for m, c in con.execute(
        "SELECT model, count(*) AS c FROM exchanges WHERE account_id LIKE 'acct_hydra_%' GROUP BY ALL ORDER BY c DESC"
    ).fetchall()]  # fmt: skip
    row = {
        "campaign_id": "C001", "accounts": len(HYDRA), "exchanges": n, "first_seen": first, "last_seen": last,
        "capabilities": [{"name": "reasoning", "share": 0.9}, {"name": "chat", "share": 0.1}], "models": models,
        "infrastructure": {k: _top(con, c) for k, c in (("nets", "client_net"), ("asns", "client_asn"),
                           ("pathways", "pathway"), ("user_agents", "user_agent"), ("countries", "country"))},
        "n_nets": 2, "n_payment_fingerprints": 1, "account_ids": HYDRA, "risk": 0.9,
        "evidence": ["shared-payment (+1): 100% of 10 accounts share one payment method", f"agent {XSS}"],
        "cluster_id": 1,
    }  # fmt: skip
    named = pa.list_(pa.struct([("name", pa.string()), ("share", pa.float64())]))
    counted = pa.list_(pa.struct([("name", pa.string()), ("accounts", pa.int64()), ("exchanges", pa.int64())]))
    schema = pa.schema([("campaign_id", pa.string()), ("accounts", pa.int64()), ("exchanges", pa.int64()),
                        ("first_seen", pa.timestamp("us", tz="UTC")), ("last_seen", pa.timestamp("us", tz="UTC")),
                        ("capabilities", named), ("models", named),
                        ("infrastructure", pa.struct([(k, counted) for k in
                                                      ("nets", "asns", "pathways", "user_agents", "countries")])),
                        ("n_nets", pa.int64()), ("n_payment_fingerprints", pa.int64()),
                        ("account_ids", pa.list_(pa.string())), ("risk", pa.float64()),
                        ("evidence", pa.list_(pa.string())), ("cluster_id", pa.int64())])  # fmt: skip
    return pa.Table.from_pylist([row], schema=schema)
