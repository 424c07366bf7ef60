"""Prompt and response text: human prompts, group templates, slot filling and paraphrase.

Individuals (``prompts = "fresh"``) write every prompt anew (``human``); template users keep a set of
private templates from a phrase grammar seeded by their own key (``templates``) and fill the content
slot per request; ``paraphrase`` rewrites a template deterministically per account. With a corpus
(``--prompts``) the content items, and the prompts of chat-like requests by individuals, are real.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from random import Random

from distillguard.simulate import human as H
from distillguard.simulate import pools as P
from distillguard.simulate import templates as T

Slot = Callable[[Random], str]
CORPUS_SHARE = 0.7  # share of content items (and non-chat human prompts) taken from a covering corpus
HUMAN_CORPUS_SHARE = 0.9  # share of chat prompts by individuals taken from a corpus that has chat prompts

_RUBRICS = (
    "1: irrelevant; 3: partially correct; 5: fully correct, complete and well explained",
    "Helpfulness, accuracy, depth and harmlessness, each 1-10",
    "Score 1 if the response refuses without reason; score 5 if it answers safely and completely",
)
_CODE = (
    "def avg(xs):\n    return sum(xs) / len(xs)",
    "for i in range(len(items)):\n    if items[i] is None:\n        items.remove(items[i])",
    "const user = users.find(u => u.id = id);\nreturn user.name;",
    "func Get(m map[string]int, k string) int {\n    return m[k]\n}",
    "SELECT name, COUNT(*) FROM orders JOIN users ON user_id GROUP BY name",
    'let v = vec![1, 2, 3];\nlet first = &v[0];\nv.push(4);\nprintln!("{}", first);',
    "async function load() {\n  const r = fetch(url);\n  return r.json();\n}",
    "df = pd.read_csv(path)\ndf[df.amount > 0]['flag'] = True",
    "public int sum(List<Integer> xs) {\n  int s = 0;\n  for (int x : xs) s += x;\n  return s;\n}",
    "while True:\n    line = f.readline()\n    if line == None:\n        break",
)


def _num(lo: int, hi: int) -> Slot:
    return lambda r: str(r.randint(lo, hi))


def _pick(xs: tuple[str, ...]) -> Slot:
    return lambda r: xs[int(r.random() * len(xs))]


class TextGen:
    """Generates prompts and responses. Stateless apart from the optional corpus and a skeleton cache."""

    _SLOT = re.compile(r"\{(\w+)\}")

    def __init__(self, corpus: dict[str, tuple[str, ...]] | None = None) -> None:
        self.corpus = corpus or {}
        self._para: dict[tuple[str, int], str] = {}
        self._sent: dict[str, tuple[str, ...]] = {}
        self._results: dict[str, tuple[str, ...]] = {}
        s: dict[str, Slot] = {
            "topic": _pick(P.TOPICS),
            "topic2": _pick(P.TOPICS),
            "name2": _pick(P.NAMES),
            "product2": _pick(P.PRODUCTS),
            "lib2": _pick(P.LIBS),
            "vsum_l": lambda r: _pick(P.VERBS_SUM)(r).lower(),
            "name": _pick(P.NAMES),
            "city": _pick(P.CITIES),
            "city2": _pick(P.CITIES),
            "company": _pick(P.COMPANIES),
            "product": _pick(P.PRODUCTS),
            "lang": _pick(P.LANGS),
            "plang": _pick(P.PLANGS),
            "lib": _pick(P.LIBS),
            "col": _pick(P.COLUMNS),
            "col2": _pick(P.COLUMNS),
            "file": _pick(P.FILES),
            "error": _pick(P.ERRORS),
            "rubric": _pick(_RUBRICS),
            "vsum": _pick(P.VERBS_SUM),
            "risky": _pick(P.RISKY),
            "code": _pick(_CODE),
            "n": _num(2, 99),
            "n2": _num(100, 990),
            "n3": _num(2, 9),
            "year": _num(1990, 2025),
            "pct": lambda r: f"{r.randint(2, 60)}%",
            "pct2": lambda r: f"{r.randint(2, 60)}%",
            "score": _num(1, 10),
            "country": _pick(P.COUNTRIES_TXT),
        }
        s.update(H.slot_functions(self.fill))
        s["cols"] = lambda r: ", ".join(r.sample(P.COLUMNS, 4))
        s["table"] = self._table
        doc_h = s["doc"]
        s["doc"] = lambda r: self.fill(_pick(P.DOC_SENT)(r), r) if r.random() < 0.3 else doc_h(r)
        s["sensitive"] = lambda r: self.fill(_pick(P.SENSITIVE)(r), r)
        s["question"] = lambda r: H.task("chat" if r.random() < 0.6 else "reasoning", r, self.fill)
        s["answer"] = lambda r: self.response("chat", r, 260)
        s["answer2"] = lambda r: self.response("chat", r, 200)
        s["item"] = s["task"] = self._task
        self.slots = s
        self._cap = "chat"

    # -- prompts ---------------------------------------------------------------------------------
    def fresh(self, cap: str, r: Random) -> str:
        """A prompt an individual writes for ``cap`` (real chat prompts when the corpus has them)."""
        items = self.corpus.get(cap)
        if items and r.random() < (HUMAN_CORPUS_SHARE if cap == "chat" else CORPUS_SHARE * 0.5):
            return items[int(r.random() * len(items))]
        self._cap = cap
        return H.human_prompt(cap, r, self.fill)

    def templates(self, key: str, cap: str, n: int, reasoning: bool) -> list[tuple[str, str]]:
        """The ``n`` (system, user) templates of pipeline ``key`` for ``cap``."""
        return [T.template(key, cap, i, reasoning) for i in range(max(1, n))]

    def fill(self, skeleton: str, r: Random) -> str:
        slots = self.slots

        seen: dict[str, str] = {}

        def sub(m: re.Match[str]) -> str:
            # one value per slot name within a text: "{name} saves ... until {name} can afford"
            key = m.group(1)
            got = seen.get(key)
            if got is None:
                f = slots.get(key)
                got = seen[key] = f(r) if f is not None else m.group(0)
            return got

        return self._SLOT.sub(sub, skeleton) if "{" in skeleton else skeleton

    def prompt(self, cap: str, skeleton: str, r: Random) -> str:
        self._cap = cap
        return self.fill(skeleton, r)

    def paraphrase(self, skeleton: str, key: int) -> str:
        """Rewrite ``skeleton`` with operators chosen by ``key`` (one account's own wording)."""
        got = self._para.get((skeleton, key))
        if got is not None:
            return got
        r = Random(key * 1_000_003 + len(skeleton))
        slots = self._SLOT.findall(skeleton)
        out = self._SLOT.sub("\x00", skeleton)  # slot names must survive the synonym swaps
        for word, alts in _SYNONYMS:
            if word in out and r.random() < 0.6:
                out = out.replace(word, r.choice(alts), 1)
        for op in r.sample(range(7), r.randint(1, 4)):
            if op == 0:
                out = r.choice(_PRE) + out[0].lower() + out[1:]
            elif op == 1:
                out = out.rstrip() + r.choice(_POST)
            elif op == 2 and ". " in out:
                head, _, rest = out.partition(". ")
                out = rest.rstrip(".") + ". " + head + "."
            elif op == 3:
                out = r.choice(("Task: ", "### Instruction\n", "Input:\n", "[TASK] ", "Request: ", "Note: ")) + out
            elif op == 4:
                out = out.replace(". ", ".\n", 1)
            elif op == 5:  # drop one sentence that carries no slot
                sents = out.split(". ")
                plain = [i for i, x in enumerate(sents) if "\x00" not in x]
                if len(sents) > 2 and plain:
                    del sents[r.choice(plain)]
                    out = ". ".join(sents)
            elif op == 6:
                out = out.replace("\n", "\n\n", 1) if r.random() < 0.5 else out.replace("\n", " ", 1)
        it = iter(slots)
        out = re.sub("\x00", lambda _m: "{" + next(it) + "}", out)
        if len(self._para) > 50_000:
            self._para.clear()
        self._para[(skeleton, key)] = out
        return out

    # -- responses ---------------------------------------------------------------------------------
    def _sentences(self, cap: str) -> tuple[str, ...]:
        """Pre-filled response sentences for ``cap`` (filling slots per response was the hot spot)."""
        got = self._sent.get(cap)
        if got is None:
            pool = P.RESP_SENT.get(cap) or P.RESP_SENT["general"]
            if cap in ("data_analysis", "agentic", "computer_use"):
                pool = P.RESP_SENT["general"] + P.RESP_SENT["reasoning"][:3]
            r = Random(f"sentences/{cap}")
            got = self._sent[cap] = tuple(self.fill(pool[i % len(pool)], r) for i in range(40 * len(pool)))
        return got

    def response(self, cap: str, r: Random, chars: int) -> str:
        pool = self._sentences(cap)
        parts: list[str] = []
        size = 0
        n = len(pool)
        while size < chars:
            s = pool[int(r.random() * n)]
            parts.append(s)
            size += len(s) + 1
        return " ".join(parts)

    def thinking(self, r: Random, chars: int) -> str:
        parts: list[str] = []
        size = 0
        while size < chars:
            s = P.THINK_SENT[int(r.random() * len(P.THINK_SENT))]
            parts.append(s)
            size += len(s) + 1
        return " ".join(parts)

    def harvest(self, key: str, cap: str, r: Random, language: str, para: int | None = None) -> str:
        """Pipeline ``key``'s chain-of-thought harvesting prompt: the reasoning behind a given answer.

        ``para``: the account key when the pipeline paraphrases per account.
        """
        self._cap = cap if cap in ("reasoning", "coding", "data_analysis") else "reasoning"
        task = self._task(r)
        answer = self.response("reasoning" if cap != "coding" else "coding", r, 80)
        skel = T.harvest_template(key)
        if para is not None:
            skel = self.paraphrase(skel, para)
        out = skel.replace("{task}", task).replace("{answer}", answer)
        if language:
            out += " " + T.coercion(key, language)
        return out

    def followup(self, r: Random) -> str:
        return H.followup(r, self.fill)

    def tool_result(self, tool: str, r: Random) -> str:
        got = self._results.get(tool)
        if got is None:
            rr = Random(f"tool/{tool}")
            got = self._results[tool] = tuple(self.fill(P.TOOL_RESULTS.get(tool, "ok"), rr) for _ in range(64))
        return got[int(r.random() * len(got))]

    # -- slot helpers ------------------------------------------------------------------------------
    def _task(self, r: Random) -> str:
        """A content item for the current capability: a real prompt from the corpus, or a composed one."""
        items = self.corpus.get(self._cap)
        if items and r.random() < CORPUS_SHARE:
            return items[int(r.random() * len(items))]
        return H.task(self._cap, r, self.fill)

    def _table(self, r: Random) -> str:
        cols = r.sample(P.COLUMNS, 3)
        rows = [" | ".join(cols)]
        for _ in range(r.randint(3, 6)):
            rows.append(" | ".join(str(r.randint(1, 9999)) for _ in cols))
        return "\n".join(rows)


_SYNONYMS = (
    ("Write", ("Compose", "Produce", "Create", "Draft")),
    ("Explain", ("Describe", "Walk me through", "Clarify", "Break down")),
    ("step by step", ("one step at a time", "in detail, step by step", "in numbered steps", "stepwise")),
    ("reasoning", ("thought process", "chain of reasoning", "rationale", "logic")),
    ("Solve", ("Work out", "Figure out", "Crack", "Resolve")),
    ("following", ("below", "next", "given")),
    ("problem", ("question", "exercise", "task")),
    ("answer", ("solution", "result", "response")),
    ("carefully", ("attentively", "with care", "thoroughly")),
    ("detailed", ("in-depth", "thorough", "comprehensive")),
    ("Analyze", ("Examine", "Study", "Investigate")),
    ("Rewrite", ("Rephrase", "Reformulate", "Restate")),
    ("Score", ("Rate", "Grade", "Evaluate")),
    ("Evaluate", ("Assess", "Judge", "Review")),
    ("You are", ("You're", "Act as", "Your role:")),
    ("expert", ("specialist", "authority", "professional")),
    ("Implement", ("Code", "Build", "Write")),
    ("task", ("assignment", "job", "request")),
    ("Be concise.", ("Keep it short.", "Brevity matters.", "No fluff.")),
    ("final answer", ("end result", "final result", "conclusion")),
)
_PRE = ("Please ", "Could you ", "I need you to ", "Kindly ", "Your job: ", "Go ahead and ", "Now, ", "Next: ")
_POST = (
    " Be precise.", " Be detailed.", " Respond in full.", " Do not skip steps.", " Format nicely.",
    " Double-check the result.", " Take your time.", " Make it complete.",
)  # fmt: skip
CAP_TOOLS = P.TOOLS
