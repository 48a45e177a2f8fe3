"""The walking skeleton: the MCP SDK's client -> proxy -> emulator -> demo server."""

from __future__ import annotations

import sys

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.harness import Emulator


async def _session_roundtrip(emulator: Emulator) -> tuple[str, list[str], dict]:
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_agentcore_proxy"], env=emulator.env("demo_server")
    )
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        tools = await session.list_tools()
        weather = await session.call_tool("get_weather", {"city": "New York"})
        assert not weather.is_error
        return (
            init.server_info.name,
            sorted(t.name for t in tools.tools),
            weather.structured_content,
        )


def test_sdk_client_lists_and_calls_tools_through_proxy_and_emulator(emulator: Emulator) -> None:
    server_name, tools, weather = anyio.run(_session_roundtrip, emulator)
    assert server_name == "agentcore-demo-server"
    assert {"get_weather", "tell_joke", "whoami"} <= set(tools)
    assert weather["city"] == "New York"
    assert set(weather) == {"city", "temperature_c", "conditions", "wind_kph"}
