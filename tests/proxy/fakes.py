"""In-process fakes for the router: a runtime answered by the test, a stdout it reads.

Nothing here sleeps: every step waits on an event the test sets.
"""

from __future__ import annotations

import json
import queue
import threading
from collections.abc import Callable, Iterator
from typing import Any

from mcp_agentcore_proxy.errors import StreamInterruptedError
from mcp_agentcore_proxy.router import Router
from mcp_agentcore_proxy.runtime import InvokeHeaders

WAIT = 10.0  # seconds before a test gives up on an event that should happen
_END = object()


class FakeAnswer:
    """A streamed answer the test writes into, event by event."""

    def __init__(self, mcp_session_id: str | None = None) -> None:
        self.mcp_session_id = mcp_session_id
        self._events: queue.Queue[Any] = queue.Queue()
        self.closed = threading.Event()

    def push(self, message: dict[str, Any] | bytes) -> FakeAnswer:
        self._events.put(message if isinstance(message, bytes) else json.dumps(message).encode())
        return self

    def end(self) -> FakeAnswer:
        self._events.put(_END)
        return self

    def payloads(self) -> Iterator[bytes]:
        while True:
            item = self._events.get()
            if item is _END:
                return
            if self.closed.is_set():
                raise StreamInterruptedError("closed")
            yield item

    def close(self) -> None:
        self.closed.set()
        self._events.put(_END)


class Invocation:
    """One InvokeAgentRuntime call the router made; the test decides what happens."""

    def __init__(
        self, payload: bytes, headers: InvokeHeaders, on_sent: Callable[[], None] | None
    ) -> None:
        self.payload = payload
        self.body: dict[str, Any] = json.loads(payload)
        self.headers = headers
        self._on_sent = on_sent
        self._outcome: queue.Queue[FakeAnswer | Exception] = queue.Queue()

    @property
    def method(self) -> str | None:
        return self.body.get("method")

    def left(self) -> Invocation:
        """The whole request has been written to the connection."""
        if self._on_sent is not None:
            self._on_sent()
        return self

    def answer(self, answer: FakeAnswer | None = None) -> FakeAnswer:
        """The answer's headers arrive (the request left before, necessarily)."""
        self.left()
        answer = answer or FakeAnswer()
        self._outcome.put(answer)
        return answer

    def respond(self, result: Any = None, **extra: Any) -> FakeAnswer:
        """Answer with the response to this request and end the stream."""
        session = extra.pop("mcp_session_id", None)
        body = {"jsonrpc": "2.0", "id": self.body["id"], "result": result or {}, **extra}
        return self.answer(FakeAnswer(session)).push(body).end()

    def accepted(self) -> FakeAnswer:
        """A notification's or reply's 202: headers and no body."""
        return self.answer().end()

    def fail(self, error: Exception, left: bool = True) -> None:
        if left:
            self.left()
        self._outcome.put(error)

    def wait(self) -> FakeAnswer:
        outcome = self._outcome.get()
        if isinstance(outcome, Exception):
            raise outcome
        return outcome


class FakeRuntime:
    """Records each invocation and blocks it until the test answers."""

    def __init__(self) -> None:
        self.invocations: queue.Queue[Invocation] = queue.Queue()
        self.count = 0
        self._lock = threading.Lock()

    def invoke(
        self,
        payload: bytes,
        headers: InvokeHeaders,
        on_sent: Callable[[], None] | None = None,
    ) -> FakeAnswer:
        invocation = Invocation(payload, headers, on_sent)
        with self._lock:
            self.count += 1
        self.invocations.put(invocation)
        return invocation.wait()

    def next(self, timeout: float = WAIT) -> Invocation:
        return self.invocations.get(timeout=timeout)

    def nothing_new(self, timeout: float = 0.2) -> bool:
        """No invocation arrives in ``timeout`` (an absence; only for what must not happen)."""
        try:
            extra = self.invocations.get(timeout=timeout)
        except queue.Empty:
            return True
        self.invocations.put(extra)
        return False


class Stdout:
    """A binary stream that records each flushed line; the test reads them in order."""

    def __init__(self, on_line: Callable[[dict[str, Any]], None] | None = None) -> None:
        self.lines: queue.Queue[bytes] = queue.Queue()
        self._buffer = b""
        self.on_line = on_line

    def write(self, data: bytes) -> int:
        self._buffer += data
        return len(data)

    def flush(self) -> None:
        *complete, self._buffer = self._buffer.split(b"\n")
        for line in complete:
            self.lines.put(line)
            if self.on_line is not None:
                self.on_line(json.loads(line))

    def next(self, timeout: float = WAIT) -> dict[str, Any]:
        line = self.lines.get(timeout=timeout)
        message = json.loads(line)  # strict: the proxy must never write NaN
        assert isinstance(message, dict) and message["jsonrpc"] == "2.0", line
        return message

    def empty(self) -> bool:
        return self.lines.empty()


def line(message: dict[str, Any]) -> bytes:
    return json.dumps(message).encode()


def request(id_: Any, method: str, **params: Any) -> bytes:
    return line({"jsonrpc": "2.0", "id": id_, "method": method, "params": params})


def notification(method: str, **params: Any) -> bytes:
    return line({"jsonrpc": "2.0", "method": method, "params": params})


def cancel(id_: Any) -> bytes:
    return notification("notifications/cancelled", requestId=id_)


class Harness:
    """A router wired to the fakes, with one fixed runtime session id."""

    def __init__(
        self,
        max_concurrency: int = 8,
        pace: Callable[[threading.Event | None], bool] | None = None,
        tool_timeout: float | None = None,
        **stdout: Any,
    ) -> None:
        from mcp_agentcore_proxy.rate import no_pacing
        from mcp_agentcore_proxy.stdio import LineWriter

        self.runtime = FakeRuntime()
        self.stdout = Stdout(**stdout)
        self.sessions_done: queue.Queue[str] = queue.Queue()
        self.router = Router(
            self.runtime,
            LineWriter(self.stdout),  # type: ignore[arg-type]
            lambda: "mcp-session-0123456789abcdef0123456789abcdef",
            max_concurrency,
            session_done=self.sessions_done.put,
            pace=pace or no_pacing,
            tool_timeout=tool_timeout,
        )

    def submit(self, data: bytes) -> None:
        self.router.submit(data)

    def handshake(self, mcp_session_id: str | None = "mcp-1") -> None:
        """initialize answered (with a session id) and initialized accepted."""
        self.submit(request(0, "initialize", protocolVersion="2025-06-18"))
        init = self.runtime.next()
        answer = FakeAnswer(mcp_session_id)
        init.answer(answer).push(
            {"jsonrpc": "2.0", "id": 0, "result": {"protocolVersion": "2025-06-18"}}
        ).end()
        assert self.stdout.next()["id"] == 0
        self.submit(notification("notifications/initialized"))
        self.runtime.next().accepted()


class Turns:
    """A pace the test holds: while shut, every call that takes a turn waits."""

    def __init__(self) -> None:
        self.open = threading.Event()
        self.open.set()

    def __call__(self, cancelled: threading.Event | None = None) -> bool:
        while not self.open.wait(0.01):
            if cancelled is not None and cancelled.is_set():
                return False
        return True
