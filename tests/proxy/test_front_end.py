"""The HTTP front end's rules, in process: stand-in routers gated on events, no network."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable
from typing import Any, cast

from agentcore_wire.loopback import is_loopback_origin
from mcp_agentcore_proxy.front_end import ClientSession, in_thread
from mcp_agentcore_proxy.front_streams import Outbox, event
from mcp_agentcore_proxy.lifecycle import Call
from tests.harness import wait_until


def _line(body: dict[str, Any]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", **body}).encode()


class StandIn:
    """What a client session needs of a router: calls in flight, a close that cuts them."""

    def __init__(self) -> None:
        self.cut: list[Call] = []
        self.closed_by: float | None = None
        self.calls = 0

    def in_flight(self) -> int:
        return self.calls

    def close(self, deadline: float) -> list[Call]:
        self.closed_by = deadline
        return self.cut


def _session(loop: asyncio.AbstractEventLoop, clock: Callable[[], float] = lambda: 0.0) -> Any:
    return ClientSession(loop, lambda _: cast(Any, StandIn()), clock)


async def _all(stream: Outbox) -> list[Any]:
    items: list[Any] = []
    while (line := await stream.get()) is not None:
        items.append(json.loads(line))
    return items


def test_a_calls_messages_travel_on_its_own_stream_and_end_with_it() -> None:
    async def scenario() -> None:
        session = _session(asyncio.get_running_loop())
        first, second = session.expect("1"), session.expect('"1"')
        assert session.expect("1") is None  # an id in flight is not taken twice
        progress = _line({"method": "notifications/progress", "params": {"progressToken": "t"}})
        log = _line({"method": "notifications/message", "params": {"data": "about 1"}})
        session.write(progress, "1")
        session.write(_line({"id": "1", "result": {}}), '"1"')
        session.end('"1"')
        session.write(log, "1")  # a log line about request 1: its stream, not the GET's
        session.write(_line({"id": 1, "result": {"done": True}}), "1")
        session.end("1")
        session.write(_line({"method": "notifications/tools/list_changed"}))  # no request's
        got_first, got_second = await _all(first), await _all(second)
        assert [m.get("method", m.get("result")) for m in got_first] == [
            "notifications/progress",
            "notifications/message",
            {"done": True},
        ]
        assert got_second == [{"jsonrpc": "2.0", "id": "1", "result": {}}]
        general = session.open_general()
        assert general is not None and session.open_general() is None  # one GET stream
        general.finish()
        assert [m["method"] for m in await _all(general)] == ["notifications/tools/list_changed"]

    asyncio.run(scenario())


def test_a_message_for_a_stream_the_client_dropped_is_dropped_not_misrouted() -> None:
    async def scenario() -> None:
        session = _session(asyncio.get_running_loop())
        dropped, kept = session.expect("1"), session.expect("2")
        session.forget("1", dropped)  # the client went away from request 1's stream
        dropped.close()
        session.write(_line({"method": "notifications/progress", "params": {}}), "1")
        session.write(_line({"id": 1, "result": {}}), "1")
        session.write(_line({"id": 2, "result": {}}), "2")
        session.end("2")
        assert [m["id"] for m in await _all(kept)] == [2]
        general = session.open_general()
        assert general is not None
        general.finish()
        assert await _all(general) == []  # nothing of request 1's leaked to the GET stream

    asyncio.run(scenario())


def test_a_writer_waits_while_its_client_reads_nothing_and_is_freed_when_it_leaves() -> None:
    async def scenario() -> None:
        session = _session(asyncio.get_running_loop())
        stream = session.expect("1")
        written: list[int] = []

        def worker() -> None:  # a router thread relaying a long answer
            for n in range(1000):
                session.write(_line({"method": "notifications/progress", "params": {"n": n}}), "1")
                written.append(n)

        thread = threading.Thread(target=worker)
        thread.start()
        held = await in_thread(lambda: wait_until(lambda: stream.waiting, "the writer held"))
        assert held == 1 and len(written) == 16  # the bound, not 1000 lines in memory
        session.forget("1", stream)
        stream.close()  # the client went away: the worker is let go, its lines dropped
        await in_thread(lambda: thread.join(10))
        assert not thread.is_alive() and len(written) == 1000

    asyncio.run(scenario())


def test_closing_answers_cut_calls_on_their_streams_and_ends_every_stream() -> None:
    from mcp_agentcore_proxy import jsonrpc

    async def scenario() -> None:
        session = _session(asyncio.get_running_loop())
        stream, general = session.expect("7"), session.open_general()
        assert general is not None
        cut = Call(jsonrpc.parse_line(_line({"id": 7, "method": "tools/call"})))
        session.router.cut = [cut]
        ended: list[bool] = []
        session.on_end(lambda: ended.append(True))
        await in_thread(lambda: session.close(42.0, {"code": -32603, "message": "bye"}))
        assert session.router.closed_by == 42.0
        assert await _all(stream) == [
            {"jsonrpc": "2.0", "id": 7, "error": {"code": -32603, "message": "bye"}}
        ]
        assert await _all(general) == [] and ended == [True]

    asyncio.run(scenario())


def test_a_session_is_idle_only_with_no_call_and_no_stream() -> None:
    async def scenario() -> None:
        now = [0.0]
        session = _session(asyncio.get_running_loop(), lambda: now[0])
        stream = session.expect("1")
        now[0] = 1000.0
        assert session.idle_for() == 0.0  # a stream is open
        session.forget("1", stream)
        session.router.calls = 1
        now[0] = 2000.0
        assert session.idle_for() == 0.0  # a call is in flight
        session.router.calls = 0
        assert session.idle_for() == 1000.0  # since its stream closed

    asyncio.run(scenario())


def test_an_event_with_line_breaks_is_one_event_of_several_data_lines() -> None:
    assert event(b'{"a":1}') == b'event: message\ndata: {"a":1}\n\n'
    assert event(b'{\n"a":1}') == b'event: message\ndata: {\ndata: "a":1}\n\n'


def test_only_loopback_pages_are_accepted_origins() -> None:
    assert is_loopback_origin("http://localhost:6274")
    assert is_loopback_origin("http://127.0.0.1")
    assert is_loopback_origin("http://[::1]:3000")
    assert not is_loopback_origin("https://evil.example")
    assert not is_loopback_origin("http://localhost.evil.example")
    assert not is_loopback_origin("null")


def test_an_outbox_holds_about_a_mebibyte_however_large_the_messages() -> None:
    async def scenario() -> None:
        stream = Outbox(asyncio.get_running_loop(), bound=16)
        assert stream.offer(b"x" * (3 << 20))  # one message larger than the bound may wait
        assert not stream.offer(b"y")  # but nothing after it until it is sent
        assert await stream.get() == b"x" * (3 << 20)
        assert all(stream.offer(b"z" * (256 << 10)) for _ in range(4))
        assert not stream.offer(b"z")  # 1 MiB waiting

    asyncio.run(scenario())


def test_closing_lets_go_of_a_writer_held_by_a_client_that_reads_nothing() -> None:
    from mcp_agentcore_proxy import jsonrpc

    async def scenario() -> None:
        session = _session(asyncio.get_running_loop())
        stream = session.expect("7")
        done = threading.Event()

        def worker() -> None:  # a call's worker relaying progress nobody reads
            for n in range(100):
                session.write(_line({"method": "notifications/progress", "params": {"n": n}}), "7")
            done.set()

        threading.Thread(target=worker, daemon=True).start()
        await in_thread(lambda: wait_until(lambda: stream.waiting, "the writer held"))
        session.router.cut = [Call(jsonrpc.parse_line(_line({"id": 7, "method": "tools/call"})))]
        await in_thread(lambda: session.close(0.0, {"code": -32603, "message": "bye"}))
        assert await in_thread(lambda: done.wait(10))  # the cut call's worker is free

    asyncio.run(scenario())
