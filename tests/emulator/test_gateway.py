"""AgentCore Gateway in the emulator: gateways and targets made with boto3 as AWS's clients
make them, their MCP endpoint called with the MCP SDK's client (signed with SigV4, with a
bearer token, or open): an MCP server target and a Lambda target behind one gateway,
tools named {target}___{tool}, pagination, search, and each inbound mistake."""

from __future__ import annotations

import http.server
import json
import os
import socket
import subprocess
import sys
import threading
import urllib.parse
from collections.abc import Generator, Iterator
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client
from mcp.types import PaginatedRequestParams

from tests.harness import ROOT, Emulator, JsonHandler

ORDERS_ARN = "arn:aws:lambda:us-east-1:123456789012:function:orders"
GET_ORDER = {
    "name": "get_order",
    "description": "An order's status, by its id",
    "inputSchema": {"type": "object", "properties": {"id": {"type": "string"}}, "required": ["id"]},
}


class SignedForGateway(httpx2.Auth):
    """Requests signed with SigV4 for bedrock-agentcore, as AWS's gateway wants them."""

    requires_request_body = True

    def __init__(self, emulator: Emulator, service: str = "bedrock-agentcore") -> None:
        env = emulator.env(next(iter(emulator.arns)))
        credentials = Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
        self._signer = SigV4Auth(credentials, service, "us-east-1")

    def auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        signed = AWSRequest(
            method=request.method,
            url=str(request.url),
            data=request.content,
            headers={k: v for k, v in request.headers.items() if k.lower() != "connection"},
        )
        self._signer.add_auth(signed)
        request.headers.update(dict(signed.headers.items()))
        yield request


