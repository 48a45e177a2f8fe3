"""StopRuntimeSession in the background: bounded, never waited for past a deadline, and its
threads ended with the proxy. Stand-in stops gated on events."""

from __future__ import annotations

import threading
import time

import pytest

from mcp_agentcore_proxy.sessions import SessionStops
from tests.harness import wait_until


def _stop_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "session-stop"}


def test_every_stop_asked_for_is_done_and_close_ends_the_threads() -> None:
    before = _stop_threads()  # another test's, if any: not this one's to judge
    stopped: list[str] = []
    stops = SessionStops(stopped.append, workers=2)
    for n in range(10):
        stops.stop(f"s{n}")
    assert stops.wait(time.monotonic() + 30)
    stops.close()
    # Before: four threads per proxy, waiting on the queue for ever.
    wait_until(lambda: _stop_threads() <= before, "the stop threads to end")
    assert sorted(stopped) == sorted(f"s{n}" for n in range(10))
    stops.stop("after")  # closed: taken no more, and nothing waits
    assert "after" not in stopped


def test_past_the_bound_a_stop_is_dropped_at_once_never_waited_for(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Before: an unbounded queue; a runtime that never answers StopRuntimeSession let the
    # stops asked for pile up without end.
    before = _stop_threads()
    gate = threading.Event()
    stops = SessionStops(lambda _: gate.wait(30), workers=1, max_pending=3)
    for n in range(6):
        stops.stop(f"s{n}")  # returns at once, whatever the runtime does
    assert not stops.wait(time.monotonic())  # deadline now: not all done, and no wait
    assert sum("left to AgentCore's idle timeout" in r.getMessage() for r in caplog.records) >= 2
    gate.set()
    assert stops.wait(time.monotonic() + 30)
    stops.close()
    wait_until(lambda: _stop_threads() <= before, "the stop threads to end")
