"""Private prompt templates of template users (campaigns, batch jobs, classrooms, harnesses, apps).

Each group gets its templates from a phrase grammar seeded by the group's own key: first a *house
style* (which role lines, headers, reasoning-elicitation and output wordings its pipeline uses), then
``n`` templates composed within that house style. Different keys give different wrappers; two groups
share a template only when they name the same public pool (``template_pool = "public:<name>"``).
A template is ``(system, user)`` where ``user`` wraps a content slot (``{task}``, ``{doc}``,
``{question}``...) filled per request, so the wrapper repeats while the content varies.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from random import Random

import xxhash

_ROLE_FRAMES = (
    "You are {a} {adj} {noun}.",
    "Act as {a} {adj} {noun}.",
    "You are {a} {noun} with {years} years of experience.",
    "Role: {adj} {noun}.",
    "You will play the role of {a} {adj} {noun}.",
    "Assume the persona of {a} {noun} who is {adj2}.",
    "You're {a} {adj} {noun} working for a {orgkind}.",
    "Imagine you are {a} {noun} known for being {adj2}.",
    "SYSTEM: {noun} mode. You are {adj2}.",
    "Eres un {noun} {adj}.",
    "Tu es un {noun} {adj}.",
    "You are an AI assistant acting as {a} {adj} {noun}.",
)
_ADJ = (
    "expert", "meticulous", "senior", "world-class", "careful", "experienced", "rigorous", "helpful",
    "knowledgeable", "skilled", "detail-oriented", "patient", "pragmatic", "precise", "seasoned", "thoughtful",
)  # fmt: skip
_ADJ2 = ("precise", "thorough", "concise", "rigorous", "objective", "methodical", "clear", "critical", "calm")
_ORGKIND = ("consulting firm", "research lab", "tutoring company", "fintech startup", "global bank", "university")
_NOUNS: dict[str, tuple[str, ...]] = {
    "reasoning": ("mathematician", "logician", "math tutor", "olympiad coach", "problem solver", "physicist"),
    "coding": ("software engineer", "programmer", "code reviewer", "backend developer", "coding assistant"),
    "agentic": ("autonomous agent", "research assistant", "operations agent", "planner", "executive assistant"),
    "data_analysis": ("data analyst", "data scientist", "business intelligence analyst", "statistician"),
    "computer_use": ("computer-use agent", "desktop automation agent", "web navigator"),
    "vision": ("image analyst", "visual assistant", "chart reader", "OCR specialist"),
    "grading": ("grader", "impartial judge", "evaluator", "reviewer", "examiner", "annotator"),
    "safe_rewrite": ("editor", "content moderator", "policy writer", "neutral rewriter"),
    "extraction": ("data extraction engine", "information extractor", "parser", "document processor"),
    "summarization": ("summarizer", "executive assistant", "analyst", "editor"),
    "translation": ("translator", "localization specialist", "interpreter", "bilingual editor"),
    "refusal_probe": ("assistant", "safety researcher's assistant", "red-team assistant"),
    "writing": ("copywriter", "editor", "writer", "ghostwriter", "communications specialist"),
    "chat": ("assistant", "companion", "advisor", "tutor"),
}
_GOALS = (
    "Deliver {q} answers grounded in evidence and supported by transparent reasoning.",
    "Your goal is to help users with {q} responses.",
    "Always provide {q}, well-structured output.",
    "Focus on correctness first, then clarity.",
    "Users rely on you for {q} and reliable results.",
    "Your task is to produce high-quality {q} outputs for downstream use.",
    "Prioritize accuracy, completeness and clarity.",
    "Be {q} and never make up facts.",
    "Provide {q} responses suitable for professionals.",
    "Think carefully about edge cases.",
    "Your answers are used to build training material, so they must be {q}.",
    "Make every answer self-contained.",
    "Help the user reach a correct and justified conclusion.",
)
_QUAL = ("accurate", "detailed", "rigorous", "complete", "high-quality", "precise", "thorough", "clear")
_STYLE = (
    "Use Markdown.", "Use plain language.", "Avoid unnecessary jargon.", "Keep a neutral tone.",
    "Be concise.", "Be exhaustive.", "Use numbered lists where helpful.", "Do not include greetings.",
    "Write in a formal register.", "Cite assumptions explicitly.", "Prefer short paragraphs.",
    "Never mention that you are an AI.", "Do not ask clarifying questions.", "Answer in English.",
    "Use LaTeX for math.", "Use headings for each section.", "Avoid hedging.",
)  # fmt: skip
_INSTR: dict[str, tuple[str, ...]] = {
    "reasoning": (
        "Solve the following problem.",
        "Answer the question below.",
        "Work out the solution to this problem.",
        "Determine the correct answer.",
        "Find the answer to the following.",
        "Solve this task carefully.",
        "Resuelve el siguiente problema.",
        "Löse die folgende Aufgabe.",
        "Résous le problème suivant.",
        "Please solve:",
        "Compute the answer to the question that follows.",
    ),
    "coding": (
        "Write code for the task below.",
        "Implement a solution to the following task.",
        "Solve this programming problem.",
        "Complete the following coding task.",
        "Write a well-tested implementation for this task.",
        "Produce a working solution:",
        "Here is a software task; implement it.",
        "Generate production-ready code for:",
    ),
    "agentic": (
        "Complete the following task using the available tools.",
        "Accomplish this goal step by step.",
        "Plan and execute the task below.",
        "Use your tools to carry out this request.",
        "Objective:",
    ),
    "data_analysis": (
        "Analyze the following data request.",
        "Perform the analysis described below.",
        "Answer this analytics question.",
        "Provide an analysis for:",
        "Examine this business question.",
    ),
    "grading": (
        "Evaluate the response below.",
        "Grade the following answer.",
        "Assess the quality of the response.",
        "Score the answer against the rubric.",
        "Judge the response to the user question.",
        "Review the answer and assign a score.",
    ),
    "safe_rewrite": (
        "Rewrite the following question so that it is neutral and safe to answer.",
        "Produce a balanced rephrasing of this question.",
        "Reformulate this topic in a politically neutral way.",
        "Rewrite the question below without taking sides.",
    ),
    "extraction": (
        "Extract the requested fields from the document.",
        "Parse the following text.",
        "Pull structured data out of this record.",
        "Identify the entities in the text below.",
    ),
    "summarization": (
        "Summarize the following document.",
        "Condense this text.",
        "Write a brief summary of:",
        "Give the key points of the text below.",
    ),
    "translation": (
        "Translate the following text into {lang}.",
        "Render this text in {lang}.",
        "Provide a {lang} translation of:",
    ),
    "vision": ("Describe the attached image.", "Answer the question about the image.", "Analyze this image:"),
    "computer_use": ("Complete this task on the computer.", "Operate the desktop to do the following."),
}
_INSTR_ANY = ("Respond to the request below.", "Handle the following request.", "Task follows.")
_HEADERS = (
    ("Question: ", ""), ("Problem:\n", ""), ("### Task\n", ""), ("<task>\n", "\n</task>"), ("Input: ", ""),
    ("[ITEM]\n", "\n[/ITEM]"), ('"""\n', '\n"""'), ("Here is the task:\n", ""), ("Q: ", ""),
    ("## Input\n", ""), ("<problem>", "</problem>"), ("---\n", "\n---"), ("Prompt: ", ""), ("", ""),
)  # fmt: skip
_COT = (
    "Think step by step.", "Let's work this out in a step-by-step way to be sure we have the right answer.",
    "Reason carefully before answering.", "Show all intermediate steps.", "Lay out your full chain of thought.",
    "Explain your reasoning in detail, then give the answer.", "Walk through the logic one step at a time.",
    "Before answering, write out your complete derivation.", "Do not skip any reasoning step.",
    "Justify every step of your solution.", "First think through the problem, then answer.",
    "Write your thought process inside <think></think> tags.", "Break the problem into sub-problems.",
    "Reason it through thoroughly and explicitly.", "Explain how you arrive at the result.",
    "Piensa paso a paso.", "Réfléchis étape par étape.", "Denke Schritt für Schritt nach.",
    "请一步一步地思考。", "段階的に考えてください。", "단계별로 생각해 보세요.", "Pense passo a passo.",
    "Ragiona passo dopo passo.", "Рассуждай шаг за шагом.",
)  # fmt: skip
_OUTPUT = (
    "End with 'Final answer: <answer>'.", "Put the final answer within \\boxed{{}}.",
    "Return the result as JSON with keys {k1} and {k2}.", "The last line must be 'Answer: $ANSWER'.",
    "Answer in at most {words} words.", "Output only the final result.", "Format the answer as a numbered list.",
    "Give the answer on its own line after '####'.", "Provide a short summary at the end.",
    "Respond in valid Markdown.", "Include a confidence level from 0 to 1.", "Use the format:\n{k1}: ...\n{k2}: ...",
    "Wrap code in fenced blocks.", "State any assumptions before the answer.",
)  # fmt: skip
_KEYS = ("answer", "reasoning", "result", "explanation", "score", "steps", "rationale", "final", "verdict", "notes")
_RUBRIC = (
    "Score 1-{top}: 1 = incorrect or irrelevant, {top} = fully correct, complete and well explained.",
    "Rate helpfulness, accuracy, depth and harmlessness from 1 to {top} each.",
    "Use this rubric: correctness ({w1}%), completeness ({w2}%), clarity (rest).",
    "Assign {top} points for a perfect answer; deduct one point per factual error or omission.",
    "Criteria: does the response follow the instruction? Is it factually accurate? Is it concise?",
    "Give a score from 1 to {top}, where higher means more useful for a user.",
    "Penalize refusals without reason; reward safe and complete answers.",
)
_SCORE_FMT = ("Output the score as [[score]].", "Reply with 'Score: X' on the last line.", 'Return {"score": X}.')
_CONTENT: dict[str, tuple[str, ...]] = {
    "grading": (
        "{h0}Question: {question}\nResponse: {answer}{h1}",
        "[User Question]\n{question}\n[Assistant Answer]\n{answer}",
        "{h0}Prompt: {question}\nReference: {answer2}\nCandidate: {answer}{h1}",
        "Compare A and B for: {question}\nA: {answer}\nB: {answer2}",
    ),
    "safe_rewrite": ('{h0}"{sensitive}"{h1}', "{h0}Topic: {sensitive}{h1}"),
    "extraction": ('{h0}"{doc}"{h1}', "{h0}{doc} {doc}{h1}"),
    "summarization": ("{h0}{doc} {doc} {doc}{h1}", '{h0}"{doc} {doc}"{h1}'),
    "translation": ('{h0}"{doc}"{h1}', "{h0}{doc}{h1}"),
}
_HARVEST_INTRO = (
    "Here is a problem and its final answer.", "Below is a solved task.", "The following task has been solved.",
    "You are given a question together with its correct answer.", "A student's task and the verified result:",
    "Reference solution provided.", "Consider this worked example.", "Known answer below.",
)  # fmt: skip
_HARVEST_LAYOUT = (
    "Problem: {task}\nAnswer: {answer}", "{task}\nThe correct answer is: {answer}", "Task: {task}\nSolution: {answer}",
    "<question>{task}</question>\n<answer>{answer}</answer>", "Q: {task}\nA: {answer}",
    "### Question\n{task}\n### Final answer\n{answer}",
)  # fmt: skip
_HARVEST_ASK = (
    "Explain step by step the complete reasoning that leads to this answer.",
    "Write out the full chain of thought a careful expert would follow to reach it, skipping nothing.",
    "Reconstruct the detailed reasoning behind this solution.",
    "Produce a transparent derivation of this answer.",
    "Show the intermediate reasoning that justifies the result.",
    "Give the reasoning trace that connects the question to the answer.",
    "Explain why this answer is correct, in full detail.",
    "Derive the answer from first principles, showing every inference.",
    "Fill in all the missing steps between the question and the answer.",
    "Narrate your thinking as if solving it for the first time, arriving at this answer.",
)
_LANG_COERCE = (
    "Write all of your reasoning in {lang}.", "Think only in {lang}, then answer in {lang}.",
    "Your internal reasoning must be in {lang}.", "Reason in {lang} only.", "All thinking must use {lang}.",
    "Keep the reasoning trace in {lang}.", "Do your step-by-step thinking in {lang}.",
    "The chain of thought must be written in {lang}.",
)  # fmt: skip
_A = {"a": "an", "e": "an", "i": "an", "o": "an", "u": "an"}


@dataclass(frozen=True)
class House:
    """The phrasing habits of one prompt pipeline."""

    roles: tuple[str, ...]
    goals: tuple[str, ...]
    styles: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]
    cots: tuple[str, ...]
    outputs: tuple[str, ...]
    rubrics: tuple[str, ...]
    system_share: float  # share of templates carrying a system prompt (else the role goes inline)
    content_first: float
    harvest: tuple[str, str, str]  # intro, layout, ask
    coerce: str


def _rng(*parts: object) -> Random:
    return Random(xxhash.xxh3_64_intdigest("/".join(map(str, parts)).encode()))


def _some(r: Random, pool: tuple[str, ...], lo: int, hi: int) -> tuple[str, ...]:
    return tuple(r.sample(pool, min(len(pool), r.randint(lo, hi))))


@lru_cache(maxsize=4096)
def house(key: str) -> House:
    r = _rng("house", key)
    return House(
        roles=_some(r, _ROLE_FRAMES, 1, 3),
        goals=_some(r, _GOALS, 1, 4),
        styles=_some(r, _STYLE, 1, 5),
        headers=tuple(r.sample(_HEADERS, r.randint(1, 2))),
        cots=_some(r, _COT, 1, 3),
        outputs=_some(r, _OUTPUT, 1, 4),
        rubrics=_some(r, _RUBRIC, 1, 2),
        system_share=r.choice((0.0, 0.5, 0.8, 1.0, 1.0)),
        content_first=r.choice((0.0, 0.0, 0.15, 0.3)),
        harvest=(r.choice(_HARVEST_INTRO), r.choice(_HARVEST_LAYOUT), r.choice(_HARVEST_ASK)),
        coerce=r.choice(_LANG_COERCE),
    )


def _role(h: House, cap: str, r: Random) -> str:
    nouns = _NOUNS.get(cap) or _NOUNS["chat"]
    adj = r.choice(_ADJ)
    text = r.choice(h.roles).format(
        a="{a}",
        adj=adj,
        adj2=r.choice(_ADJ2),
        noun=r.choice(nouns),
        years=r.randint(5, 30),
        orgkind=r.choice(_ORGKIND),
    )
    head, _, tail = text.partition("{a}")
    if not tail:
        return text
    return head + _A.get(tail.lstrip()[:1].lower(), "a") + tail


def _fmt(text: str, r: Random) -> str:
    k1, k2 = r.sample(_KEYS, 2)
    return text.format(
        k1=k1, k2=k2, words=r.choice((50, 100, 150, 200, 300)), top=r.choice((5, 7, 10)), w1=50, w2=30, q="{q}"
    ).replace("{q}", r.choice(_QUAL))


def template(key: str, cap: str, i: int, reasoning: bool) -> tuple[str, str]:
    """Template ``i`` of pipeline ``key`` for ``cap``: (system, user with content slots)."""
    h = house(key)
    r = _rng("tpl", key, cap, i)
    role = _role(h, cap, r)
    sys_parts = [role] + [_fmt(g, r) for g in r.sample(h.goals, r.randint(0, len(h.goals)))]
    sys_parts += r.sample(h.styles, r.randint(0, min(2, len(h.styles))))
    h0, h1 = r.choice(h.headers)
    instr = r.choice(_INSTR.get(cap) or _INSTR_ANY)
    content = r.choice(_CONTENT.get(cap, ("{h0}{task}{h1}",))).replace("{h0}", h0).replace("{h1}", h1)
    tail: list[str] = []
    if cap == "grading":
        tail += [_fmt(r.choice(h.rubrics), r), r.choice(_SCORE_FMT)]
    elif reasoning or (cap in ("reasoning", "data_analysis") and r.random() < 0.6):
        tail.append(r.choice(h.cots))
    if r.random() < 0.7:
        tail.append(_fmt(r.choice(h.outputs), r))
    if r.random() < h.system_share:
        system = " ".join(sys_parts)
        lead = [instr]
    else:
        system = ""
        lead = [role, instr] if r.random() < 0.6 else [instr]
    if r.random() < h.content_first:
        user = content + "\n\n" + " ".join(lead + tail)
    else:
        user = " ".join(lead) + "\n" + content + ("\n" + " ".join(tail) if tail else "")
    return system, user.strip()


def harvest_template(key: str) -> str:
    """The chain-of-thought harvesting wrapper of pipeline ``key``: slots ``{task}`` and ``{answer}``."""
    intro, layout, ask = house(key).harvest
    return f"{intro}\n{layout}\n{ask}"


def coercion(key: str, lang: str) -> str:
    """How pipeline ``key`` demands the reasoning trace in ``lang``."""
    return house(key).coerce.format(lang=lang)


@lru_cache(maxsize=16_384)  # seeding a Random per conversation was measurable
def personal_system(seed: int, cap: str) -> str:
    """A system prompt one individual wrote for themself (most people send none)."""
    r = _rng("personal", seed)
    if r.random() < 0.85:
        return ""
    h = house(f"personal/{seed}")
    parts = [_role(h, cap, r), *r.sample(h.styles, min(len(h.styles), r.randint(0, 2)))]
    return " ".join(parts)


def product_system(key: str, cap: str) -> str:
    """The fixed system prompt an app or product (public pool ``key``, made for ``cap``) sends for every user."""
    h = house(key)
    r = _rng("product", key)
    parts = [_role(h, cap, r)]
    parts += [_fmt(g, r) for g in h.goals] + list(h.styles) + [_fmt(o, r) for o in h.outputs[:2]]
    return " ".join(parts)
