"""HTTP/1.1 to the emulator's own instances on loopback: kept-alive connections, answers
streamed as they arrive.

Every invocation crosses this client, so it does only what the relay needs: one write per
request, httptools (uvicorn's parser) for the answer, a pool of idle connections per port.
aiohttp did the same at three times the CPU per call (request objects, multidicts, tracing,
cookies: nothing an instance on loopback needs), which made it the largest single cost of
an invocation. No TLS, proxies, redirects, cookies or compression: an instance is a
process the emulator started, reached on loopback or inside its own network namespace
(``networks``: a connection's socket is then made there).
"""

from __future__ import annotations

import asyncio
import collections
import socket
import time
from collections.abc import AsyncIterator, Callable, Mapping
from typing import cast

import httptools

# Where an instance is, as the pool keys it: (address, port).
Target = tuple[str, int]
# How to make a socket that reaches an address, if an ordinary one does not.
SocketMaker = Callable[[str], Callable[[], socket.socket] | None]
# Instances are uvicorn servers that close idle connections after 5 s: a request sent
# just then is lost ("Server disconnected"). Expiring ours sooner means the instance never
# closes one under a request.
INSTANCE_KEEPALIVE_EXPIRY = 2.0  # seconds
INSTANCE_CONNECT_TIMEOUT = 5.0  # seconds; an answer itself may take as long as it takes
# Past this much unread answer, reading pauses until the relay catches up (a client of the
# emulator that reads slowly must not make it buffer an instance's whole stream).
READ_HIGH_WATER = 1 << 20


class InstanceHttpError(Exception):
    """The instance's answer broke off or was not HTTP."""


class InstanceUnreachable(InstanceHttpError):
    """No connection to the instance: nothing was sent (its process may have ended)."""


