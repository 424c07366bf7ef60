"""The compiled byte scans of masking and hashing agree with the forms they replace."""

from __future__ import annotations

import re

import numpy as np
import pyarrow as pa
import pytest
import xxhash

from distillguard import text, textscan
from distillguard.fingerprint import kernels, sketch

ODD = [
    "",
    "a",
    "  padded\t\ttext \n",
    "x" * 31,
    "y" * 32,
    "z" * 33,
    "ünïcödé “quoted” «guillemets» 「括弧」 — dash… \u00a0nbsp\u2003em",
    "中文字符 测试 日本語のテキスト 한국어",
    "emoji 🙂🚀 and \U0001f600",
    "call getUserName() with user_id=ABC123def456 at https://x.io/a?b=1 or www.site.org",
    "mail a.b@c.de, path /usr/local/bin, 'single quoted text' and \"double\"",
    "answer in French, then Spanish; ask Mr Smith about <num> and <nums>",
    "mark \ue000kept and tabs\x1c\x1d\x1e\x1f\x85",
]


@pytest.mark.parametrize("seed", [0, 1, 2**63 + 5])
def test_string_hashes_are_xxh64(seed: int) -> None:
    rng = np.random.default_rng(seed % 97)
    texts = ODD + ["".join(chr(int(c)) for c in rng.integers(32, 0x3000, size=n)) for n in range(0, 80, 3)]
    arr = pa.array([*texts, None])
    got = kernels.string_hashes(arr, seed).tolist()
    assert got == [xxhash.xxh64_intdigest((t or "").encode(), seed=seed) for t in [*texts, None]]
    assert kernels.string_hashes(arr.slice(3, 5), seed).tolist() == got[3:8]  # a sliced array reads its own rows


def test_token_hashes_are_xxh64_of_stripped_words() -> None:
    """Split on single spaces, punctuation stripped from both ends, empty words dropped, lower case."""
    arr = pa.array([*ODD, None, "Hello, World! (again)"])
    flat, off = sketch.token_hashes(arr)
    strip = sketch._PUNCT
    for i, t in enumerate(arr.to_pylist()):
        low = (t or "").lower()
        low = re.sub(r"([\u3040-\u30ff\u3400-\u9fff\uac00-\ud7af])", r" \1 ", low)
        words = [w.strip(strip) for w in low.split(" ")]
        want = [xxhash.xxh64_intdigest(w.encode()) for w in words if w]
        assert flat[off[i] : off[i + 1]].tolist() == want, t


def test_gates_hold_wherever_a_pass_can_change_the_text() -> None:
    """For every pass and text: when the pass changes the text (in the order ``mask`` runs them), the
    pass's flag was set on the text as it came in."""
    texts = [*ODD, "ab1234567", "1234567ab", "a12345b", "x: Bob", "iPhone", "snake_case_name", "3.5e10%"]
    flags = textscan.gates(pa.array(texts), text._LANGUAGE_NAMES).tolist()
    for t, f in zip(texts, flags, strict=True):
        cur = t.replace(text._KEEP, "")
        for (regex, rewrite), p, bits in zip(text._PY, text._PASSES, text._bits(), strict=True):
            new = regex.sub(rewrite, cur)
            if new != cur and bits is not None:
                assert f & bits, (t, p.pattern)
            cur = new


def test_collapse_is_split_and_join() -> None:
    arr = pa.array([*ODD, None])
    out = textscan.collapse(arr, text._WS_CHARS)
    assert out.type == pa.string()
    assert out.to_pylist() == [
        None if t is None else " ".join(t.replace("\ue000", "").split()) for t in arr.to_pylist()
    ]
    assert textscan.collapse(arr.slice(2, 12), text._WS_CHARS).to_pylist() == out.to_pylist()[2:14]


def test_whitespace_code_points_are_those_str_isspace_holds_for() -> None:
    """The written-out list matches the running Python's Unicode database (a new Unicode version that adds a
    space character fails here, not silently in masking)."""
    import sys

    assert sorted(text.WS_CODEPOINTS) == [c for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    assert len(set(text.WS_CODEPOINTS)) == len(text.WS_CODEPOINTS)
