"""The process's memory: its high-water mark, and handing freed pages back to the system between phases that
each build and drop large temporaries; and ``analyze``'s default DuckDB memory limit (here, not in ``pipeline``,
so that the command line can show it without importing the stages)."""

from __future__ import annotations

import re
import sys

ANALYZE_MEMORY_LIMIT = "384MB"
"""DuckDB's memory limit during ``analyze`` unless told otherwise (``AnalyzeOptions.memory_limit``; "none":
DuckDB's own default, 80% of RAM). Without a cap the buffer pool keeps every block it reads and the features
query holds its whole working set: 4M exchanges peaked at 4.1 GiB. At 1536 MB they peaked at 2.2 GiB, the SQL
stages each at Python's share plus DuckDB at the cap. Since the features query runs in passes
(``pipeline.FEATURE_PASS_ROWS``) a lower cap costs little time: 768 MB, 4M exchanges 89.3 -> 80.7 s and 2,197 ->
1,657 MiB (docs/design/memory.md "Session 15"). 384 MB since the fingerprint stage spills what it reads back
rarely (session 24): the SQL stages then set the peak, and at 384 MB the 4M bench store peaks ~1.0 GiB instead
of ~1.4 for ~10% more time (docs/design/memory.md "Session 24"). What stays above it is Python's (the
fingerprint stage's per-skeleton state, the stages' tables): docs/design/memory.md."""

_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12}
_UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}


def size_bytes(text: str) -> int | None:
    """Bytes of a size as DuckDB writes them ("1536MB", "1.5GiB", "800000000"); None when it is not one."""
    m = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]i?b|b)?\s*", text.lower())
    return int(float(m.group(1)) * _UNITS[m.group(2) or ""]) if m else None


def peak_rss_mib() -> float | None:
    """This process's peak resident memory so far, in MiB (None where the platform cannot say)."""
    try:
        import resource
    except ImportError:  # not Unix
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def release_freed_memory() -> None:
    """Return freed pages to the system: the C heap's (glibc's ``malloc_trim``; nothing elsewhere) and Arrow's
    memory pool's (``release_unused``: its allocator keeps what Arrow freed for reuse).

    A phase that frees its temporaries leaves their pages with the allocators, and the next phase starts from
    that high-water mark. At 4M exchanges the features stage began at 1.69 GiB resident after the fingerprint
    stage, 1.28 GiB after ``malloc_trim`` (docs/design/memory.md), and another ~0.2-0.4 GiB lower once Arrow's
    pool gave back what the stage's batches had used."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
    import pyarrow as pa

    pa.default_memory_pool().release_unused()
