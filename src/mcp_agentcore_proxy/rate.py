"""The proxy's own pace to one endpoint: at most N invocations in any second.

AgentCore throttles past 25 InvokeAgentRuntime calls per second per endpoint, counted
over a sliding second. A burst from the client (the MCP conformance suite sends ~75
messages a second) is spread out here instead, each call waiting for its turn, so it is
delayed rather than failed. The window is a little longer than a second: a call's
arrival lags its departure by a varying amount, and two calls that leave one second apart
may arrive closer than that.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable

WINDOW = 1.05  # seconds: AgentCore's one-second window, and room for arrival jitter


class SendRate:
    """Hands out turns so that at most ``per_second`` calls start in any window."""

    def __init__(
        self,
        per_second: int,
        clock: Callable[[], float] = time.monotonic,
        window: float = WINDOW,
    ) -> None:
        if per_second < 1:
            raise ValueError("per_second must be 1 or more (no pacing: use NO_PACING)")
        self._window = window
        self._clock = clock
        self._lock = threading.Lock()
        # The start times of the latest calls, one per call the window may hold.
        self._starts: collections.deque[float] = collections.deque(maxlen=per_second)

    def reserve(self) -> float:
        """Take the next turn; returns when it starts (on ``clock``), now or later."""
        with self._lock:
            now = self._clock()
            start = now
            if len(self._starts) == self._starts.maxlen:
                start = max(now, self._starts[0] + self._window)
            self._starts.append(start)
            return start

    def wait_turn(self, cancelled: threading.Event | None = None) -> bool:
        """Wait for the next turn; False if ``cancelled`` was set first."""
        delay = self.reserve() - self._clock()
        if delay <= 0:
            return cancelled is None or not cancelled.is_set()
        if cancelled is None:
            time.sleep(delay)
            return True
        return not cancelled.wait(delay)


def no_pacing(cancelled: threading.Event | None = None) -> bool:
    """Every call goes at once."""
    return cancelled is None or not cancelled.is_set()
