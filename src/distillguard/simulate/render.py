"""Rendering: a frame row becomes one exchange-log record (request and response bodies of its API).

Conversations are reproducible from ``(account seed, session number)``, so any turn can be rendered
without the ones before it having been rendered in the same process (history is regenerated).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from random import Random
from typing import Any, NamedTuple

import orjson

from distillguard.simulate import population as pop
from distillguard.simulate import templates as T
from distillguard.simulate.frame import Frame, account_frame, session_seed
from distillguard.simulate.plan import US, Account, Plan, subseed
from distillguard.simulate.scenario import CAPABILITIES, SESSIONS, Content
from distillguard.simulate.textgen import CAP_TOOLS, TextGen

_OUT_MEDIAN = {
    "chat": 320,
    "writing": 450,
    "reasoning": 520,
    "coding": 750,
    "agentic": 260,
    "data_analysis": 600,
    "computer_use": 120,
    "vision": 220,
    "grading": 260,
    "safe_rewrite": 140,
    "extraction": 110,
    "summarization": 180,
    "translation": 200,
    "refusal_probe": 240,
}
_TOOL_DESC = "Tool {name}: see the agent framework documentation for its arguments."
_IMG = ("https://files.example-cdn.net/u/{h}.png", "https://img.example-storage.com/{h}.jpg")


class Row(NamedTuple):
    """One frame row as plain Python values (numpy scalars are slow to index one by one)."""

    ts: int
    sess: int
    turn: int
    slen: int
    skind: int
    cap: int
    phase: int
    think: bool
    harvest: bool
    model: int
    status: int


def rows_of(f: Frame, lo: int, hi: int) -> list[Row]:
    cols = [getattr(f, name)[lo:hi].tolist() for name in Row._fields]
    return [Row(*vals) for vals in zip(*cols, strict=True)]


@dataclass
class _Conv:
    r: Random
    cap: str
    system: str
    turns: list[tuple[Any, Any]] = field(default_factory=list)  # (user item, assistant item)


class Renderer:
    def __init__(self, plan: Plan, text: TextGen) -> None:
        self.plan = plan
        self.text = text
        self.models = [m.name for m in plan.scenario.models]
        self._tpl: dict[tuple[str, int, str, bool], list[tuple[str, str]]] = {}
        self._acct: dict[int, dict[str, Any]] = {}

    # -- public -------------------------------------------------------------------------------------
    def render(self, a: Account, f: Frame, lo: int, hi: int) -> list[tuple[int, bytes, str]]:
        """Records ``lo:hi`` of account ``a`` as (ts, JSON line, request_id)."""
        g = self.plan.scenario.groups[a.group]
        r = Random(subseed(a.seed, "piece", lo))
        convs: dict[int, _Conv] = {}
        acct = self._account_obj(a)
        out = []
        for row in rows_of(f, lo, hi):
            sess = row.sess
            content = g.phases[row.phase].content
            conv = convs.get(sess)
            if conv is None:
                if len(convs) > 256:
                    convs.clear()
                conv = convs[sess] = self._conv(a, row, content)
            ts = row.ts
            rid = "req_" + pop.hexid(r, 24)
            ip, asn = self._ip(a, r, ts)
            client: dict[str, Any] = {"ip": ip, "asn": asn, "user_agent": a.user_agent, "ja4": a.ja4}
            body, resp, usage_len = self._bodies(a, row, conv, content, r, g.end_user_ids)
            status = row.status
            rec = {
                "request_id": rid,
                "ts": _ts(ts),
                "account": acct,
                "api_key_id": a.keys[int(r.random() * len(a.keys))],
                "client": client,
                "api": a.api,
                "request": body,
                "response": resp if status == 200 else None,
                "status": status,
                "latency_ms": 250 + int(usage_len * (6 + 20 * r.random()))
                if status == 200
                else int(40 + 900 * r.random()),
            }
            out.append((ts, orjson.dumps(rec), rid))
        return out

    # -- pieces -------------------------------------------------------------------------------------
    def _account_obj(self, a: Account) -> dict[str, Any]:
        got = self._acct.get(a.index)
        if got is None:
            if len(self._acct) > 4096:
                self._acct.clear()
            got = {
                "id": a.account_id,
                "org_id": a.org_id,
                "pathway": a.pathway,
                "created": _ts(a.created_us, ms=False),
                "payment_fingerprint": a.payment,
                "verified": a.verified,
                "country": a.country,
                "email_domain": a.email_domain,
            }
            self._acct[a.index] = got
        return got

    def _ip(self, a: Account, r: Random, ts: int) -> tuple[str, int]:
        if a.ip_mode == "fresh":
            return pop.ip_in(r, "residential")
        if a.ip_mode == "pool":
            return a.ips[int(r.random() * len(a.ips))]
        day = ts // (86_400 * US)
        return a.ips[(day * 7 + a.index) // 5 % len(a.ips)]

    def _pipeline(self, a: Account) -> str:
        """Whose prompt pipeline ``a`` uses: a public pool, or its group's (org's, account's) own."""
        g = self.plan.scenario.groups[a.group]
        if g.template_pool:
            return f"{self.plan.seed}/{g.template_pool}"
        scope = {"group": "g", "org": f"o{a.org}", "account": f"a{a.k}"}[g.template_scope]
        return f"{self.plan.seed}/{a.group}/{g.name}/{scope}"

    def _templates(self, a: Account, content: Content, cap: str) -> list[tuple[str, str]]:
        reasoning = content.thinking > 0.3 or content.cot_harvest > 0 or bool(content.trace_language)
        key = (self._pipeline(a), content.templates, cap, reasoning)
        got = self._tpl.get(key)
        if got is None:
            if len(self._tpl) > 20_000:
                self._tpl.clear()
            got = self._tpl[key] = self.text.templates(key[0], cap, content.templates, reasoning)
        return got

    def _conv(self, a: Account, row: Row, content: Content) -> _Conv:
        r = Random(session_seed(a, row.sess))
        cap = CAPABILITIES[row.cap]
        g = self.plan.scenario.groups[a.group]
        skel = ""
        if content.prompts == "fresh":  # an individual: own words, own (rare) system prompt or the app's
            if g.template_pool:  # the app's own system prompt, made for the group's main capability
                main = max(g.phases[0].content.capabilities, key=lambda cw: cw[1])[0]
                system = T.product_system(self._pipeline(a), main)
            else:
                system = T.personal_system(a.seed, cap)
        else:
            tpls = self._templates(a, content, cap)
            # a few templates carry most of the volume, as with real batch and campaign prompt sets
            system, skel = tpls[min(len(tpls) - 1, int(len(tpls) * r.random() ** 1.6))]
            if content.prompts == "paraphrase":
                skel = self.text.paraphrase(skel, a.seed)
        if content.system_prompt:
            system = content.system_prompt
        conv = _Conv(r=r, cap=cap, system=self.text.fill(system, r) if system else "")
        conv.turns.append((self._first_user(a, conv, skel, row.harvest, content), None))
        return conv

    def _first_user(self, a: Account, conv: _Conv, skel: str, harvest: bool, content: Content) -> str:
        if harvest:
            para = a.seed if content.prompts == "paraphrase" else None
            return self.text.harvest(self._pipeline(a), conv.cap, conv.r, content.trace_language, para)
        if not skel:
            return self.text.fresh(conv.cap, conv.r)
        text = self.text.prompt(conv.cap, skel, conv.r)
        if content.trace_language and conv.cap in ("reasoning", "coding", "data_analysis"):
            text += " " + T.coercion(self._pipeline(a), content.trace_language)
        return text

    def _history(self, conv: _Conv, agentic: bool, upto: int, slen: int) -> None:
        """Extend the conversation so that turns ``0..upto`` have their assistant answers."""
        r = conv.r
        while len(conv.turns) <= upto + 1:
            idx = len(conv.turns) - 1
            last_user, _ = conv.turns[-1]
            if agentic and idx < slen - 1:
                tool = self._tool(conv, r)
                call = {"name": tool, "input": _tool_input(tool, r, self.text), "id": pop.hexid(r, 24)}
                conv.turns[-1] = (last_user, call)
                conv.turns.append((self.text.tool_result(tool, r), None))
            else:
                conv.turns[-1] = (last_user, self.text.response(conv.cap, r, 180 + int(r.random() * 500)))
                conv.turns.append((self.text.followup(r), None))

    def _tool(self, conv: _Conv, r: Random) -> str:
        tools = CAP_TOOLS.get(conv.cap, CAP_TOOLS["agentic"])
        return tools[int(r.random() * len(tools))]

    def _bodies(
        self, a: Account, row: Row, conv: _Conv, content: Content, r: Random, end_user: bool
    ) -> tuple[dict[str, Any], dict[str, Any], int]:
        kind = SESSIONS[row.skind]
        turn, slen, ts = row.turn, row.slen, row.ts
        agentic = kind in ("agent_loop", "synthetic_trace")
        if kind == "synthetic_trace":  # one request carrying a fabricated multi-step tool history
            turn = 2 + int(conv.r.random() * 6)
            slen = turn + (1 if conv.r.random() < 0.3 else 2)
        self._history(conv, agentic, turn, slen)
        think = row.think
        budget = content.thinking_budget or 4000
        model = self.models[row.model]
        out_tokens = int(_OUT_MEDIAN[conv.cap] * (0.35 + r.random() * 1.6) * (1.0 + r.random() ** 4 * 4))
        think_tokens = int(budget * (0.1 + 0.8 * r.random())) if think else 0
        max_tokens = (budget + 4096) if think else (1024, 2048, 4096, 4096, 8192)[int(r.random() * 5)]
        stop = "end_turn"
        if out_tokens + think_tokens > max_tokens:
            out_tokens, stop = max(1, max_tokens - think_tokens), "max_tokens"
        answer = conv.turns[turn][1]
        tool_call = answer if isinstance(answer, dict) else None
        if tool_call is not None:
            stop = "tool_use"
            out_tokens = min(out_tokens, 40 + int(r.random() * 160))
            text = "" if r.random() < 0.6 else self.text.response(conv.cap, r, 120)
        else:
            text = str(answer)
        thinking = self.text.thinking(r, min(think_tokens * 4, 700)) if think else ""
        image = conv.cap in ("vision", "computer_use") and turn == 0
        tools = CAP_TOOLS.get(conv.cap, CAP_TOOLS["agentic"]) if agentic else ()
        hist = [*conv.turns[:turn], (conv.turns[turn][0], None)]
        chars = len(conv.system) + sum(len(u) if isinstance(u, str) else 200 for u, _ in hist) + 300 * len(hist)
        in_tokens = chars // 4 + 90 * len(tools) + (850 if image else 0)
        cached = int(in_tokens * 0.8) if turn > 0 and r.random() < 0.7 else 0
        user = r.getrandbits(40) % 2000 if end_user else None
        temp = (None, 0.0, 0.2, 0.7, 1.0)[int(r.random() * 5)] if not think else None
        args = _Args(model, conv.system, hist, tools, think, budget, max_tokens, temp, image, user, r)
        resp = _Resp(
            model, text, thinking, tool_call, stop, in_tokens, cached, out_tokens + think_tokens, think_tokens, ts, r
        )
        if a.api == "anthropic.messages":
            return _anthropic_req(args), _anthropic_resp(resp), out_tokens + think_tokens
        return _openai_req(args), _openai_resp(resp), out_tokens + think_tokens


