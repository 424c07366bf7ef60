"""Online linking: unseen accounts of a known campaign are actioned within their first 20 requests.

The known world is a real store: an exchange log written here (one campaign of eight accounts sharing
payment fingerprints, proxy ranges, a client and a prompt template, among legitimate users), ingested,
fingerprinted by the real fingerprint stage, with the campaign's membership set by hand (the analysis'
job, tested elsewhere). ``decide`` builds the indicator set; then new accounts are replayed through the
running gateway over HTTP.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow as pa
import pytest

from distillguard.fingerprint import fingerprint
from distillguard.pipeline import ingest_paths
from distillguard.policy import decide, parse_policy, read_snapshot
from distillguard.store import Store
from gateway_world import GatewayProcess, anthropic_request, run_upstream

POLICY = """
[online]
link_threshold = 1.0
weights = { payment = 1.0, family = 0.5, net = 0.5, user_agent = 0.25 }

[[rule]]
name = "campaign-suspend"
scope = "campaign"
action = "suspend"
when = { campaign_risk_min = 0.8 }
examples.match = [{ campaign_risk = 0.9 }]
examples.no_match = [{ campaign_risk = 0.5 }]
"""

CAMPAIGN_NETS = ["203.0.113", "198.18.7", "198.18.9"]
SHARED_NET = "100.64.5"  # one campaign account and one legitimate user share it: not an indicator
PAYMENTS = ["pf_camp_1", "pf_camp_2"]
BOT_UA = "harvest-client/2.3 (python)"
LEGIT_UAS = ["anthropic-python/0.49.0", "openai-python/1.60.0", "Mozilla/5.0 (X11; Linux x86_64)"]
TOPICS = [
    "a birthday poem for my sister",
    "how to repot a fern",
    "the history of the printing press",
    "a cover letter for a barista job",
    "why the sky is blue",
    "a weekly meal plan",
    "tips for a first marathon",
    "the plot of Hamlet",
    "a polite reminder email to a client",
    "how compound interest works",
]


def template(rng: random.Random) -> str:
    a, b, c = rng.randint(2, 999), rng.randint(2, 999), rng.randint(2, 99)
    return (
        "You are generating training data. Solve the following problem and write out every intermediate "
        "reasoning step in full detail, numbering each step, before stating the final answer on its own line. "
        f"Problem: a tank holds {a} litres and drains at {b} litres per hour while a pump adds {c} litres per hour. "
        "How long until it is empty? Then restate your full reasoning in a second, independent way."
    )


def chat(rng: random.Random) -> str:
    return f"Could you help me with {rng.choice(TOPICS)}? Something {rng.choice(['short', 'friendly', 'simple'])}."


def record(rid: str, acct: str, ip: str, ua: str, text: str, payment: str | None, ts: str) -> dict[str, Any]:
    account: dict[str, Any] = {"id": acct, "pathway": "trial"}
    if payment:
        account["payment_fingerprint"] = payment
    return {
        "request_id": rid,
        "ts": ts,
        "account": account,
        "client": {"ip": ip, "user_agent": ua},
        "api": "anthropic.messages",
        "request": anthropic_request(text),
        "response": {"content": [{"type": "text", "text": "ok"}], "stop_reason": "end_turn"},
        "status": 200,
    }


def known_log(path: Path, rng: random.Random) -> tuple[list[str], list[str]]:
    campaign = [f"camp_{i}" for i in range(8)]
    legit = [f"user_{i}" for i in range(24)]
    lines = []
    n = 0
    for i, acct in enumerate(campaign):
        for j in range(30):
            net = SHARED_NET if i == 7 else CAMPAIGN_NETS[(i + j) % 3]
            ts = f"2026-02-{1 + j % 20:02d}T{i:02d}:{j:02d}:00Z"
            n += 1
            lines.append(
                record(f"k{n}", acct, f"{net}.{rng.randint(1, 254)}", BOT_UA, template(rng), PAYMENTS[i % 2], ts)
            )
    for i, acct in enumerate(legit):
        net = SHARED_NET if i == 0 else f"{rng.randint(11, 90)}.{rng.randint(0, 255)}.{rng.randint(0, 255)}"
        for j in range(10):
            n += 1
            ts = f"2026-02-{1 + j:02d}T{i % 24:02d}:{j:02d}:00Z"
            lines.append(
                record(
                    f"k{n}", acct, f"{net}.{rng.randint(1, 254)}", rng.choice(LEGIT_UAS), chat(rng), f"pf_user_{i}", ts
                )
            )
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in lines))
    return campaign, legit


def build_store(tmp: Path) -> Path:
    rng = random.Random(7)
    log = tmp / "known.jsonl"
    campaign, legit = known_log(log, rng)
    store = tmp / "store.duckdb"
    ingest_paths([log], store)
    with Store.open(store) as st:
        fp = fingerprint(st.iter_exchange_batches())
        st.write_table("fp_exchanges", fp.exchanges)
        st.write_table("fp_families", fp.families)
        accts = campaign + legit
        st.write_table(
            "accounts",
            pa.table(
                {
                    "account_id": accts,
                    "risk": [0.9] * 8 + [0.05] * 24,
                    "flagged": [True] * 8 + [False] * 24,
                    "campaign_id": ["C001"] * 8 + [None] * 24,
                    "evidence": [[] for _ in accts],
                }
            ),
        )
        st.write_table(
            "campaigns",
            pa.table(
                {
                    "campaign_id": ["C001"],
                    "accounts": [8],
                    "exchanges": [240],
                    "risk": [0.9],
                    "account_ids": [campaign],
                    "evidence": [["8 accounts share 2 payment fingerprints"]],
                }
            ),
        )
        decide(st, parse_policy(POLICY, "test-policy"))
    return store


@dataclass
class Replay:
    gw: GatewayProcess
    store: Path
    snapshot: dict[str, Any]
    first_blocks: dict[str, int | None] | None = None  # new campaign accounts: request that got the first 403


@pytest.fixture(scope="module")
def replay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Replay]:
    tmp = tmp_path_factory.mktemp("online")
    store = build_store(tmp)
    policy = tmp / "policy.toml"
    policy.write_text(POLICY)
    with run_upstream() as (_, url):
        args = ["--store", str(store), "--policy", str(policy), "--client-ip-header", "x-client-ip"]
        gw = GatewayProcess(url, tmp / "log", args)
        try:
            rep = Replay(gw, store, read_snapshot(tmp / "store.enforcement.json"))
            yield rep
            _campaign_traffic(rep)  # (once) whichever tests of this module ran: the restart needs links
            gw.stop()
            # After a restart, accounts linked online are still linked.
            gw = GatewayProcess(url, tmp / "log", args)
            r = httpx.post(
                gw.url + "/v1/messages",
                json=anthropic_request("hello"),
                headers={"x-account-id": "new_camp_0", "x-client-ip": "8.8.8.8"},
            )
            assert r.status_code == 403
        finally:
            gw.stop()


def test_indicators_are_specific_to_the_campaign(replay: Replay) -> None:
    found = {(i["kind"], i["key"]) for i in replay.snapshot["indicators"]}
    assert {("payment", p) for p in PAYMENTS} <= found
    assert {("net", f"{n}.0/24") for n in CAMPAIGN_NETS} <= found
    assert ("user_agent", BOT_UA) in found
    assert ("net", f"{SHARED_NET}.0/24") not in found  # shared with a legitimate user: purity too low
    assert not any(k == "user_agent" and v in LEGIT_UAS for k, v in found)
    assert replay.snapshot["families"] and {f["campaign_id"] for f in replay.snapshot["families"]} == {"C001"}


def _send(gw: GatewayProcess, acct: str, ip: str, ua: str, text: str, payment: str | None) -> int:
    headers = {"x-account-id": acct, "x-client-ip": ip, "user-agent": ua}
    if payment:
        headers["x-payment-fingerprint"] = payment
    return httpx.post(gw.url + "/v1/messages", json=anthropic_request(text), headers=headers, timeout=10).status_code


def _first_block(statuses: list[int]) -> int | None:
    return next((i + 1 for i, s in enumerate(statuses) if s == 403), None)


def _campaign_traffic(replay: Replay) -> dict[str, int | None]:
    """Send the new campaign accounts' traffic once per module (tests reading its links need it sent,
    whichever of them runs first or alone)."""
    if replay.first_blocks is not None:
        return replay.first_blocks
    rng = random.Random(11)
    outcomes: dict[str, int | None] = {}
    for k in range(9):
        acct = f"new_camp_{k}"
        statuses = []
        for j in range(20):
            if k < 3:  # reuses a campaign payment method, fresh residential addresses
                ip, payment = f"81.{k}.{j}.{rng.randint(1, 254)}", PAYMENTS[k % 2]
            elif k < 6:  # new payment method, but the campaign's proxy ranges and template
                ip, payment = f"{CAMPAIGN_NETS[(k + j) % 3]}.{rng.randint(1, 254)}", f"pf_new_{k}"
            else:  # rotates residential addresses, reaches a campaign range only after a few requests
                net = CAMPAIGN_NETS[k % 3] if j >= 4 else f"92.{k}.{j}"
                ip, payment = f"{net}.{rng.randint(1, 254)}", f"pf_new_{k}"
            statuses.append(_send(replay.gw, acct, ip, BOT_UA, template(rng), payment))
            if statuses[-1] == 403:
                break
        outcomes[acct] = _first_block(statuses)
    replay.first_blocks = outcomes
    return outcomes


def test_new_campaign_accounts_are_actioned_within_20_requests(replay: Replay) -> None:
    outcomes = _campaign_traffic(replay)
    assert all(n is not None and n <= 20 for n in outcomes.values()), outcomes
    assert all(outcomes[f"new_camp_{k}"] == 1 for k in range(3))  # a campaign payment fingerprint is enough


def test_new_legitimate_accounts_are_left_alone(replay: Replay) -> None:
    rng = random.Random(12)
    for k in range(8):
        # One of them sits on the range shared with the campaign and uses the campaign's client.
        net = SHARED_NET if k == 0 else f"{rng.randint(11, 90)}.{rng.randint(0, 255)}.{k}"
        ua = BOT_UA if k == 0 else rng.choice(LEGIT_UAS)
        statuses = [
            _send(replay.gw, f"new_user_{k}", f"{net}.{rng.randint(1, 254)}", ua, chat(rng), f"pf_u{k}")
            for _ in range(20)
        ]
        assert set(statuses) == {200}, (k, statuses)


def test_links_are_visible_with_their_evidence(replay: Replay) -> None:
    _campaign_traffic(replay)
    health = replay.gw.health()
    assert health["links"] >= 9
    links = [orjson.loads(line) for line in (replay.gw.log_dir / "online-links.log").read_bytes().splitlines()]
    first = next(link for link in links if link["account_id"] == "new_camp_0")
    assert first["campaign_id"] == "C001" and any("payment pf_camp_1" in e for e in first["evidence"])
    assert not any(link["account_id"].startswith("new_user") for link in links)
