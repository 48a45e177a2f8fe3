"""One request's life, from the line that carried it to its one response.

    QUEUED ──> SENDING ──> SENT ──> STREAMING ──> ANSWERED
       │          │  ^       │  │        │
       │          │  └───────┴──┴────────┘  (resent once after the MCP session was lost)
       └──────────┴──────────┴──────────────> CANCELLED | FAILED

Every transition goes through ``Call._move``, under the call's lock. ANSWERED and
FAILED write the one response line; CANCELLED writes none (MCP: a cancelled request
is not answered). ``sent`` is set once the request has left for the runtime, or once
it never will (its worker calls ``sending_over`` whatever happened); ``done`` once the
call is in a final state.
"""

from __future__ import annotations

import enum
import threading
from collections.abc import Callable
from typing import Protocol

from mcp_agentcore_proxy.jsonrpc import JsonId, Message, id_key
from mcp_agentcore_proxy.mcp_headers import ClientHeaders


class Closable(Protocol):
    """What a call holds of the runtime's answer: enough to stop reading it."""

    def close(self) -> None: ...


class CallState(enum.Enum):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    STREAMING = "streaming"
    ANSWERED = "answered"
    CANCELLED = "cancelled"
    FAILED = "failed"


FINAL = frozenset({CallState.ANSWERED, CallState.CANCELLED, CallState.FAILED})
_NEXT: dict[CallState, frozenset[CallState]] = {
    CallState.QUEUED: frozenset({CallState.SENDING, CallState.CANCELLED, CallState.FAILED}),
    CallState.SENDING: frozenset({CallState.SENT, *FINAL}),
    CallState.SENT: frozenset({CallState.STREAMING, CallState.SENDING, *FINAL}),
    CallState.STREAMING: frozenset({CallState.SENDING, *FINAL}),
}


class Once:
    """A callable that runs its function the first time only."""

    def __init__(self, function: Callable[[], None]) -> None:
        self._function: Callable[[], None] | None = function
        self._lock = threading.Lock()

    def __call__(self) -> None:
        with self._lock:
            function, self._function = self._function, None
        if function is not None:
            function()


class Call:
    """A request in flight."""

    def __init__(
        self,
        message: Message,
        release: Callable[[], None] = lambda: None,
        headers: ClientHeaders | None = None,
    ) -> None:
        if message.id is None:
            raise ValueError("a call needs a request with an id")
        self.message = message
        # An HTTP client's own checked headers, passed on as sent; None (stdio): the proxy
        # builds them itself.
        self.headers = headers
        # Frees what the call holds of the proxy's intake; safe to call more than once.
        self.release = Once(release)
        self.id: JsonId = message.id
        self.key = id_key(message.id)
        self.sent = threading.Event()
        self.done = threading.Event()
        self._lock = threading.Lock()
        self._state = CallState.QUEUED
        self._answer: Closable | None = None
        self._ever_sent = False
        self._on_final: list[Callable[[], None]] = []

    @property
    def state(self) -> CallState:
        with self._lock:
            return self._state

    @property
    def final(self) -> bool:
        return self.done.is_set()

    def _move(self, to: CallState) -> bool:
        """Take one transition; False (and no change) when it is not allowed from here."""
        with self._lock:
            if to not in _NEXT.get(self._state, frozenset()):
                return False
            before, self._state = self._state, to
            if to is CallState.SENT:
                self._ever_sent = True
        # A request being written is not "sent" until its worker is done writing it.
        if to is CallState.SENT or (to in FINAL and before is CallState.QUEUED):
            self.sent.set()
        if to in FINAL:
            self.done.set()
            with self._lock:
                hooks, self._on_final = self._on_final, []
            for hook in hooks:
                hook()
        return True

    def on_final(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` when the call ends (now, if it has)."""
        with self._lock:
            if self._state not in FINAL:
                self._on_final.append(hook)
                return
        hook()

    def begin_send(self) -> bool:
        """The worker is about to send (or resend) it; False when it was cancelled."""
        return self._move(CallState.SENDING)

    def mark_sent(self) -> None:
        """The whole request has been written to the connection."""
        self._move(CallState.SENT)

    def sending_over(self) -> None:
        """The worker will write no more of this request, whether it left or not."""
        self.sent.set()

    def attach(self, answer: Closable) -> bool:
        """The answer's headers arrived; False when the call ended meanwhile."""
        with self._lock:
            if self._state not in (CallState.SENDING, CallState.SENT):
                return False
            self._state = CallState.STREAMING
            self._ever_sent = True
            self._answer = answer
        self.sent.set()
        return True

    def settle(self, outcome: CallState) -> bool:
        """End with ANSWERED or FAILED; True for the one caller that writes the response."""
        if outcome not in (CallState.ANSWERED, CallState.FAILED):
            raise ValueError(f"settle takes ANSWERED or FAILED, not {outcome}")
        return self._move(outcome)

    def interrupt(
        self, outcome: CallState = CallState.CANCELLED
    ) -> tuple[bool, Closable | None] | None:
        """End early (CANCELLED, or FAILED at shutdown): whether the request had left or
        was leaving, and the answer to close. None when the call had already ended.
        """
        if outcome not in (CallState.CANCELLED, CallState.FAILED):
            raise ValueError(f"interrupt takes CANCELLED or FAILED, not {outcome}")
        with self._lock:
            answer, was_sent = self._answer, self._ever_sent or self._state is CallState.SENDING
        if not self._move(outcome):
            return None
        return was_sent, answer
