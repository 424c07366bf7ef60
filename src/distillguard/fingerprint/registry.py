"""Streaming state of one text role (system prompts or first user turns): one entry per unique skeleton.

Raw text -> skeleton goes through a bounded cache keyed by the raw text's xxhash, so each distinct text
is masked once; skeletons are deduplicated by their own xxhash, and only a new skeleton is tokenised,
MinHashed. What is kept per unique skeleton is compact: its hash, its signature row, its text capped to
``cue_cap`` characters (head and tail: for classification of the family and its example) and, for the
template view, 32-bit hashes of its first and last shingles. Given a ``spill.Spill`` (the embedded engine's
fingerprint stage), the high halves of the signature and the text go to its files as they are computed and
only the rest stays in memory (``Kept``).

At the end of the stream ``Registry.finish`` hands over a ``SkeletonSet``: the same per-skeleton state
ordered by skeleton hash, so that what follows (clustering, representatives) depends on the set of
skeletons, not on the order the exchanges arrived in. The pure pieces (``skeleton_hashes``,
``sketch_skeletons``, ``SkeletonSet.build``) are what a distributed engine runs per batch and on its
driver (``distillguard.spark``).
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc
import xxhash

from distillguard.fingerprint import kernels, sketch
from distillguard.fingerprint.config import FingerprintConfig
from distillguard.fingerprint.spill import Spill
from distillguard.text import mask_array

I32 = npt.NDArray[np.int32]
I64 = npt.NDArray[np.int64]
U16 = npt.NDArray[np.uint16]
U64 = npt.NDArray[np.uint64]

BLANK = np.uint64(0xFFFFFFFFFFFFFFFF)
"""Stands for "no skeleton" (null or blank text) inside the registry. A real skeleton hash equal to it would
read as blank: a chance of 2**-64 per skeleton."""


def role_salt(role: str) -> int:
    """Seed of a role's skeleton hashes: the same skeleton as system prompt and as user turn differs."""
    return int(xxhash.xxh64_intdigest(role.encode()))


def skeleton_hashes(skeletons: pa.Array, salt: int) -> tuple[U64, npt.NDArray[np.bool_]]:
    """xxh64 (seeded with the role's salt) of each skeleton, and which skeletons are empty (no id)."""
    empty = np.asarray(pc.fill_null(pc.equal(pc.binary_length(skeletons), 0), True), dtype=bool)
    return kernels.string_hashes(skeletons, salt), empty


class Sketches:
    """MinHash signatures, capped texts and template-view shingles of some skeletons (row-aligned)."""

    def __init__(self, sig: sketch.U32, texts: pa.Array, win: sketch.U32, win_len: I64) -> None:
        self.sig, self.texts, self.win, self.win_len = sig, texts, win, win_len


class Kept:
    """What stays in memory of some skeletons whose high signature halves and texts went to a ``Spill``: the low
    halves (what clustering compares), whether each has a signature at all, and the template-view shingles."""

    def __init__(self, low: U16, sketched: npt.NDArray[np.bool_], win: sketch.U32, win_len: I64) -> None:
        self.low, self.sketched, self.win, self.win_len = low, sketched, win, win_len

    @classmethod
    def spilling(cls, part: Sketches, spill: Spill) -> Kept:
        """``part``'s high halves and texts appended to ``spill``; the rest kept."""
        low, high = _planes(part.sig)
        spill.append(high, part.texts)
        return cls(low, _has_signature(low, high), part.win, part.win_len)


def sketch_skeletons(skeletons: pa.Array, config: FingerprintConfig) -> Sketches:
    """Everything kept per unique skeleton, computed from its text alone (no state: any batch, any order)."""
    tok, tok_off = sketch.token_hashes(skeletons)
    flat, off = sketch.shingle_hashes(tok, tok_off, config.shingle_size)
    sig = sketch.signatures(flat, off, config.num_perm, config.seed)
    if config.template_view:
        wflat, woff = sketch.shingle_hashes(tok, tok_off, config.template_shingle_size, config.template_window)
        win, win_len = wflat.astype(np.uint32), np.diff(woff)  # low 32 bits: half the memory, rare collisions
    else:
        win, win_len = np.zeros(0, dtype=np.uint32), np.zeros(len(skeletons), dtype=np.int64)
    return Sketches(sig, capped(skeletons, config.cue_cap), win, win_len)