def opening_prompts(
    plan: Plan, text: TextGen, accounts: Iterable[Account] | None = None
) -> Iterator[tuple[Account, str, str]]:
    """(account, system prompt, first user message) of every conversation, without rendering bodies.

    For realism checks and benchmarks: the same texts the writer puts into the log.
    """
    rend = Renderer(plan, text)
    for a in plan.accounts if accounts is None else accounts:
        phases = plan.scenario.groups[a.group].phases
        for row in rows_of(account_frame(plan, a), 0, a.n):
            if row.turn == 0:
                conv = rend._conv(a, row, phases[row.phase].content)
                yield a, conv.system, conv.turns[0][0]


@dataclass
class _Args:
    model: str
    system: str
    hist: list[tuple[Any, Any]]
    tools: tuple[str, ...]
    think: bool
    budget: int
    max_tokens: int
    temperature: float | None
    image: bool
    user: int | None
    r: Random


@dataclass
class _Resp:
    model: str
    text: str
    thinking: str
    tool_call: dict[str, Any] | None
    stop: str
    in_tokens: int
    cached: int
    out_tokens: int
    think_tokens: int
    ts: int
    r: Random


def _tool_input(tool: str, r: Random, text: TextGen) -> dict[str, Any]:
    if tool in ("read_file", "write_file", "apply_patch"):
        return {"path": text.fill("{file}", r)}
    if tool in ("bash", "run_tests"):
        return {"command": r.choice(("pytest -q", "ls -la", "git diff", "npm test", "go test ./...", "cargo build"))}
    if tool in ("web_search", "search_code"):
        return {"query": text.fill("{topic} {year}", r)}
    if tool in ("python", "sql_query"):
        return {"code": text.fill("SELECT {col}, SUM({col2}) FROM t GROUP BY 1", r)}
    if tool in ("computer", "click"):
        return {
            "action": r.choice(("left_click", "screenshot", "type")),
            "coordinate": [r.randint(0, 1280), r.randint(0, 800)],
        }
    return {"arg": text.fill("{topic}", r)}


