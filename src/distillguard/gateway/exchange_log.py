"""The gateway's exchange log: JSON Lines shards written by one thread, acknowledged before release.

Delivery is at-least-once: ``await log.append(line)`` returns only after the line is written to the
current shard (``write(2)``, so a crash or ``kill -9`` of the gateway cannot lose it) and, with
``fsync="always"``, fsynced (a power loss cannot either). The request's response is released after
that. Lines queue in a bounded buffer; a full buffer makes ``append`` wait (backpressure) up to
``queue_timeout_s`` and then raise ``LogUnavailable``, as does a failing sink; the caller applies the
configured fail-open / fail-closed rule.

Shards: ``exchanges-<UTC start>-<seq>.jsonl.part`` while open, renamed to ``.jsonl`` when rotated (by
size or age) or closed, so ``distillguard ingest DIR`` never reads a shard that is being written. After
a crash, ``recover`` trims a torn last line of a leftover ``.part`` file and renames it. A lock file stops
two gateways from sharing a folder.
"""

from __future__ import annotations

import asyncio
import fcntl
import logging
import os
import queue
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from distillguard.errors import ConfigError, DistillguardError

log = logging.getLogger(__name__)

PART = ".jsonl.part"
DONE = ".jsonl"


class LogUnavailable(DistillguardError):
    """An exchange could not be logged (sink failing, or backpressure timed out)."""


@dataclass
class LogStats:
    written: int = 0
    failed: int = 0
    groups: int = 0
    shards: int = 0


def recover(log_dir: Path) -> list[Path]:
    """Close shards left open by a crash: drop a torn last line, rename ``.part`` to ``.jsonl``."""
    done = []
    for part in sorted(log_dir.glob("*" + PART)):
        data = part.read_bytes()
        keep = data.rfind(b"\n") + 1
        if keep == 0:
            part.unlink()
            continue
        if keep < len(data):
            log.warning("%s: dropping a torn last line (%d bytes)", part, len(data) - keep)
            with open(part, "r+b") as fh:
                fh.truncate(keep)
                os.fsync(fh.fileno())
        final = part.with_name(part.name[: -len(PART)] + DONE)
        os.replace(part, final)
        done.append(final)
    return done


def shards(log_dir: Path) -> Iterator[Path]:
    """Closed and open shards, oldest first."""
    yield from sorted(p for p in log_dir.iterdir() if p.name.startswith("exchanges-") and p.name.endswith((DONE, PART)))


