"""The process's memory: its high-water mark, and handing freed pages back to the system between phases that
each build and drop large temporaries."""

from __future__ import annotations

import sys


def peak_rss_mib() -> float | None:
    """This process's peak resident memory so far, in MiB (None where the platform cannot say)."""
    try:
        import resource
    except ImportError:  # not Unix
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux, bytes on macOS
    return round(peak / (2**20 if sys.platform == "darwin" else 2**10), 1)


def release_freed_memory() -> None:
    """Return the C heap's free pages to the system (glibc's ``malloc_trim``; nothing elsewhere).

    A phase that frees its temporaries leaves their pages with the allocator, and the next phase starts from
    that high-water mark. At 4M exchanges the features stage began at 1.69 GiB resident after the fingerprint
    stage, 1.28 GiB after this call (docs/design/memory.md)."""
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc
        pass
