"""A small HTTP/1.1 client for the one upstream: keep-alive pool, streaming bodies, timeouts.

Why not httpx: profiled in front of a fast upstream, httpx/httpcore spent ~1 ms of CPU per request in
connection-pool bookkeeping and async-library detection, capping the gateway near 100 requests/s on 2
cores (bench/RESULTS.md, "Gateway"). This client does only what a reverse proxy to one origin needs:
write a request, parse the status line and headers, and hand out the body (Content-Length, chunked, or
until close) as it arrives. A connection goes back to the pool only after its body was read completely.
A request that fails on a reused idle connection before any response byte arrived (the server closed it
meanwhile) is retried once on a fresh connection.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator, Sequence
from urllib.parse import urlsplit

from distillguard.errors import DistillguardError

_MAX_HEAD = 64 * 1024
_NO_BODY = frozenset({204, 304})


class UpstreamError(DistillguardError):
    """The upstream could not be reached or broke the connection."""


class UpstreamTimeout(UpstreamError):
    """The upstream did not answer in time."""


class _Conn:
    __slots__ = ("reader", "reused", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.reused = False

    def close(self) -> None:
        self.writer.close()


class UpstreamResponse:
    """Status, headers (lower-case names) and the body, read once with ``read`` or ``stream``."""

    def __init__(self, pool: UpstreamPool, conn: _Conn, status: int, headers: list[tuple[bytes, bytes]]) -> None:
        self._pool = pool
        self._conn: _Conn | None = conn
        self.status = status
        self.headers = headers
        self._done = False
        self._keep = True
        self._chunked = False
        self._length: int | None = None
        for k, v in headers:
            if k == b"content-length" and v.strip().isdigit():
                self._length = int(v)
            elif k == b"transfer-encoding" and b"chunked" in v.lower():
                self._chunked = True
            elif k == b"connection" and b"close" in v.lower():
                self._keep = False
        if status in _NO_BODY or (status < 200):
            self._length = 0
        if not self._chunked and self._length is None:
            self._keep = False  # body ends when the connection closes

    def header(self, name: bytes) -> bytes | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None

    async def stream(self) -> AsyncIterator[bytes]:
        conn = self._conn
        if conn is None or self._done:
            return
        r, timeout = conn.reader, self._pool.read_timeout
        try:
            if self._chunked:
                while True:
                    async with asyncio.timeout(timeout):
                        line = await r.readuntil(b"\r\n")
                    size = int(line.split(b";", 1)[0].strip() or b"0", 16)
                    if size == 0:
                        async with asyncio.timeout(timeout):
                            while (await r.readuntil(b"\r\n")) != b"\r\n":
                                pass  # trailers
                        break
                    async with asyncio.timeout(timeout):
                        data = await r.readexactly(size + 2)
                    yield data[:-2]
            elif self._length is not None:
                left = self._length
                while left > 0:
                    async with asyncio.timeout(timeout):
                        data = await r.read(min(left, 1 << 16))
                    if not data:
                        raise UpstreamError("upstream closed the connection mid-body")
                    left -= len(data)
                    yield data
            else:
                while True:
                    async with asyncio.timeout(timeout):
                        data = await r.read(1 << 16)
                    if not data:
                        break
                    yield data
            self._done = True
        except TimeoutError:
            raise UpstreamTimeout("upstream body timed out") from None
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError) as exc:
            raise UpstreamError(f"upstream body broken ({type(exc).__name__})") from None

    async def read(self, limit: int) -> bytes:
        parts, size = [], 0
        async for chunk in self.stream():
            size += len(chunk)
            if size > limit:
                raise UpstreamError("upstream response too large")
            parts.append(chunk)
        return b"".join(parts)

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        if self._done and self._keep:
            self._pool.release(conn)
        else:
            conn.close()


class UpstreamPool:
    """Keep-alive connections to one origin (``http`` or ``https``)."""

    def __init__(
        self, base_url: str, max_idle: int = 256, connect_timeout: float = 5.0, read_timeout: float = 600.0
    ) -> None:
        parts = urlsplit(base_url)
        self.scheme = parts.scheme
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or (443 if parts.scheme == "https" else 80)
        self.prefix = parts.path.rstrip("/")
        default = (self.scheme == "https" and self.port == 443) or (self.scheme == "http" and self.port == 80)
        self.host_header = (self.host if default else f"{self.host}:{self.port}").encode()
        self.ssl = ssl.create_default_context() if self.scheme == "https" else None
        self.max_idle = max_idle
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self._idle: list[_Conn] = []

    async def _connect(self) -> _Conn:
        try:
            async with asyncio.timeout(self.connect_timeout):
                reader, writer = await asyncio.open_connection(self.host, self.port, ssl=self.ssl, limit=_MAX_HEAD * 4)
        except TimeoutError:
            raise UpstreamTimeout("upstream connect timed out") from None
        except OSError as exc:
            raise UpstreamError(f"upstream unreachable ({exc.strerror or exc})") from None
        return _Conn(reader, writer)

    def release(self, conn: _Conn) -> None:
        if len(self._idle) < self.max_idle and not conn.writer.is_closing():
            conn.reused = True
            self._idle.append(conn)
        else:
            conn.close()

    async def request(self, path: str, headers: Sequence[tuple[bytes, bytes]], body: bytes) -> UpstreamResponse:
        """POST ``body`` to ``path``; returns once the status line and headers arrived."""
        head = [b"POST ", (self.prefix + path).encode(), b" HTTP/1.1\r\nhost: ", self.host_header, b"\r\n"]
        for k, v in headers:
            head += [k, b": ", v, b"\r\n"]
        head += [b"content-length: ", str(len(body)).encode(), b"\r\n\r\n"]
        data = b"".join(head) + body
        while self._idle:
            conn = self._idle.pop()
            try:
                return await self._exchange(conn, data)
            except _Stale:
                conn.close()  # closed by the upstream while idle: try the next one
        conn = await self._connect()
        try:
            return await self._exchange(conn, data)
        except _Stale:
            conn.close()
            raise UpstreamError("upstream closed the connection without answering") from None

    async def _exchange(self, conn: _Conn, data: bytes) -> UpstreamResponse:
        try:
            conn.writer.write(data)
            async with asyncio.timeout(self.read_timeout):
                head = await conn.reader.readuntil(b"\r\n\r\n")
        except TimeoutError:
            conn.close()
            raise UpstreamTimeout("upstream timed out") from None
        except asyncio.IncompleteReadError as exc:
            if not exc.partial:
                raise _Stale from None
            conn.close()
            raise UpstreamError("upstream sent a truncated response head") from None
        except asyncio.LimitOverrunError:
            conn.close()
            raise UpstreamError("upstream response head too large") from None
        except ConnectionError:
            if conn.reused:
                raise _Stale from None
            conn.close()
            raise UpstreamError("upstream connection failed") from None
        try:
            status, headers = _parse_head(head)
        except ValueError:
            conn.close()
            raise UpstreamError("upstream sent an invalid response head") from None
        return UpstreamResponse(self, conn, status, headers)

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


class _Stale(Exception):
    """A reused connection turned out closed before any response byte: safe to retry once."""


def _parse_head(head: bytes) -> tuple[int, list[tuple[bytes, bytes]]]:
    lines = head.split(b"\r\n")
    version, _, rest = lines[0].partition(b" ")
    if not version.startswith(b"HTTP/1."):
        raise ValueError("not HTTP/1.x")
    status = int(rest[:3])
    headers = []
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            raise ValueError("bad header line")
        headers.append((name.strip().lower(), value.strip()))
    return status, headers