class InstanceAnswerTooLarge(Exception):
    """An instance's answer passed the most the emulator holds of one (its payload limit)."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"the answer passed {limit} bytes")
        self.limit = limit


class InstanceResponse:
    """An instance's answer: status and headers at once, the body as it arrives."""

    def __init__(self, connection: _Connection) -> None:
        self._connection = connection
        self.status = 0
        # Lower-case names; a repeated header's values joined, as HTTP allows.
        self.headers: dict[str, str] = {}
        self._chunks: collections.deque[bytes] = collections.deque()
        self._buffered = 0
        self._complete = False
        self._error: InstanceHttpError | None = None
        self._wakeup: asyncio.Future[None] | None = None
        self._released = False

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body; ``InstanceAnswerTooLarge`` once it passes ``limit`` bytes (the
        rest is never held)."""
        parts: list[bytes] = []
        size = 0
        async for chunk in self.chunks():
            size += len(chunk)
            if limit is not None and size > limit:
                raise InstanceAnswerTooLarge(limit)
            parts.append(chunk)
        return b"".join(parts)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's bytes as they arrive."""
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._buffered -= len(chunk)
                if self._buffered < READ_HIGH_WATER:
                    self._connection.resume_reading()
                yield chunk
            elif self._error is not None:
                raise self._error
            elif self._complete:
                return
            else:
                self._wakeup = asyncio.get_running_loop().create_future()
                await self._wakeup

    def release(self) -> None:
        """Done with the answer: its connection goes back to the pool if the whole answer
        has arrived, else it is closed (the rest would be taken for the next answer)."""
        if not self._released:
            self._released = True
            self._connection.finished(self, reusable=self._complete and self._error is None)

    # Called by the connection as the parser reads.
    def _feed(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        if self._buffered >= READ_HIGH_WATER:
            self._connection.pause_reading()
        self._wake()

    def _end(self, error: InstanceHttpError | None = None) -> None:
        if not self._complete and self._error is None:
            if error is None:
                self._complete = True
            else:
                self._error = error
        self._wake()

    def _wake(self) -> None:
        if self._wakeup is not None and not self._wakeup.done():
            self._wakeup.set_result(None)


class _Connection(asyncio.Protocol):
    """One kept-alive connection to an instance; one request at a time."""

    def __init__(self, pool: InstanceClient, target: Target) -> None:
        self._pool = pool
        self.target = target
        self._transport: asyncio.Transport | None = None
        self._parser = httptools.HttpResponseParser(self)
        self._response: InstanceResponse | None = None
        self._headers_done: asyncio.Future[InstanceResponse] | None = None
        # The answer the message being parsed fills: None for an informational (1xx) one,
        # and for a message nobody asked for, which also makes the connection unusable.
        self._message: InstanceResponse | None = None
        self._stray = False
        self._framed = False  # the answer says where it ends (Content-Length or chunked)
        self._drained: asyncio.Future[None] | None = None
        self._reading_paused = False
        self.closed = False
        self.idle_since = 0.0

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A TCP connection's transport (uvloop's is not an asyncio.Transport subclass).
        self._transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._response is None:
            self.close()  # an instance that speaks unasked is not one to reuse
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(InstanceHttpError(f"the instance's answer is not HTTP/1.1: {exc}"))
            self.close()
        if self._stray:
            self.close()  # a second answer to one request: what follows cannot be trusted

    def eof_received(self) -> bool:
        return False  # close our side too

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self._pool.forget(self)
        if self._response is not None and self._response.status and not self._framed:
            self._response._end()  # the answer ran to the connection's close, as it said
        else:
            reason = f": {exc}" if exc else ""
            self._fail(InstanceHttpError(f"the instance closed the connection{reason}"))
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)

    def pause_writing(self) -> None:
        self._drained = asyncio.get_running_loop().create_future()

    def resume_writing(self) -> None:
        if self._drained is not None and not self._drained.done():
            self._drained.set_result(None)
        self._drained = None

    # httptools callbacks
    def on_message_begin(self) -> None:
        response = self._response
        if response is None or response.status:
            self._message = None
            self._stray = True
        else:
            self._message = response
            response.headers.clear()  # a 1xx's headers are not the answer's

    def on_header(self, name: bytes, value: bytes) -> None:
        if (response := self._message) is not None:
            key = name.decode("latin-1").lower()
            text = value.decode("latin-1")
            known = response.headers.get(key)
            response.headers[key] = text if known is None else f"{known}, {text}"

    def on_headers_complete(self) -> None:
        if (response := self._message) is None:
            return
        status = self._parser.get_status_code()
        if 100 <= status < 200 and status != 101:
            self._message = None  # informational (103 Early Hints...): the answer follows
            return
        response.status = status
        self._framed = "content-length" in response.headers or "chunked" in response.headers.get(
            "transfer-encoding", ""
        )
        if self._headers_done is not None and not self._headers_done.done():
            self._headers_done.set_result(response)

    def on_body(self, body: bytes) -> None:
        if self._message is not None:
            self._message._feed(body)

    def on_message_complete(self) -> None:
        if (response := self._message) is None:
            return
        self._message = None
        response._end()
        if not self._parser.should_keep_alive():
            self.close()

    # for InstanceClient and InstanceResponse
    async def send(self, head: bytes, body: bytes) -> InstanceResponse:
        assert self._transport is not None
        self._response = InstanceResponse(self)
        self._headers_done = asyncio.get_running_loop().create_future()
        self._transport.write(head + body if len(body) < 65536 else head)
        if len(body) >= 65536:
            self._transport.write(body)
        if self._drained is not None:
            # A large body the instance reads slowly; it may also answer before reading it all.
            await asyncio.wait((self._drained, self._headers_done), return_when="FIRST_COMPLETED")
        return await self._headers_done

    def _fail(self, error: InstanceHttpError) -> None:
        if self._headers_done is not None and not self._headers_done.done():
            self._headers_done.set_exception(error)
        elif self._response is not None:
            self._response._end(error)

    def finished(self, response: InstanceResponse, reusable: bool) -> None:
        if response is not self._response:
            return
        self._response = None
        self._headers_done = None
        self.resume_reading()
        if reusable and not self.closed:
            self._pool.keep(self)
        else:
            self.close()

    def pause_reading(self) -> None:
        if not self._reading_paused and self._transport is not None:
            self._reading_paused = True
            self._transport.pause_reading()

    def resume_reading(self) -> None:
        if self._reading_paused and self._transport is not None and not self.closed:
            self._reading_paused = False
            self._transport.resume_reading()

    def close(self) -> None:
        if self._transport is not None and not self.closed:
            self.closed = True
            self._transport.close()


