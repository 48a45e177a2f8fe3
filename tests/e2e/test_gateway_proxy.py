"""The proxy with --url: any SigV4 MCP URL, here an emulator gateway behind AWS_IAM,
reached by the MCP SDK's stdio client as a user's MCP client reaches it."""

from __future__ import annotations

import sys
from typing import Any

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.harness import Emulator

ORDERS_ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"
GET_ORDER = {
    "name": "get_order",
    "description": "An order's status, by its id",
    "inputSchema": {"type": "object", "properties": {"id": {"type": "string"}}},
}


LAMBDA = {"lambdaArn": ORDERS_ARN, "toolSchema": {"inlinePayload": [GET_ORDER]}}


def _iam_gateway(emulator: Emulator) -> str:
    return str(emulator.gateway(targets={"orders": {"lambda": LAMBDA}})["gatewayUrl"])


def test_the_proxy_reaches_an_iam_gateway_by_its_url(emulator: Emulator) -> None:
    url = _iam_gateway(emulator)
    env = {k: v for k, v in emulator.env().items() if k != "AGENTCORE_AGENT_ARN"}
    env |= {"AGENTCORE_MCP_URL": url, "AGENTCORE_SIGNING_SERVICE": "bedrock-agentcore"}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_agentcore_proxy"], env=env
    )

    async def roundtrip() -> tuple[list[str], Any]:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = [t.name for t in (await session.list_tools()).tools]
            order = await session.call_tool("orders___get_order", {"id": "C-3"})
            return tools, order

    tools, order = anyio.run(roundtrip)
    assert tools == ["orders___get_order"]
    assert not order.is_error and '"status": "shipped"' in order.content[0].text
