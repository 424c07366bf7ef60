"""Proof of transfer: a student trained on one account's marked outputs carries that account's key in
its own generations; a student trained on the same outputs unmarked carries none."""

from __future__ import annotations

from distillguard.watermark import account_key, detect, mark_text
from distillguard.watermark.student import NgramStudent
from watermark_corpus import prose, simulator_answers

KEYS = {f"acct_{i}": account_key(b"provider-secret", f"acct_{i}") for i in range(100)}
TEACHER = simulator_answers(800, seed=1) + prose(800, seed=2)


def _student_tokens(texts: list[str], n: int) -> tuple[list[str], int]:
    student = NgramStudent(order=3).fit(texts)
    gens = student.generate(n, seed=9, max_words=250)
    return gens, sum(len(g.split()) for g in gens)


def test_student_of_marked_outputs_is_attributed_to_the_account() -> None:
    harvested = [mark_text(t, KEYS["acct_42"]) for t in TEACHER]
    gens, tokens = _student_tokens(harvested, 16)
    assert tokens < 4500
    found = detect(gens, KEYS)
    assert found[0].key_id == "acct_42"
    assert found[0].p_adjusted < 1e-6  # Bonferroni over the 100 account keys
    assert not any(d.detected for d in found[1:])


def test_student_of_unmarked_outputs_is_attributed_to_nobody() -> None:
    gens, _ = _student_tokens(TEACHER, 16)
    found = detect(gens, KEYS)
    assert not any(d.detected for d in found)
    assert found[0].p_adjusted > 1e-3
