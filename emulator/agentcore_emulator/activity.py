"""What happens in the emulator, as the dashboard shows it: invocations (each with the model
calls made inside it), instances' log lines, spans and warnings, kept in bounded histories
and pushed live to subscribers.

Every bound is fixed: ``MAX_INVOCATIONS`` invocations, ``MAX_LOG_LINES`` lines a session,
``MAX_SHOWN`` bytes of a request or answer (redacted), ``MAX_SUBSCRIBERS`` live
subscribers with ``MAX_QUEUED`` events each. A subscriber that falls that far behind is
ended with a ``resync`` event (its page reloads the state): a slow browser never holds
memory or the emulator back.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from agentcore_wire.redaction import redact

MAX_INVOCATIONS = 500
MAX_LOG_LINES = 200
MAX_SHOWN = 4096  # bytes of a request or an answer shown on the page
MAX_MODEL_CALLS = 20  # shown per invocation
MAX_SUBSCRIBERS = 16
MAX_QUEUED = 1024
MAX_LOG_SESSIONS = 200


# The address a call to an emulated API came from (an instance's, in its own network).
calling_from: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "calling_from", default=None
)


def shown(data: bytes) -> str:
    """A body as the page shows it: its first ``MAX_SHOWN`` bytes as text, secrets
    redacted, marked when there was more (``data`` may be a prefix of ``MAX_SHOWN + 1``)."""
    # Cut as bytes, so the mark says what was kept: a body of multi-byte characters cut by
    # bytes and then counted in characters would look whole.
    text = redact(data[:MAX_SHOWN].decode("utf-8", "replace"))
    return f"{text}… (cut at {MAX_SHOWN} bytes)" if len(data) > MAX_SHOWN else text


@dataclass
class InvocationRecord:
    """One call to an emulated API, as the page lists it."""

    seq: int
    at: float  # epoch seconds
    operation: str
    runtime: str | None = None
    session: str | None = None
    caller: str | None = None
    method: str | None = None  # the JSON-RPC method or tool inside, if any
    status: int | None = None
    duration_ms: float | None = None
    trace_id: str | None = None
    model_calls: list[dict[str, Any]] = field(default_factory=list)
    # The first bytes of the request and of its answer, as they came: made text and
    # redacted only when a page asks (most invocations are never looked at).
    sent: bytes = b""
    answered: bytes = b""

    def view(self) -> dict[str, Any]:
        return {
            "seq": self.seq,
            "at": self.at,
            "operation": self.operation,
            "runtime": self.runtime,
            "session": self.session,
            "caller": self.caller,
            "method": self.method,
            "status": self.status,
            "duration_ms": self.duration_ms,
            "trace_id": self.trace_id,
            "model_calls": list(self.model_calls),
            "request": shown(self.sent),
            "answer": shown(self.answered),
        }


class _Subscriber:
    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        # Room for the events, then the resync and the end that close a page too far behind.
        self.queue: asyncio.Queue[tuple[str, Any] | None] = asyncio.Queue(MAX_QUEUED + 2)
        self.ended = False

    def offer(self, event: tuple[str, Any]) -> None:
        """On the subscriber's loop: queue the event, or end a subscriber too far behind."""
        if self.ended:
            return
        if self.queue.qsize() >= MAX_QUEUED:
            self.ended = True
            self.queue.put_nowait(("resync", {"reason": "too far behind"}))
            self.queue.put_nowait(None)
            return
        self.queue.put_nowait(event)