class SkeletonSet:
    """The unique skeletons of one role, ordered by hash (index = skeleton id): what clustering reads."""

    def __init__(
        self,
        hashes: U64,
        sig: tuple[U16, U16 | None],
        win: sketch.U32,
        win_off: I64,
        texts: pa.ChunkedArray | None,
        text_rows: I64,
        spill: Spill | None = None,
        sketched: npt.NDArray[np.bool_] | None = None,
    ) -> None:
        self._hashes, self._win = hashes, win
        self._win_off: I64 | None = win_off
        # The signatures as two 16-bit planes (low, high): clustering compares the low halves only (``low16``,
        # read in place); the high halves are read back only for the signatures a family table carries. With a
        # ``spill`` the high halves and the texts are in its files (``spill``), the high plane here None.
        self._lo, self._hi = sig
        # Texts stay where they were built (no second copy of up to cue_cap characters per skeleton);
        # ``text_rows`` maps a skeleton id to its row there (the order of arrival, the spill's order too).
        self._texts, self._text_rows = texts, text_rows
        self._spill, self._sketched = spill, sketched
        if (spill is None) != (self._hi is not None and texts is not None) or (spill is None) != (sketched is None):
            raise ValueError("a skeleton set keeps its high halves and texts either in memory or in a spill")

    @classmethod
    def build(
        cls, hashes: U64, parts: list[Sketches | Kept], num_perm: int, spill: Spill | None = None
    ) -> tuple[SkeletonSet, I64]:
        """Rows of ``parts`` (in the order of ``hashes``) sorted by hash; also the old -> new row map. ``parts``
        are ``Kept`` rows, whose high halves and texts are in ``spill``, when it is given.

        ``parts`` is emptied on the way: each part's arrays are scattered straight into place and dropped,
        so the peak is one copy of the set plus one part, as when the chunks were concatenated before.
        """
        n = len(hashes)
        order = np.argsort(hashes, kind="stable")
        remap = np.empty(n, dtype=np.int64)
        remap[order] = np.arange(n, dtype=np.int64)
        win_len = np.concatenate([p.win_len for p in parts]) if parts else np.zeros(0, dtype=np.int64)
        win_off = np.zeros(n + 1, dtype=np.int64)
        np.cumsum(win_len[order], out=win_off[1:])
        sig_lo = np.empty((n, num_perm), dtype=np.uint16)
        sig_hi = np.empty((n, num_perm), dtype=np.uint16) if spill is None else None
        sketched = np.empty(n, dtype=bool) if spill is not None else None
        win = np.empty(int(win_off[-1]), dtype=np.uint32)
        texts: list[pa.Array] = []
        lo = 0
        while parts:
            p = parts.pop(0)
            if isinstance(p, Kept):
                if sketched is None:
                    raise ValueError("spilled skeletons are built into a set with their spill")
                rows = remap[lo : lo + len(p.low)]
                sig_lo[rows], sketched[rows] = p.low, p.sketched
            else:
                if sig_hi is None:
                    raise ValueError("skeletons kept in memory are built into a set without a spill")
                rows = remap[lo : lo + len(p.sig)]
                sig_lo[rows], sig_hi[rows] = _planes(p.sig)
                texts.append(p.texts)
            lens = p.win_len
            within = np.arange(len(p.win), dtype=np.int64) - np.repeat(np.cumsum(lens) - lens, lens)
            win[np.repeat(win_off[rows], lens) + within] = p.win
            lo += len(rows)
            del p
        text_arr = pa.chunked_array(texts, type=pa.string()) if spill is None else None
        hashes_sorted = np.ascontiguousarray(hashes[order])
        return cls(hashes_sorted, (sig_lo, sig_hi), win, win_off, text_arr, order, spill, sketched), remap

    def __len__(self) -> int:
        return len(self._hashes)

    def hashes(self) -> U64:
        return self._hashes

    def signatures(self, ids: Sequence[int] | npt.NDArray[np.int64]) -> sketch.U32:
        """The 32-bit MinHash signatures of the skeletons ``ids``, one row each."""
        idx = np.asarray(ids, dtype=np.int64)
        high = self._hi[idx] if self._hi is not None else self._spilled().high(self._text_rows[idx])
        return (high.astype(np.uint32) << np.uint32(16)) | self._lo[idx]

    def sketched(self, step: int = 1 << 16) -> npt.NDArray[np.bool_]:
        """Whether each skeleton has a signature (not every slot ``sketch.EMPTY_SLOT``: no shingle)."""
        if self._sketched is not None:
            return self._sketched
        high = self._hi
        assert high is not None  # a set without its high halves has ``_sketched`` (``__init__``)
        out = np.empty(len(self), dtype=bool)
        for lo in range(0, len(self), step):  # bounded temporaries
            out[lo : lo + step] = _has_signature(self._lo[lo : lo + step], high[lo : lo + step])
        return out

    def low16(self) -> U16:
        """The low 16 bits of every signature slot (what clustering compares), in place: no copy."""
        return self._lo

    def window(self) -> tuple[sketch.U32, sketch.I64]:
        """Template-view shingle hashes of every skeleton, flattened, with offsets."""
        if self._win_off is None:
            raise ValueError("the skeleton set's template-view shingles were released (release_window)")
        return self._win, self._win_off

    def release_window(self) -> None:
        """Drop the template-view shingles (clustering reads them once, at its start); ``window`` then fails."""
        self._win, self._win_off = np.zeros(0, dtype=np.uint32), None

    def texts(self, ids: Sequence[int] | npt.NDArray[np.int64]) -> list[str | None]:
        """Skeleton text (capped) of the given skeleton ids (-1 gives None)."""
        return self.text_array(ids).to_pylist()  # type: ignore[no-any-return]

    def text_array(self, ids: Sequence[int] | npt.NDArray[np.int64]) -> pa.Array:
        """The same as an Arrow string array (no Python strings), null for -1."""
        idx = np.asarray(ids, dtype=np.int64)
        if len(self._text_rows) == 0:
            return pa.nulls(len(idx), type=pa.string())
        rows = self._text_rows[np.where(idx < 0, 0, idx)]
        if self._texts is not None:
            taken = self._texts.take(pa.array(rows)).combine_chunks()
        else:
            taken = self._spilled().texts(rows)
        return pc.if_else(pa.array(idx < 0), pa.scalar(None, type=pa.string()), taken)

    def _spilled(self) -> Spill:
        if self._spill is None:
            raise ValueError("skeleton set without a spill")
        return self._spill