@lru_cache(maxsize=64)
def _anthropic_tools(tools: tuple[str, ...]) -> list[dict[str, Any]]:
    # shared (never mutated) tool definitions: building them per request was measurable
    return [{"name": t, "description": _TOOL_DESC.format(name=t), "input_schema": {"type": "object"}} for t in tools]


@lru_cache(maxsize=64)
def _openai_tools(tools: tuple[str, ...]) -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": t, "description": _TOOL_DESC.format(name=t), "parameters": {"type": "object"}},
        }
        for t in tools
    ]


def _anthropic_req(x: _Args) -> dict[str, Any]:
    msgs: list[dict[str, Any]] = []
    for j, (u, asst) in enumerate(x.hist):
        if j == 0:
            if x.image:
                img = {"type": "image", "source": {"type": "url", "url": _IMG[j % 2].format(h=pop.hexid(x.r, 16))}}
                msgs.append({"role": "user", "content": [img, {"type": "text", "text": u}]})
            else:
                msgs.append({"role": "user", "content": u})
        elif isinstance(x.hist[j - 1][1], dict):
            tid = "toolu_01" + x.hist[j - 1][1]["id"][:22]
            msgs.append({"role": "user", "content": [{"type": "tool_result", "tool_use_id": tid, "content": u}]})
        else:
            msgs.append({"role": "user", "content": u})
        if asst is not None:
            if isinstance(asst, dict):
                block = {
                    "type": "tool_use",
                    "id": "toolu_01" + asst["id"][:22],
                    "name": asst["name"],
                    "input": asst["input"],
                }
                msgs.append({"role": "assistant", "content": [block]})
            else:
                msgs.append({"role": "assistant", "content": asst})
    body: dict[str, Any] = {"model": x.model, "max_tokens": x.max_tokens}
    if x.system:
        body["system"] = x.system
    body["messages"] = msgs
    if x.tools:
        body["tools"] = _anthropic_tools(x.tools)
    if x.think:
        body["thinking"] = {"type": "enabled", "budget_tokens": x.budget}
    elif x.temperature is not None:
        body["temperature"] = x.temperature
    if x.user is not None:
        body["metadata"] = {"user_id": f"eu_{x.user:05d}"}
    return body


