"""A runtime of MCP 2026-07-28 in the emulator, called with boto3: stateless (no minted
Mcp-Session-Id), its own JSON-RPC errors passed on intact (or AgentCore's 424, as
configured), and its Mcp-Param-* headers forwarded only when allowlisted."""

from __future__ import annotations

import json
import uuid
from typing import Any

import botocore.exceptions
import pytest

from tests.harness import Emulator

META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "boto3", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


def _call(
    emulator: Emulator, runtime: str, name: str, arguments: dict[str, Any], **headers: str
) -> Any:
    client = emulator.client()

    def add(request: Any, **_: Any) -> None:
        for name, value in headers.items():
            request.headers[name] = value

    client.meta.events.register("before-sign.bedrock-agentcore.InvokeAgentRuntime", add)
    body = {
        "jsonrpc": "2.0",
        "id": 9,
        "method": "tools/call",
        "params": {"_meta": META, "name": name, "arguments": arguments},
    }
    return client.invoke_agent_runtime(
        agentRuntimeArn=emulator.arns[runtime],
        runtimeSessionId=f"modern-{uuid.uuid4()}",
        contentType="application/json",
        accept="application/json, text/event-stream",
        mcpProtocolVersion="2026-07-28",
        mcpMethod="tools/call",
        mcpName=name,
        payload=json.dumps(body),
    )


def test_a_modern_call_is_answered_without_a_minted_session(emulator: Emulator) -> None:
    answer = _call(emulator, "modern_server", "echo", {"text": "hi"})
    assert "mcpSessionId" not in answer
    assert json.loads(answer["response"].read())["result"]["content"][0]["text"] == "hi"


def test_the_servers_header_mismatch_reaches_the_caller_intact(emulator: Emulator) -> None:
    # Mcp-Param-Region missing while the body has a region: the server's -32020 (HTTP 400).
    answer = _call(emulator, "modern_server", "run_query", {"region": "eu", "sql": "1"})
    assert answer["statusCode"] == 200
    error = json.loads(answer["response"].read())
    assert error["id"] == 9 and error["error"]["code"] == -32020


def test_with_aws_424_the_servers_error_is_agentcores_424(emulator: Emulator) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        _call(emulator, "modern_strict", "run_query", {"region": "eu", "sql": "1"})
    assert refused.value.response["Error"]["Code"] == "RuntimeClientError"
    assert "Received error (400) from runtime" in refused.value.response["Error"]["Message"]


def test_an_allowlisted_param_header_reaches_the_server_and_another_is_named_in_the_log(
    emulator: Emulator,
) -> None:
    ok = _call(
        emulator,
        "modern_server",
        "run_query",
        {"region": "eu", "sql": "1"},
        **{"Mcp-Param-Region": "eu"},
    )
    assert json.loads(ok["response"].read())["result"]["content"][0]["text"] == "1 ran in eu"
    dropped = _call(emulator, "modern_strict", "echo", {"text": "x"}, **{"Mcp-Param-Region": "eu"})
    dropped["response"].read()
    said = "mcp-param-region not passed on: add it to the runtime's request_headers"
    assert said in emulator.stderr().lower()
