"""The marker: streaming equals whole-text marking, the detector sees exactly the marker's choices,
protected material is never changed, and API bodies stay valid."""

from __future__ import annotations

import json

from hypothesis import given, settings
from hypothesis import strategies as st

from distillguard.watermark import (
    KeyedChoice,
    StreamMarker,
    account_key,
    mark_anthropic_response,
    mark_openai_response,
    mark_text,
)
from distillguard.watermark.lexicon import SLOTS
from distillguard.watermark.scan import ScanState, Unit, scan_text

KEY = account_key(b"provider-secret", "acct_test")
OTHER = account_key(b"provider-secret", "acct_other")

_PIECES = [
    "it is",
    "It is",
    "it's",
    "It’s",
    "do not",
    "don't",
    "Don't",
    "cannot",
    "can't",
    "will not",
    "won't",
    "you are",
    "you're",
    "I am",
    "I'm",
    "we will",
    "we'll",
    "you will",
    "for example",
    "For instance",
    "usually",
    "typically",
    "Moreover,",
    "In addition,",
    "Finally,",
    "lastly,",
    "as a result,",
    "ensure",
    "make sure",
    "that",
    "not",
    "been",
    "you",
    "the",
    "answer",
    "code",
    "works",
    "nearly",
    "almost",
    "thus",
    "is not",
    "isn't",
    "Is not",
    "are not",
    "may",
    "might",
    "May",
    "think",
    "think that",
    "we",
    "they",
    "Sure,",
    "Note that",
    "Let's",
    "Let us",
    "select",
    "choose",
    "to",
    "there",
    "This",
    "far",
    "more",
    "often",
    "IT IS",
    "Do Not",
    "42",
    "3.14",
    "x_1",
    "e.g.",
    "well-known",
    "http://a.b/c",
    ".",
    ",",
    ";",
    ":",
    "?",
    "!",
    "(",
    ")",
    "**",
    "`",
    "```",
    '"',
    "“",
    "”",
    "'",
    "‘",
    "’",
    "{",
    "[",
    ">",
    "|",
    "-",
    "#",
]
_SEPS = [" ", " ", " ", " ", "", "  ", "\n", "\n\n", "\n    ", "\t"]

texts = st.lists(st.tuples(st.sampled_from(_PIECES), st.sampled_from(_SEPS)), max_size=80).map(
    lambda parts: "".join(p + s for p, s in parts)
)


def _units(text: str) -> list[Unit]:
    units: list[Unit] = []
    scan_text(text, ScanState(), None, units)
    return units


@settings(max_examples=300, deadline=None)
@given(texts, st.lists(st.integers(min_value=0, max_value=400), max_size=12))
def test_stream_equals_whole_text_for_any_chunking(text: str, cuts: list[int]) -> None:
    bounds = sorted({min(c, len(text)) for c in cuts})
    chunks = [text[a:b] for a, b in zip([0, *bounds], [*bounds, len(text)], strict=True)]
    sm = StreamMarker(KEY)
    out = "".join(sm.feed(c) for c in chunks) + sm.flush()
    assert out == mark_text(text, KEY)


@settings(max_examples=300, deadline=None)
@given(texts)
def test_detector_reads_back_every_choice_the_marker_made(text: str) -> None:
    made: list[Unit] = []
    marked = scan_text(text, ScanState(), KeyedChoice(KEY), made)
    assert marked == mark_text(text, KEY)
    assert _units(marked) == made  # same slots, same contexts, the marker's variants
    choose = KeyedChoice(KEY)
    assert all(u.variant == choose(SLOTS[u.sid], u.prev) for u in made)
    assert mark_text(marked, KEY) == marked  # marking twice changes nothing


@settings(max_examples=200, deadline=None)
@given(texts)
def test_only_slot_words_change(text: str) -> None:
    marked = mark_text(text, KEY)
    strip = "".join(ch for ch in text if not ch.isalpha() and ch not in " '’")
    strip_m = "".join(ch for ch in marked if not ch.isalpha() and ch not in " '’")
    assert strip == strip_m  # digits, punctuation, quotes, code markers and line breaks all kept


