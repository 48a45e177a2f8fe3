"""A runtime's answer, read as it arrives: JSON or an SSE stream, and closable from any
thread (cancellation, shutdown) even while another is blocked reading it."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator
from typing import Any

from agentcore_wire.limits import MAX_PAYLOAD
from agentcore_wire.sse import SseDecoder
from mcp_agentcore_proxy.aws_boundary import stream_errors
from mcp_agentcore_proxy.errors import StreamInterruptedError

_READ_SIZE = 65536
# The most one message of an answer may hold: AgentCore's payload limit. A runtime that
# sends more (an event that never ends, a body without end) is cut off there, not kept in
# memory until the proxy runs out of it.
MAX_MESSAGE = MAX_PAYLOAD


class RuntimeAnswer:
    """An answer whose headers have arrived; its body is read as the caller iterates."""

    def __init__(
        self,
        *,
        status: int,
        content_type: str,
        mcp_session_id: str | None,
        request_id: str | None,
        body: Any,
        on_done: Callable[[], None] = lambda: None,
        max_message: int = MAX_MESSAGE,
    ) -> None:
        self.status = status
        self.content_type = content_type
        self.mcp_session_id = mcp_session_id
        self.request_id = request_id
        self._body = body  # connections.PooledResponse, its body not yet read
        self._on_done = on_done
        self._max_message = max_message
        self._lock = threading.Lock()
        self._finished = False
        self._closed_early = False

    def payloads(self) -> Iterator[bytes]:
        """Yield each JSON-RPC message payload of the body as soon as it is complete."""
        try:
            with stream_errors():
                if self.content_type.startswith("text/event-stream"):
                    decoder = SseDecoder()
                    for chunk in self._chunks():
                        yield from decoder.feed(chunk)
                        if decoder.pending > self._max_message:
                            raise self._too_large("an event of its stream")
                    yield from decoder.close()
                    return
                parts, size = [], 0
                for chunk in self._chunks():
                    size += len(chunk)
                    if size > self._max_message:
                        raise self._too_large("its body")
                    parts.append(chunk)
                body = b"".join(parts)
                if not body.strip():
                    return
                if not self.content_type.startswith("application/json"):
                    raise StreamInterruptedError(
                        f"The runtime answered with an unexpected content type "
                        f"{self.content_type!r} (expected JSON or an SSE stream)"
                    )
                yield body
        except Exception as exc:
            if self._closed_early:
                # Another thread closed it (cancellation, shutdown) under our read; the
                # HTTP library fails in its own ways then.
                raise StreamInterruptedError("The answer was closed while being read") from exc
            raise
        finally:
            self._finish(complete=True)

    def _too_large(self, what: str) -> StreamInterruptedError:
        # Not read to its end: its connection is let go, never reused (release_conn).
        return StreamInterruptedError(
            f"The runtime's answer was cut off: {what} passed {self._max_message} bytes, "
            f"AgentCore's payload limit"
        )

    def _chunks(self) -> Iterator[bytes]:
        # read1() hands over each HTTP chunk as it lands; read(n) would wait for n bytes
        # and hold progress notifications back.
        while chunk := self._body.read1(_READ_SIZE):
            yield chunk

    def close(self) -> None:
        """Stop reading, even a read blocked in another thread (cancellation, shutdown)."""
        self._finish(complete=False)

    def _finish(self, complete: bool) -> None:
        with self._lock:
            if self._finished:
                return
            self._finished = True
            self._closed_early = not complete
        if complete:
            with contextlib.suppress(Exception):
                self._body.release_conn()  # read to its end: the connection is reused
        else:
            sock = getattr(self._body.connection, "sock", None)
            if sock is not None:
                # close() alone does not wake a thread blocked in recv(); shutdown() does.
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(Exception):
                self._body.close()
        self._on_done()
