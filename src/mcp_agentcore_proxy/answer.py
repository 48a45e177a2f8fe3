"""A runtime's answer, read as it arrives: JSON or an SSE stream, and closable from any
thread (cancellation, shutdown) even while another is blocked reading it."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Callable, Iterator

from agentcore_wire.limits import MAX_PAYLOAD
from agentcore_wire.sse import SseDecoder
from mcp_agentcore_proxy.aws_boundary import stream_errors
from mcp_agentcore_proxy.errors import StreamInterruptedError
from mcp_agentcore_proxy.upstream_framing import FramedBody, read_head

_READ_SIZE = 65536
# The most one message of an answer may hold: AgentCore's payload limit. A runtime that
# sends more (an event that never ends, a body without end) is cut off there, not kept in
# memory until the proxy runs out of it.
MAX_MESSAGE = MAX_PAYLOAD


class RuntimeAnswer:
    """The answer to one request, from its connection's socket to the router: its head
    parsed at construction, its body read as the caller iterates; its connection goes
    back (``release(True)``) only when the body ended as its head said it would."""

    def __init__(
        self,
        sock: socket.socket,
        release: Callable[[bool], None] = lambda reusable: None,
        *,
        max_message: int = MAX_MESSAGE,
    ) -> None:
        fp = sock.makefile("rb")
        try:
            version, self.status, self.headers = read_head(fp, sock)
            self.body = FramedBody(fp, version, self.status, self.headers)
        except BaseException:
            fp.close()
            raise
        self.content_type = self.headers.get("content-type") or ""
        self.mcp_session_id = self.headers.get("mcp-session-id")
        self.request_id = self.headers.get("x-amzn-requestid")
        self._sock = sock
        self._release = release
        self._on_done: Callable[[], None] = lambda: None
        self._max_message = max_message
        self._lock = threading.Lock()
        self._finished = False
        self._closed_early = False

    def when_done(self, on_done: Callable[[], None]) -> None:
        """Run ``on_done`` once, when the answer is read to its end or closed."""
        self._on_done = on_done

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
        # Not read to its end: its connection is let go, never reused.
        return StreamInterruptedError(
            f"The runtime's answer was cut off: {what} passed {self._max_message} bytes, "
            f"AgentCore's payload limit"
        )

    def _chunks(self) -> Iterator[bytes]:
        # read1() hands over each HTTP chunk as it lands; read(n) would wait for n bytes
        # and hold progress notifications back.
        while chunk := self.body.read1(_READ_SIZE):
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
        reusable = complete and self.body.ended and not self.body.will_close
        if not complete:
            # close() alone does not wake a thread blocked in recv(); shutdown() does.
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
        with contextlib.suppress(Exception):
            self.body.close()
        self._release(reusable)
        self._on_done()