@dataclass
class Prepared:
    """A text column between ``Registry.prepare`` and ``Registry.resolve``."""

    indices: pa.Array  # row -> distinct text
    keys: U64  # xxh64 of each distinct raw text (the cache key)
    got: U64  # cached skeleton hash per distinct text (where it was cached) ...
    miss: I64  # ... and the distinct texts it was not cached for ...
    masked: pa.Array | None  # ... and their skeletons


class Registry:
    """Unique skeletons of one role, in order of first sight, keyed by skeleton hash.

    Per exchange it answers the skeleton *hash* (``hashes``): the key the per-exchange table carries in
    every engine. Per unique skeleton it keeps the sketches (``finish`` orders them by hash).
    """

    def __init__(self, role: str, config: FingerprintConfig, spill: Spill | None = None) -> None:
        """``spill``: where the high signature halves and the texts of new skeletons go (``spill.Spill``); None:
        they stay in memory."""
        self.role = role
        self.config = config
        self._spill = spill
        self._salt = role_salt(role)
        # raw text hash -> skeleton hash, bounded: two generations of up to half of ``mask_cache_size`` each,
        # the older dropped when the newer is full (what the cache keeps decides only what is masked again)
        self._raw, self._raw_old = kernels.U64Table(), kernels.U64Table()
        self._seen = kernels.U64Table()  # skeleton hashes seen
        self._hashes: list[U64] = []  # ... in order of first sight
        self._parts: list[Sketches | Kept] = []

    def __len__(self) -> int:
        return len(self._seen)

    def hashes(self, column: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Skeleton hash (uint64 bits as int64) per row of a text column; null where the text is null or
        its skeleton is empty."""
        return self.resolve(self.prepare(column))

    def prepare(self, column: pa.Array | pa.ChunkedArray) -> Prepared:
        """The first half of ``hashes``, safe to run in another thread while ``resolve`` runs on an
        earlier column: distinct texts, the cached skeleton hashes, and the masked skeletons of the
        others (Arrow's kernels release the GIL). It only reads the cache; a text masked here and also
        by an earlier column still in flight gets the same skeleton, so the result never depends on it."""
        if not pa.types.is_string(column.type):
            column = column.cast(pa.string())  # an all-null column comes typed null
        encoded = pc.dictionary_encode(column)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        values = encoded.dictionary
        keys = kernels.string_hashes(values)
        recent, older = self._raw, self._raw_old  # the generations as they are now (``resolve`` may rotate them)
        got, found = recent.get(keys)
        miss = np.flatnonzero(~found)
        if len(miss) and len(older):
            got_old, found_old = older.get(keys[miss])
            got[miss[found_old]] = got_old[found_old]
            miss = miss[~found_old]
        masked = _mask_parallel(values.take(pa.array(miss)), self.config.text_cap) if len(miss) else None
        return Prepared(encoded.indices, keys, got, miss, masked)

    def resolve(self, prep: Prepared) -> pa.Array:
        """The second half of ``hashes`` (one thread at a time, in column order): hash the new skeletons,
        queue the unseen ones for sketching, remember them in the bounded cache."""
        per_value = self._value_hashes(prep)
        valid = per_value != BLANK
        values = pa.array(per_value.view(np.int64), mask=~valid)
        return values.take(prep.indices)

    def _value_hashes(self, prep: Prepared) -> U64:
        """Skeleton hash of each distinct raw text (``BLANK`` for an empty skeleton)."""
        got, miss = prep.got, prep.miss
        if prep.masked is not None:  # set exactly when some distinct text was not cached
            new = self._skeleton_hashes(prep.masked)
            got[miss] = new
            if len(self._raw) + len(miss) > self.config.mask_cache_size // 2:
                self._raw_old, self._raw = self._raw, kernels.U64Table(self.config.mask_cache_size // 2)
            self._raw.put(prep.keys[miss], new)
        return got

    def _skeleton_hashes(self, skeletons: pa.Array) -> U64:
        """Hash of each skeleton (``BLANK`` for an empty one); new skeletons are queued for sketching."""
        keys, empty = skeleton_hashes(skeletons, self._salt)
        # The first row of each distinct skeleton in this batch, in row order; those not seen before are new.
        rows = np.flatnonzero(~empty)
        _, first = np.unique(keys[rows], return_index=True)
        firsts = rows[np.sort(first)]
        is_new = self._seen.put(keys[firsts], np.zeros(len(firsts), dtype=np.uint64))
        if is_new.any():
            self._hashes.append(keys[firsts[is_new]])
            new = np.zeros(len(skeletons), dtype=bool)
            new[firsts[is_new]] = True
            self._sketch(skeletons.filter(pa.array(new)))
        out: U64 = np.where(empty, BLANK, keys)
        return out

    def _sketch(self, skeletons: pa.Array, chunk: int = 8192) -> None:
        """MinHash the new skeletons, ``chunk`` at a time (bounded temporaries)."""
        for lo in range(0, len(skeletons), chunk):
            part = sketch_skeletons(skeletons.slice(lo, chunk), self.config)
            if self._spill is None:
                self._parts.append(part)
            else:
                self._parts.append(Kept.spilling(part, self._spill))

    def finish(self) -> SkeletonSet:
        """The skeletons seen, ordered by hash (the per-skeleton state moves into the set)."""
        parts, self._parts = self._parts, []
        hashes = np.concatenate(self._hashes) if self._hashes else np.zeros(0, dtype=np.uint64)
        self._hashes, self._seen = [], kernels.U64Table()
        self._raw, self._raw_old = kernels.U64Table(), kernels.U64Table()
        if self._spill is not None:
            self._spill.close()
        skeletons, _ = SkeletonSet.build(hashes, parts, self.config.num_perm, self._spill)  # empties ``parts``
        return skeletons


def _has_signature(low: U16, high: U16) -> npt.NDArray[np.bool_]:
    """Whether each row of a signature's two planes has a signature (not every slot ``sketch.EMPTY_SLOT``: no
    shingle): ``SkeletonSet.sketched``, and ``Kept``'s for the rows it spills."""
    empty_lo, empty_hi = _planes(np.asarray(sketch.EMPTY_SLOT))
    out: npt.NDArray[np.bool_] = ~((low == empty_lo) & (high == empty_hi)).all(axis=1)
    return out


def _planes(sig: sketch.U32) -> tuple[U16, U16]:
    """(low, high) 16-bit halves of a 32-bit signature matrix."""
    return sig.astype(np.uint16), (sig >> np.uint32(16)).astype(np.uint16)


def capped(texts: pa.Array, cap: int) -> pa.Array:
    """Head and tail of long skeletons (instructions sit at the start or the end of a prompt)."""
    long = pc.fill_null(pc.greater(pc.utf8_length(texts), cap), False)
    if not pc.any(long).as_py():
        return texts
    sub = texts.filter(long)
    head = cap * 2 // 3
    joined = pc.binary_join_element_wise(
        pc.utf8_slice_codeunits(sub, 0, head), " … ", pc.utf8_slice_codeunits(sub, head - cap), ""
    )
    return pc.replace_with_mask(texts, long, joined)


def _mask_parallel(texts: pa.Array, cap: int, threads: int = 2, min_rows: int = 4096) -> pa.Array:
    """``mask_array`` on two halves at once: Arrow's kernels release the GIL (the machine has 2 cores)."""
    if len(texts) < min_rows:
        return mask_array(texts, cap)
    step = -(-len(texts) // threads)
    with ThreadPoolExecutor(threads) as pool:
        parts = list(pool.map(lambda lo: mask_array(texts.slice(lo, step), cap), range(0, len(texts), step)))
    return pa.concat_arrays(parts)