class InstanceClient:
    """Requests to instances by address and port, over kept-alive connections."""

    def __init__(
        self,
        keepalive_expiry: float = INSTANCE_KEEPALIVE_EXPIRY,
        connect_timeout: float = INSTANCE_CONNECT_TIMEOUT,
        sockets: SocketMaker | None = None,
    ) -> None:
        self._keepalive_expiry = keepalive_expiry
        self._connect_timeout = connect_timeout
        self._sockets = sockets
        self._idle: dict[Target, list[_Connection]] = {}
        self._all: set[_Connection] = set()

    async def request(
        self,
        method: str,
        target: Target,
        path: str,
        headers: Mapping[str, str],
        body: bytes = b"",
    ) -> InstanceResponse:
        """Send a request; the answer once its headers are in (release it when done)."""
        head = _request_head(method, target, path, headers, len(body))
        connection = self._idle_connection(target) or await self._connect(target)
        try:
            return await connection.send(head, body)
        except BaseException:
            connection.close()  # cancelled or failed mid-request: never reused
            raise

    def keep(self, connection: _Connection) -> None:
        connection.idle_since = time.monotonic()
        self._idle.setdefault(connection.target, []).append(connection)

    def forget(self, connection: _Connection) -> None:
        self._all.discard(connection)
        idle = self._idle.get(connection.target)
        if idle and connection in idle:
            idle.remove(connection)

    async def close(self) -> None:
        """Close every connection."""
        for connection in list(self._all):
            connection.close()
        self._idle.clear()

    def _idle_connection(self, target: Target) -> _Connection | None:
        idle = self._idle.get(target)
        # Instances (uvicorn) close a connection idle for 5 s; one idle for longer than our
        # expiry is closed here first, so an instance never closes one under a request.
        now = time.monotonic()
        while idle:
            connection = idle.pop()  # the most recent: the least likely to be closing
            if not connection.closed and now - connection.idle_since < self._keepalive_expiry:
                return connection
            connection.close()
        return None

    async def connected_socket(self, target: Target) -> socket.socket:
        """A socket connected to ``target`` (made in the instance's network if it has one)."""
        loop = asyncio.get_running_loop()
        maker = self._sockets(target[0]) if self._sockets is not None else None
        sock = maker() if maker is not None else _tcp_socket()
        try:
            sock.setblocking(False)
            async with asyncio.timeout(self._connect_timeout):
                await loop.sock_connect(sock, target)
        except BaseException:
            sock.close()
            raise
        return sock

    async def _connect(self, target: Target) -> _Connection:
        loop = asyncio.get_running_loop()
        try:
            sock = await self.connected_socket(target)
            _, connection = await loop.create_connection(
                lambda: _Connection(self, target), sock=sock
            )
        except (OSError, TimeoutError) as exc:
            where = f"{target[0]}:{target[1]}"
            raise InstanceUnreachable(f"cannot connect to {where}: {exc!r}") from exc
        self._all.add(connection)
        return connection


def _tcp_socket() -> socket.socket:
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so.
    return socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)


def _request_head(
    method: str, target: Target, path: str, headers: Mapping[str, str], length: int
) -> bytes:
    host, port = target
    lines = [f"{method} {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Length: {length}\r\n"]
    lines += [f"{name}: {value}\r\n" for name, value in headers.items()]
    lines.append("\r\n")
    head = "".join(lines)
    if head.count("\n") != len(lines) + 2 or head.count("\r") != len(lines) + 2:
        # Headers come off a parsed request, so this cannot happen; if it ever did, a line
        # break would smuggle a header (or a request) to the instance.
        raise ValueError("a header name or value holds a line break")
    return head.encode("latin-1")