def _anthropic_resp(x: _Resp) -> dict[str, Any]:
    content: list[dict[str, Any]] = []
    if x.thinking:
        content.append({"type": "thinking", "thinking": x.thinking, "signature": "Eq" + pop.hexid(x.r, 30)})
    if x.text:
        content.append({"type": "text", "text": x.text})
    if x.tool_call:
        tc = x.tool_call
        content.append({"type": "tool_use", "id": "toolu_01" + tc["id"][:22], "name": tc["name"], "input": tc["input"]})
    return {
        "id": "msg_01" + pop.hexid(x.r, 22),
        "type": "message",
        "role": "assistant",
        "model": x.model,
        "content": content,
        "stop_reason": x.stop,
        "stop_sequence": None,
        "usage": {
            "input_tokens": x.in_tokens - x.cached,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": x.cached,
            "output_tokens": x.out_tokens,
        },
    }


def _openai_req(x: _Args) -> dict[str, Any]:
    msgs: list[dict[str, Any]] = []
    if x.system:
        msgs.append({"role": "system", "content": x.system})
    for j, (u, asst) in enumerate(x.hist):
        if j == 0:
            if x.image:
                url = _IMG[j % 2].format(h=pop.hexid(x.r, 16))
                parts = [{"type": "text", "text": u}, {"type": "image_url", "image_url": {"url": url}}]
                msgs.append({"role": "user", "content": parts})
            else:
                msgs.append({"role": "user", "content": u})
        elif isinstance(x.hist[j - 1][1], dict):
            msgs.append({"role": "tool", "tool_call_id": "call_" + x.hist[j - 1][1]["id"], "content": u})
        else:
            msgs.append({"role": "user", "content": u})
        if asst is not None:
            if isinstance(asst, dict):
                call = {
                    "id": "call_" + asst["id"],
                    "type": "function",
                    "function": {"name": asst["name"], "arguments": orjson.dumps(asst["input"]).decode()},
                }
                msgs.append({"role": "assistant", "content": None, "tool_calls": [call]})
            else:
                msgs.append({"role": "assistant", "content": asst})
    body: dict[str, Any] = {"model": x.model, "messages": msgs, "max_completion_tokens": x.max_tokens}
    if x.tools:
        body["tools"] = _openai_tools(x.tools)
    if x.think:
        body["reasoning_effort"] = "high" if x.budget >= 16000 else "medium" if x.budget >= 4000 else "low"
    elif x.temperature is not None:
        body["temperature"] = x.temperature
    if x.user is not None:
        body["user"] = f"eu_{x.user:05d}"
    return body