class Activity:
    """The emulator's bounded record of what happened, and its live subscribers."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()  # publishers run on the loop and in moto's threads
        self._numbers = itertools.count(1)
        self.invocations: collections.deque[InvocationRecord] = collections.deque(
            maxlen=MAX_INVOCATIONS
        )
        self._open: dict[str, InvocationRecord] = {}  # a session's invocation in flight
        self._logs: collections.OrderedDict[str, collections.deque[dict[str, Any]]] = (
            collections.OrderedDict()
        )
        self._subscribers: set[_Subscriber] = set()

    # -- invocations ----------------------------------------------------------------------

    def begin(self, operation: str, **fields: Any) -> InvocationRecord:
        """An invocation has arrived; it is shown at once, its outcome when it ends."""
        record = InvocationRecord(next(self._numbers), self._clock(), operation, **fields)
        record.sent = record.sent[: MAX_SHOWN + 1]
        with self._lock:
            self.invocations.append(record)
            if record.session is not None:
                self._open[record.session] = record
        self._announce(record)
        return record

    def attach(self, record: InvocationRecord, session: str) -> None:
        """The invocation's session is known: model calls from it are shown inside it."""
        with self._lock:
            record.session = session
            self._open[session] = record
        self._announce(record)

    def finish(
        self, record: InvocationRecord, status: int, duration_ms: float, answered: bytes
    ) -> None:
        """The answer has gone: its status, duration and first bytes."""
        record.status, record.duration_ms = status, round(duration_ms, 2)
        record.answered = answered[: MAX_SHOWN + 1]
        with self._lock:
            if record.session is not None and self._open.get(record.session) is record:
                del self._open[record.session]
        self._announce(record)

    def model_call(self, session: str | None, call: dict[str, Any]) -> None:
        """A model call an instance made: shown inside its session's invocation in flight."""
        with self._lock:
            record = self._open.get(session) if session is not None else None
            if record is not None and len(record.model_calls) < MAX_MODEL_CALLS:
                record.model_calls.append(call)
        if record is not None:
            self._announce(record)

    @property
    def watched(self) -> bool:
        """Whether a live page follows: what is only for pages need not be built."""
        return bool(self._subscribers)

    def _announce(self, record: InvocationRecord) -> None:
        if self._subscribers:  # its view is built for live pages only
            self.publish("invocation", record.view())

    # -- logs -----------------------------------------------------------------------------

    def log_line(self, runtime: str, session: str, line: str) -> None:
        entry = {"at": self._clock(), "runtime": runtime, "session": session, "line": line}
        with self._lock:
            lines = self._logs.get(session)
            if lines is None:
                lines = self._logs[session] = collections.deque(maxlen=MAX_LOG_LINES)
                while len(self._logs) > MAX_LOG_SESSIONS:
                    self._logs.popitem(last=False)
            lines.append(entry)
        self.publish("log", entry)

    def logs(self, session: str) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._logs.get(session, ()))

    # -- live -----------------------------------------------------------------------------

    def publish(self, kind: str, data: Any) -> None:
        """Push an event to every subscriber (from any thread)."""
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            try:
                subscriber.loop.call_soon_threadsafe(subscriber.offer, (kind, data))
            except RuntimeError:  # its loop has closed
                self._drop(subscriber)

    def subscribe(self) -> Subscription:
        """A live subscription, from now; ``TooManySubscribers`` past ``MAX_SUBSCRIBERS``."""
        subscriber = _Subscriber(asyncio.get_running_loop())
        with self._lock:
            if len(self._subscribers) >= MAX_SUBSCRIBERS:
                raise TooManySubscribers(f"at most {MAX_SUBSCRIBERS} live pages at once")
            self._subscribers.add(subscriber)
        return Subscription(subscriber, lambda: self._drop(subscriber))

    def _drop(self, subscriber: _Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(subscriber)

    def clear(self) -> None:
        with self._lock:
            self.invocations.clear()
            self._open.clear()
            self._logs.clear()
        self.publish("resync", {"reason": "reset"})


class Subscription:
    """One subscriber's events, in order; ``None`` once it has fallen too far behind."""

    def __init__(self, subscriber: _Subscriber, close: Callable[[], None]) -> None:
        self._subscriber = subscriber
        self.close = close

    async def next(self) -> tuple[str, Any] | None:
        return await self._subscriber.queue.get()


class TooManySubscribers(Exception):
    """Every live slot is taken."""


def sse_frame(kind: str, data: Any) -> str:
    """One server-sent event (the data on one line: JSON has no raw newline)."""
    return f"event: {kind}\ndata: {json.dumps(data, default=str)}\n\n"
