"""Actions run at their deadlines (a tool call's timeout), by one watcher that runs only
while an action is armed: a proxy with nothing timed holds no thread for it."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable

from mcp_agentcore_proxy.threads import Workers

logger = logging.getLogger(__name__)

# Disarmed entries are dropped lazily, when they reach the top; past this many, and once
# they are half the heap, it is rebuilt without them: the heap stays within twice what
# is armed (a call answered in time disarms its entry long before its deadline).
_COMPACT_AFTER = 64


class _Entry:
    __slots__ = ("action", "armed")

    def __init__(self, action: Callable[[], None]) -> None:
        self.action = action
        self.armed = True


class Deadlines:
    """Run each armed action once its delay has passed, unless it was disarmed first.

    Actions run on the watcher's thread, one after another: each should hand slow work
    (writing to a client that may not read) to a worker of its own.
    """

    def __init__(self, workers: Workers, clock: Callable[[], float] = time.monotonic) -> None:
        self._workers = workers
        self._clock = clock
        self._heap: list[tuple[float, int, _Entry]] = []
        self._order = itertools.count()
        self._changed = threading.Condition()
        self._disarmed = 0
        self._watching = False

    def __len__(self) -> int:
        """Entries held, disarmed ones not yet dropped included (for the bound's tests)."""
        with self._changed:
            return len(self._heap)

    @property
    def watching(self) -> bool:
        """Whether the watcher runs (it does only while an entry is held)."""
        with self._changed:
            return self._watching

    def arm(self, delay: float, action: Callable[[], None]) -> Callable[[], None]:
        """Run ``action`` in ``delay`` seconds; returns what disarms it (safe to call twice)."""
        entry = _Entry(action)
        with self._changed:
            heapq.heappush(self._heap, (self._clock() + delay, next(self._order), entry))
            start = not self._watching
            self._watching = True
            self._changed.notify()
        if start:
            self._workers.run(self._watch)

        def disarm() -> None:
            with self._changed:
                if not entry.armed:
                    return
                entry.armed = False
                self._disarmed += 1
                if self._disarmed > _COMPACT_AFTER and self._disarmed * 2 > len(self._heap):
                    self._heap = [item for item in self._heap if item[2].armed]
                    heapq.heapify(self._heap)
                    self._disarmed = 0
                self._changed.notify()

        return disarm

    def _watch(self) -> None:
        while True:
            with self._changed:
                while self._heap and not self._heap[0][2].armed:
                    heapq.heappop(self._heap)
                    self._disarmed -= 1
                if not self._heap:
                    self._watching = False
                    return
                when, _, entry = self._heap[0]
                wait = when - self._clock()
                if wait > 0:
                    self._changed.wait(wait)
                    continue
                heapq.heappop(self._heap)
                entry.armed = False
            try:
                entry.action()
            except Exception:  # one action's bug must not end every later deadline
                logger.exception("a deadline's action failed")