def test_protected_material_is_untouched() -> None:
    prose = "It is usually fine, for example when you are done. You will not see it. Moreover, we are here."
    protected = [
        "```python\n# it is usually fine\nprint('do not')\n```",
        "`it is usually` here",
        '"It is usually done, for example when you are done," she said.',
        "‘it is usually the case’ and",
        "\n    it is usually indented code, you will not see it\n",
        "\n> It is usually quoted, for example when you are done.\n",
        "\n| it is usually | a table, for example when you are done |\n",
        "\n<tool_call>it is usually so, for example when you are done</tool_call>\n",
    ]
    keys = [account_key(b"s", f"acct_{i}") for i in range(8)]
    for p in protected:
        text = f"{prose} {p} {prose}"
        outs = {mark_text(text, key) for key in keys}
        assert len(outs) > 1  # the surrounding prose is marked ...
        assert all(p in out for out in outs), p  # ... the protected part never is
    for raw in ('{"steps": ["it is usually", "do not"], "n": 3}', '[1, 2, "it is usually"]\nIt is usually so.'):
        assert all(mark_text(raw, key) == raw for key in keys)


def test_marks_prose_and_differs_between_accounts() -> None:
    text = (
        "It is usually easy. You will not need a library, for example when you are in a hurry. "
        "Moreover, it is nearly done and we are almost there; I am sure that it is approximately right. "
    ) * 3
    a, b = mark_text(text, KEY), mark_text(text, OTHER)
    assert a != text or b != text
    assert a != b
    assert "42" in mark_text("It is 42 and it is usually 42.", KEY)


def test_anthropic_body_stays_valid_and_only_text_changes() -> None:
    body = {
        "id": "msg_1",
        "type": "message",
        "role": "assistant",
        "model": "m",
        "content": [
            {"type": "thinking", "thinking": "It is usually so. You will not see it.", "signature": "sig"},
            {"type": "text", "text": "It is usually so, for example when you are done. You will not see it."},
            {"type": "tool_use", "id": "tu_1", "name": "run", "input": {"cmd": "it is usually"}},
        ],
        "stop_reason": "end_turn",
        "usage": {"input_tokens": 3, "output_tokens": 9},
    }
    marked = {}
    for acct in ("a", "b", "c", "d"):
        marked = mark_anthropic_response(body, account_key(b"s", acct))
        assert marked["content"][0] == body["content"][0]
        assert marked["content"][2] == body["content"][2]
        assert json.loads(json.dumps(marked))["content"][1]["type"] == "text"
        if marked["content"][1]["text"] != body["content"][1]["text"]:
            break
    assert marked["content"][1]["text"] != body["content"][1]["text"]
    assert body["content"][1]["text"].startswith("It is usually")  # the input is not modified


def test_openai_body_marks_content_and_keeps_tool_calls() -> None:
    text = "It is usually so, for example when you are done. You will not see it. I am sure that it is."
    body = {
        "id": "c1",
        "object": "chat.completion",
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": text,
                    "tool_calls": [{"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}],
                },
                "finish_reason": "stop",
            },
            {"index": 1, "message": {"role": "assistant", "content": [{"type": "text", "text": text}]}},
            {"index": 2, "message": {"role": "assistant", "content": None}},
        ],
    }
    m = mark_openai_response(body, KEY)
    assert m["choices"][0]["message"]["content"] == mark_text(text, KEY)
    assert m["choices"][1]["message"]["content"][0]["text"] == mark_text(text, KEY)
    assert m["choices"][0]["message"]["tool_calls"] == body["choices"][0]["message"]["tool_calls"]
    assert m["choices"][2]["message"]["content"] is None


def test_account_key_is_hmac_of_account_id() -> None:
    import hashlib
    import hmac

    assert account_key(b"k", "acct") == hmac.new(b"k", b"acct", hashlib.sha256).digest()
    assert account_key(b"k", "a") != account_key(b"k", "b")


def test_unfenced_code_is_left_alone() -> None:
    keys = [account_key(b"s", f"acct_{i}") for i in range(16)]
    sources = [
        "import os\nfor example in examples:\n    first, second = example\nprint('it is usually done')",
        "#include <iostream>\nint main() {\n  // it is usually fine, for example when you are done\n}",
        "def f(pair):\n    first, second = pair\n    return first",
    ]
    lines = [
        "first, second = pair",
        "result = [x for example in examples]",
        "$ it is usually run like this, for example when you are root",
        "# It is usually a heading, for example when you are done",
        "return it is usually",
    ]
    prose = "It is usually fine, for example when you are done. You will not see it."
    for key in keys:
        for src in sources:
            assert mark_text(src, key) == src
        for line in lines:
            assert line in mark_text(f"{prose}\n{line}\n{prose}", key)


def test_watermark_imports_only_errors_text_and_schema() -> None:
    import ast
    from pathlib import Path

    import distillguard.watermark as wm

    allowed = {"distillguard.errors", "distillguard.text", "distillguard.schema"}
    for path in Path(wm.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("distillguard"):
                assert node.module in allowed or node.module.startswith("distillguard.watermark"), (path, node.module)
