"""distillguard.text.mask: what it replaces, what it keeps, and that it is idempotent."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.errors import ConfigError
from distillguard.fingerprint import FingerprintConfig
from distillguard.text import mask


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


def test_mask_cap_bounds_the_work() -> None:
    assert mask("word " * 1000, cap=20) == "word word word word"


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