@pytest.fixture(scope="module")
def mcp_server() -> Iterator[str]:
    """A plain MCP server on loopback (fixtures/servers/testing_server.py): a target. Its
    socket is bound here and handed over, so no other process can take its port first;
    requests wait in the socket's backlog until the server accepts them."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    port = listener.getsockname()[1]
    env = {**os.environ, "LISTEN_FD": str(listener.fileno()), "MCP_JSON_RESPONSE": "1"}
    server = subprocess.Popen(
        [sys.executable, "servers/testing_server.py"],
        cwd=ROOT / "fixtures",
        env=env,
        pass_fds=(listener.fileno(),),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    listener.close()  # the server holds it now
    try:
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        server.terminate()
        server.wait(timeout=10)


def _gateway(emulator: Emulator, authorizer: str = "AWS_IAM", **extra: Any) -> dict[str, Any]:
    return emulator.gateway(authorizer, **extra)


def _target(emulator: Emulator, gateway_id: str, name: str, configuration: dict) -> None:
    emulator.gateway_target(gateway_id, name, configuration)


def _session(url: str, **client: Any) -> Any:
    async def run(work: Any) -> Any:
        async with (
            httpx2.AsyncClient(timeout=30, **client) as http,
            streamable_http_client(url, http_client=http) as (read, write),
            ClientSession(read, write) as session,
        ):
            await session.initialize()
            return await work(session)

    return run


@pytest.fixture
def iam_gateway(emulator: Emulator, mcp_server: str) -> dict[str, Any]:
    gateway = _gateway(emulator)
    _target(emulator, gateway["gatewayId"], "testing", {"mcpServer": {"endpoint": mcp_server}})
    lambda_target = {
        "lambda": {"lambdaArn": ORDERS_ARN, "toolSchema": {"inlinePayload": [GET_ORDER]}}
    }
    _target(emulator, gateway["gatewayId"], "orders", lambda_target)
    return gateway


def test_an_iam_gateway_aggregates_an_mcp_server_and_a_lambda_function(
    emulator: Emulator, iam_gateway: dict[str, Any]
) -> None:
    url = iam_gateway["gatewayUrl"]
    assert url == f"{emulator.url}/gateways/{iam_gateway['gatewayId']}/mcp"  # the emulator's
    described = emulator.client("bedrock-agentcore-control").get_gateway(
        gatewayIdentifier=iam_gateway["gatewayId"]
    )
    assert described["gatewayUrl"] == url

    async def work(session: Any) -> tuple[list[str], Any, Any]:
        tools = [t.name for t in (await session.list_tools()).tools]
        said = await session.call_tool("testing___say", {"text": "through the gateway"})
        order = await session.call_tool("orders___get_order", {"id": "A-17"})
        return tools, said, order

    tools, said, order = anyio.run(_session(url, auth=SignedForGateway(emulator)), work)
    assert "testing___say" in tools and "orders___get_order" in tools
    assert not said.is_error and "through the gateway" in said.content[0].text
    assert '"status": "shipped"' in order.content[0].text
    assert '"tool": "orders___get_order"' in order.content[0].text  # the context AgentCore passes


@pytest.mark.parametrize(
    ("auth", "code"),
    [
        (None, "MissingAuthenticationTokenException"),
        ("wrong-service", "InvalidSignatureException"),
    ],
)
def test_an_iam_gateway_refuses_what_aws_refuses(
    emulator: Emulator, iam_gateway: dict[str, Any], auth: str | None, code: str
) -> None:
    body = b'{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}'
    request = httpx2.Request("POST", iam_gateway["gatewayUrl"], content=body)
    if auth == "wrong-service":
        request = next(SignedForGateway(emulator, service="lambda").auth_flow(request))
    with httpx2.Client(timeout=30) as client:
        answer = client.send(request)
    assert answer.status_code == 403
    assert answer.headers["x-amzn-ErrorType"] == code


def test_tools_list_is_paginated_past_a_page(emulator: Emulator) -> None:
    gateway = _gateway(emulator, authorizer="NONE")
    many = [{**GET_ORDER, "name": f"tool_{n:02d}"} for n in range(60)]
    _target(
        emulator,
        gateway["gatewayId"],
        "bulk",
        {"lambda": {"lambdaArn": ORDERS_ARN, "toolSchema": {"inlinePayload": many}}},
    )

    def page(cursor: str | None) -> dict[str, Any]:
        params = {"cursor": cursor} if cursor else {}
        message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": params}
        return httpx.post(gateway["gatewayUrl"], json=message, timeout=30).json()["result"]

    first = page(None)
    assert len(first["tools"]) == 50 and first["nextCursor"]
    rest = page(first["nextCursor"])
    assert len(rest["tools"]) == 10 and "nextCursor" not in rest
    # The SDK's client follows the cursor as a user's agent would.

    async def work(session: Any) -> int:
        listed, cursor = [], None
        while True:
            params = PaginatedRequestParams(cursor=cursor) if cursor else None
            result = await session.list_tools(params=params)
            listed += result.tools
            cursor = result.next_cursor
            if not cursor:
                return len(listed)

    assert anyio.run(_session(gateway["gatewayUrl"]), work) == 60


def test_search_ranks_the_tools_for_a_query(emulator: Emulator, mcp_server: str) -> None:
    gateway = _gateway(
        emulator, authorizer="NONE", protocolConfiguration={"mcp": {"searchType": "SEMANTIC"}}
    )
    _target(
        emulator,
        gateway["gatewayId"],
        "orders",
        {"lambda": {"lambdaArn": ORDERS_ARN, "toolSchema": {"inlinePayload": [GET_ORDER]}}},
    )
    _target(emulator, gateway["gatewayId"], "testing", {"mcpServer": {"endpoint": mcp_server}})

    async def work(session: Any) -> tuple[list[str], Any]:
        tools = [t.name for t in (await session.list_tools()).tools]
        found = await session.call_tool("x_amz_bedrock_agentcore_search", {"query": "order status"})
        return tools, found

    tools, found = anyio.run(_session(gateway["gatewayUrl"]), work)
    assert tools[0] == "x_amz_bedrock_agentcore_search"
    assert found.structured_content["tools"][0]["name"] == "orders___get_order"


def test_a_jwt_gateway_points_a_client_without_a_token_at_its_metadata(emulator: Emulator) -> None:
    discovery = f"{emulator.url}/_idp/.well-known/openid-configuration"
    gateway = _gateway(
        emulator,
        authorizer="CUSTOM_JWT",
        authorizerConfiguration={
            "customJWTAuthorizer": {"discoveryUrl": discovery, "allowedClients": ["test-app"]}
        },
    )
    _target(
        emulator,
        gateway["gatewayId"],
        "orders",
        {"lambda": {"lambdaArn": ORDERS_ARN, "toolSchema": {"inlinePayload": [GET_ORDER]}}},
    )
    message = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
    refused = httpx.post(gateway["gatewayUrl"], json=message, timeout=30)
    assert refused.status_code == 401
    challenge = refused.headers["www-authenticate"]
    metadata_url = challenge.split('resource_metadata="', 1)[1].rstrip('"')
    metadata = httpx.get(metadata_url, timeout=30).json()
    assert metadata["resource"] == gateway["gatewayUrl"]
    assert metadata["authorization_servers"] == [f"{emulator.url}/_idp"]
    token = emulator.admin.post("/_emulator/idp/token", json={"client_id": "test-app"}).json()
    other = emulator.admin.post("/_emulator/idp/token", json={"client_id": "other-app"}).json()
    headers = {"Authorization": f"Bearer {other['access_token']}"}
    assert (
        httpx.post(gateway["gatewayUrl"], json=message, headers=headers, timeout=30).status_code
        == 401
    )

    async def work(session: Any) -> list[str]:
        return [t.name for t in (await session.list_tools()).tools]

    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    assert anyio.run(_session(gateway["gatewayUrl"], headers=bearer), work) == [
        "orders___get_order"
    ]


def test_an_unknown_tool_and_a_failing_target_are_json_rpc_errors(emulator: Emulator) -> None:
    gateway = _gateway(emulator, authorizer="NONE", exceptionLevel="DEBUG")
    # A port held, never listened on: connections to it are refused, and no other process
    # can take it while the test runs.
    held = socket.socket()
    held.bind(("127.0.0.1", 0))
    dead_url = f"http://127.0.0.1:{held.getsockname()[1]}/mcp"
    _target(emulator, gateway["gatewayId"], "dead", {"mcpServer": {"endpoint": dead_url}})
    _target(
        emulator,
        gateway["gatewayId"],
        "orders",
        {"lambda": {"lambdaArn": ORDERS_ARN, "toolSchema": {"inlinePayload": [GET_ORDER]}}},
    )

    def call(name: str) -> dict[str, Any]:
        message = {
            "jsonrpc": "2.0",
            "id": 7,
            "method": "tools/call",
            "params": {"name": name, "arguments": {}},
        }
        return httpx.post(gateway["gatewayUrl"], json=message, timeout=30).json()

    assert call("nobody___nothing")["error"]["code"] == -32602
    dead = call("dead___anything")["result"]
    assert dead["isError"] and "cannot be reached" in dead["content"][0]["text"]  # DEBUG: said
    listed = httpx.post(
        gateway["gatewayUrl"], json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=30
    ).json()
    held.close()
    # The dead target lists none; the others list theirs.
    assert [t["name"] for t in listed["result"]["tools"]] == ["orders___get_order"]


class _Orders(JsonHandler):
    """An OpenAPI service of someone else's: GET /orders/{id}, POST /orders."""

    def do_GET(self) -> None:
        parts = urllib.parse.urlsplit(self.path)
        order = urllib.parse.unquote(parts.path.rsplit("/", 1)[-1])
        verbose = urllib.parse.parse_qs(parts.query).get("verbose") == ["true"]
        self.json_answer({"id": order, "status": "packed", "verbose": verbose})

    def do_POST(self) -> None:
        created = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.json_answer({"created": created}, 201)


