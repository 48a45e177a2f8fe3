"""Background threads that leave the stop signals to the main thread."""

from __future__ import annotations

import collections
import queue
import signal
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

_T = TypeVar("_T")

# Linux hands a process's signal to any thread that does not block it. Python runs the
# handler on the main thread only when that thread wakes, and a main thread blocked
# reading stdin would not wake if a worker took the signal: so no other thread takes it.
STOP_SIGNALS = frozenset({signal.SIGTERM, signal.SIGINT})
_CAN_MASK = hasattr(signal, "pthread_sigmask")


def start_daemon(
    target: Callable[..., object], *args: object, name: str | None = None
) -> threading.Thread:
    """Start a daemon thread with SIGTERM and SIGINT blocked (it inherits the mask)."""
    thread = threading.Thread(target=target, args=args, name=name, daemon=True)
    if not _CAN_MASK:
        thread.start()
        return thread
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    try:
        thread.start()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)
    return thread


_Task = tuple[Callable[..., object], tuple[object, ...]]


class Workers:
    """Threads kept for the next task, so a call does not pay a thread's start.

    A worker that found no task for ``idle_timeout`` seconds ends, and one that would be
    the ``max_idle + 1``-th waiting ends at once; ``close`` ends them all once their tasks
    are done. The tasks in flight are bounded by the owners (routers' slots and intakes).
    """

    def __init__(self, name: str, idle_timeout: float = 30.0, max_idle: int = 8) -> None:
        self._name = name
        self._idle_timeout = idle_timeout
        self._max_idle = max_idle
        self._tasks: queue.SimpleQueue[_Task | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._idle = 0  # workers waiting for a task and not yet promised one
        self._live = 0
        self._closed = False

    def run(self, target: Callable[..., object], *args: object) -> None:
        """Run ``target(*args)`` on an idle worker, or on a new one if none is idle."""
        with self._lock:
            promised = self._idle > 0
            if promised:
                self._idle -= 1
            else:
                self._live += 1
        self._tasks.put((target, args))
        if not promised:
            start_daemon(self._work, name=self._name)

    def _work(self) -> None:
        while True:
            try:
                task = self._tasks.get(timeout=self._idle_timeout)
            except queue.Empty:
                with self._lock:
                    if self._idle == 0:
                        continue  # promised a task meanwhile: it is in the queue
                    self._idle -= 1
                    self._live -= 1
                return
            if task is None:
                return
            target, args = task
            try:
                target(*args)
            except BaseException:
                with self._lock:
                    self._live -= 1
                raise
            with self._lock:
                if self._closed or self._idle >= self._max_idle:
                    self._live -= 1
                    return
                self._idle += 1

    def close(self) -> None:
        """End every idle worker now, and each busy one once its task is done."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, 0
            self._live -= idle
        for _ in range(idle):
            self._tasks.put(None)


class Serial(Generic[_T]):
    """Items handled one after another, in the order handed in, on a worker that runs
    only while there are any (no thread waits for work that may never come).

    Unbounded itself: whoever hands items in bounds them (a router's intake).
    """

    def __init__(self, workers: Workers, handle: Callable[[_T], object]) -> None:
        self._workers = workers
        self._handle = handle
        self._items: collections.deque[_T] = collections.deque()
        self._lock = threading.Lock()
        self._running = False

    def put(self, item: _T) -> None:
        with self._lock:
            self._items.append(item)
            if self._running:
                return
            self._running = True
        self._workers.run(self._drain)

    def _drain(self) -> None:
        while True:
            with self._lock:
                if not self._items:
                    self._running = False
                    return
                item = self._items.popleft()
            try:
                self._handle(item)
            except BaseException:
                with self._lock:  # the next put starts another drain
                    self._running = False
                raise
