"""A gateway's outbound auth to its targets, as each target's credential provider
configuration says: its role's SigV4 to a runtime of the emulator (the runtime checks it),
an Identity API key in a header or the query, an OAuth token by the client-credentials
grant, the caller's own token passed on."""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import anyio
import jwt
import pytest

from tests.emulator.test_gateway import _session
from tests.emulator.test_identity import _own_provider
from tests.harness import Emulator, JsonHandler


class _Echo(JsonHandler):
    """Someone else's service: says what credentials reached it."""

    def do_GET(self) -> None:
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
        self.json_answer(
            {"authorization": self.headers.get("Authorization"),
             "apiKey": self.headers.get("X-Api-Key"), "query": query}
        )  # fmt: skip


@pytest.fixture(scope="module")
def echo() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    host, port = server.server_address[:2]
    yield f"http://{host}:{port}"
    server.shutdown()
    server.server_close()
    serving.join(timeout=5)


def _spec(base: str) -> str:
    operation = {"get": {"operationId": "whoami", "summary": "What reached the service"}}
    return json.dumps(
        {"openapi": "3.0.0", "servers": [{"url": base}], "paths": {"/who": operation}}
    )


def _openapi_gateway(
    emulator: Emulator, base: str, credentials: dict[str, Any], **gateway: Any
) -> str:
    created = emulator.gateway(gateway.pop("authorizer", "NONE"), **gateway)
    emulator.gateway_target(
        created["gatewayId"], "svc", {"openApiSchema": {"inlinePayload": _spec(base)}}, credentials
    )
    return str(created["gatewayUrl"])


def _who(url: str, **client: Any) -> dict[str, Any]:
    async def work(session: Any) -> Any:
        return await session.call_tool("svc___whoami", {})

    answer = anyio.run(_session(url, **client), work)
    assert not answer.is_error, answer
    return dict(json.loads(answer.content[0].text))


def test_the_gateways_role_signs_for_a_runtime_of_the_emulator(emulator: Emulator) -> None:
    runtime = (
        f"{emulator.url}/runtimes/{quote(emulator.arns['testing_server'], safe='')}/invocations"
    )
    signed = {
        "credentialProviderType": "GATEWAY_IAM_ROLE",
        "credentialProvider": {"iamCredentialProvider": {"service": "bedrock-agentcore"}},
    }
    gateway = emulator.gateway("NONE")
    emulator.gateway_target(
        gateway["gatewayId"], "rt", {"mcpServer": {"endpoint": runtime}}, signed
    )

    async def work(session: Any) -> tuple[list[str], Any]:
        tools = [t.name for t in (await session.list_tools()).tools]
        return tools, await session.call_tool("rt___say", {"text": "via the gateway"})

    tools, said = anyio.run(_session(gateway["gatewayUrl"]), work)
    assert "rt___say" in tools
    assert not said.is_error and "via the gateway" in said.content[0].text
    # Signed for another service, the runtime refuses it as AWS would: no tools.
    wrong = emulator.gateway("NONE")
    other = {
        "credentialProviderType": "GATEWAY_IAM_ROLE",
        "credentialProvider": {"iamCredentialProvider": {"service": "lambda"}},
    }
    emulator.gateway_target(wrong["gatewayId"], "rt", {"mcpServer": {"endpoint": runtime}}, other)

    async def listed(session: Any) -> list[str]:
        return [t.name for t in (await session.list_tools()).tools]

    assert anyio.run(_session(wrong["gatewayUrl"]), listed) == []


@pytest.mark.parametrize("location", ["HEADER", "QUERY_PARAMETER"])
def test_an_api_key_goes_where_the_target_says(
    emulator: Emulator, echo: str, location: str
) -> None:
    name = f"svc-key-{location.lower()}"
    emulator.client("bedrock-agentcore-control").create_api_key_credential_provider(
        name=name, apiKey="k-123"
    )
    arn = emulator.client("bedrock-agentcore-control").get_api_key_credential_provider(name=name)[
        "credentialProviderArn"
    ]
    provider = {"providerArn": arn, "credentialLocation": location}
    if location == "HEADER":
        provider |= {"credentialParameterName": "X-Api-Key", "credentialPrefix": "Key"}
    else:
        provider |= {"credentialParameterName": "api_key"}
    credentials = {
        "credentialProviderType": "API_KEY",
        "credentialProvider": {"apiKeyCredentialProvider": provider},
    }
    seen = _who(_openapi_gateway(emulator, echo, credentials))
    if location == "HEADER":
        assert seen["apiKey"] == "Key k-123" and seen["query"] == {}
    else:
        assert seen["query"] == {"api_key": "k-123"} and seen["apiKey"] is None


def test_an_oauth_target_gets_a_client_credentials_token(emulator: Emulator, echo: str) -> None:
    _own_provider(emulator, "svc-oauth")
    arn = emulator.client("bedrock-agentcore-control").get_oauth2_credential_provider(
        name="svc-oauth"
    )["credentialProviderArn"]
    credentials = {
        "credentialProviderType": "OAUTH",
        "credentialProvider": {
            "oauthCredentialProvider": {
                "providerArn": arn,
                "scopes": ["agent/read"],
            }
        },
    }
    seen = _who(_openapi_gateway(emulator, echo, credentials))
    scheme, token = seen["authorization"].split(" ", 1)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert scheme == "Bearer" and claims["client_id"] == "test-app"
    assert "agent/read" in claims["scope"]


def test_jwt_passthrough_gives_the_target_the_callers_token(emulator: Emulator, echo: str) -> None:
    discovery = f"{emulator.url}/_idp/.well-known/openid-configuration"
    url = _openapi_gateway(
        emulator,
        echo,
        {"credentialProviderType": "JWT_PASSTHROUGH"},
        authorizer="CUSTOM_JWT",
        authorizerConfiguration={
            "customJWTAuthorizer": {"discoveryUrl": discovery, "allowedClients": ["test-app"]}
        },
    )
    token = emulator.admin.post("/_emulator/idp/token", json={"client_id": "test-app"}).json()
    bearer = f"Bearer {token['access_token']}"
    assert _who(url, headers={"Authorization": bearer})["authorization"] == bearer


def test_an_unsigned_target_stays_unsigned(emulator: Emulator, echo: str) -> None:
    # The gateway's role with no service, to a URL that is not the emulator's: as it is.
    seen = _who(_openapi_gateway(emulator, echo, {"credentialProviderType": "GATEWAY_IAM_ROLE"}))
    assert seen["authorization"] is None
