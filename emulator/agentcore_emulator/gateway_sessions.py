"""A gateway's MCP sessions, opt-in (``sessionConfiguration.sessionTimeoutInSeconds``):
begun by ``initialize``, ended by their absolute timeout (counted from it) or a DELETE,
each bound to the identity that began it. Bounded: past ``MAX_SESSIONS`` the expired go
first, then the oldest."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_SESSIONS = 10_000  # chosen: AWS publishes no per-gateway figure
DEFAULT_TIMEOUT = 3600  # AWS's default, in seconds
TIMEOUT_RANGE = (900, 28_800)  # AWS's range for sessionTimeoutInSeconds


@dataclass(frozen=True)
class GatewaySession:
    session_id: str
    gateway_id: str
    identity: str | None  # who began it (None: a gateway with no inbound auth)
    expires_at: float  # monotonic


class GatewaySessions:
    """Every gateway's sessions, by id."""

    def __init__(
        self, limit: int = MAX_SESSIONS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limit = limit
        self._clock = clock
        self._sessions: OrderedDict[str, GatewaySession] = OrderedDict()
        self._lock = threading.Lock()

    def begin(self, gateway_id: str, identity: str | None, timeout: float) -> GatewaySession:
        """A new session of ``gateway_id`` for ``identity``, ending ``timeout`` s from now."""
        now = self._clock()
        session = GatewaySession(secrets.token_hex(16), gateway_id, identity, now + timeout)
        with self._lock:
            if len(self._sessions) >= self._limit:
                for key in [k for k, s in self._sessions.items() if s.expires_at <= now]:
                    del self._sessions[key]
            while len(self._sessions) >= self._limit:
                self._sessions.popitem(last=False)
            self._sessions[session.session_id] = session
        return session

    def find(self, session_id: str, gateway_id: str, identity: str | None) -> GatewaySession | None:
        """The live session of that id, gateway and identity; None if there is none
        (never begun, expired, ended, another gateway's or another identity's)."""
        with self._lock:
            session = self._sessions.get(session_id)
            if session is None:
                return None
            if session.expires_at <= self._clock():
                del self._sessions[session_id]
                return None
        if session.gateway_id != gateway_id or session.identity != identity:
            return None
        return session

    def end(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def reset(self) -> None:
        with self._lock:
            self._sessions.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)
