"""Compiled byte scans behind ``text.mask_array`` (numba): one pass that says which masking patterns can
match each text, the number and name passes and the final whitespace collapse.

``mask_array`` runs each masking pattern only on the texts that hold what the pattern needs (a backtick
for code, a digit for numbers, ...). Asking Arrow's regex kernels that question costs a scan of every
text per pattern; ``gates`` answers all of them in one pass over the bytes. The answers are taken on
the text before any pattern ran: no pattern's rewrite adds what another pattern's gate looks for (the
placeholders are lower-case words in angle brackets between spaces), so a gate that holds after an
earlier rewrite held before it, and a text it lets through in vain comes out unchanged.

``numbers`` and ``names`` are the number and the name pass themselves, the costliest of the regex passes on
prompts: a scan for where a match can start and a greedy walk over it, instead of RE2.

``collapse`` is the last step of masking: drop the language marks, turn every run of whitespace (as
``str.split`` sees it) into one space, trim both ends.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
from numba import njit

I64 = npt.NDArray[np.int64]
U8 = npt.NDArray[np.uint8]

BACKTICK = 1 << 0
URL = 1 << 1  # "://", "www.", "WWW.", "Www."
AT = 1 << 2
SLASH = 1 << 3
DQUOTE = 1 << 4
UQUOTE = 1 << 5  # “ « 「
SQUOTE = 1 << 6
LONG_ID = 1 << 7  # a digit with 6 token characters after or before it, in one run of them
DIGIT = 1 << 8
UNDERSCORE = 1 << 9
CAMEL = 1 << 10  # a lower-case letter then an upper-case one
LANGUAGE = 1 << 11  # one of the language names given
NAME = 1 << 12  # "[a-z,;:] [A-Z][a-z]": where a capitalised name can start
NUM_TAG = 1 << 13  # "<num>"
MARK = 1 << 14  # the language mark U+E000

_URL_STARTS = (b"www.", b"WWW.", b"Www.")


def _bytes(words: list[bytes]) -> tuple[U8, I64]:
    data = np.frombuffer(b"".join(words), dtype=np.uint8).copy()
    off = np.zeros(len(words) + 1, dtype=np.int64)
    np.cumsum([len(w) for w in words], out=off[1:])
    return data, off


def utf8_buffers(arr: pa.Array) -> tuple[U8, I64]:
    """The UTF-8 bytes and 64-bit row offsets of a string array (nulls read as empty)."""
    if arr.null_count:
        arr = arr.fill_null("")
    if not pa.types.is_large_string(arr.type):
        arr = arr.cast(pa.large_string())
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, dtype=np.uint8)
    return data, offsets


@njit(cache=True, nogil=True, inline="always")
def _is_token(c: int) -> bool:  # pragma: no cover - compiled
    return (48 <= c <= 57) or (65 <= c <= 90) or (97 <= c <= 122) or c == 95 or c == 45


@njit(cache=True, nogil=True, inline="always")
def _at(data: U8, p: int, end: int, word: U8, lo: int, hi: int) -> bool:  # pragma: no cover - compiled
    if p + (hi - lo) > end:
        return False
    for i in range(hi - lo):  # noqa: SIM110 - compiled: no generators
        if data[p + i] != word[lo + i]:
            return False
    return True


_TOKEN = 1 << 20  # a token character: [A-Za-z0-9_-]
_LOOK = 1 << 21  # a byte that needs a closer look (":", "<", "w", "W", upper-case letters, UTF-8 leads)


def _classes() -> I64:
    """Per byte value: the flags it sets by itself, and whether it is a token character or needs a look."""
    t = np.zeros(256, dtype=np.int64)
    for ch, flag in (("`", BACKTICK), ("@", AT), ("/", SLASH), ('"', DQUOTE), ("'", SQUOTE), ("_", UNDERSCORE)):
        t[ord(ch)] |= flag
    for c in b"0123456789":
        t[c] |= DIGIT
    for c in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-":
        t[c] |= _TOKEN
    for c in b":<wWABCDEFGHIJKLMNOPQRSTUVWXYZ":
        t[c] |= _LOOK
    for c in (0xE2, 0xC2, 0xE3, 0xEE):
        t[c] |= _LOOK
    return t


_CLASSES = _classes()


@njit(cache=True, nogil=True)
def _gates(data: U8, offsets: I64, classes: I64, words: U8, word_off: I64, n_url: int) -> I64:  # pragma: no cover
    n = offsets.shape[0] - 1
    out = np.zeros(n, dtype=np.int64)
    n_words = word_off.shape[0] - 2  # the last word is "<num>"
    plain = (1 << 20) - 1
    for r in range(n):
        s, e = offsets[r], offsets[r + 1]
        f = 0
        run = -1  # start of the current run of token characters
        first_digit = -1  # first digit in it
        prev = 0
        for p in range(s, e):
            c = data[p]
            t = classes[c]
            f |= t & plain
            if t & _TOKEN:
                if run < 0:
                    run = p
                if t & DIGIT:
                    if p - run >= 6:
                        f |= LONG_ID
                    if first_digit < 0:
                        first_digit = p
                if first_digit >= 0 and p - first_digit >= 6:
                    f |= LONG_ID
            else:
                run = -1
                first_digit = -1
            if t & _LOOK:
                if 65 <= c <= 90:
                    if 97 <= prev <= 122:
                        f |= CAMEL
                    if p - s >= 2 and data[p - 1] == 32 and p + 1 < e and 97 <= data[p + 1] <= 122:
                        b = data[p - 2]
                        if (97 <= b <= 122) or b == 44 or b == 59 or b == 58:
                            f |= NAME
                    if (f & LANGUAGE) == 0:
                        for i in range(n_url, n_words):
                            if words[word_off[i]] == c and _at(data, p, e, words, word_off[i], word_off[i + 1]):
                                f |= LANGUAGE
                                break
                    if c == 87:  # W
                        for i in range(n_url):
                            if _at(data, p, e, words, word_off[i], word_off[i + 1]):
                                f |= URL
                elif c == 119:  # w
                    for i in range(n_url):
                        if _at(data, p, e, words, word_off[i], word_off[i + 1]):
                            f |= URL
                elif c == 58:  # ":" then "//"
                    if p + 2 < e and data[p + 1] == 47 and data[p + 2] == 47:
                        f |= URL
                elif c == 60:  # "<num>"
                    if _at(data, p, e, words, word_off[n_words], word_off[n_words + 1]):
                        f |= NUM_TAG
                elif c == 0xE2:  # “ U+201C
                    if p + 2 < e and data[p + 1] == 0x80 and data[p + 2] == 0x9C:
                        f |= UQUOTE
                elif c == 0xC2:  # « U+00AB
                    if p + 1 < e and data[p + 1] == 0xAB:
                        f |= UQUOTE
                elif c == 0xE3:  # 「 U+300C
                    if p + 2 < e and data[p + 1] == 0x80 and data[p + 2] == 0x8C:
                        f |= UQUOTE
                elif c == 0xEE and p + 2 < e and data[p + 1] == 0x80 and data[p + 2] == 0x80:  # U+E000
                    f |= MARK
            prev = c
        out[r] = f
    return out


def gates(arr: pa.Array, languages: list[str]) -> I64:
    """Per text, the flags above that hold for it (0 for a null)."""
    data, offsets = utf8_buffers(arr)
    words, word_off = _bytes([*_URL_STARTS, *(w.encode() for w in languages), b"<num>"])
    out: I64 = _gates(data, offsets, _CLASSES, words, word_off, len(_URL_STARTS))
    return out


def char_set(chars: str) -> tuple[npt.NDArray[np.bool_], I64]:
    """A set of characters for ``in_set``: a table of the ASCII ones, the others' code points sorted."""
    codes = sorted({ord(c) for c in chars})
    ascii_set = np.zeros(128, dtype=np.bool_)
    ascii_set[[c for c in codes if c < 128]] = True
    return ascii_set, np.array([c for c in codes if c >= 128], dtype=np.int64)


