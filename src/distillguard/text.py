"""Masking of variable spans: the skeleton of a prompt, which is what a template family shares.

Pure functions, no state. Used by ingest (privacy mode stores only skeletons), by fingerprinting and by
the gateway. A prompt built by filling a template's slots keeps its skeleton when the slot values
change: numbers, quoted text, code, URLs, e-mail addresses, file paths, identifiers, capitalised names
and long opaque tokens are each replaced by one placeholder.

Two implementations with one meaning: ``mask`` (one Python string, Python's ``re``) and ``mask_array``
(an Arrow array, RE2 kernels, no Python string per row; what the fingerprint stage runs; which rows
each pass can change, the number and name passes and the final whitespace collapse come from compiled scans,
``textscan``). Both are
built from the same pattern list, written in the syntax the two engines share: ASCII classes
(``re.ASCII``), no look-around (boundaries are captured and written back), and the explicit
whitespace set of ``str.split``. A differential test holds them equal.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache, partial

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

WS_CODEPOINTS = (
    *range(0x09, 0x0E), *range(0x1C, 0x21), 0x85, 0xA0, 0x1680, *range(0x2000, 0x200B), 0x2028, 0x2029, 0x202F,
    0x205F, 0x3000,
)  # fmt: skip
"""Every code point ``str.isspace`` holds true for (Unicode 15; a test checks them against the running Python):
written out, because finding them by scanning all 1.1M code points cost 0.1 s at every import."""
_WS_CHARS = "".join(map(chr, WS_CODEPOINTS))
_WS = "".join(f"\\x{{{ord(c):x}}}" for c in _WS_CHARS)  # RE2 syntax; _py rewrites it for Python
_T = "A-Za-z0-9_-"  # characters of an opaque token
_L = "A-Za-z_-"  # ... other than digits
_LANGUAGES = "English|Chinese|Mandarin|Spanish|French|German|Russian|Japanese|Korean|Arabic|Portuguese|Italian|Hindi"
_KEEP = "\ue000"  # marks a language name for the name pass, then removed (private use: never output)
ELLIPSIS = " … "
"""Joins the head and the tail of a text longer than the cap."""


@dataclass(frozen=True)
class _Pass:
    pattern: str  # shared syntax; "{END}" stands for the end of the text
    rewrite: str  # "\\1"-style group references
    gate: tuple[str, ...]  # literals one of which a text must contain for the pass to run (empty: always)
    scan: str | None = None  # a cheaper regex every text the pattern can change matches (Arrow gate)
    compiled: str | None = None  # the ``textscan`` function mask_array runs instead of the regex


# In order: later patterns see earlier placeholders. A long token mixing letters and digits (key,
# hash, uuid) is one <id>: it is a maximal run of 12+ token characters whose first digit sits at
# position i, written as one alternative per i because neither engine may look around.
_LONG_ID = "|".join([*(f"[{_L}]{{{i}}}[0-9][{_T}]{{{11 - i},}}" for i in range(11)), f"[{_L}]{{11,}}[0-9][{_T}]*"])
_LONG_ID_SCAN = f"[0-9][{_T}]{{6}}|[{_T}]{{6}}[0-9]"  # what a long id must contain: its pass's gate
_CAMEL_SCAN = "[a-z][A-Z]"  # ... and a camelCase identifier
_ID_REWRITE = r"\1 <id> "
_PASSES: tuple[_Pass, ...] = (
    _Pass(r"```(?s:.)*?(?:```|{END})", " <code> ", ("`",)),
    _Pass(r"`[^`\n]{1,200}`", " <code> ", ("`",)),
    _Pass(
        rf"\b(?:[Hh][Tt][Tt][Pp][Ss]?|[Ff][Tt][Pp])://[^{_WS}]+|\b[Ww][Ww][Ww]\.[^{_WS}]+",
        " <url> ",
        ("://", "www.", "WWW.", "Www."),
    ),
    _Pass(r"[\w.+-]+@[\w-]+\.[\w.-]*\w", " <email> ", ("@",)),
    _Pass(r"(?:[A-Za-z]:)?[\w.~-]*/[\w.-]+/[\w./-]*", " <path> ", ("/",)),
    _Pass('"[^"\\n]{1,400}"', " <quote> ", ('"',)),
    _Pass("“[^”\\n]{1,400}”|«[^»\\n]{1,400}»|「[^」\\n]{1,400}」", " <quote> ", ("“", "«", "「")),
    # A boundary on each side keeps apostrophes (it's, don't) out; the trailing one is consumed, so a
    # quote right after a masked one is caught by the second, identical pass.
    _Pass(r"(^|[^\w])'[^'\n]{3,400}'({END}|[^\w])", r"\1 <quote> \2", ("'",)),
    _Pass(r"(^|[^\w])'[^'\n]{3,400}'({END}|[^\w])", r"\1 <quote> \2", ("'",)),
    _Pass(rf"(^|[^{_T}])(?:{_LONG_ID})", _ID_REWRITE, tuple("0123456789"), _LONG_ID_SCAN),
    _Pass(r"[0-9][0-9,]*(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?%?", " <num> ", tuple("0123456789"), compiled="numbers"),
    _Pass(r"\b[a-z]+(?:_[a-z0-9]+)+\b", " <ident> ", ("_",)),
    _Pass(r"\b[a-z]+[A-Z][A-Za-z0-9]*\b", " <ident> ", (), _CAMEL_SCAN),
    # Language names are capitalised but are part of an instruction ("answer in French"), not a slot:
    # marked first, so the name pattern cannot start on them, and unmarked after.
    _Pass(rf"\b({_LANGUAGES})\b", _KEEP + r"\1", (), _LANGUAGES),
    _Pass(r"([a-z,;:] )[A-Z][a-z]+(?: [A-Z][a-z]+)*", r"\1<name>", (), compiled="names"),
    # A run of numbers (a pasted table, a list of values) is one slot: otherwise its length, not the
    # instruction around it, would decide which family the prompt falls into.
    # Any whitespace may sit between them (whitespace is collapsed only at the end): idempotence.
    _Pass(rf"<num>(?:[{_WS}|,;:/-]*<num>)+", " <nums> ", ("<num>",)),
)


def _py(p: _Pass) -> tuple[re.Pattern[str], str]:
    pattern = p.pattern.replace("{END}", r"\Z")
    pattern = re.sub(r"\\x\{([0-9a-f]+)\}", lambda m: f"\\U{int(m.group(1), 16):08x}", pattern)
    return re.compile(pattern, re.ASCII), p.rewrite


def _re2(p: _Pass) -> str:
    return p.pattern.replace("{END}", r"\z")


_PY = tuple(_py(p) for p in _PASSES)
_RE2 = tuple(_re2(p) for p in _PASSES)
_PY_SCAN = tuple(re.compile(p.scan) if p.scan else None for p in _PASSES)
# The long-token pass in Python: same matches (maximal runs of 12+ token characters with a digit),
# found the quicker way Python's engine allows (one simple pattern and a test per match).
_LONG_RUN = re.compile(f"[{_T}]{{12,}}")
_DIGIT = re.compile("[0-9]")


def _long_token(m: re.Match[str]) -> str:
    tok = m.group()
    return " <id> " if _DIGIT.search(tok) else tok


def _head_tail(text: str, cap: int) -> str:
    head = cap - cap // 4
    return text[:head] + ELLIPSIS + text[len(text) - cap // 4 :]


def mask(text: str, cap: int | None = None) -> str:
    """Return the skeleton of ``text``: variable spans replaced by placeholders, whitespace collapsed.

    ``cap`` bounds the work on long inputs: only the first three quarters and the last quarter of
    ``cap`` characters are masked (instructions sit at the head or the tail of a prompt), joined by
    ``ELLIPSIS``. Equal to ``mask_array``. Idempotent without a cap on ordinary text
    (``mask(mask(t)) == mask(t)``), with known corner cases where collapsing whitespace or inserting a
    placeholder makes a later pattern match the second time: a quote spanning a line break (``"a\\nb"``),
    a name after a tab (``"a\\tAa"``), a short quote or code span around a number (``"'0'"``). They do not
    matter for families (a prompt is masked once; its variants are masked the same way) and are left alone.
    """
    if cap is not None and len(text) > cap:
        text = _head_tail(text, cap)
    if _KEEP in text:
        text = text.replace(_KEEP, "")
    for (regex, rewrite), p, scan in zip(_PY, _PASSES, _PY_SCAN, strict=True):
        if p.gate and not any(g in text for g in p.gate):
            continue
        if scan is not None and scan.search(text) is None:
            continue
        text = _LONG_RUN.sub(_long_token, text) if p.rewrite == _ID_REWRITE else regex.sub(rewrite, text)
    return " ".join(text.replace(_KEEP, "").split())


_LANGUAGE_NAMES = _LANGUAGES.split("|")


@lru_cache(maxsize=1)
def _bits() -> tuple[int | None, ...]:
    """The ``textscan`` flags that gate each pass in ``mask_array`` (the same literals and scans as ``gate``
    and ``scan``; the name pass, which has no gate in ``mask``, needs "[a-z,;:] [A-Z][a-z]")."""
    from distillguard import textscan as ts

    by_gate = {
        ("`",): ts.BACKTICK,
        ("://", "www.", "WWW.", "Www."): ts.URL,
        ("@",): ts.AT,
        ("/",): ts.SLASH,
        ('"',): ts.DQUOTE,
        ("“", "«", "「"): ts.UQUOTE,
        ("'",): ts.SQUOTE,
        ("_",): ts.UNDERSCORE,
        ("<num>",): ts.NUM_TAG | ts.DIGIT,  # "<num>" typed by the user, or made by the number pass
    }
    by_scan = {_LONG_ID_SCAN: ts.LONG_ID, _CAMEL_SCAN: ts.CAMEL, _LANGUAGES: ts.LANGUAGE}
    out: list[int | None] = []
    for p in _PASSES:
        if p.scan is not None:
            out.append(by_scan[p.scan])
        elif p.gate == tuple("0123456789"):
            out.append(ts.DIGIT)
        elif p.gate:
            out.append(by_gate[p.gate])
        else:
            out.append(ts.NAME if p.rewrite == r"\1<name>" else None)
    return tuple(out)


def _replace_rows(
    arr: pa.Array, replace: Callable[[pa.Array], pa.Array], hit: npt.NDArray[np.bool_] | None
) -> pa.Array:
    """One pass (``replace``) over the rows ``hit`` marks (all rows when None)."""
    if hit is None:
        return replace(arr)
    n_hit = int(hit.sum())
    if n_hit == 0:
        return arr
    if 2 * n_hit > len(arr):  # filtering and merging back cost more than the rows left out
        return replace(arr)
    mask = pa.array(hit)
    return pc.replace_with_mask(arr, mask, replace(arr.filter(mask)))


def mask_array(texts: pa.Array | pa.ChunkedArray, cap: int | None = None) -> pa.Array:
    """``mask`` of every string of an Arrow array (nulls stay null), in RE2 kernels."""
    arr = texts.combine_chunks() if isinstance(texts, pa.ChunkedArray) else texts
    if not pa.types.is_string(arr.type):
        arr = arr.cast(pa.string())
    if cap is not None and len(arr):
        long = pc.fill_null(pc.greater(pc.utf8_length(arr), cap), False)
        if pc.any(long).as_py():
            sub = arr.filter(long)
            tail = cap // 4
            parts = [pc.utf8_slice_codeunits(sub, 0, cap - tail), ELLIPSIS]
            if tail:
                parts.append(pc.utf8_slice_codeunits(sub, -tail))
            joined = pc.binary_join_element_wise(*parts, "")
            arr = pc.replace_with_mask(arr, long, joined)
    from distillguard import textscan  # compiled scans: only the Arrow path pays numba's import

    flags = textscan.gates(arr, _LANGUAGE_NAMES)
    if (flags & textscan.MARK).any():  # a text holding the mark itself: removed first, as in ``mask``
        arr = _replace_rows(
            arr, partial(pc.replace_substring, pattern=_KEEP, replacement=""), (flags & textscan.MARK) != 0
        )
        flags = textscan.gates(arr, _LANGUAGE_NAMES)
    for pattern, p, bits in zip(_RE2, _PASSES, _bits(), strict=True):
        hit = None if bits is None else (flags & bits) != 0
        if p.compiled is not None:  # the same pass, a byte scan instead of the regex engine
            arr = _replace_rows(arr, getattr(textscan, p.compiled), hit)
        else:
            arr = _replace_rows(arr, partial(pc.replace_substring_regex, pattern=pattern, replacement=p.rewrite), hit)
    return textscan.collapse(arr, _WS_CHARS)


@lru_cache(maxsize=65536)
def network_of(ip: str) -> str | None:
    """The /24 (IPv4) or /48 (IPv6) network of an address, as text; None when it is no address."""
    try:
        addr = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv4Address):
        return str(ipaddress.ip_network(f"{addr}/24", strict=False))
    if addr.ipv4_mapped is not None:
        return str(ipaddress.ip_network(f"{addr.ipv4_mapped}/24", strict=False))
    return str(ipaddress.ip_network(f"{addr}/48", strict=False))