def test_an_openapi_target_is_a_tool_per_operation(emulator: Emulator) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Orders)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    host, port = server.server_address[:2]
    spec = {
        "openapi": "3.0.0",
        "info": {"title": "orders", "version": "1"},
        "servers": [{"url": f"http://{host}:{port}"}],
        "paths": {
            "/orders/{orderId}": {
                "get": {
                    "operationId": "getOrder",
                    "summary": "One order",
                    "parameters": [
                        {"name": "orderId", "in": "path", "required": True},
                        {"name": "verbose", "in": "query", "schema": {"type": "boolean"}},
                    ],
                }
            },
            "/orders": {
                "post": {
                    "operationId": "createOrder",
                    "requestBody": {
                        "content": {"application/json": {"schema": {"type": "object"}}}
                    },
                }
            },
        },
    }
    try:
        gateway = _gateway(emulator, authorizer="NONE")
        _target(
            emulator,
            gateway["gatewayId"],
            "shop",
            {"openApiSchema": {"inlinePayload": json.dumps(spec)}},
        )

        async def work(session: Any) -> tuple[list[str], Any, Any]:
            tools = sorted(t.name for t in (await session.list_tools()).tools)
            got = await session.call_tool("shop___getOrder", {"orderId": "B 9", "verbose": "true"})
            made = await session.call_tool("shop___createOrder", {"body": {"item": "tea"}})
            return tools, got, made

        tools, got, made = anyio.run(_session(gateway["gatewayUrl"]), work)
    finally:
        server.shutdown()
        server.server_close()
        serving.join(timeout=5)
    assert tools == ["shop___createOrder", "shop___getOrder"]
    assert json.loads(got.content[0].text) == {"id": "B 9", "status": "packed", "verbose": True}
    assert json.loads(made.content[0].text) == {"created": {"item": "tea"}}


def _server_on(listener: socket.socket, **env: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "servers/testing_server.py"],
        cwd=ROOT / "fixtures",
        env={**os.environ, "LISTEN_FD": str(listener.fileno()), **env},
        pass_fds=(listener.fileno(),),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def test_a_targets_session_is_kept_and_opened_again_when_the_server_forgets_it(
    emulator: Emulator,
) -> None:
    # A stateful MCP server (it gives Mcp-Session-Id), restarted between two calls: the
    # second call's kept session is unknown to the new process (404), and the gateway
    # opens another, unseen by the client.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    url = f"http://127.0.0.1:{listener.getsockname()[1]}/mcp"
    gateway = _gateway(emulator, authorizer="NONE")
    _target(emulator, gateway["gatewayId"], "stateful", {"mcpServer": {"endpoint": url}})

    def count(key: str) -> dict[str, Any]:
        message = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": "stateful___count_call", "arguments": {"key": key}},
        }
        return httpx.post(gateway["gatewayUrl"], json=message, timeout=60).json()

    first = _server_on(listener, MCP_SESSION_MODE="stateful", MCP_JSON_RESPONSE="1")
    try:
        assert count("k")["result"]["structuredContent"] == {"result": 1}
        assert count("k")["result"]["structuredContent"] == {"result": 2}  # the same process
    finally:
        first.terminate()
        first.wait(timeout=10)
    second = _server_on(listener, MCP_SESSION_MODE="stateful", MCP_JSON_RESPONSE="1")
    try:
        assert count("k")["result"]["structuredContent"] == {"result": 1}  # a new one, reached
    finally:
        second.terminate()
        second.wait(timeout=10)
        listener.close()
