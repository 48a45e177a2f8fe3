"""MCP 2026-07-28 end to end: the mcp SDK's client, pinned to the revision and in auto mode,
through the proxy (stdio and its HTTP front end) and the emulator to an SDK server of the
revision (fixtures/servers/modern_server.py): a plain tool, an ``x-mcp-header`` argument, a
non-ASCII tool name and a multi-round elicitation."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import anyio
import pytest
from mcp import StdioServerParameters
from mcp.client import Client
from mcp.types import ElicitRequestParams, ElicitResult

from tests.e2e.test_http_front import HttpProxy
from tests.harness import Emulator

CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("echo", {"text": "hi"}, "hi"),
    ("run_query", {"region": "us-west1", "sql": "SELECT 1"}, "SELECT 1 ran in us-west1"),
    ("grüßen", {"name": "Ana"}, "Grüß dich, Ana!"),
    ("delete", {"item": "report"}, "deleted report"),
]
MODES = ["2026-07-28", "auto"]


async def _confirm(context: Any, params: ElicitRequestParams) -> ElicitResult:
    assert "Really delete report?" in params.message
    return ElicitResult(action="accept", content={"confirm": True})


async def _every_call(server: Any, mode: str) -> tuple[str, list[str], list[str]]:
    async with Client(server, mode=mode, elicitation_callback=_confirm) as client:
        tools = await client.list_tools()
        texts = []
        for name, arguments, _ in CALLS:
            result = await client.call_tool(name, arguments)
            assert not result.is_error, (name, result)
            texts.append(result.content[0].text)  # type: ignore[union-attr]
        return client.protocol_version, sorted(t.name for t in tools.tools), texts


def _expect(answer: tuple[str, list[str], list[str]]) -> None:
    version, tools, texts = answer
    assert version == "2026-07-28"
    assert tools == sorted(name for name, _, _ in CALLS)
    assert texts == [text for _, _, text in CALLS]


@pytest.mark.parametrize("mode", MODES)
def test_every_call_over_stdio(emulator: Emulator, mode: str) -> None:
    proxy = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_agentcore_proxy"],
        env=emulator.env("modern_server"),
    )
    _expect(anyio.run(_every_call, proxy, mode))


def test_a_call_before_any_listing_carries_its_headers(emulator: Emulator) -> None:
    """The proxy lists the tools itself first: the server never refuses the call."""

    async def call_first() -> str:
        proxy = StdioServerParameters(
            command=sys.executable,
            args=["-m", "mcp_agentcore_proxy"],
            env=emulator.env("modern_server"),
        )
        async with Client(proxy, mode="2026-07-28") as client:
            result = await client.call_tool("run_query", {"region": "eu-west1", "sql": "SELECT 2"})
            assert not result.is_error, result
            return result.content[0].text  # type: ignore[union-attr]

    first = emulator.last_arrival()
    assert anyio.run(call_first) == "SELECT 2 ran in eu-west1"
    methods = [a["method"] for a in emulator.arrivals(first) if a["runtime"] == "modern_server"]
    # The SDK's client lists the tools itself only after the call (to check its output).
    assert methods[:2] == ["tools/list", "tools/call"]


@pytest.fixture
def front(emulator: Emulator) -> Iterator[HttpProxy]:
    proxy = HttpProxy(emulator.env("modern_server"))
    yield proxy
    assert proxy.stop() == 0


@pytest.mark.parametrize("mode", MODES)
def test_every_call_over_the_http_front_end(front: HttpProxy, mode: str) -> None:
    _expect(anyio.run(_every_call, f"{front.url}", mode))
