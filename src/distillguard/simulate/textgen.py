"""Prompt and response text: composed templates, slot filling and paraphrase operators.

A *template* is a skeleton with ``{slot}`` markers, composed from an opener, a task core and a tail
chosen per capability area (so the space of templates is large). Fresh prompts compose a new skeleton
every time; template users (batch jobs, harnesses, campaigns) keep a fixed set of skeletons and fill
their slots; ``paraphrase`` rewrites a skeleton deterministically per account. With a corpus (``--prompts``)
the task item in the ``{item}`` slot comes from real prompts of the matching kind.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from random import Random

from distillguard.simulate import pools as P

Slot = Callable[[Random], str]
CORPUS_SHARE = 0.7  # share of skeletons built around a real prompt when a corpus covers the capability

_OPEN_ANY = ("", "", "", "Hi! ", "Quick question: ", "Hey, ", "Please help: ", "I need some help. ")
_TAIL_ANY = ("", "", "", " Thanks!", " Keep it concise.", " Be thorough.", " Use plain language.")

# capability -> (systems, openers, cores, tails)
_PARTS: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], tuple[str, ...]]] = {
    "chat": (
        ("", "", "You are a helpful assistant.", "You are a friendly assistant. Answer briefly."),
        _OPEN_ANY,
        (
            "What is {topic} and why does it matter?",
            "Can you explain {topic} like I'm {n3}?",
            "I'm planning a trip to {city}. What should I not miss?",
            "What are the pros and cons of {topic}?",
            "How do I get started with {topic}?",
            "My friend {name} says {topic} is overrated. Is that fair?",
            "Recommend a {product} under ${n2}.",
            "What's the difference between {topic} and {topic2}?",
            "Give me {n3} fun facts about {topic}.",
            "How should I prepare for a job interview at {company}?",
            "{item}",
            "{item}",
        ),
        _TAIL_ANY,
    ),
    "writing": (
        ("", "You are a professional copywriter.", "You are an editor who values clarity."),
        _OPEN_ANY,
        (
            "Write a short story about {name} discovering {topic} in {city}.",
            "Draft a polite email to {company} asking about my delayed {product} order #{n}.",
            "Write a LinkedIn post announcing that I joined {company} as a {topic} specialist.",
            "Write a product description for a {product}, about {n2} words.",
            "Compose a haiku about {topic}.",
            'Rewrite this paragraph to sound more professional: "{doc}"',
            "Write a cover letter for a {topic} role at {company}.",
            "Create a toast for {name}'s wedding that mentions {city}.",
            "{item}",
        ),
        _TAIL_ANY,
    ),
    "reasoning": (
        ("", "", "You are a careful mathematician.", "You are an expert tutor in logic and mathematics."),
        ("", "", "Solve: ", "Problem: ", "Question: ", "Here is a puzzle. "),
        (
            "{problem}",
            "{problem}",
            "{item}",
            "A train leaves {city} at {n} km/h and another leaves {city2} at {n2} km/h toward it; the"
            " cities are {n3}00 km apart. When do they meet?",
            "If {n} workers finish a job in {n3} days, how long do {n2} workers take?",
            "Prove that the sum of two odd numbers is even.",
            "Three boxes are labelled wrongly: apples, oranges, mixed. Pick one fruit from one box; how do"
            " you relabel all of them?",
            "What is the probability of rolling at least one six in {n3} throws of a fair die?",
            "A store discounts a {product} by {pct} and then raises the price by {pct2}. What is the net change?",
        ),
        (
            "",
            " Think step by step.",
            " Show your reasoning step by step, then give the final answer.",
            " Explain each step of your reasoning.",
            " Give only the final answer.",
            " Put the final answer after '####'.",
        ),
    ),
    "coding": (
        (
            "",
            "",
            "You are an expert {plang} engineer.",
            "You are a senior software engineer. Write clean, tested code.",
        ),
        ("", "", "In {plang}, ", "Using {lib}, ", "Coding question: "),
        (
            "write a function that {codetask}.",
            "why does this code fail with `{error}`?\n```\n{code}\n```",
            "refactor this function to be more readable:\n```\n{code}\n```",
            "how do I write code that {codetask}, efficiently?",
            "write unit tests for a function that {codetask}.",
            "explain what this code does:\n```\n{code}\n```",
            "implement a REST endpoint that {codetask}.",
            "convert this snippet to {plang}:\n```\n{code}\n```",
            "{item}",
            "{item}",
        ),
        ("", " Include comments.", " Explain the time complexity.", " Use idiomatic style.", " Add type hints."),
    ),
    "agentic": (
        (
            "You are an autonomous agent. Use the tools provided to complete the task, then report.",
            "You are a research assistant with web access. Plan, call tools, and cite sources.",
            "You are an operations agent. Think about which tool to call next and why.",
        ),
        ("", "Task: ", "Goal: ", "Please "),
        (
            "find the three most cited papers on {topic} from {year} and summarize them.",
            "book a meeting with {name} next week and email the agenda about {topic}.",
            "compare prices for a {product} across three retailers and report the cheapest.",
            "collect the latest figures on {topic} and compute the year-over-year change.",
            "triage the open support tickets about {topic} and draft replies.",
            "plan a {n3}-day trip to {city} within ${n2}, checking opening hours.",
            "{item}",
        ),
        ("", " Report what you did.", " Use as few tool calls as possible.", " Verify before finishing."),
    ),
    "data_analysis": (
        (
            "You are an expert data analyst. Deliver data-driven insights grounded in real data and supported"
            " by complete and transparent reasoning.",
            "You are a business intelligence analyst.",
            "",
        ),
        ("", "Here is our data. ", "Dataset attached. "),
        (
            "Columns: {cols}. Which factors drive {col}? Rows:\n{table}",
            "Analyze monthly {col} by region and flag anomalies:\n{table}",
            "Write SQL that returns the top {n3} customers by {col} for {year}.",
            "What does a correlation of 0.{n} between {col} and {col2} tell us?",
            "Build a cohort analysis of {col} from this sample:\n{table}",
            "Forecast next quarter's {col} from these numbers:\n{table}",
        ),
        ("", " Explain your reasoning.", " Give actionable recommendations.", " Show the calculation."),
    ),
    "computer_use": (
        ("You control a computer through screenshots and actions. Act step by step.",),
        ("", "Task: "),
        (
            "open the settings page and enable two-factor authentication.",
            "fill in the expense form with the receipt totals for {city}.",
            "download the latest invoice from the {company} portal.",
            "find the {product} in the web shop and add it to the cart.",
            "rename all files in the Downloads folder by date.",
        ),
        ("",),
    ),
    "vision": (
        ("", "", "You are an expert at reading images and charts."),
        ("", "Look at this image. "),
        (
            "What is shown in this picture?",
            "Transcribe the text in this receipt.",
            "What trend does this chart show for {col}?",
            "Describe this photo of {city} for a visually impaired reader.",
            "Which UI element would you click to {codetask}?",
            "Is there anything wrong with this wiring diagram?",
        ),
        ("", " Be specific.", " Explain how you can tell."),
    ),
    "grading": (
        (
            "Please act as an impartial judge and evaluate the quality of the response provided by an AI"
            " assistant to the user question displayed below.",
            "You are a strict grader. Use the rubric exactly.",
            "You are an evaluator for a reward model. Output a score and a justification.",
        ),
        ("", "### Task\n", "[Instruction]\n"),
        (
            "Question: {question}\nResponse: {answer}\nRubric: {rubric}\nScore the response from 1 to {n3}.",
            "Compare responses A and B to: {question}\nA: {answer}\nB: {answer2}\nWhich is better and why?",
            "Grade this answer against the reference.\nQuestion: {question}\nReference: {answer}\nAnswer: {answer2}",
            "Rate the helpfulness of this reply on a scale of 1-10: {answer}",
        ),
        ("", " Output the score in the form [[score]].", " Explain before giving the score."),
    ),
    "safe_rewrite": (
        ("", "You rewrite user questions so that they are neutral, balanced and safe to answer."),
        ("", "Rewrite task: "),
        (
            'Rewrite the following question so that it is neutral and safe to discuss: "{sensitive}"',
            "Give a politically safe version of this question: {sensitive}?",
            "Reformulate, in a balanced way, a question about {sensitive}.",
            "How should an assistant answer a question about {sensitive} without taking sides?",
        ),
        ("", " Return only the rewritten question.", " Give three alternatives."),
    ),
    "extraction": (
        (
            "Extract the requested fields and answer only with JSON.",
            "You are a data extraction service for {company}.",
        ),
        ("",),
        (
            'Extract vendor, amount, due date and invoice number from: "{doc}"',
            'Classify the sentiment (positive/neutral/negative) and the product of this review: "{doc}"',
            'Return the named entities (people, companies, places) in: "{doc}"',
            'Tag this support ticket with category and priority: "{doc}"',
        ),
        ("", " Output JSON with keys in snake_case.", " If a field is missing, use null."),
    ),
    "summarization": (
        ("", "You summarize documents for busy executives."),
        ("",),
        (
            '{vsum} this meeting note: "{doc} {doc}"',
            '{vsum} the following report in {n3} bullet points: "{doc} {doc} {doc}"',
            'TL;DR: "{doc}"',
        ),
        ("", " Keep it under {n2} words."),
    ),
    "translation": (
        ("", "You are a professional translator."),
        ("", "Please "),
        (
            'translate into {lang}: "{doc}"',
            "how do you say '{topic}' in {lang}?",
            'translate this email to {lang}, keeping the tone formal: "{doc}"',
        ),
        ("", " Keep names unchanged."),
    ),
    "refusal_probe": (
        ("", "", "You are a helpful assistant."),
        ("", "For research purposes, ", "Hypothetically, ", "As a safety researcher, I want to know "),
        ("explain {risky}.", "{risky}?", "tell me {risky}.", "is it legal to ask about {risky}?"),
        ("", " This is for a paper on model refusals.", " Answer fully."),
    ),
}

_CODETASKS = (
    "parses a CSV file and returns the column averages",
    "deduplicates a list while keeping order",
    "validates an email address",
    "merges two sorted arrays",
    "retries an HTTP call with backoff",
    "computes the median of a stream",
    "finds cycles in a directed graph",
    "paginates a SQL query",
    "caches results with a TTL",
    "renames keys in nested JSON",
    "rate limits requests per user",
)
_RUBRICS = (
    "1: irrelevant; 3: partially correct; 5: fully correct, complete and well explained",
    "Helpfulness, accuracy, depth and harmlessness, each 1-10",
    "Score 1 if the response refuses without reason; score 5 if it answers safely and completely",
)
_PROBLEMS = (
    "{name} has {n} apples and buys {n3} bags with {n3} apples each. How many apples does {name} have?",
    "A rectangle has a perimeter of {n2} cm and one side of {n} cm. What is its area?",
    "{name} saves ${n} a week. How many weeks until {name} can afford a {product} costing ${n2}?",
    "The price of a {product} rose from ${n} to ${n2}. By what percentage did it increase?",
    "A tank fills in {n3} hours and drains in {n} hours. How long to fill it with the drain open?",
    "How many ways can {n3} students be seated in a row of {n3} chairs?",
    "Find all integers x with x^2 - {n3}x + {n} = 0.",
)
_CODE = (
    "def avg(xs):\n    return sum(xs) / len(xs)",
    "for i in range(len(items)):\n    if items[i] is None:\n        items.remove(items[i])",
    "const user = users.find(u => u.id = id);\nreturn user.name;",
    "func Get(m map[string]int, k string) int {\n    return m[k]\n}",
    "SELECT name, COUNT(*) FROM orders JOIN users ON user_id GROUP BY name",
    'let v = vec![1, 2, 3];\nlet first = &v[0];\nv.push(4);\nprintln!("{}", first);',
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
            "codetask": _pick(_CODETASKS),
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
        s["cols"] = lambda r: ", ".join(r.sample(P.COLUMNS, 4))
        s["table"] = self._table
        s["doc"] = lambda r: self.fill(_pick(P.DOC_SENT)(r), r)
        s["problem"] = lambda r: self.fill(_pick(_PROBLEMS)(r), r)
        s["sensitive"] = lambda r: self.fill(_pick(P.SENSITIVE)(r), r)
        s["question"] = lambda r: self.fill(r.choice(_PARTS["chat"][2][:10] + _PROBLEMS), r)
        s["answer"] = lambda r: self.response("chat", r, 260)
        s["answer2"] = lambda r: self.response("chat", r, 200)
        s["item"] = self._item
        self.slots = s
        self._cap = "chat"

    # -- templates -------------------------------------------------------------------------------
    def skeleton(self, cap: str, r: Random) -> tuple[str, str]:
        """A freshly composed (system, user) skeleton for capability ``cap``."""
        systems, openers, cores, tails = _PARTS[cap]
        core = cores[int(r.random() * len(cores))]
        if cap in self.corpus:  # real prompts carry most of the traffic when a corpus is given
            if r.random() < CORPUS_SHARE:
                core = "{item}"
        elif core == "{item}":
            core = cores[0]
        opener = openers[int(r.random() * len(openers))]
        if not opener or opener.endswith((". ", ": ", "! ", "\n")):
            user = opener + core[0].upper() + core[1:]
        elif core.startswith(("{", "I ", "I'")):
            user = opener + core
        else:  # "Hey, what is ..." / "In Go, write ..."
            user = opener + core[0].lower() + core[1:]
        return systems[int(r.random() * len(systems))], user + tails[int(r.random() * len(tails))]

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
        out = skeleton
        for word, alts in _SYNONYMS:
            if word in out and r.random() < 0.7:
                out = out.replace(word, r.choice(alts), 1)
        ops = r.sample(range(5), r.randint(1, 3))
        for op in ops:
            if op == 0:
                out = r.choice(_PRE) + out[0].lower() + out[1:]
            elif op == 1:
                out = out.rstrip() + r.choice(_POST)
            elif op == 2 and ". " in out:
                head, _, rest = out.partition(". ")
                out = rest.rstrip(".") + ". " + head + "."
            elif op == 3:
                out = r.choice(("Task: ", "### Instruction\n", "Input:\n", "[TASK] ")) + out
            elif op == 4:
                out = out.replace(". ", ".\n", 1)
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

    def harvest(self, cap: str, r: Random, language: str) -> str:
        """A chain-of-thought harvesting prompt: the reasoning behind an answer that is already given."""
        task = self.fill(
            self.skeleton(cap if cap in ("reasoning", "coding", "data_analysis") else "reasoning", r)[1], r
        )
        answer = self.response("reasoning" if cap != "coding" else "coding", r, 80)
        frame = _HARVEST[int(r.random() * len(_HARVEST))]
        out = frame.format(task=task, answer=answer)
        if language:
            out += " " + _LANG_COERCE[int(r.random() * len(_LANG_COERCE))].format(lang=language)
        return out

    def followup(self, r: Random) -> str:
        return self.fill(_FOLLOW[int(r.random() * len(_FOLLOW))], r)

    def tool_result(self, tool: str, r: Random) -> str:
        got = self._results.get(tool)
        if got is None:
            rr = Random(f"tool/{tool}")
            got = self._results[tool] = tuple(self.fill(P.TOOL_RESULTS.get(tool, "ok"), rr) for _ in range(64))
        return got[int(r.random() * len(got))]

    # -- slot helpers ------------------------------------------------------------------------------
    def _item(self, r: Random) -> str:
        items = self.corpus.get(self._cap)
        if not items:
            return self.fill(self.skeleton(self._cap, r)[1].replace("{item}", "{topic}"), r)
        return items[int(r.random() * len(items))]

    def _table(self, r: Random) -> str:
        cols = r.sample(P.COLUMNS, 3)
        rows = [" | ".join(cols)]
        for _ in range(r.randint(3, 6)):
            rows.append(" | ".join(str(r.randint(1, 9999)) for _ in cols))
        return "\n".join(rows)


_SYNONYMS = (
    ("Write", ("Compose", "Produce", "Create", "Draft")),
    ("Explain", ("Describe", "Walk me through", "Clarify", "Break down")),
    ("step by step", ("one step at a time", "in detail, step by step", "in numbered steps")),
    ("reasoning", ("thought process", "chain of reasoning", "rationale")),
    ("What", ("Which", "What exactly")),
    ("function", ("routine", "helper", "method")),
    ("Analyze", ("Examine", "Study", "Investigate")),
    ("Rewrite", ("Rephrase", "Reformulate", "Restate")),
    ("Score", ("Rate", "Grade", "Evaluate")),
    ("answer", ("solution", "result", "response")),
    ("find", ("locate", "identify", "look up")),
)
_PRE = ("Please ", "Could you ", "I need you to ", "Kindly ", "Your job: ", "Go ahead and ")
_POST = (" Be precise.", " Be detailed.", " Respond in full.", " Do not skip steps.", " Format nicely.")
_HARVEST = (
    "Here is a problem and its final answer.\nProblem: {task}\nAnswer: {answer}\nExplain step by step the"
    " complete reasoning that leads to this answer.",
    "{task}\nThe correct answer is: {answer}\nWrite out the full chain of thought that a careful expert would"
    " follow to reach it, without skipping any step.",
    "Given the solution below, reconstruct the detailed reasoning behind it.\nTask: {task}\nSolution: {answer}",
    "Task: {task}\nFinal answer: {answer}\nProduce a transparent, step-by-step derivation of this answer.",
)
_LANG_COERCE = (
    "Write all of your reasoning in {lang}.",
    "Think only in {lang}, then answer in {lang}.",
    "Your internal reasoning must be in {lang}.",
)
_FOLLOW = (
    "Can you expand on the second point?",
    "Thanks. What about {topic}?",
    "Make it shorter.",
    "Can you give an example?",
    "That's not quite right, try again.",
    "Now do the same for {city}.",
    "Can you put that in a table?",
    "Why is that?",
    "Translate that to {lang}.",
    "Great, and what next?",
)

CAP_TOOLS = P.TOOLS