_FINISH = {"end_turn": "stop", "max_tokens": "length", "tool_use": "tool_calls"}


def _openai_resp(x: _Resp) -> dict[str, Any]:
    msg: dict[str, Any] = {"role": "assistant", "content": x.text or None}
    if x.thinking:
        msg["reasoning_content"] = x.thinking
    if x.tool_call:
        tc = x.tool_call
        msg["tool_calls"] = [
            {
                "id": "call_" + tc["id"],
                "type": "function",
                "function": {"name": tc["name"], "arguments": orjson.dumps(tc["input"]).decode()},
            }
        ]
    return {
        "id": "chatcmpl-" + pop.hexid(x.r, 29),
        "object": "chat.completion",
        "created": x.ts // US,
        "model": x.model,
        "choices": [{"index": 0, "message": msg, "finish_reason": _FINISH[x.stop]}],
        "usage": {
            "prompt_tokens": x.in_tokens,
            "completion_tokens": x.out_tokens,
            "total_tokens": x.in_tokens + x.out_tokens,
            "prompt_tokens_details": {"cached_tokens": x.cached},
            "completion_tokens_details": {"reasoning_tokens": x.think_tokens},
        },
    }


@lru_cache(maxsize=4096)
def _minute(m: int) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(m * 60))


def _ts(us: int, ms: bool = True) -> str:
    s, rem = divmod(us, US)
    m, sec = divmod(s, 60)
    return f"{_minute(m)}{sec:02d}.{rem // 1000:03d}Z" if ms else f"{_minute(m)}{sec:02d}Z"
