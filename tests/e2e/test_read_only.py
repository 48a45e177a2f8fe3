"""The proxy's read-only mode, its ``_meta`` entries and its tool timeout, through the MCP
SDK's stdio client against a server in the emulator whose tools say whether they change
anything."""

from __future__ import annotations

import sys
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.shared.exceptions import MCPError

from tests.harness import Emulator


def _proxy(emulator: Emulator, *flags: str) -> StdioServerParameters:
    return StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_agentcore_proxy", *flags],
        env=emulator.env("testing_server"),
    )


def test_read_only_lists_and_calls_only_read_only_tools(emulator: Emulator) -> None:
    async def run() -> tuple[list[str], Any, str, int]:
        async with (
            stdio_client(_proxy(emulator, "--read-only")) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            tools = sorted(t.name for t in (await session.list_tools()).tools)
            sized = await session.call_tool("echo_size", {"text": "abc"})
            with pytest.raises(MCPError) as refused:
                await session.call_tool("count_call", {"key": "read-only"})
            # It never reached the server: the count for the key is still at one call away.
            return tools, sized, refused.value.error.message, refused.value.error.code

    tools, sized, message, code = anyio.run(run)
    assert tools == ["blob", "echo_size", "meta"]
    assert sized.structured_content == {"result": 3}
    assert code == -32602 and "'count_call' is not read-only" in message


def test_a_call_before_any_listing_is_checked_against_a_listing_of_the_proxys_own(
    emulator: Emulator,
) -> None:
    async def run() -> tuple[Any, str]:
        async with (
            stdio_client(_proxy(emulator, "--read-only")) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            allowed = await session.call_tool("echo_size", {"text": "abcd"})
            with pytest.raises(MCPError) as refused:
                await session.call_tool("sleep", {"seconds": 0})
            return allowed, refused.value.error.message

    allowed, message = anyio.run(run)
    assert allowed.structured_content == {"result": 4}
    assert "'sleep' is not read-only" in message


def test_metadata_is_added_to_each_request_the_clients_own_winning(emulator: Emulator) -> None:
    async def run() -> Any:
        async with (
            stdio_client(
                _proxy(emulator, "--metadata", "tenant=acme", "--metadata", "team=blue")
            ) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await session.call_tool("meta", {}, meta={"team": "red"})

    seen = anyio.run(run)
    assert seen.structured_content == {"tenant": "acme", "team": "red"}


def test_a_tool_call_past_the_tool_timeout_is_a_tool_error_and_the_proxy_serves_on(
    emulator: Emulator,
) -> None:
    async def run() -> tuple[Any, Any]:
        async with (
            stdio_client(_proxy(emulator, "--tool-timeout", "0.5")) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            slow = await session.call_tool("sleep", {"seconds": 60})
            after = await session.call_tool("echo_size", {"text": "abc"})
            return slow, after

    slow, after = anyio.run(run)
    assert slow.is_error
    assert "'sleep' timed out after 0.5 s" in slow.content[0].text
    assert after.structured_content == {"result": 3}
