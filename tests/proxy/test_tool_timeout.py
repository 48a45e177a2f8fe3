"""--tool-timeout: a tools/call past it gets a tool error and the server a cancellation;
nothing else is timed. Proven in-process against the fake runtime, gated on events."""

from __future__ import annotations

import threading

from mcp_agentcore_proxy.deadlines import Deadlines
from mcp_agentcore_proxy.threads import Workers
from tests.harness import wait_until
from tests.proxy.fakes import Harness, request


def test_a_tool_call_past_its_timeout_is_a_tool_error_and_the_server_is_told() -> None:
    proxy = Harness(tool_timeout=0.05)
    proxy.submit(request(7, "tools/call", name="stuck", arguments={}))
    call = proxy.runtime.next()
    call.left()  # sent; the server never answers in time
    answer = proxy.stdout.next()
    assert answer["id"] == 7
    assert answer["result"]["isError"] is True
    text = answer["result"]["content"][0]["text"]
    assert "'stuck'" in text and "timed out after 0.05 s" in text
    cancel = proxy.runtime.next()
    assert cancel.method == "notifications/cancelled"
    assert cancel.body["params"]["requestId"] == 7
    cancel.accepted()
    call.respond({"content": [], "late": True})  # the tool's answer after all: dropped
    proxy.submit(request(8, "ping"))
    proxy.runtime.next().respond()
    assert proxy.stdout.next()["id"] == 8  # the late answer never reached the client
    assert proxy.stdout.empty()


def test_a_tool_call_timed_out_before_it_left_is_never_sent() -> None:
    proxy = Harness(max_concurrency=1, tool_timeout=0.05)
    proxy.submit(request(1, "resources/read", uri="x"))
    held = proxy.runtime.next()  # the only slot, never freed in time
    proxy.submit(request(2, "tools/call", name="queued", arguments={}))
    assert proxy.stdout.next()["id"] == 2  # timed out while it waited for a slot
    held.respond({"contents": []})
    assert proxy.stdout.next()["id"] == 1
    assert proxy.runtime.nothing_new()  # neither the call nor a cancellation went


def test_only_tool_calls_are_timed() -> None:
    # Armed first, a timed ping would have failed first: the tool call's error comes
    # while the ping still waits, and the ping then gets the server's own answer.
    proxy = Harness(tool_timeout=0.05)
    proxy.submit(request(1, "ping"))
    ping = proxy.runtime.next()
    ping.left()
    proxy.submit(request(2, "tools/call", name="stuck", arguments={}))
    proxy.runtime.next().left()
    assert proxy.stdout.next()["id"] == 2
    proxy.runtime.next().accepted()  # the call's cancellation
    ping.respond({})
    assert proxy.stdout.next() == {"jsonrpc": "2.0", "id": 1, "result": {}}


def test_a_call_answered_in_time_is_answered_as_the_server_answered() -> None:
    proxy = Harness(tool_timeout=60)
    proxy.submit(request(3, "tools/call", name="quick", arguments={}))
    proxy.runtime.next().respond({"content": [], "isError": False})
    assert proxy.stdout.next()["result"] == {"content": [], "isError": False}


# -- Deadlines ---------------------------------------------------------------------------


def test_actions_run_in_the_order_of_their_deadlines_and_disarmed_ones_never() -> None:
    deadlines = Deadlines(Workers("test-deadlines"))
    ran: list[str] = []
    last = threading.Event()
    deadlines.arm(0.03, lambda: ran.append("late"))
    disarm = deadlines.arm(0.01, lambda: ran.append("disarmed"))
    deadlines.arm(0.02, lambda: ran.append("early"))
    deadlines.arm(0.04, last.set)
    disarm()
    disarm()  # twice: harmless
    assert last.wait(5)
    assert ran == ["early", "late"]


def test_the_watcher_ends_when_nothing_is_armed_and_comes_back_for_the_next() -> None:
    deadlines = Deadlines(Workers("test-deadlines"))
    assert not deadlines.watching
    disarm = deadlines.arm(3600, lambda: None)
    assert deadlines.watching
    disarm()  # wakes the watcher, which drops the entry and ends
    wait_until(lambda: not deadlines.watching, "the watcher to end")
    assert len(deadlines) == 0
    again = threading.Event()
    deadlines.arm(0.01, again.set)
    assert again.wait(5)


def test_disarmed_entries_do_not_pile_up() -> None:
    # Calls answered long before their deadline: the heap stays within twice the armed.
    deadlines = Deadlines(Workers("test-deadlines"))
    keep = deadlines.arm(3600, lambda: None)
    for _ in range(10_000):
        deadlines.arm(3600, lambda: None)()
    assert len(deadlines) <= 2 * 1 + 66
    keep()


def test_an_action_that_fails_does_not_end_later_deadlines() -> None:
    deadlines = Deadlines(Workers("test-deadlines"))
    after = threading.Event()

    def broken() -> None:
        raise RuntimeError("a bug in one action")

    deadlines.arm(0.01, broken)
    deadlines.arm(0.02, after.set)
    assert after.wait(5)
