"""Background threads that leave the stop signals to the main thread."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable

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
