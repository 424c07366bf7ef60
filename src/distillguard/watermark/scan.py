"""The one left-to-right scanner both the marker and the detector run, so they always agree on slots.

Text is cut into *blocks* at points that depend only on what came before (the start of a word that
follows sentence punctuation or a line break). No decision inside a block looks past the block's end,
so marking block by block with the carried :class:`ScanState` gives the same output as marking the whole
text; that is what lets the streaming marker emit a block as soon as the next one starts.

Protected (never changed, never counted): fenced and inline code, double- and single-quoted spans,
lines that start like code, a shell command, a heading, a table, a block quote, markup or JSON (a code
keyword, one of ``{ [ < | > # $ = /``, a token holding ``= ; ( ) { }``, or four spaces of indent), a
whole text that starts with ``{``, ``[`` or a code keyword (unfenced source), and any token that is not
a plain word (numbers, identifiers, URLs, paths, hyphenated words).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from distillguard.watermark.lexicon import BY_FIRST, Slot

_RUN = re.compile(r"\S+")
_WORD = re.compile(r"([(\[*]*)([A-Za-z]+(?:['’][A-Za-z]+)?)([.,;:!?)\]*]*)")
_CUT = re.compile(r"(?<=[.!?;:])\s+(?=\S)|\s*\n\s*(?=\S)")
_SENT_END = re.compile(r"[.!?:][)\]*\"'”’`]*$")
# A response whose first token is one of these is source code, not prose: left alone entirely.
_CODE_TEXT = re.compile(
    r"#include|#!|<\?php|(?:import|from|def|class|package|using|function|const|let|var|public|private|"
    r"static|#define|SELECT|CREATE|INSERT|UPDATE|DELETE|WITH|fn|func|module|namespace|struct|enum|interface)$"
)
# A line starting like this is code, a shell command, a heading or markup: left alone.
_CODE_LINE = re.compile(
    r"(?:[{\[<|>#$}/)\]=]|(?:def|class|import|from|return|if|elif|else|for|while|try|except|catch|with|"
    r"const|let|var|function|func|fn|print|echo|pip|npm|cd|sudo|git|public|private|static|int|void|async|"
    r"await|yield|assert|raise|throw|switch|case)$)"
)
_CODE_CHARS = re.compile(r"[=;{}()]")
_DELIM = re.compile("[`\"“”'‘’]")
_EDGE = "([*.,;:!?)]"


def _prev_word(run: str) -> str:
    m = _WORD.fullmatch(run)
    return _norm(m.group(2)) if m is not None else ""


Chooser = Callable[[Slot, str], int]


@dataclass(frozen=True)
class Unit:
    """One use of a slot: which slot, the word before it (its context), and the variant written."""

    sid: int
    prev: str
    variant: int


@dataclass
class ScanState:
    """What the scan carries from one block to the next."""

    fence: bool = False  # inside ``` ... ```
    inline: bool = False  # inside ` ... `
    dquote: bool = False  # inside "..." or “...” (ends at a line break at the latest)
    squote: bool = False  # inside '...' or ‘...’
    raw: bool = False  # the text starts with { or [: JSON, left alone entirely
    seen: bool = False  # any non-space character seen yet
    line_start: bool = True
    indent: int = 0
    line_protected: bool = False
    prev_run: str = ""  # the previous token when it could be a plain word ("" after anything else)
    sentence: bool = True  # the previous token ended a sentence (or nothing came before)


def cut_points(text: str, start: int = 0) -> list[int]:
    """Block boundaries in ``text`` from ``start``: each depends only on the text before it."""
    return [m.end() for m in _CUT.finditer(text, start) if m.end() > 0]


def _space(st: ScanState, ws: str) -> None:
    for ch in ws:
        if ch == "\n":
            st.line_start, st.indent, st.line_protected = True, 0, False
            st.dquote = st.squote = False
            st.sentence = True
        elif st.line_start:
            st.indent += 4 if ch == "\t" else 1


def _toggles(st: ScanState, run: str) -> bool:
    """Update code and quote state for ``run``; True when the run itself holds a delimiter."""
    if _DELIM.search(run) is None:
        return False
    held = False
    if "`" in run:
        held = True
        fences = run.count("```")
        singles = run.replace("```", "").count("`")
        if fences % 2:
            st.fence = not st.fence
        if not st.fence and singles % 2:
            st.inline = not st.inline
    if st.fence or st.inline:
        return True
    for ch in run:
        if ch == '"':
            st.dquote, held = not st.dquote, True
        elif ch == "“":
            st.dquote, held = True, True
        elif ch == "”":
            st.dquote, held = False, True
    opened = False
    if run[0] in "'‘" and not st.squote:
        st.squote = opened = held = True
    tail = run.rstrip(".,;:!?)]*")
    if st.squote and tail.endswith(("'", "’")) and not (opened and len(tail) == 1):
        st.squote, held = False, True
    return held


def _norm(core: str) -> str:
    return core.replace("’", "'").lower()


def _next_core(runs: list[str], ws: list[str], j: int, trail: str) -> str | None:
    """The plain word right after the phrase ending before run ``j`` (same line, no punctuation)."""
    if trail or j >= len(runs) or "\n" in ws[j]:
        return None
    m = _WORD.fullmatch(runs[j])
    if m is None or m.group(1):
        return None
    return _norm(m.group(2)).split("'")[0]


def _match(runs: list[str], ws: list[str], i: int, st: ScanState, prev: str) -> tuple[Slot, int, int, str] | None:
    """The slot starting at run ``i``: (slot, observed variant, runs used, trailing punctuation)."""
    first = _WORD.fullmatch(runs[i])
    if first is None:
        return None
    core = first.group(2)
    if core[1:] != core[1:].lower():
        return None  # ALL CAPS or mixed case: a name or emphasis, not ordinary prose
    for slot, vi, words in BY_FIRST.get(_norm(core), ()):
        w = len(words)
        if i + w > len(runs):
            continue
        trail = first.group(3)
        ok = not (w > 1 and trail)
        for j in range(1, w):
            if not ok:
                break
            m = _WORD.fullmatch(runs[i + j])
            ok = (
                m is not None
                and ws[i + j] == " "
                and not m.group(1)
                and m.group(2) == m.group(2).lower()
                and _norm(m.group(2)) == words[j]
                and (j == w - 1 or not m.group(3))
            )
            if ok and m is not None:
                trail = m.group(3)
        if ok and _eligible(slot, runs, ws, i, i + w, trail, st, prev):
            return slot, vi, w, trail
    return None


def _eligible(slot: Slot, runs: list[str], ws: list[str], i: int, j: int, trail: str, st: ScanState, prev: str) -> bool:
    initial = runs[i].lstrip("([*")[:1]
    if (slot.capital and not initial.isupper()) or (slot.lower and not initial.islower()):
        return False
    if slot.comma and trail != ",":
        return False
    if (slot.starts_sentence and not st.sentence) or (slot.mid_sentence and st.sentence):
        return False
    if prev in slot.bad_prev:
        return False
    nxt = _next_core(runs, ws, j, trail)
    if nxt is None:
        return not slot.next_word
    if slot.only_next and nxt not in slot.only_next:
        return False
    return nxt not in slot.bad_next


def _render(slot: Slot, target: int, runs: list[str], i: int, w: int, trail: str) -> str:
    first = _WORD.fullmatch(runs[i])
    assert first is not None  # _match only returns plain words
    text = slot.variants[target]
    if first.group(2)[0].isupper():
        text = text[0].upper() + text[1:]
    if any("’" in runs[i + j] for j in range(w)):
        text = text.replace("'", "’")
    return first.group(1) + text + trail


def scan_block(block: str, st: ScanState, choose: Chooser | None, units: list[Unit] | None) -> str:
    """Scan one block: return it marked (when ``choose`` is given) and append the slots found to ``units``."""
    spans = [m.span() for m in _RUN.finditer(block)]
    runs = [block[a:b] for a, b in spans]
    ws = [block[(spans[k - 1][1] if k else 0) : a] for k, (a, _) in enumerate(spans)]
    out: list[str] = []
    i = 0
    while i < len(runs):
        _space(st, ws[i])
        run = runs[i]
        if not st.seen:
            st.seen = True
            st.raw = run[0] in "{[" or _CODE_TEXT.match(run) is not None
        if st.line_start:
            st.line_start = False
            st.line_protected = st.indent >= 4 or _CODE_LINE.match(run) is not None or bool(_CODE_CHARS.search(run))
        shielded = st.raw or st.fence or st.inline or st.dquote or st.squote or st.line_protected
        held = False if st.raw else _toggles(st, run)
        found = None
        if not (shielded or held) and _norm(run.strip(_EDGE)) in BY_FIRST:
            prev = _prev_word(st.prev_run)
            found = _match(runs, ws, i, st, prev)
        if found is None:
            out.append(ws[i] + run)
            st.prev_run = "" if shielded or held else run
            st.sentence = _SENT_END.search(run) is not None
            i += 1
            continue
        slot, vi, w, trail = found
        target = vi if choose is None else choose(slot, prev)
        if target == vi:
            out.append("".join(ws[i + j] + runs[i + j] for j in range(w)))
        else:
            out.append(ws[i] + _render(slot, target, runs, i, w, trail))
        if units is not None:
            units.append(Unit(slot.sid, prev, target))
        st.prev_run = slot.variants[target].split()[-1]
        st.sentence = _SENT_END.search(trail) is not None
        i += w
    tail = block[spans[-1][1] :] if spans else block
    _space(st, tail)
    out.append(tail)
    return "".join(out)


def scan_text(text: str, st: ScanState, choose: Chooser | None, units: list[Unit] | None) -> str:
    """Scan ``text`` block by block (the same cuts the streaming marker makes)."""
    out: list[str] = []
    last = 0
    for cut in [*cut_points(text), len(text)]:
        if cut > last:
            out.append(scan_block(text[last:cut], st, choose, units))
            last = cut
    return "".join(out)
