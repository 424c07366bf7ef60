"""The only module that knows the stage order. Each function here is one user-facing step.

``ingest_paths``: log files -> store (exchanges + quarantine + ledger).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from distillguard.ingest import ReadOptions, expand_paths, fingerprint, read_source
from distillguard.store import Store

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FileSummary:
    """Counts for one file in this run. ``skipped``: the ledger says it was already fully ingested."""

    path: str
    read: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    skipped: bool = False
    resumed_after: int = 0


@dataclass(frozen=True)
class IngestSummary:
    """Per-file counts and totals; ``read == stored + duplicates + quarantined`` holds for each."""

    files: tuple[FileSummary, ...] = field(default_factory=tuple)

    def _total(self, name: str) -> int:
        return sum(int(getattr(f, name)) for f in self.files)

    @property
    def read(self) -> int:
        return self._total("read")

    @property
    def stored(self) -> int:
        return self._total("stored")

    @property
    def duplicates(self) -> int:
        return self._total("duplicates")

    @property
    def quarantined(self) -> int:
        return self._total("quarantined")


IngestOptions = ReadOptions
"""Options of ``ingest_paths``: size limit, batch size, privacy / keep-bodies (``ReadOptions``)."""

Progress = Callable[[str, int, int], None]
"""``progress(path, bytes_done_in_file, file_size)``, called after each committed batch."""


def ingest_paths(
    paths: Sequence[str | os.PathLike[str]],
    store_path: str | os.PathLike[str],
    options: IngestOptions | None = None,
    progress: Progress | None = None,
) -> IngestSummary:
    """Read every file named by ``paths`` into the store at ``store_path``; resumable and idempotent."""
    options = options or IngestOptions()
    files = expand_paths(list(paths))
    summaries = []
    with Store.open(Path(store_path)) as store:
        for path in files:
            summaries.append(_ingest_file(store, path, options, progress))
    return IngestSummary(tuple(summaries))


def _ingest_file(store: Store, path: Path, options: IngestOptions, progress: Progress | None) -> FileSummary:
    key = str(path.resolve())
    fp = fingerprint(path)
    size = path.stat().st_size
    resume, complete = store.resume_point(key, fp)
    if complete:
        log.info("%s: already ingested, skipped", path)
        if progress:
            progress(str(path), size, size)
        return FileSummary(str(path), skipped=True)
    if resume.lines:
        log.info("%s: resuming after line %d", path, resume.lines)
    counts = [0, 0, 0, 0]
    for batch in read_source(path, options, resume):
        result = store.commit_batch(batch, key, fp)
        for i, n in enumerate((result.read, result.stored, result.duplicates, result.quarantined)):
            counts[i] += n
        if progress:
            progress(str(path), min(batch.end_offset, size) if not batch.complete else size, size)
    read, stored, duplicates, quarantined = counts
    return FileSummary(str(path), read, stored, duplicates, quarantined, resumed_after=resume.lines)
