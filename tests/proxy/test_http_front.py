"""Where the HTTP front end puts each server message, in process with a stand-in router."""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from mcp_agentcore_proxy import jsonrpc
from mcp_agentcore_proxy.http_front import ClientSession
from mcp_agentcore_proxy.loopback import is_loopback_origin


def _line(body: dict[str, Any]) -> bytes:
    return json.dumps({"jsonrpc": "2.0", **body}).encode()


def _drain(stream: asyncio.Queue[bytes | None]) -> list[Any]:
    items: list[Any] = []
    while not stream.empty():
        item = stream.get_nowait()
        items.append(None if item is None else json.loads(item))
    return items


def test_answers_end_their_stream_and_progress_follows_its_token() -> None:
    async def scenario() -> None:
        session = ClientSession(asyncio.get_running_loop(), lambda _: cast(Any, None))
        first = session.expect(
            jsonrpc.parse_line(
                _line(
                    {"id": 1, "method": "tools/call", "params": {"_meta": {"progressToken": "t"}}}
                )
            )
        )
        second = session.expect(jsonrpc.parse_line(_line({"id": "1", "method": "ping"})))
        session.write(_line({"method": "notifications/progress", "params": {"progressToken": "t"}}))
        session.write(_line({"id": "1", "result": {}}))  # "1", not 1: the second's answer
        session.write(_line({"id": 1, "result": {"done": True}}))
        session.write(_line({"method": "notifications/message", "params": {}}))  # no stream
        await asyncio.sleep(0)  # the writes land on the loop
        got_first, got_second = _drain(first), _drain(second)
        assert [m and m.get("method", m.get("result")) for m in got_first] == [
            "notifications/progress",
            {"done": True},
            None,
        ]
        assert got_second == [{"jsonrpc": "2.0", "id": "1", "result": {}}, None]
        general = session.open_general()
        assert general is not None and session.open_general() is None  # one GET stream
        assert [m["method"] for m in _drain(general)] == ["notifications/message"]

    asyncio.run(scenario())


def test_only_loopback_pages_are_accepted_origins() -> None:
    assert is_loopback_origin("http://localhost:6274")
    assert is_loopback_origin("http://127.0.0.1")
    assert is_loopback_origin("http://[::1]:3000")
    assert not is_loopback_origin("https://evil.example")
    assert not is_loopback_origin("http://localhost.evil.example")
    assert not is_loopback_origin("null")
