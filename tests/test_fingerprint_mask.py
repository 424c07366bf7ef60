"""distillguard.text.mask: what it replaces, what it keeps, and that it is idempotent."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.errors import ConfigError
from distillguard.fingerprint import FingerprintConfig
from distillguard.text import mask, mask_array

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Order 12,000 units at 3.5% by 2026", "Order <num> units at <num> by <num>"),
        ("see https://example.com/a?b=1 now", "see <url> now"),
        ("mail bob@example.org today", "mail <email> today"),
        ("open /usr/local/lib/x.so please", "open <path> please"),
        ("say \"hello there\" and 'good night'", "say <quote> and <quote>"),
        ("key sk-abc123def456ghi789 here", "key <id> here"),
        ("rename my_variable and fooBar", "rename <ident> and <ident>"),
        ("run `pip install x` then:\n```py\nprint(1)\n```", "run <code> then: <code>"),
        ("ask Alice Smith in Paris", "ask <name> in <name>"),
        ("answer in French, think in English", "answer in French, think in English"),
        ("It's understandable and characteristically fine", "It's understandable and characteristically fine"),
    ],
)
def test_mask_examples(text: str, expected: str) -> None:
    assert mask(text) == expected


def test_mask_cap_keeps_head_and_tail() -> None:
    # Three quarters of the cap from the head, one from the tail: instructions sit at either end.
    assert mask("head " * 500 + "Answer briefly.", cap=60) == " ".join(["head"] * 9) + " … Answer briefly."
    assert mask("short text", cap=60) == "short text"


ALPHABET = st.sampled_from([*list("aZ09 _-'\"`/@.:\n\t“”«»"), "https://", "www.", "French", "Alice", "\xa0", "\ue000"])
TRICKY = st.lists(ALPHABET, max_size=60).map("".join) | st.text(alphabet=st.characters(codec="utf-8"), max_size=200)


@settings(max_examples=400, deadline=None)
@given(st.lists(TRICKY, min_size=1, max_size=5), st.sampled_from([None, 16, 64]))
def test_mask_array_equals_mask(texts: list[str], cap: int | None) -> None:
    assert mask_array(pa.array(texts), cap).to_pylist() == [mask(t, cap) for t in texts]


NUMBERS_AND_NAMES = st.lists(
    st.sampled_from([*"19,.eE+-%; :aZxQ\n", "Bob", "Ann Lee", "é", "Ünal", " <num> ", "1e", "2.5"]), max_size=40
).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.lists(NUMBERS_AND_NAMES | TRICKY, min_size=1, max_size=6))
def test_the_compiled_passes_equal_the_regex_they_replace(texts: list[str]) -> None:
    """The number and name passes run as byte scans in ``mask_array``: each equals RE2's global replace of its
    pattern, text by text (nulls kept, an array with an offset too), and masking with them still equals
    ``mask``."""
    from distillguard import text as t
    from distillguard import textscan

    # The last texts grow several-fold: past the first output buffer's room.
    edges = ["x; Bob Lee, Ann", "b: Cy Do; Ed", "Ünal Bo", "ab Cd", "a Bc D", "1,2,.5e+3%4 1e 2.", "x,1.2.3e-"]
    arr = pa.array([*texts, *edges, None, "1 " * 300, "a Bo " * 200])
    compiled = [(p, r) for p, r in zip(t._PASSES, t._RE2, strict=True) if p.compiled is not None]
    assert sorted(p.compiled for p, _ in compiled) == ["names", "numbers"]
    for p, pattern in compiled:
        want = pc.replace_substring_regex(arr, pattern=pattern, replacement=p.rewrite)
        run = getattr(textscan, str(p.compiled))
        assert run(arr).to_pylist() == want.to_pylist()
        assert run(arr.slice(1)).to_pylist() == want.to_pylist()[1:]
    assert mask_array(pa.array(texts)).to_pylist() == [mask(x) for x in texts]


def _real_texts() -> list[str]:
    out: list[str] = []
    with (SHARED_DATA / "arena-hard/arena-hard-v0.1_question.jsonl").open(encoding="utf-8") as fh:
        out += [json.loads(line)["turns"][0]["content"] for line in fh]
    with (SHARED_DATA / "sharegpt/sharegpt92k_sample_1000.jsonl").open(encoding="utf-8") as fh:
        turns = (t for line in fh for t in json.loads(line)["conversations"])
        out += [t["value"] for t in turns if t.get("from") == "human" and isinstance(t.get("value"), str)]
    return out


@pytest.mark.skipif(not (SHARED_DATA / "arena-hard").is_dir(), reason="shared real corpora absent")
def test_mask_array_equals_mask_on_real_prompts() -> None:
    texts = _real_texts()
    for cap in (None, 800):
        assert mask_array(pa.array(texts), cap).to_pylist() == [mask(t, cap) for t in texts]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_mask_is_idempotent(text: str) -> None:
    once = mask(text)
    assert mask(once) == once


@pytest.mark.parametrize(
    "kwargs",
    [{"num_perm": 4}, {"bands": 0}, {"threshold": 0.0}, {"template_veto": 1.5}, {"shingle_size": 0}, {"text_cap": 3}],
)
def test_bad_config_is_a_config_error(kwargs: dict[str, float]) -> None:
    with pytest.raises(ConfigError, match="FingerprintConfig"):
        FingerprintConfig(**kwargs)  # type: ignore[arg-type]
