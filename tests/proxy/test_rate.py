"""The proxy's pace to the endpoint, on a fake clock: at most N starts in any window."""

from __future__ import annotations

import threading

from mcp_agentcore_proxy.rate import WINDOW, SendRate


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_burst_is_spread_so_no_window_holds_more_than_the_quota() -> None:
    clock = Clock()
    rate = SendRate(25, clock=clock)
    starts = [rate.reserve() for _ in range(75)]  # the conformance suite's burst, at once
    assert starts[:25] == [100.0] * 25  # the first 25 go at once
    assert starts == sorted(starts)
    for i in range(25, 75):
        # the call 25 places earlier started at least a window before this one
        assert starts[i] - starts[i - 25] >= WINDOW - 1e-9
    assert starts[-1] - starts[0] < 3 * WINDOW  # delayed, not dropped: done in ~2 windows


def test_calls_spaced_by_time_never_wait() -> None:
    clock = Clock()
    rate = SendRate(2, clock=clock)
    for _ in range(10):
        assert rate.reserve() == clock.now
        clock.now += WINDOW / 2


def test_a_cancelled_call_stops_waiting_for_its_turn() -> None:
    rate = SendRate(1, window=3600)
    assert rate.wait_turn()  # the one turn of this hour
    cancelled = threading.Event()
    waited: list[bool] = []
    waiting = threading.Thread(target=lambda: waited.append(rate.wait_turn(cancelled)))
    waiting.start()
    cancelled.set()
    waiting.join(10)
    assert waited == [False]
