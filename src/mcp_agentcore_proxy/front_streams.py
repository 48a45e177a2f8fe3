"""The streams of the HTTP front end: bounded outboxes, written as Server-Sent Events.

A router's threads write a client's messages; the event loop sends them. Between the
two, each stream has an ``Outbox`` of a few messages (16, or 1 MiB). A call's worker that finds its
stream's outbox full waits for room, so a client that stops reading its POST's stream
makes the proxy stop reading the runtime's answer (TCP does the rest): memory stays
bounded whatever the answer's size. The SSE response awaits each send, which uvicorn
holds while the client's socket is full.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Mapping

from starlette.responses import StreamingResponse

MAX_BYTES = 1024 * 1024  # of messages waiting on one stream
PING_INTERVAL = 15.0  # seconds: a comment on an idle stream, so no client times it out
STREAM_HEADERS = {"Cache-Control": "no-cache, no-transform", "X-Accel-Buffering": "no"}


class Outbox:
    """Messages for one stream, at most ``bound`` of them and about ``max_bytes`` waiting
    (one message larger than that may wait alone); thread-safe to write."""

    def __init__(
        self, loop: asyncio.AbstractEventLoop, bound: int, max_bytes: int = MAX_BYTES
    ) -> None:
        self._loop = loop
        self._bound = bound
        self._max_bytes = max_bytes
        self._bytes = 0
        self._lines: collections.deque[bytes] = collections.deque()
        self._room = threading.Condition()
        self._ready = asyncio.Event()  # touched on the loop only
        self._finished = False  # no more lines will come: send what is here, then end
        self._closed = False  # the stream is gone: nothing more is taken
        self._waiting = 0  # writers held until there is room

    @property
    def waiting(self) -> int:
        """Writers held back right now (the client reads slower than the runtime answers)."""
        with self._room:
            return self._waiting

    def put(self, line: bytes) -> bool:
        """Add a line, waiting while the outbox is full; False once the stream is gone."""
        with self._room:
            while self._full() and not (self._closed or self._finished):
                self._waiting += 1
                try:
                    self._room.wait()
                finally:
                    self._waiting -= 1
            if self._closed or self._finished:
                return False
            self._append(line)
        self._wake()
        return True

    def _full(self) -> bool:
        return len(self._lines) >= self._bound or self._bytes >= self._max_bytes

    def _append(self, line: bytes) -> None:
        self._lines.append(line)
        self._bytes += len(line)

    def offer(self, line: bytes) -> bool:
        """Add a line if there is room now; never waits."""
        with self._room:
            if self._closed or self._finished or self._full():
                return False
            self._append(line)
        self._wake()
        return True

    def finish(self) -> None:
        """No more lines: the stream ends once those waiting are sent; a writer still
        waiting for room (a call cut at close) gives up."""
        with self._room:
            self._finished = True
            self._room.notify_all()
        self._wake()

    def close(self) -> None:
        """The stream is gone: a writer waiting for room gives up."""
        with self._room:
            self._closed = True
            self._lines.clear()
            self._bytes = 0
            self._room.notify_all()
        self._wake()

    async def get(self) -> bytes | None:
        """The next line; None at the end of the stream. On the loop."""
        while True:
            with self._room:
                if self._lines:
                    line = self._lines.popleft()
                    self._bytes -= len(line)
                    self._room.notify()
                    return line
                if self._finished or self._closed:
                    return None
                self._ready.clear()
            await self._ready.wait()

    def _wake(self) -> None:
        with contextlib.suppress(RuntimeError):  # the loop has stopped: nobody reads
            self._loop.call_soon_threadsafe(self._ready.set)


def event(line: bytes) -> bytes:
    """One message as an SSE ``message`` event (a line break in it starts a data line)."""
    if b"\n" in line or b"\r" in line:
        data = b"".join(b"data: " + part + b"\n" for part in line.splitlines())
        return b"event: message\n" + data + b"\n"
    return b"event: message\ndata: " + line + b"\n\n"


async def _events(
    outbox: Outbox, done: Callable[[], None], first: bytes | None
) -> AsyncIterator[bytes]:
    try:
        if first is not None:
            yield event(first)
        while True:
            try:
                line = await asyncio.wait_for(outbox.get(), PING_INTERVAL)
            except TimeoutError:
                yield b": ping\n\n"
                continue
            if line is None:
                return
            yield event(line)
    finally:
        outbox.close()
        done()


def event_stream(
    outbox: Outbox,
    headers: Mapping[str, str],
    done: Callable[[], None],
    first: bytes | None = None,
) -> StreamingResponse:
    """The SSE response that sends ``outbox`` (after ``first``, a line already taken from
    it); ``done`` runs when it ends, however."""
    return StreamingResponse(
        _events(outbox, done, first),
        media_type="text/event-stream",
        headers={**STREAM_HEADERS, **headers},
    )
