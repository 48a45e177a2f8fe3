#!/usr/bin/env python3
"""Smoke-test a deployed MCP runtime through the stdio proxy, as an MCP client would.

Usage: proxy_smoketest.py ARN   (honours AGENTCORE_ASSUME_ROLE_ARN and the AWS_* variables)
"""

from __future__ import annotations

import json
import os
import sys

import anyio
from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


def _text(result: object) -> str:
    structured = getattr(result, "structured_content", None)
    if structured:
        return json.dumps(structured.get("result", structured), ensure_ascii=False)
    return " ".join(getattr(c, "text", str(c)) for c in getattr(result, "content", []))


async def smoketest(arn: str) -> int:
    env = {**os.environ, "AGENTCORE_AGENT_ARN": arn}
    params = StdioServerParameters(
        command=sys.executable, args=["-m", "mcp_agentcore_proxy"], env=env
    )
    failures = 0
    async with stdio_client(params) as (read, write), ClientSession(read, write) as session:
        init = await session.initialize()
        print(f"connected: {init.server_info.name} (MCP {init.protocol_version})")
        tools = sorted(t.name for t in (await session.list_tools()).tools)
        print(f"tools: {', '.join(tools)}")
        calls = [
            ("whoami", {}),
            ("get_weather", {"city": "New York"}),
            ("tell_joke", {"topic": "programmers"}),
        ]
        for name, arguments in calls:
            result = await session.call_tool(name, arguments)
            status = "FAILED" if result.is_error else "ok"
            failures += bool(result.is_error)
            print(f"{name}({json.dumps(arguments)}) [{status}]: {_text(result)}")
    return 1 if failures else 0


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    return anyio.run(smoketest, sys.argv[1])


if __name__ == "__main__":
    raise SystemExit(main())
