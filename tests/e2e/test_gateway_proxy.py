"""The proxy with --url: any SigV4 MCP URL, here an emulator gateway behind AWS_IAM,
reached by the MCP SDK's stdio client as a user's MCP client reaches it."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client

from tests.harness import Emulator

ROOT = Path(__file__).resolve().parents[2]
AWS_PROXY = ROOT / ".venvs" / "mcp-proxy-for-aws" / "bin" / "mcp-proxy-for-aws"

ORDERS_ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"
GET_ORDER = {
    "name": "get_order",
    "description": "An order's status, by its id",
    "inputSchema": {"type": "object", "properties": {"id": {"type": "string"}}},
}


LAMBDA = {"lambdaArn": ORDERS_ARN, "toolSchema": {"inlinePayload": [GET_ORDER]}}


def _iam_gateway(emulator: Emulator) -> str:
    return str(emulator.gateway(targets={"orders": {"lambda": LAMBDA}})["gatewayUrl"])


def _list_and_call(params: StdioServerParameters) -> tuple[list[str], Any]:
    async def roundtrip() -> tuple[list[str], Any]:
        async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
            await session.initialize()
            tools = [t.name for t in (await session.list_tools()).tools]
            order = await session.call_tool("orders___get_order", {"id": "C-3"})
            return tools, order

    return anyio.run(roundtrip)


def test_the_proxy_reaches_an_iam_gateway_by_its_url(emulator: Emulator) -> None:
    url = _iam_gateway(emulator)
    env = {k: v for k, v in emulator.env().items() if k != "AGENTCORE_AGENT_ARN"}
    env |= {"AGENTCORE_MCP_URL": url, "AGENTCORE_SIGNING_SERVICE": "bedrock-agentcore"}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_agentcore_proxy"], env=env
    )
    tools, order = _list_and_call(params)
    assert tools == ["orders___get_order"]
    assert not order.is_error and '"status": "shipped"' in order.content[0].text


def test_aws_own_proxy_reaches_an_emulator_gateway_as_it_reaches_aws(emulator: Emulator) -> None:
    # mcp-proxy-for-aws 1.7.0 as its users install it (`make test-envs`), with the credentials
    # and region of the environment only: the gateway's signature check is AWS's, not ours.
    if not AWS_PROXY.exists():
        pytest.skip("mcp-proxy-for-aws's environment is missing: run `make test-envs`")
    url = _iam_gateway(emulator)
    env = {k: v for k, v in emulator.env().items() if k.startswith("AWS_")}
    args = [url, "--service", "bedrock-agentcore", "--region", "us-east-1"]
    params = StdioServerParameters(
        command=str(AWS_PROXY), args=[*args, "--log-level", "ERROR"], env=env
    )
    tools, order = _list_and_call(params)
    assert tools == ["orders___get_order"]
    assert not order.is_error and '"status": "shipped"' in order.content[0].text
    # Signed, as AWS checks: the same proxy with a key the emulator does not know is refused.
    env["AWS_SECRET_ACCESS_KEY"] = "not-the-secret"
    wrong = StdioServerParameters(command=str(AWS_PROXY), args=args, env=env)
    with pytest.raises(ExceptionGroup) as refused:
        _list_and_call(wrong)
    assert "403 Forbidden" in " ".join(map(str, _leaves(refused.value)))


def _leaves(error: BaseException) -> list[BaseException]:
    if isinstance(error, BaseExceptionGroup):
        return [leaf for inner in error.exceptions for leaf in _leaves(inner)]
    return [error]
