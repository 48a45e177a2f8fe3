"""uvicorn's HTTP protocol (httptools), with a deadline for each request's headers.

uvicorn closes idle kept-alive connections, but waits forever on a client that opens a
connection and sends nothing, or half a request line (slowloris): enough of those and
the emulator serves nobody. Here a request must finish its headers within
``header_timeout`` seconds of its first byte (or of the connection, for the first one).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

logger = logging.getLogger(__name__)


class HeaderDeadlineProtocol(HttpToolsProtocol):
    """Closes a connection whose request headers are not complete in time."""

    header_timeout: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        before = self.cycle  # a new cycle means a request's headers are complete
        idle = before is None or before.response_complete
        super().data_received(data)
        if self.cycle is not before:
            self._disarm()
        elif idle and self._deadline is None and not self.transport.is_closing():
            # The first bytes of the next request on a kept-alive connection, its headers not
            # complete. Armed only then: most requests arrive whole, and need no timer.
            self._arm()

    def handle_websocket_upgrade(self) -> None:
        self._disarm()  # the connection is a WebSocket's now, with its own keep-alive
        super().handle_websocket_upgrade()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._deadline = self.loop.call_later(self.header_timeout, self._overdue)

    def _disarm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _overdue(self) -> None:
        self._deadline = None
        if not self.transport.is_closing():
            client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
            logger.warning(
                "closed the connection of %s: no complete request headers in %gs",
                client,
                self.header_timeout,
            )
            self.transport.close()


def with_header_timeout(seconds: float) -> type[HeaderDeadlineProtocol]:
    """The protocol class for uvicorn's ``http=``, with this deadline."""
    return type("HeaderDeadlineProtocol", (HeaderDeadlineProtocol,), {"header_timeout": seconds})