@njit(cache=True, nogil=True, inline="always")
def in_set(cp: int, ascii_set: npt.NDArray[np.bool_], wide_set: I64) -> bool:  # pragma: no cover - compiled
    """Whether code point ``cp`` is in the set ``char_set`` made."""
    if cp < 128:
        return bool(ascii_set[cp])
    i = np.searchsorted(wide_set, cp)
    return bool(i < wide_set.shape[0] and wide_set[i] == cp)


@njit(cache=True, nogil=True, inline="always")
def codepoint(data: U8, p: int) -> tuple[int, int]:  # pragma: no cover - compiled
    """The code point starting at byte ``p`` (valid UTF-8) and its length in bytes."""
    b = int(data[p])
    if b < 0x80:
        return b, 1
    if b < 0xE0:
        return ((b & 0x1F) << 6) | (int(data[p + 1]) & 0x3F), 2
    if b < 0xF0:
        return ((b & 0x0F) << 12) | ((int(data[p + 1]) & 0x3F) << 6) | (int(data[p + 2]) & 0x3F), 3
    cp = ((b & 0x07) << 18) | ((int(data[p + 1]) & 0x3F) << 12) | ((int(data[p + 2]) & 0x3F) << 6)
    return cp | (int(data[p + 3]) & 0x3F), 4


