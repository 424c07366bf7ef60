"""The equivalence classes the marker chooses among: one *slot* per set of interchangeable phrasings.

Every slot lists its variants (lower case except the pronoun "I") and the conditions under which any of
them may be swapped for any other without changing meaning or grammar. The conditions look only at what
is the same for every variant (the word before, the word after, the punctuation after the phrase), so
the detector finds exactly the slots the marker used, whichever variant the marker wrote.

Chosen for safety first: contractions that are always reversible in the listed contexts, sentence
adverbials that are only swapped when followed by a comma, and adverbs whose senses coincide. Words
with a second part of speech ("use", "start", "help") or idioms ("big deal", "not nearly") are left out.
"is not"/"are not" skip the subjects that have their own contraction slot ("it is", "you are"), so no
substitution can create a match for another slot. "need to"/"have to" is left out ("what you have to
offer").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Words that, right after a negative contraction, mean a question inversion ("Don't you ...?"), where the
# expanded form ("Do not you") is ungrammatical.
_INVERSION = frozenset(
    {"i", "you", "he", "she", "it", "we", "they", "this", "that", "there", "these", "those"}
    | {"the", "a", "an", "my", "your", "his", "her", "its", "our", "their"}
)
# "a lot of"/"lots of" is left out: "a" is in this set and "lots" is not, so the choice would change
# whether a contraction just before it counts.
# After "it's" / "that's" the 's may stand for "has" ("it's been"), which "it is" would misread.
_HAS = frozenset(("been", "got", "gotten", "had"))


@dataclass(frozen=True)
class Slot:
    """One set of interchangeable phrasings and the context in which they are interchangeable."""

    sid: int
    variants: tuple[str, ...]
    next_word: bool = False  # the phrase must be followed (same line, no punctuation) by a plain word
    bad_next: frozenset[str] = frozenset()  # ... which is none of these
    comma: bool = False  # the phrase must end with a comma ("Moreover," / "In addition,")
    bad_prev: frozenset[str] = frozenset()  # the word before is none of these
    only_next: frozenset[str] = frozenset()  # when set, the word after must be one of these
    starts_sentence: bool = False  # nothing but sentence punctuation (or a line start) comes before
    capital: bool = False  # written with a capital first letter (prose; code identifiers are lower case)
    lower: bool = False  # written in lower case ("May" may be the month)
    mid_sentence: bool = False  # never the first word of a sentence

    @property
    def k(self) -> int:
        return len(self.variants)


def _build() -> tuple[Slot, ...]:
    slots: list[Slot] = []

    def add(variants: tuple[str, ...], **opts: Any) -> None:
        slots.append(Slot(len(slots), variants, **opts))

    for aux in ("do", "does", "did", "would", "should", "could", "was", "were", "has", "have"):
        add((f"{aux} not", f"{aux}n't"), next_word=True, bad_next=_INVERSION)
    add(("cannot", "can't"), next_word=True, bad_next=_INVERSION)
    add(("will not", "won't"), next_word=True, bad_next=_INVERSION)
    for pron, verb, short in (
        ("it", "is", "'s"),
        ("that", "is", "'s"),
        ("there", "is", "'s"),
        ("what", "is", "'s"),
        ("here", "is", "'s"),
        ("you", "are", "'re"),
        ("we", "are", "'re"),
        ("they", "are", "'re"),
        ("I", "am", "'m"),
    ):
        add((f"{pron} {verb}", f"{pron}{short}"), next_word=True, bad_next=_HAS | {"not"})
    for pron in ("you", "we", "they", "I"):
        add((f"{pron} will", f"{pron}'ll"), next_word=True, bad_next=frozenset({"not"}))
    # "it is not" stays with the "it is" slot (which skips it); these take every other subject, and
    # never start a sentence ("Is not Python ...?" would be a question).
    it_etc = frozenset({"it", "that", "there", "what", "here"})
    add(("is not", "isn't"), next_word=True, bad_next=_INVERSION, bad_prev=it_etc, mid_sentence=True)
    they = frozenset({"you", "we", "they"})
    add(("are not", "aren't"), next_word=True, bad_next=_INVERSION, bad_prev=they, mid_sentence=True)
    # epistemic "may"; after I/you/we it often grants permission, which "might" would not
    add(("may", "might"), next_word=True, bad_next=_INVERSION, bad_prev=frozenset({"i", "you", "we"}), lower=True)
    not_noun = frozenset(  # "choose to", "choose between", "a select query": not interchangeable there
        {"from", "of", "query", "statement", "box", "element", "between", "to", "whether", "which", "what", "how"}
        | {"among", "one", "wisely"}
    )
    add(("select", "choose"), next_word=True, bad_next=not_noun)
    add(("selecting", "choosing"), next_word=True)
    # the complementiser before a subject pronoun: "I think (that) we should". Not before "you" or
    # "it", which can be objects ("I recommend it", "think it over").
    subjects = frozenset({"i", "he", "she", "we", "they", "there"})
    for verb in ("think", "recommend", "suggest", "assume", "hope"):
        add((f"{verb} that", verb), next_word=True, only_next=subjects)
    # "[x for example in examples]": a loop variable, not an example
    add(("for example", "for instance"), bad_next=frozenset({"in"}))
    for pair in (
        ("usually", "typically"),
        ("especially", "particularly"),
        ("mainly", "primarily"),
        ("perhaps", "maybe"),
        ("approximately", "roughly"),
        ("completely", "entirely"),
        ("quickly", "rapidly"),
        ("towards", "toward"),
    ):
        add(pair)
    add(("almost", "nearly"), bad_prev=frozenset({"not"}))
    add(("therefore", "thus"), bad_next=frozenset({"far"}))
    add(("often", "frequently"), bad_prev=frozenset({"more"}))
    # "make sure" wants a clause, "ensure" also takes a noun: only "... that" is safe both ways.
    for a, b in (("ensure", "make sure"), ("ensures", "makes sure"), ("ensuring", "making sure")):
        add((a, b), next_word=True, only_next=frozenset({"that"}))
    for group in (
        ("moreover", "furthermore", "additionally", "in addition"),
        ("as a result", "consequently"),
        ("in summary", "in conclusion", "to summarize"),
        ("first", "firstly"),
        ("second", "secondly"),
        ("finally", "lastly"),
        ("sure", "certainly"),
    ):
        add(group, comma=True, starts_sentence=True, capital=True)
    add(("note that", "keep in mind that"), starts_sentence=True, capital=True, next_word=True)
    add(
        ("let's", "let us"),
        starts_sentence=True,
        capital=True,
        next_word=True,
        bad_next=frozenset({"know", "in", "out"}),
    )
    return tuple(slots)


SLOTS: tuple[Slot, ...] = _build()


def _index() -> dict[str, tuple[tuple[Slot, int, tuple[str, ...]], ...]]:
    """First word (lower case) -> candidate (slot, variant index, words), longest phrase first."""
    by_first: dict[str, list[tuple[Slot, int, tuple[str, ...]]]] = {}
    for slot in SLOTS:
        for vi, variant in enumerate(slot.variants):
            words = tuple(variant.lower().split())
            by_first.setdefault(words[0], []).append((slot, vi, words))
    return {w: tuple(sorted(c, key=lambda c: -len(c[2]))) for w, c in by_first.items()}


BY_FIRST = _index()
MAX_WORDS = max(len(v.split()) for s in SLOTS for v in s.variants)
