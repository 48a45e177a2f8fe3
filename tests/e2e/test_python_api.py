"""The Python API: an MCP ClientSession to a runtime by its ARN and to a gateway by its URL,
signed with SigV4 from the default credential chain (here, the emulator's environment)."""

from __future__ import annotations

import os
from typing import Any
from unittest import mock

import anyio
import pytest

from mcp_agentcore_proxy.client import open_session, runtime_url
from mcp_agentcore_proxy.errors import ConfigurationError
from tests.harness import Emulator


def test_a_runtime_by_its_arn(emulator: Emulator) -> None:
    arn = emulator.arns["testing_server"]

    async def run() -> tuple[list[str], Any]:
        async with open_session(arn) as mcp:
            tools = [t.name for t in (await mcp.list_tools()).tools]
            return tools, await mcp.call_tool("echo_size", {"text": "four"})

    with mock.patch.dict(os.environ, emulator.env("testing_server"), clear=True):
        assert runtime_url(arn).startswith(f"{emulator.url}/runtimes/arn%3Aaws%3A")
        tools, sized = anyio.run(run)
    assert "echo_size" in tools and sized.structured_content == {"result": 4}


def test_a_gateway_by_its_url(emulator: Emulator) -> None:
    tool = {"name": "get_order", "description": "An order", "inputSchema": {"type": "object"}}
    function = "arn:aws:lambda:us-east-1:123456789012:function:orders"
    lambda_target = {"lambda": {"lambdaArn": function, "toolSchema": {"inlinePayload": [tool]}}}
    gateway = emulator.gateway(targets={"orders": lambda_target})

    async def run() -> list[str]:
        url = gateway["gatewayUrl"]
        async with open_session(url, service="bedrock-agentcore", region="us-east-1") as mcp:
            return [t.name for t in (await mcp.list_tools()).tools]

    with mock.patch.dict(os.environ, emulator.env(), clear=True):
        assert anyio.run(run) == ["orders___get_order"]


def test_a_url_whose_host_names_no_service_needs_one() -> None:
    async def run() -> None:
        async with open_session("http://127.0.0.1:9/mcp", region="us-east-1"):
            pass

    with pytest.raises(ConfigurationError, match="service="):
        anyio.run(run)
