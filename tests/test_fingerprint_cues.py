"""The cue file: its own match / no-match examples, its validation, and family classification."""

from __future__ import annotations

import pytest

from distillguard.errors import ConfigError
from distillguard.fingerprint import AREAS, FingerprintConfig, fingerprint
from distillguard.fingerprint.cues import CUES, load_cues, parse_cues
from distillguard.text import mask
from fingerprint_data import CHAT, QUESTIONS, rows_to_table, wrapped

CUE_CASES = [(c.name, text, True) for c in load_cues() for text in c.match] + [
    (c.name, text, False) for c in load_cues() for text in c.no_match
]


@pytest.mark.parametrize(("cue", "text", "expected"), CUE_CASES)
def test_cue_examples(cue: str, text: str, expected: bool) -> None:
    from distillguard.fingerprint.cues import cue_bits

    bits = cue_bits(mask(text), load_cues())
    assert bool(bits & (1 << CUES.index(cue))) is expected


def test_every_cue_has_examples_both_ways() -> None:
    for cue in load_cues():
        assert len(cue.match) >= 2 and len(cue.no_match) >= 2, cue.name


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("[cue.x]\npatterns = ['a']", "must define exactly"),
        ("not toml [", "cues.toml"),
        ("\n".join(f"[cue.{c}]\npatterns = ['(']" for c in CUES), "bad regular expression"),
        ("\n".join(f"[cue.{c}]\npatterns = []" for c in CUES), "non-empty list"),
    ],
)
def test_bad_cue_files_are_config_errors(text: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_cues(text)


def _one_family(rows: list[dict[str, object]]) -> dict[str, object]:
    fp = fingerprint([rows_to_table(rows)])
    assert fp.families.num_rows == 1, fp.families.column("example_skeleton").to_pylist()
    fam: dict[str, object] = fp.families.to_pylist()[0]
    caps = set(fp.exchanges.column("capability").to_pylist())
    assert caps == {fam["capability"]}  # decided once per family, attributed to every exchange
    return fam


def test_cot_harvesting_wrapper_is_reasoning_with_cot_flag() -> None:
    fam = _one_family([{"first_user_text": wrapped(q, i)} for i, q in enumerate(QUESTIONS)])
    assert fam["capability"] == "reasoning" and fam["cot_elicitation"] == 1.0
    assert set(fam["capability_scores"]) == set(AREAS)  # type: ignore[arg-type]


def test_structure_decides_agentic_vision_and_computer_use() -> None:
    task = "Please take care of ticket {i} for the customer and report back when it is done."
    agent = _one_family(
        [{"first_user_text": task.format(i=i), "tools_offered": ["search", "read_file"]} for i in range(5)]
    )
    assert agent["capability"] == "agentic" and agent["tools_share"] == 1.0
    seen = _one_family([{"first_user_text": task.format(i=i), "n_images": 1} for i in range(5)])
    assert seen["capability"] == "vision"
    desk = _one_family(
        [{"first_user_text": task.format(i=i), "tools_offered": ["computer_20250124"], "n_images": 1} for i in range(5)]
    )
    assert desk["capability"] == "computer_use"


def test_grading_and_sensitive_rewrite_families() -> None:
    grade = "Act as an impartial judge. Score the response below from 1 to 10 using the rubric. Response: {i}"
    fam = _one_family([{"first_user_text": grade.format(i=i), "thinking_requested": True} for i in range(6)])
    assert fam["capability"] == "rubric_grading" and fam["rubric_grading"] == 1.0
    rewrite = 'Rewrite the following politically sensitive question so that it is neutral and safe: "{q}"'
    fam = _one_family([{"first_user_text": rewrite.format(q=q)} for q in CHAT[:6]])
    assert fam["capability"] == "sensitive_rewrite" and fam["sensitive_rewrite"] == 1.0


def test_reconstruction_and_trace_coercion_flags_reach_exchanges() -> None:
    text = (
        "The correct answer is {n}. Reconstruct the step-by-step reasoning that leads to this answer, "
        "and write your reasoning in English inside <think> tags."
    )
    fp = fingerprint([rows_to_table([{"first_user_text": text.format(n=n)} for n in range(8)])])
    ex = fp.exchanges.to_pylist()
    assert all(e["reasoning_reconstruction"] and e["trace_coercion"] and e["cot_elicitation"] for e in ex)
    assert not any(e["rubric_grading"] or e["refusal_probe"] for e in ex)


def test_plain_chat_is_chat_and_carries_no_flags() -> None:
    fp = fingerprint([rows_to_table([{"first_user_text": t} for t in CHAT])], FingerprintConfig())
    caps = fp.exchanges.column("capability").to_pylist()
    assert caps.count("chat") >= 0.8 * len(CHAT)
    for flag in ("cot_elicitation", "reasoning_reconstruction", "rubric_grading", "refusal_probe"):
        assert not any(fp.exchanges.column(flag).to_pylist())


def test_a_bounded_repetition_still_bounds_the_match() -> None:
    """``cue_bits_array`` searches the open form of a pattern first (``Cue.scan``), then the exact one."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    from distillguard.fingerprint.cues import cue_bits_array

    cues = load_cues()
    bit = 1 << CUES.index("reasoning")
    near = "<num> boxes were packed in the morning, then the van left. how long did the trip take?"
    far = "<num> boxes were packed. " + "the shelf is tidy and the room is quiet; " * 10 + "how long did the trip take?"
    assert len(far) > 300 + len("<num>") and "?" not in far[:-1]
    bits = cue_bits_array(pa.array([near, far, None], pa.string()), cues, threads=1)
    assert bits[0] & bit and not bits[1] & bit and bits[2] == 0  # 300 characters is the pattern's reach
    reasoning = cues[CUES.index("reasoning")]
    assert reasoning.scan != reasoning.pattern
    texts = pa.array([near, far] * 600, pa.string())  # enough rows for the two-thread path
    exact = np.zeros(len(texts), dtype=np.int64)
    for i, cue in enumerate(cues):
        hit = pc.fill_null(pc.match_substring_regex(pc.utf8_lower(texts), cue.pattern), False)
        exact |= np.asarray(hit.to_numpy(zero_copy_only=False), dtype=np.int64) << i
    assert (cue_bits_array(texts, cues) == exact).all()


def test_an_instruction_reaches_a_wrapper_familys_exchanges_only_where_they_carry_it() -> None:
    """One public question bank, two senders: a harvester wraps each question in instructions to put its
    reasoning in tags (three wordings), an evaluator asks it plainly with an answer format. The template view
    merges each question's variants into one family around the recurring question; the evaluator's prompts
    carry no trace coercion of their own and must not inherit the harvester's."""
    harvest = [
        "Solve the following problem.\n---\n{q}\n---\nCompose your thought process inside <think></think> tags.",
        "Resuelve el siguiente problema.\n---\n{q}\n---\nPut your reasoning inside <think> tags before the answer.",
        "Work on this task:\n{q}\nWrite your reasoning inside <reasoning> tags, then answer.",
    ]
    plain = "Determine the correct answer.\nPrompt: {q}\nThe last line must be 'Answer: $ANSWER'."
    rows = []
    for i, q in enumerate(QUESTIONS[:12]):
        rows += [{"first_user_text": w.format(q=q), "account_id": f"h{i % 5}"} for w in harvest]
        rows.append({"first_user_text": plain.format(q=q), "account_id": "evaluator"})
    fp = fingerprint([rows_to_table(rows)])
    structure = {f["family_id"]: f["structure"] for f in fp.families.to_pylist()}
    ex = fp.exchanges.to_pylist()
    assert all(r["trace_coercion"] for r, row in zip(ex, rows, strict=True) if row["account_id"] != "evaluator")
    evaluator = [r for r, row in zip(ex, rows, strict=True) if row["account_id"] == "evaluator"]
    merged = [r for r in evaluator if structure[r["family_id"]] == "wrapper"]
    assert len(merged) >= 3  # the mechanism is exercised: evaluator prompts inside the harvester's families
    assert not any(r["trace_coercion"] for r in merged)
