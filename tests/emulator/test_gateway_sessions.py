"""A gateway's opt-in MCP sessions (absolute timeout, bound to the caller) and its
2026-07-28 requests (no session; version, header and discovery rules), with the MCP SDK's
client where it can speak them and raw HTTP for each refusal."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp.client import Client
from mcp.client.streamable_http import streamable_http_client

from agentcore_emulator.gateway_sessions import GatewaySessions
from tests.emulator.test_gateway import GET_ORDER, ORDERS_ARN, _session
from tests.harness import Emulator

ORDERS = {"lambda": {"lambdaArn": ORDERS_ARN, "toolSchema": {"inlinePayload": [GET_ORDER]}}}
LIST = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "raw", "version": "1"},
    },
}


def _jwt_gateway(emulator: Emulator, **mcp: Any) -> str:
    discovery = f"{emulator.url}/_idp/.well-known/openid-configuration"
    created = emulator.gateway(
        "CUSTOM_JWT",
        targets={"orders": ORDERS},
        authorizerConfiguration={
            "customJWTAuthorizer": {"discoveryUrl": discovery, "allowedClients": ["test-app"]}
        },
        protocolConfiguration={"mcp": mcp},
    )
    return str(created["gatewayUrl"])


def _bearer(emulator: Emulator, subject: str) -> dict[str, str]:
    body = {"client_id": "test-app", "claims": {"sub": subject}}
    token = emulator.admin.post("/_emulator/idp/token", json=body).json()["access_token"]
    return {"Authorization": f"Bearer {token}"}


def test_a_session_is_begun_by_initialize_and_kept_to_its_caller_until_its_timeout(
    emulator: Emulator,
) -> None:
    url = _jwt_gateway(emulator, sessionConfiguration={"sessionTimeoutInSeconds": 900})
    ana, bo = _bearer(emulator, "ana"), _bearer(emulator, "bo")
    with httpx.Client(timeout=30) as http:
        begun = http.post(url, json=INITIALIZE, headers=ana)
        session = {"Mcp-Session-Id": begun.headers["mcp-session-id"]}
        assert http.post(url, json=LIST, headers=ana | session).json()["result"]["tools"]
        missing = http.post(url, json=LIST, headers=ana)
        assert missing.status_code == 400 and "Mcp-Session-Id" in missing.text
        assert http.post(url, json=LIST, headers=bo | session).status_code == 404  # not hers
        emulator.admin.post("/_emulator/clock/advance", json={"seconds": 899})
        assert http.post(url, json=LIST, headers=ana | session).status_code == 200
        emulator.admin.post("/_emulator/clock/advance", json={"seconds": 2})  # absolute
        expired = http.post(url, json=LIST, headers=ana | session)
        assert expired.status_code == 404 and "Session not found" in expired.text
        again = {
            "Mcp-Session-Id": http.post(url, json=INITIALIZE, headers=ana).headers["mcp-session-id"]
        }
        assert http.delete(url, headers=ana | again).status_code == 204
        assert http.post(url, json=LIST, headers=ana | again).status_code == 404  # ended


def test_the_mcp_sdk_client_keeps_a_gateway_session(emulator: Emulator) -> None:
    url = _jwt_gateway(emulator, sessionConfiguration={"sessionTimeoutInSeconds": 3600})

    async def work(session: Any) -> Any:
        await session.list_tools()
        return await session.call_tool("orders___get_order", {"id": "B-2"})

    order = anyio.run(_session(url, headers=_bearer(emulator, "ana")), work)
    assert '"status": "shipped"' in order.content[0].text


def test_without_sessions_each_request_stands_alone(emulator: Emulator) -> None:
    url = _jwt_gateway(emulator)
    with httpx.Client(timeout=30) as http:
        begun = http.post(url, json=INITIALIZE, headers=_bearer(emulator, "ana"))
        assert "mcp-session-id" not in begun.headers
        assert http.post(url, json=LIST, headers=_bearer(emulator, "ana")).status_code == 200


@pytest.mark.parametrize("mode", ["2026-07-28", "auto"])
def test_the_mcp_sdk_client_speaks_2026_07_28_to_a_gateway(emulator: Emulator, mode: str) -> None:
    url = _jwt_gateway(
        emulator,
        supportedVersions=["2026-07-28", "2025-11-25"],
        sessionConfiguration={"sessionTimeoutInSeconds": 900},  # not for modern requests
    )
    headers = _bearer(emulator, "ana")

    async def run() -> tuple[str, list[str], Any]:
        async with httpx2.AsyncClient(headers=headers, timeout=30) as http:
            transport = streamable_http_client(url, http_client=http)
            async with Client(transport, mode=mode) as client:
                tools = [t.name for t in (await client.list_tools()).tools]
                order = await client.call_tool("orders___get_order", {"id": "M-1"})
                return client.protocol_version, tools, order

    version, tools, order = anyio.run(run)
    assert version == "2026-07-28"
    assert tools == ["orders___get_order"]
    assert '"status": "shipped"' in order.content[0].text


def _modern(method: str, **params: Any) -> dict[str, Any]:
    meta = {"io.modelcontextprotocol/protocolVersion": "2026-07-28"}
    return {"jsonrpc": "2.0", "id": 9, "method": method, "params": {**params, "_meta": meta}}


def test_a_2026_07_28_request_is_refused_as_the_revision_says(emulator: Emulator) -> None:
    url = _jwt_gateway(emulator, supportedVersions=["2026-07-28"])
    old = _jwt_gateway(emulator, supportedVersions=["2025-11-25"])
    auth = _bearer(emulator, "ana")
    modern = {"MCP-Protocol-Version": "2026-07-28"}
    call = _modern("tools/call", name="orders___get_order", arguments={"id": "1"})
    with httpx.Client(timeout=30) as http:
        discovered = http.post(
            url,
            json=_modern("server/discover"),
            headers=auth | modern | {"Mcp-Method": "server/discover"},
        ).json()["result"]
        assert discovered["supportedVersions"] == ["2026-07-28"]
        unlisted = http.post(
            old, json=_modern("tools/list"), headers=auth | modern | {"Mcp-Method": "tools/list"}
        )
        assert unlisted.status_code == 400
        assert unlisted.json()["error"]["code"] == -32022
        assert unlisted.json()["error"]["data"]["supported"] == ["2025-11-25"]
        no_method = http.post(url, json=call, headers=auth | modern)
        assert no_method.status_code == 400 and no_method.json()["error"]["code"] == -32020
        wrong_name = {"Mcp-Method": "tools/call", "Mcp-Name": "orders___other"}
        refused = http.post(url, json=call, headers=auth | modern | wrong_name)
        assert refused.status_code == 400 and refused.json()["error"]["code"] == -32020
        right = {"Mcp-Method": "tools/call", "Mcp-Name": "orders___get_order"}
        assert http.post(url, json=call, headers=auth | modern | right).json()["result"]


# -- the registry's bound, in process ----------------------------------------------------


def test_the_sessions_are_bounded_the_expired_going_first_then_the_oldest() -> None:
    now = [0.0]
    sessions = GatewaySessions(limit=3, clock=lambda: now[0])
    short = sessions.begin("gw", "ana", 10)
    old = sessions.begin("gw", "ana", 100)
    sessions.begin("gw", "ana", 100)
    now[0] = 11.0  # the first has expired
    sessions.begin("gw", "ana", 100)
    assert len(sessions) == 3
    assert sessions.find(short.session_id, "gw", "ana") is None
    assert sessions.find(old.session_id, "gw", "ana") is not None
    sessions.begin("gw", "ana", 100)  # full of live ones: the oldest goes
    assert len(sessions) == 3
    assert sessions.find(old.session_id, "gw", "ana") is None
    assert sessions.find(old.session_id, "other-gateway", "ana") is None
