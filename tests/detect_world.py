"""A small hand-built world of exchanges and fingerprints for testing features, linking and scoring.

Independent of the simulator and of the fingerprint stage: family ids and flags are set by hand, so the
tests pin what the later stages do with them.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import duckdb
import pyarrow as pa

from distillguard.schema import EXCHANGE_COLUMNS, EXCHANGES

T0 = datetime(2026, 2, 1, tzinfo=UTC)

FP_SCHEMA = pa.schema(
    [
        ("request_id", pa.string()),
        ("family_id", pa.int64()),
        ("system_family_id", pa.int64()),
        ("user_family_id", pa.int64()),
        ("capability", pa.string()),
        ("cot_elicitation", pa.bool_()),
        ("reasoning_reconstruction", pa.bool_()),
        ("trace_coercion", pa.bool_()),
        ("rubric_grading", pa.bool_()),
        ("sensitive_rewrite", pa.bool_()),
        ("refusal_probe", pa.bool_()),
    ]
)


class World:
    def __init__(self, seed: int = 1) -> None:
        self.rng = random.Random(seed)
        self.ex: list[dict[str, Any]] = []
        self.fp: list[dict[str, Any]] = []
        self.n = 0
        self.last_reply: dict[str, int] = {}

    def add(
        self,
        account: str,
        ts: datetime,
        *,
        family: int,
        capability: str = "chat",
        cot: bool = False,
        reconstruction: bool = False,
        assistant_turns: int = 0,
        tool_results: int = 0,
        tools: tuple[str, ...] = (),
        net: str = "198.51.100.0/24",
        ip: str | None = None,
        payment: str | None = None,
        org: str | None = None,
        pathway: str = "standard",
        verified: bool = False,
        created: datetime | None = None,
        model: str = "frontier-2",
        budget: int | None = None,
        ua: str = "anthropic-python/0.49.0",
        fabricated: bool = False,
        history: int | None = None,
        coercion: bool = False,
    ) -> None:
        """``history``: the digest of a made-up history to carry (one few-shot prompt sent again and again)."""
        self.n += 1
        rid = f"req_{self.n:07d}"
        # A real conversation carries the reply this account received last; a fabricated one does not.
        context = None
        if assistant_turns > 0:
            context = -self.n if fabricated else self.last_reply.get(account, -self.n)
            context = -history if history is not None else context
        self.last_reply[account] = self.n
        row = dict.fromkeys(EXCHANGE_COLUMNS)
        row.update(
            request_id=rid,
            ts=ts,
            account_id=account,
            org_id=org or f"org_{account}",
            pathway=pathway,
            account_created=created or (T0 - timedelta(days=30)),
            payment_fingerprint=payment or f"pf_{account}",
            verified=verified,
            country="US",
            client_ip=ip or net.replace("0/24", str(self.rng.randint(1, 254))),
            client_net=net,
            client_asn=64500,
            user_agent=ua,
            api="anthropic.messages",
            model=model,
            n_messages=1 + 2 * assistant_turns,
            n_user_turns=1 + assistant_turns,
            n_assistant_turns=assistant_turns,
            tools_offered=list(tools),
            tools_used=[],
            n_tool_calls=0,
            n_tool_results=tool_results,
            n_images=0,
            thinking_requested=budget is not None,
            thinking_budget=budget,
            input_tokens=500,
            output_tokens=800,
            max_tokens=4096,
            stop_reason="end_turn",
            status=200,
            context_digest=context,
            reply_digest=self.n,
        )
        self.ex.append(row)
        self.fp.append(
            dict(
                request_id=rid,
                family_id=family,
                system_family_id=None,
                user_family_id=family,
                capability=capability,
                cot_elicitation=cot,
                reasoning_reconstruction=reconstruction,
                trace_coercion=coercion,
                rubric_grading=False,
                sensitive_rewrite=False,
                refusal_probe=False,
            )
        )

    def load(self, con: duckdb.DuckDBPyConnection) -> None:
        ex = pa.Table.from_pylist(self.ex, schema=EXCHANGES)
        fp = pa.Table.from_pylist(self.fp, schema=FP_SCHEMA)
        con.register("ex_view", ex)
        con.register("fp_view", fp)
        con.execute("CREATE TABLE exchanges AS SELECT * FROM ex_view")
        con.execute("CREATE TABLE fp_exchanges AS SELECT * FROM fp_view")
        con.unregister("ex_view")
        con.unregister("fp_view")


def build_world(seed: int = 1) -> World:
    """A hydra of 12 accounts harvesting reasoning, beside chat users, an agent and a batch customer."""
    w = World(seed)
    rng = w.rng
    # The hydra: 12 fresh accounts, 3 shared payment methods, one template family (plus a paraphrase
    # family), load-balanced: every account sends in the same hours.
    for i in range(12):
        acct = f"hyd{i:02d}"
        for k in range(150):
            ts = T0 + timedelta(hours=k // 10, minutes=rng.randint(0, 59))
            w.add(
                acct,
                ts,
                family=100 + (k % 2),
                capability="reasoning",
                cot=True,
                reconstruction=k % 3 == 0,
                net=f"203.0.{113 + i % 2}.0/24",
                payment=f"pf_shared{i % 3}",
                created=T0 - timedelta(hours=2),
                budget=16000,
            )
    # Chat users on a carrier NAT shared with the hydra's networks: conversations, varied families.
    for u in range(30):
        acct = f"chat{u:02d}"
        for k in range(rng.randint(5, 40)):
            ts = T0 + timedelta(days=rng.randint(0, 6), hours=rng.randint(8, 22))
            w.add(acct, ts, family=1000 + u * 100 + k, assistant_turns=rng.randint(0, 6), net="203.0.113.0/24")
    # A coding agent: heavy tool use with real results.
    for k in range(400):
        w.add(
            "agent0",
            T0 + timedelta(minutes=5 * k),
            family=500,
            capability="agentic",
            tools=("bash", "edit"),
            tool_results=1 + k % 4,
            assistant_turns=1 + k % 4,
        )
    # An account replaying fabricated agent trajectories: tool histories the model never produced for it.
    for k in range(200):
        w.add(
            "fab0",
            T0 + timedelta(minutes=7 * k),
            family=700 + k % 5,
            capability="agentic",
            tools=("bash", "edit"),
            tool_results=3,
            assistant_turns=3,
            fabricated=True,
        )
    # An enterprise batch job: one template, high volume, one verified org.
    for k in range(600):
        w.add(
            "batch0",
            T0 + timedelta(minutes=2 * k),
            family=600,
            capability="data_analysis",
            org="org_acme",
            pathway="enterprise",
            verified=True,
        )
    return w


HYDRA = {f"hyd{i:02d}" for i in range(12)}
