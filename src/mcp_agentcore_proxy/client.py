"""A Python API for MCP clients that reach AgentCore without the stdio hop: an ``httpx2``
auth that signs each request with SigV4 (the MCP SDK's HTTP client is ``httpx2``), and
``open_session``, an MCP ``ClientSession`` to a runtime (by its ARN) or to any SigV4 MCP
URL (an AgentCore Gateway's). Needs the ``client`` extra (the MCP SDK)::

    arn = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/x-AbCdEf1234"
    async with open_session(arn) as mcp:
        tools = await mcp.list_tools()

Credentials come from botocore's default chain (or the session given), looked up again
for each request: a refreshed role's keys are used as soon as botocore has them.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Generator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import botocore.auth
import botocore.awsrequest
import botocore.session

from agentcore_wire.header_rules import RUNTIME_SESSION_HEADER
from mcp_agentcore_proxy.config import RuntimeArn, signing_for
from mcp_agentcore_proxy.data_path import InvokeTarget
from mcp_agentcore_proxy.errors import ConfigurationError, CredentialsError

try:
    import httpx2
except ImportError as missing:  # pragma: no cover - the extra is part of the test matrix
    raise ImportError(
        "mcp_agentcore_proxy.client needs the MCP SDK: "
        "pip install 'mcp-proxy-for-agentcore[client]'"
    ) from missing

if TYPE_CHECKING:
    from mcp import ClientSession

# Headers an HTTP client may change after signing: left out of the signature.
_UNSIGNED = frozenset({"connection", "user-agent", "expect"})


class SigV4McpAuth(httpx2.Auth):
    """Signs each request with SigV4 for ``service`` in ``region`` (body included)."""

    requires_request_body = True

    def __init__(self, service: str, region: str, session: Any = None) -> None:
        self._service = service
        self._region = region
        self._session = session or botocore.session.get_session()

    def auth_flow(
        self, request: httpx2.Request
    ) -> Generator[httpx2.Request, httpx2.Response, None]:
        credentials = self._session.get_credentials()
        if credentials is None:
            raise CredentialsError(
                "No AWS credentials found: set AWS_PROFILE or AWS_ACCESS_KEY_ID, or run "
                "`aws configure`"
            )
        signed = botocore.awsrequest.AWSRequest(
            method=request.method,
            url=str(request.url),
            data=request.content,
            headers={k: v for k, v in request.headers.items() if k.lower() not in _UNSIGNED},
        )
        frozen = credentials.get_frozen_credentials()
        botocore.auth.SigV4Auth(frozen, self._service, self._region).add_auth(signed)
        for name in ("Authorization", "X-Amz-Date", "X-Amz-Security-Token"):
            if name in signed.headers:
                request.headers[name] = signed.headers[name]
        yield request


def runtime_url(arn: str, qualifier: str = "DEFAULT", session: Any = None) -> str:
    """A runtime's MCP URL (InvokeAgentRuntime's), on the endpoint botocore resolves for
    its region (AWS_ENDPOINT_URL and its kin included: the emulator's)."""
    parsed = RuntimeArn.parse(arn)
    botocore_session = session or botocore.session.get_session()
    client = botocore_session.create_client("bedrock-agentcore", region_name=parsed.region)
    endpoint = str(client.meta.endpoint_url).rstrip("/")
    return InvokeTarget.of_runtime(parsed.arn, qualifier).resolve(endpoint)[1]


@asynccontextmanager
async def open_session(
    target: str,
    *,
    service: str | None = None,
    region: str | None = None,
    qualifier: str = "DEFAULT",
    runtime_session_id: str | None = None,
    session: Any = None,
    timeout: float = 900.0,
) -> AsyncIterator[ClientSession]:
    """An initialized MCP ``ClientSession`` to ``target``: a runtime's ARN (one runtime
    session for the whole of it, ``runtime_session_id`` or a new one) or an MCP URL
    (signed for ``service`` and ``region``, read off an AWS host when not given)."""
    from mcp import ClientSession
    from mcp.client.streamable_http import streamable_http_client

    headers: dict[str, str] = {}
    if target.startswith("arn:"):
        url = runtime_url(target, qualifier, session)
        service = "bedrock-agentcore"
        region = region or RuntimeArn.parse(target).region
        headers[RUNTIME_SESSION_HEADER] = runtime_session_id or f"mcp-client-{uuid.uuid4().hex}"
    else:
        url = target
        inferred_service, inferred_region = signing_for(target)
        service = service or inferred_service
        default = (session or botocore.session.get_session()).get_config_variable("region")
        region = region or inferred_region or default
    if not service or not region:
        raise ConfigurationError(
            f"the service and region to sign for are not in {target}'s host: give service= "
            "and region="
        )
    auth = SigV4McpAuth(service, region, session)
    async with (
        httpx2.AsyncClient(auth=auth, headers=headers, timeout=timeout) as http,
        streamable_http_client(url, http_client=http) as (read, write),
        ClientSession(read, write) as mcp,
    ):
        await mcp.initialize()
        yield mcp