class ExchangeLog:
    """One writer thread appending to rotating shards (see the module docstring)."""

    def __init__(
        self,
        log_dir: Path,
        shard_bytes: int = 64 << 20,
        shard_seconds: float = 3600.0,
        fsync: str = "interval",
        fsync_interval_s: float = 1.0,
        queue_size: int = 10_000,
        queue_timeout_s: float = 5.0,
    ) -> None:
        self.dir = log_dir
        self.shard_bytes = shard_bytes
        self.shard_seconds = shard_seconds
        self.fsync = fsync
        self.fsync_interval_s = fsync_interval_s
        self.queue_timeout_s = queue_timeout_s
        self.stats = LogStats()
        self._slots = asyncio.Semaphore(queue_size)
        self._queue: queue.SimpleQueue[tuple[bytes, asyncio.Future[None]] | None] = queue.SimpleQueue()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._fd = -1
        self._path: Path | None = None
        self._size = 0
        self._opened = 0.0
        self._synced = 0.0
        self._seq = 0
        self._lock_fd = -1

    # ------------------------------------------------------------------ lifetime

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock_fd = os.open(self.dir / "gateway.lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(self._lock_fd)
            raise ConfigError(f"{self.dir}: another gateway is writing to this log folder") from None
        recover(self.dir)
        self._loop = asyncio.get_running_loop()
        self._thread = threading.Thread(target=self._run, name="exchange-log", daemon=True)
        self._thread.start()

    async def close(self) -> None:
        if self._thread is None:
            return
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)
        self._thread = None
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
        os.close(self._lock_fd)

    # ------------------------------------------------------------------ the event-loop side

    async def append(self, line: bytes) -> None:
        """Queue one JSON line (no newline) and wait until it is durable per the fsync policy."""
        try:
            await asyncio.wait_for(self._slots.acquire(), self.queue_timeout_s)
        except TimeoutError:
            self.stats.failed += 1
            raise LogUnavailable("exchange log queue full") from None
        try:
            assert self._loop is not None, "ExchangeLog.start() was not called"
            fut: asyncio.Future[None] = self._loop.create_future()
            self._queue.put((line, fut))
            await fut
        finally:
            self._slots.release()

    # ------------------------------------------------------------------ the writer thread

    def _run(self) -> None:
        stop = False
        while not stop:
            try:
                item = self._queue.get(timeout=self.fsync_interval_s)
            except queue.Empty:
                self._idle()
                continue
            group: list[tuple[bytes, asyncio.Future[None]]] = []
            while item is not None:
                group.append(item)
                if len(group) >= 4096:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            stop = item is None
            if group:
                self._write_group(group)
        self._close_shard()

    def _idle(self) -> None:
        if self._fd >= 0 and self.fsync == "interval" and time.monotonic() - self._synced >= self.fsync_interval_s:
            self._sync()
        if self._fd >= 0 and time.monotonic() - self._opened >= self.shard_seconds:
            self._close_shard()

    def _write_group(self, group: list[tuple[bytes, asyncio.Future[None]]]) -> None:
        data = b"".join(line + b"\n" for line, _ in group)
        error: BaseException | None = None
        try:
            self._ensure_shard(len(data))
            self._write_all(data)
            now = time.monotonic()
            if self.fsync == "always" or (self.fsync == "interval" and now - self._synced >= self.fsync_interval_s):
                self._sync()
            self.stats.written += len(group)
        except OSError as exc:
            log.error("exchange log write failed: %s", exc)
            self.stats.failed += len(group)
            error = LogUnavailable(f"exchange log write failed: {exc.strerror or exc}")
        self.stats.groups += 1
        assert self._loop is not None
        self._loop.call_soon_threadsafe(_settle, [f for _, f in group], error)

    def _write_all(self, data: bytes) -> None:
        start = self._size
        view = memoryview(data)
        try:
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
                self._size += n
        except OSError:
            # Never leave half a group behind: the next line would be glued to a torn one.
            try:
                os.ftruncate(self._fd, start)
                os.lseek(self._fd, start, os.SEEK_SET)
                self._size = start
            except OSError:
                self._close_shard()
            raise

    def _ensure_shard(self, incoming: int) -> None:
        if self._fd >= 0 and (
            (self._size + incoming > self.shard_bytes and self._size > 0)
            or time.monotonic() - self._opened >= self.shard_seconds
        ):
            self._close_shard()
        if self._fd < 0:
            self._seq += 1
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            self._path = self.dir / f"exchanges-{stamp}-{os.getpid()}-{self._seq:05d}{PART}"
            self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o640)
            self._size = 0
            self._opened = self._synced = time.monotonic()
            self.stats.shards += 1

    def _sync(self) -> None:
        os.fsync(self._fd)
        self._synced = time.monotonic()

    def _close_shard(self) -> None:
        if self._fd < 0 or self._path is None:
            return
        try:
            os.fsync(self._fd)
        except OSError as exc:
            log.error("exchange log fsync failed: %s", exc)
        os.close(self._fd)
        self._fd = -1
        if self._size == 0:
            self._path.unlink(missing_ok=True)
        else:
            os.replace(self._path, self._path.with_name(self._path.name[: -len(PART)] + DONE))
        self._path = None


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for f in futures:
        if f.done():
            continue
        if error is None:
            f.set_result(None)
        else:
            f.set_exception(error)
