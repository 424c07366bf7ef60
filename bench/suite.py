"""The row every part script writes for bench/run_all.py (the suite format is described there)."""

from __future__ import annotations

from typing import Any


def suite_row(
    size: int,
    n: float,
    seconds: float,
    peak_rss_mib: float,
    baseline: tuple[float, float, float | None] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """One measured size: ``n`` units in ``seconds`` at ``peak_rss_mib``; ``baseline`` is the naive
    baseline's (seconds, units, peak RSS MiB) from the same run, or None where it was not run."""
    b_seconds, b_n, b_peak = baseline if baseline is not None else (None, None, None)
    return {
        "size": size,
        "n": n,
        "seconds": seconds,
        "throughput": n / seconds,
        "peak_rss_mib": peak_rss_mib,
        **extra,
        "baseline_seconds": b_seconds,
        "baseline_throughput": b_n / b_seconds if b_n is not None and b_seconds else None,
        "baseline_peak_rss_mib": b_peak,
    }
