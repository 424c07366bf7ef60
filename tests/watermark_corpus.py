"""Generated prose for the watermark tests: varied contexts, natural (unbalanced) phrasing preferences.

The real corpora under the shared data folder are used when present; these texts keep the tests
meaningful without them. Every text is reproducible from its seed.
"""

from __future__ import annotations

from random import Random

from distillguard.simulate import pools as P
from distillguard.simulate.textgen import TextGen

_NOUNS = (
    "function",
    "query",
    "result",
    "model",
    "table",
    "cache",
    "server",
    "request",
    "answer",
    "loop",
    "file",
    "index",
    "value",
    "test",
    "budget",
    "report",
    "team",
    "method",
    "graph",
    "user",
    "price",
    "sample",
    "dataset",
    "error",
    "system",
    "process",
    "plan",
    "rule",
    "input",
    "output",
    "policy",
    "service",
)
_ADJ = ("simple", "fast", "correct", "large", "small", "safe", "clear", "stable", "useful", "slow", "common")
_VERB = ("works", "fails", "helps", "changes", "grows", "returns", "matters", "improves", "breaks", "runs")
# (template, probability of the first spelling) - unmarked text prefers one spelling, as real text does
_SENT = (
    "It is {adj} to check the {noun} before the {noun2} {verb}.",
    "The {noun} {verb} because it is {adj}, for example when the {noun2} is {adj2}.",
    "You do not need a {adj} {noun} here; the {noun2} usually {verb}.",
    "If you are using a {adj} {noun}, you will see that the {noun2} {verb} quickly.",
    "Moreover, the {noun} is {adj}, and the {noun2} almost always {verb}.",
    "In summary, the {noun} {verb} and the {noun2} is approximately {adj}.",
    "We are going to ensure that the {noun} {verb}, especially when the {noun2} is {adj2}.",
    "Finally, there is a {adj} {noun} that perhaps {verb} more often than the {noun2}.",
    "The {noun} does not {verb2} unless the {noun2} is completely {adj}.",
    "That is the {adj} {noun}; I am sure the {noun2} mainly {verb}.",
    "As a result, the {noun} cannot {verb2} and it is therefore {adj}.",
    "They are testing the {noun}, which typically {verb} toward the end.",
)
_SWAPS = (  # applied with a fixed probability: a writer's habits, independent of any key
    ("It is", "It's", 0.3),
    ("it is", "it's", 0.3),
    ("do not", "don't", 0.5),
    ("does not", "doesn't", 0.5),
    ("you are", "you're", 0.4),
    ("you will", "you'll", 0.3),
    ("for example", "for instance", 0.2),
    ("usually", "typically", 0.3),
    ("Moreover,", "Furthermore,", 0.4),
    ("In summary,", "In conclusion,", 0.5),
    ("almost", "nearly", 0.3),
    ("quickly", "rapidly", 0.2),
    ("ensure", "make sure", 0.3),
    ("perhaps", "maybe", 0.5),
    ("Finally,", "Lastly,", 0.2),
    ("cannot", "can't", 0.4),
    ("I am", "I'm", 0.6),
    ("We are", "We're", 0.3),
    ("completely", "entirely", 0.3),
    ("especially", "particularly", 0.4),
    ("mainly", "primarily", 0.3),
    ("therefore", "thus", 0.3),
    ("That is", "That's", 0.3),
    ("They are", "They're", 0.3),
    ("approximately", "roughly", 0.3),
    ("often", "frequently", 0.3),
    ("As a result,", "Consequently,", 0.5),
)


def _sentence(r: Random) -> str:
    t = r.choice(_SENT)
    s = t.format(
        adj=r.choice(_ADJ),
        adj2=r.choice(_ADJ),
        noun=r.choice(_NOUNS),
        noun2=r.choice(_NOUNS),
        verb=r.choice(_VERB),
        verb2=r.choice(_VERB).removesuffix("s"),
    )
    for a, b, prob in _SWAPS:
        if a in s and r.random() < prob:
            s = s.replace(a, b)
    return s


def prose(n: int, seed: int, sentences: tuple[int, int] = (4, 12)) -> list[str]:
    """``n`` paragraphs of generated answer-like prose."""
    r = Random(seed)
    return [" ".join(_sentence(r) for _ in range(r.randint(*sentences))) for _ in range(n)]


def simulator_answers(n: int, seed: int, chars: int = 1200) -> list[str]:
    """``n`` responses from the project's traffic simulator (its TextGen), over every capability pool."""
    tg, r = TextGen(), Random(seed)
    caps = list(P.RESP_SENT)
    return [tg.response(caps[i % len(caps)], r, chars) for i in range(n)]