@njit(cache=True, nogil=True)
def _collapse(
    data: U8, offsets: I64, ascii_ws: npt.NDArray[np.bool_], wide_ws: I64, out: U8, out_off: I64
) -> None:  # pragma: no cover - compiled
    k = 0
    for r in range(offsets.shape[0] - 1):
        s, e = offsets[r], offsets[r + 1]
        pending = False  # whitespace seen since the last character written
        start = k
        p = s
        while p < e:
            b = data[p]
            if b < 128:  # ASCII, most bytes: no decoding, no set search (2.4x faster on real prompts)
                space, w = bool(ascii_ws[b]), 1
            else:
                cp, w = codepoint(data, p)
                if cp == 0xE000:  # the language mark: dropped
                    p += w
                    continue
                space = in_set(cp, ascii_ws, wide_ws)
            if space:
                pending = True
            else:
                if pending and k > start:
                    out[k] = 32
                    k += 1
                pending = False
                for j in range(w):
                    out[k] = data[p + j]
                    k += 1
            p += w
        out_off[r + 1] = k


def collapse(arr: pa.Array, whitespace: str) -> pa.Array:
    """Each text without the language mark U+E000, its runs of ``whitespace`` characters made one space,
    trimmed: ``" ".join(t.replace("\\ue000", "").split())`` when ``whitespace`` is what ``str.split`` splits
    on. Nulls stay null; the result is a ``string`` array."""
    data, offsets = utf8_buffers(arr)
    ascii_ws, wide_ws = char_set(whitespace)
    out = np.empty(int(offsets[-1] - offsets[0]), dtype=np.uint8)
    out_off = np.zeros(len(arr) + 1, dtype=np.int64)
    _collapse(data, offsets, ascii_ws, wide_ws, out, out_off)
    return _strings(arr, out, out_off)


@njit(cache=True, nogil=True, inline="always")
def _digit(c: int) -> bool:  # pragma: no cover - compiled
    return 48 <= c <= 57


@njit(cache=True, nogil=True, inline="always")
def _number_end(data: U8, p: int, e: int) -> int:  # pragma: no cover - compiled
    """End of the number starting at ``p`` (a digit): every quantifier greedy and every part after the first
    optional, so the leftmost-first match is the longest one each part allows, in order."""
    q = p + 1
    while q < e and (_digit(data[q]) or data[q] == 44):  # [0-9,]*
        q += 1
    if q + 1 < e and data[q] == 46 and _digit(data[q + 1]):  # (?:\.[0-9]+)?
        q += 2
        while q < e and _digit(data[q]):
            q += 1
    if q < e and (data[q] == 101 or data[q] == 69):  # (?:[eE][-+]?[0-9]+)?
        r = q + 1
        if r < e and (data[r] == 43 or data[r] == 45):
            r += 1
        if r < e and _digit(data[r]):
            q = r + 1
            while q < e and _digit(data[q]):
                q += 1
    if q < e and data[q] == 37:  # %?
        q += 1
    return q


@njit(cache=True, nogil=True)
def _numbers(data: U8, offsets: I64, out: U8, out_off: I64) -> bool:  # pragma: no cover - compiled
    """Every number made `` <num> ``, into ``out``; False when ``out`` is too small (nothing is valid then)."""
    k = 0
    cap = out.shape[0]
    for r in range(offsets.shape[0] - 1):
        p, e = offsets[r], offsets[r + 1]
        while p < e:
            q = p
            while q < e and not _digit(data[q]):  # the text up to the next digit is kept as it is
                q += 1
            if k + (q - p) + 7 > cap:
                return False
            out[k : k + (q - p)] = data[p:q]
            k += q - p
            if q == e:
                break
            for b in (32, 60, 110, 117, 109, 62, 32):  # " <num> "
                out[k] = b
                k += 1
            p = _number_end(data, q, e)
        out_off[r + 1] = k
    return True


