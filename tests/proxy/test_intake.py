"""Intake: bounded when the client stops reading, linear in the messages it holds."""

from __future__ import annotations

import io
import threading

from mcp_agentcore_proxy.ordering import SendOrder
from mcp_agentcore_proxy.stdio import read_lines
from tests.proxy.fakes import Harness, request

MAX_CONCURRENCY = 2
HEADROOM = 64  # router._INTAKE_HEADROOM


class CountingStdin(io.BytesIO):
    """stdin that tells the test how many lines the proxy has asked for."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads = 0
        self.changed = threading.Condition()

    def readline(self, size: int | None = -1) -> bytes:  # type: ignore[override]
        with self.changed:
            self.reads += 1
            self.changed.notify_all()
        return super().readline(size)

    def wait_reads(self, count: int) -> None:
        with self.changed:
            assert self.changed.wait_for(lambda: self.reads >= count, 10)


def test_intake_stops_while_the_messages_read_are_unfinished() -> None:
    proxy = Harness(max_concurrency=MAX_CONCURRENCY)
    limit = MAX_CONCURRENCY + HEADROOM
    stdin = CountingStdin(b"".join(request(i, "ping") + b"\n" for i in range(limit + 50)))

    def serve() -> None:
        for line, release in read_lines(stdin, proxy.router.admit):
            proxy.router.submit(line, release)

    threading.Thread(target=serve, daemon=True).start()
    stdin.wait_reads(limit)
    held = [proxy.runtime.next() for _ in range(MAX_CONCURRENCY)]  # the runtime is stuck
    assert proxy.runtime.nothing_new()
    assert stdin.reads == limit  # no more is read, so memory stays flat
    held[0].respond()
    stdin.wait_reads(limit + 1)  # one finished: one more line may come in
    assert proxy.stdout.next()["id"] == held[0].body["id"]


def test_waiting_for_earlier_messages_costs_nothing_per_message() -> None:
    order = SendOrder()
    numbers = [order.admit() for _ in range(10_000)]
    for number in reversed(numbers[1:]):
        order.mark_sent(number)  # out of order: the lowest is still unsent
    assert not order.wait_for_earlier(numbers[-1], timeout=0)
    order.mark_sent(numbers[0])
    assert order.wait_for_earlier(numbers[-1], timeout=0)
    assert order.wait_for_earlier(order.admit(), timeout=0)


def test_a_message_does_not_wait_for_itself_or_later_ones() -> None:
    order = SendOrder()
    first, second = order.admit(), order.admit()
    assert order.wait_for_earlier(first, timeout=0)
    assert not order.wait_for_earlier(second, timeout=0)
    order.mark_sent(second)
    assert not order.wait_for_earlier(second, timeout=0)
    order.mark_sent(first)
    assert order.wait_for_earlier(second, timeout=0)
