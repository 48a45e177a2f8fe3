"""Spans by runtime session: the instances' own (through the OTLP receiver) and the
emulator's for each invocation (authenticate, start the session, relay), which share a
trace: the emulator continues the caller's ``traceparent`` and hands the instance its own.

Bounded: ``MAX_SPANS`` a session (the oldest go first), ``MAX_SESSIONS`` sessions (the
least recently written go first), ``MAX_ATTRIBUTES`` attributes a span, each value cut to
``MAX_VALUE`` characters.
"""

from __future__ import annotations

import collections
import contextvars
import random
import re
import threading
import time
from dataclasses import asdict, dataclass, field
from types import TracebackType
from typing import Any

MAX_SPANS = 2000
MAX_SESSIONS = 200
MAX_ATTRIBUTES = 64
MAX_VALUE = 512
EMULATOR_SERVICE = "agentcore-emulator"
_TRACEPARENT = re.compile(r"^00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")


@dataclass(frozen=True)
class Span:
    """One span, as the dashboard and the admin API show it."""

    trace_id: str  # 32 hex digits
    span_id: str  # 16 hex digits
    parent_span_id: str  # "" for a root
    name: str
    start_ns: int  # epoch nanoseconds
    end_ns: int
    service: str
    source: str  # "instance" (its exporter) or "emulator" (its own)
    status: str = "UNSET"
    attributes: dict[str, Any] = field(default_factory=dict)

    def view(self) -> dict[str, Any]:
        return asdict(self)


def _span_id() -> str:
    # Ids need to be unique, not secret: OpenTelemetry's SDK draws them the same way.
    return f"{random.getrandbits(64):016x}"


def bounded_attributes(attributes: dict[str, Any]) -> dict[str, Any]:
    kept: dict[str, Any] = {}
    for key, value in list(attributes.items())[:MAX_ATTRIBUTES]:
        long = isinstance(value, str) and len(value) > MAX_VALUE
        kept[str(key)[:MAX_VALUE]] = f"{value[:MAX_VALUE]}…" if long else value
    return kept


class TraceStore:
    """Every session's spans, bounded as the module says."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_session: collections.OrderedDict[str, collections.deque[Span]] = (
            collections.OrderedDict()
        )

    def add(self, session: str, spans: list[Span]) -> None:
        with self._lock:
            kept = self._by_session.get(session)
            if kept is None:
                kept = self._by_session[session] = collections.deque(maxlen=MAX_SPANS)
            self._by_session.move_to_end(session)
            while len(self._by_session) > MAX_SESSIONS:
                self._by_session.popitem(last=False)
            kept.extend(spans)

    def spans(self, session: str) -> list[Span]:
        with self._lock:
            return list(self._by_session.get(session, ()))

    def clear(self) -> None:
        with self._lock:
            self._by_session.clear()


@dataclass
class InvocationTrace:
    """The emulator's spans of one invocation: a root and its steps, in one trace."""

    trace_id: str
    parent_span_id: str  # the caller's span, or ""
    root_span_id: str = field(default_factory=_span_id)
    started_ns: int = field(default_factory=time.time_ns)
    spans: list[Span] = field(default_factory=list)

    @classmethod
    def continuing(cls, traceparent: str | None) -> InvocationTrace:
        """The caller's trace, if its ``traceparent`` is well formed; else a new one."""
        found = _TRACEPARENT.match(traceparent or "")
        if found is not None and found.group(1) != "0" * 32:
            return cls(found.group(1), found.group(2))
        return cls(f"{random.getrandbits(128):032x}", "")

    def traceparent_for(self, span_id: str) -> str:
        return f"00-{self.trace_id}-{span_id}-01"

    def step(self, name: str, **attributes: Any) -> _Step:
        """A child span of the root around a ``with`` block (its span id the block's value)."""
        return _Step(self, name, attributes)

    def finish(self, name: str, status: int, **attributes: Any) -> list[Span]:
        """The root span, ended now, with its steps."""
        root = Span(
            self.trace_id,
            self.root_span_id,
            self.parent_span_id,
            name,
            self.started_ns,
            time.time_ns(),
            EMULATOR_SERVICE,
            "emulator",
            "ERROR" if status >= 400 else "OK",
            bounded_attributes({**attributes, "http.response.status_code": status}),
        )
        return [root, *self.spans]


class _Step:
    """One step's span: timed from ``__enter__`` to ``__exit__``, ERROR if it raised."""

    __slots__ = ("_attributes", "_name", "_started", "_trace", "span_id")

    def __init__(self, trace: InvocationTrace, name: str, attributes: dict[str, Any]) -> None:
        self._trace, self._name, self._attributes = trace, name, attributes
        self.span_id = _span_id()
        self._started = 0

    def __enter__(self) -> str:
        self._started = time.time_ns()
        return self.span_id

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        trace = self._trace
        trace.spans.append(
            Span(
                trace.trace_id,
                self.span_id,
                trace.root_span_id,
                self._name,
                self._started,
                time.time_ns(),
                EMULATOR_SERVICE,
                "emulator",
                "OK" if kind is None else "ERROR",
                bounded_attributes(self._attributes),
            )
        )


# The invocation being served, for the steps deeper down (a session's start) to join.
current_trace: contextvars.ContextVar[InvocationTrace | None] = contextvars.ContextVar(
    "current_trace", default=None
)