def numbers(arr: pa.Array) -> pa.Array:
    """The number pass of masking, ``[0-9][0-9,]*(?:\\.[0-9]+)?(?:[eE][-+]?[0-9]+)?%?`` -> `` <num> ``, over every
    text, compiled: what RE2's global replace of the pattern gives (leftmost-first matches, left to right;
    the pattern is ASCII, so a bytewise scan sees what RE2 sees), without the regex engine (196,601 distinct
    user texts of the 4M bench store, 41 MB: 0.40-0.59 -> ~0.1 s). Nulls stay null; a ``string`` array."""
    return _grown(arr, _numbers)


@njit(cache=True, nogil=True, inline="always")
def _lower(c: int) -> bool:  # pragma: no cover - compiled
    return 97 <= c <= 122


@njit(cache=True, nogil=True, inline="always")
def _upper(c: int) -> bool:  # pragma: no cover - compiled
    return 65 <= c <= 90


@njit(cache=True, nogil=True)
def _names(data: U8, offsets: I64, out: U8, out_off: I64) -> bool:  # pragma: no cover - compiled
    """Every name match made ``\\1<name>``, into ``out``; False when ``out`` is too small."""
    k = 0
    cap = out.shape[0]
    for r in range(offsets.shape[0] - 1):
        p, e = offsets[r], offsets[r + 1]
        while p < e:
            # The next match starts at m: [a-z,;:] at m, a space at m + 1, then [A-Z][a-z]. Found from its space.
            m = -1
            q = p + 1
            while q + 2 < e:
                if data[q] == 32 and _upper(data[q + 1]) and _lower(data[q + 2]):
                    c = data[q - 1]
                    if _lower(c) or c == 44 or c == 59 or c == 58:
                        m = q - 1
                        break
                q += 1
            n = (e if m < 0 else m) - p
            if k + n + 8 > cap:
                return False
            out[k : k + n] = data[p : p + n]  # kept as it is up to the match
            k += n
            if m < 0:
                break
            out[k] = data[m]
            out[k + 1] = 32
            k += 2
            for b in (60, 110, 97, 109, 101, 62):  # "<name>"
                out[k] = b
                k += 1
            q = m + 4  # [A-Z][a-z]+(?: [A-Z][a-z]+)*, greedy
            while q < e and _lower(data[q]):
                q += 1
            while q + 2 < e and data[q] == 32 and _upper(data[q + 1]) and _lower(data[q + 2]):
                q += 3
                while q < e and _lower(data[q]):
                    q += 1
            p = q
        out_off[r + 1] = k
    return True


def names(arr: pa.Array) -> pa.Array:
    """The name pass of masking, ``([a-z,;:] )[A-Z][a-z]+(?: [A-Z][a-z]+)*`` -> ``\\1<name>``, over every text,
    compiled (as ``numbers``): a scan for a space between a possible first character and a capitalised word, then
    the greedy walk over the names that follow. 196,601 distinct user texts: 0.25-0.39 -> 0.11-0.16 s."""
    return _grown(arr, _names)


def _grown(arr: pa.Array, kernel: Any) -> pa.Array:
    """``kernel(data, offsets, out, out_off)`` into an output buffer twice the input, four times larger while
    it returns False (a text of little but matches grows several-fold); then as a string array."""
    data, offsets = utf8_buffers(arr)
    out_off = np.zeros(len(arr) + 1, dtype=np.int64)
    room = 2 * int(offsets[-1] - offsets[0]) + 64
    out = np.empty(room, dtype=np.uint8)
    while not kernel(data, offsets, out, out_off):
        room *= 4
        out = np.empty(room, dtype=np.uint8)
    return _strings(arr, out, out_off)


def _strings(arr: pa.Array, out: U8, out_off: I64) -> pa.Array:
    """A ``string`` array (``large_string`` past 2 GiB) of ``out`` cut at ``out_off``, with ``arr``'s nulls."""
    size = int(out_off[-1])
    valid = None if arr.null_count == 0 else pc.is_valid(arr).buffers()[1]  # a new bitmap, from bit 0
    dtype: Any = pa.string() if size < 2**31 else pa.large_string()
    off = out_off.astype(np.int32) if dtype == pa.string() else out_off
    return pa.Array.from_buffers(
        dtype, len(arr), [valid, pa.py_buffer(off), pa.py_buffer(out[:size])], null_count=arr.null_count
    )
