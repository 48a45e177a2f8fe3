"""uvicorn's HTTP protocol (httptools), with deadlines for each request's headers and body.

uvicorn closes idle kept-alive connections, but waits forever on a client that opens a
connection and sends nothing, half a request line, or half a body (slowloris): enough of
those and the server serves nobody, and past the process's file limit not even a real
call is answered. Here a request must finish its headers within ``header_timeout``
seconds of its first byte (or of the connection, for the first one), and its body within
``body_timeout`` seconds of its headers; else the connection is closed. A WebSocket has
neither deadline once upgraded: it lives as long as both sides keep it.

A request's header block is bounded too (``MAX_HEADER_BYTES``): httptools keeps every
header it has parsed until the block ends, so one endless block would grow the server's
memory as fast as a client sends. Past the bound the request is refused with 431 and the
connection closed; what was held of it is let go.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger(__name__)

# The most a request's header block may hold (request line and headers). Chosen: AgentCore
# forwards up to 20 allowlisted headers of 4 KiB each, and a caller adds its signature,
# session id and MCP headers; ALB allows 64 KiB, uvicorn's h11 16 KiB per event.
MAX_HEADER_BYTES = 128 * 1024
_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Type: text/plain\r\n"
    b"Connection: close\r\nContent-Length: %d\r\n\r\n%s"
)


class DeadlineProtocol(HttpToolsProtocol):
    """Closes a connection whose request headers or body are not complete in time."""

    header_timeout: float = 10.0
    body_timeout: float = 60.0
    max_header_bytes: int = MAX_HEADER_BYTES

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._waiting_for = ""  # what the armed deadline waits for
        self._upgraded = False
        self._head_bytes = 0  # of the header block being received

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm(self.header_timeout, "request headers")

    def data_received(self, data: bytes) -> None:
        before = self.cycle  # a new cycle means a request's headers are complete
        idle = before is None or before.response_complete
        super().data_received(data)
        if self._upgraded:
            return  # the bytes were a WebSocket handshake: no HTTP request follows
        cycle = self.cycle
        if cycle is not before:
            self._head_bytes = 0
        elif cycle is None or not cycle.more_body:  # still the next request's header block
            self._head_bytes += len(data)
            if self._head_bytes > self.max_header_bytes:
                self._refuse_head()
                return
        if cycle is not before:
            self._disarm()
            if cycle is not None and cycle.more_body:
                self._arm(self.body_timeout, "request body")
        elif cycle is not None and not cycle.more_body and self._waiting_for == "request body":
            self._disarm()  # the body is complete
        elif idle and self._deadline is None and not self.transport.is_closing():
            # The first bytes of the next request on a kept-alive connection, its headers not
            # complete. Armed only then: most requests arrive whole, and need no timer.
            self._arm(self.header_timeout, "request headers")

    def _refuse_head(self) -> None:
        self._disarm()
        if self.transport.is_closing():
            return
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        logger.warning(
            "refused the request of %s: its header block passed %d bytes",
            client,
            self.max_header_bytes,
        )
        text = b"The request's header block passed %d bytes\n" % self.max_header_bytes
        self.transport.write(_TOO_LARGE % (len(text), text))
        self.transport.close()
        self.headers = []  # what httptools handed over of the block, let go at once

    def handle_websocket_upgrade(self) -> None:
        # The connection is a WebSocket's now, with its own keep-alive, for as long as both
        # sides keep it; an upgrade has no request cycle, which must not look like a stall.
        self._upgraded = True
        self._disarm()
        self.scope["headers"] = first_of_handshake(self.scope["headers"])
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self, seconds: float, what: str) -> None:
        self._waiting_for = what
        self._deadline = self.loop.call_later(seconds, self._overdue, seconds)

    def _disarm(self) -> None:
        self._waiting_for = ""
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _overdue(self, seconds: float) -> None:
        what = self._waiting_for
        self._deadline = None
        self._waiting_for = ""
        if not self.transport.is_closing():
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
            logger.warning(
                "closed the connection of %s: no complete %s in %gs", client, what, seconds
            )
            self.transport.close()


# The handshake's own headers. AgentCore's SDK documents passing the headers of
# `generate_ws_connection()` to `websockets.connect(additional_headers=...)`, which sends its
# own Host, Upgrade, Connection and Sec-WebSocket-Key/-Version first and the SDK's after
# them; AgentCore accepts that. Chosen (its rule is not confirmable offline): the first of
# each counts, the client library's own, whose key it checks the answer against.
_HANDSHAKE = frozenset(
    {b"host", b"upgrade", b"connection", b"sec-websocket-key", b"sec-websocket-version"}
)


def first_of_handshake(headers: Iterable[tuple[bytes, bytes]]) -> list[tuple[bytes, bytes]]:
    """``headers`` with each handshake header once: its first occurrence."""
    seen: set[bytes] = set()
    kept = []
    for name, value in headers:
        lowered = name.lower()
        if lowered in _HANDSHAKE:
            if lowered in seen:
                continue
            seen.add(lowered)
        kept.append((name, value))
    return kept


def with_deadlines(header_timeout: float, body_timeout: float) -> type[DeadlineProtocol]:
    """The protocol class for uvicorn's ``http=``, with these deadlines."""
    return type(
        "DeadlineProtocol",
        (DeadlineProtocol,),
        {"header_timeout": header_timeout, "body_timeout": body_timeout},
    )
