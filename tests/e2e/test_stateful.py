"""A stateful MCP server behind the proxy: server-to-client requests and session replay."""

from __future__ import annotations

import sys

import anyio
from mcp import ClientSession, StdioServerParameters, types
from mcp.client.stdio import stdio_client

from tests.harness import Emulator, Proxy


async def _elicit(context, params: types.ElicitRequestParams) -> types.ElicitResult:
    assert params.message == "Which city are you in?"
    return types.ElicitResult(action="accept", content={"city": "Reykjavik"})


async def _sample(context, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
    prompt = params.messages[0].content.text
    assert "two-line poem" in prompt
    return types.CreateMessageResult(
        role="assistant",
        content=types.TextContent(type="text", text="Grey sky, cold sea,\nwind for me."),
        model="test",
    )


async def _round_trips(emulator: Emulator) -> tuple[str, str]:
    params = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_agentcore_proxy"],
        env={**emulator.env("demo_stateful"), "RUNTIME_SESSION_MODE": "session"},
    )
    async with (
        stdio_client(params) as (read, write),
        ClientSession(
            read, write, sampling_callback=_sample, elicitation_callback=_elicit
        ) as session,
    ):
        await session.initialize()
        elicited = await session.call_tool("weather_where_i_am", {})
        sampled = await session.call_tool("weather_poem", {"city": "Reykjavik"})
        assert not elicited.is_error and not sampled.is_error
        return elicited.content[0].text, sampled.content[0].text


def test_elicitation_and_sampling_round_trip_through_proxy_and_emulator(emulator: Emulator) -> None:
    elicited, sampled = anyio.run(_round_trips, emulator)
    assert elicited.startswith("Reykjavik: ")
    assert sampled == "Grey sky, cold sea,\nwind for me."


def test_lost_session_is_replayed_once_and_the_client_is_told(
    proxy_factory, emulator: Emulator
) -> None:
    proxy: Proxy = proxy_factory("demo_stateful", RUNTIME_SESSION_MODE="session", LOG_LEVEL="INFO")
    proxy.initialize()
    call = {"name": "get_weather", "arguments": {"city": "Nairobi"}}
    first = proxy.request(1, "tools/call", call)
    session = next(
        s for s in emulator.sessions() if s["runtime"] == "demo_stateful" and s["stateful"]
    )
    # The runtime ends the session (as its idle timeout would): the MCP session is gone.
    emulator.client().stop_runtime_session(
        agentRuntimeArn=emulator.arns["demo_stateful"], runtimeSessionId=session["sessionId"]
    )
    proxy.send_call(2, call["name"], call["arguments"])
    second, before = proxy.read_until(lambda m: m.get("id") == 2)
    assert second["result"] == first["result"]
    assert [m["method"] for m in before] == ["notifications/message"]
    assert "new session" in before[0]["params"]["data"]
    renewed = next(s for s in emulator.sessions() if s["sessionId"] == session["sessionId"])
    assert renewed["mcpSessionId"] != session["mcpSessionId"]
    assert proxy.request(3, "tools/call", call)["result"] == first["result"]  # no second replay
    proxy.close_stdin()
    assert proxy.stderr().count("MCP session expired") == 1


def test_replay_also_works_when_the_runtime_reports_errors_as_json_rpc(
    proxy_factory, emulator: Emulator
) -> None:
    # The runtime answers a container's 404 as HTTP 200 with a JSON-RPC error -32010, id null.
    proxy: Proxy = proxy_factory("stateful_jsonrpc_errors", RUNTIME_SESSION_MODE="session")
    proxy.initialize()
    call = {"name": "get_weather", "arguments": {"city": "Hanoi"}}
    first = proxy.request(1, "tools/call", call)
    session = next(s for s in emulator.sessions() if s["runtime"] == "stateful_jsonrpc_errors")
    emulator.client().stop_runtime_session(
        agentRuntimeArn=emulator.arns["stateful_jsonrpc_errors"],
        runtimeSessionId=session["sessionId"],
    )
    proxy.send_call(2, call["name"], call["arguments"])
    second, before = proxy.read_until(lambda m: m.get("id") == 2)
    assert second["result"] == first["result"]
    assert [m["method"] for m in before] == ["notifications/message"]
