"""WebSocket streams through the emulator, opened by the `websockets` client with SigV4 in
headers or in a presigned URL, as AgentCore's runtime client builds them."""

from __future__ import annotations

import base64
import json
import uuid
from typing import Any
from urllib.parse import quote, urlencode

import anyio
import pytest
from botocore.auth import SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.harness import Emulator, websocket_to

SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"


def _credentials(emulator: Emulator) -> Credentials:
    env = emulator.env()
    return Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])


def _ws_url(emulator: Emulator, query: dict[str, str] | None = None) -> str:
    arn = quote(emulator.arns["http_agent"], safe="")
    base = emulator.url.replace("http://", "ws://")
    return f"{base}/runtimes/{arn}/ws" + (f"?{urlencode(query)}" if query else "")


def _presigned(emulator: Emulator, session: str, expires: int = 300) -> str:
    url = _ws_url(emulator, {SESSION_HEADER: session}).replace("ws://", "http://")
    request = AWSRequest(method="GET", url=url)
    signer = SigV4QueryAuth(_credentials(emulator), "bedrock-agentcore", "us-east-1", expires)
    signer.add_auth(request)
    return request.prepare().url.replace("http://", "ws://")


async def _talk(url: str, headers: dict[str, str] | None = None) -> tuple[str, dict[str, Any]]:
    async with connect(url, additional_headers=headers) as socket:
        await socket.send("hello")
        echoed = str(await socket.recv())
        await socket.send("headers")
        seen = json.loads(await socket.recv())
    return echoed, seen


@pytest.mark.all_pythons
def test_a_websocket_signed_in_its_headers_reaches_the_instance(emulator: Emulator) -> None:
    session = f"ws-{uuid.uuid4()}"
    echoed, seen = anyio.run(_talk, *websocket_to(emulator, "http_agent", session))
    assert echoed == "echo: hello"
    assert seen[SESSION_HEADER.lower()] == session
    assert "authorization" not in seen
    assert any(s["sessionId"] == session for s in emulator.sessions())


def test_a_presigned_url_opens_one_for_its_session(emulator: Emulator) -> None:
    session = f"ws-{uuid.uuid4()}"
    echoed, seen = anyio.run(_talk, _presigned(emulator, session))
    assert echoed == "echo: hello" and seen[SESSION_HEADER.lower()] == session


@pytest.mark.parametrize(
    ("make", "words"),
    [
        (lambda e: (_ws_url(e), None), "Missing Authentication Token"),
        (lambda e: (_presigned(e, f"ws-{uuid.uuid4()}", expires=3600), None), "X-Amz-Expires"),
        (
            lambda e: (
                _presigned(e, f"ws-{uuid.uuid4()}").replace("Signature=", "Signature=0"),
                None,
            ),
            "signature",
        ),
    ],
    ids=["unsigned", "expires past 300 s", "tampered"],
)
def test_a_refused_upgrade_is_the_aws_error_before_any_websocket(
    emulator: Emulator, make: Any, words: str
) -> None:
    url, headers = make(emulator)
    with pytest.raises(InvalidStatus) as refused:
        anyio.run(_talk, url, headers)
    response = refused.value.response
    assert response.status_code == 403
    assert response.headers["x-amzn-ErrorType"].endswith("Exception")
    assert words.lower() in response.body.decode().lower()


def _oauth_token(emulator: Emulator) -> str:
    answer = emulator.admin.post("/_emulator/idp/token", json={"client_id": "test-app"})
    return str(answer.json()["access_token"])


def _subprotocols(token: str) -> list[str]:
    encoded = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
    return [f"base64UrlBearerAuthorization.{encoded}", "base64UrlBearerAuthorization"]


def test_a_bearer_token_offered_as_a_subprotocol_opens_one_to_an_oauth_runtime(
    emulator: Emulator,
) -> None:
    arn = quote(emulator.arns["oauth_agent"], safe="")
    session = f"ws-{uuid.uuid4()}"
    base = emulator.url.replace("http://", "ws://")
    url = f"{base}/runtimes/{arn}/ws?{urlencode({SESSION_HEADER: session})}"

    async def talk(subprotocols: list[str]) -> tuple[str | None, str, dict[str, Any]]:
        # No header at all, as a browser connects: the token travels as a subprotocol.
        async with connect(url, subprotocols=subprotocols) as socket:  # type: ignore[arg-type]
            await socket.send("hello")
            echoed = str(await socket.recv())
            await socket.send("headers")
            seen = json.loads(await socket.recv())
            return socket.subprotocol, echoed, seen

    chosen, echoed, seen = anyio.run(talk, _subprotocols(_oauth_token(emulator)))
    assert chosen == "base64UrlBearerAuthorization"  # answered with the scheme's own name
    assert echoed == "echo: hello" and seen[SESSION_HEADER.lower()] == session
    assert "base64urlbearerauthorization" not in json.dumps(seen).lower()  # not forwarded

    with pytest.raises(InvalidStatus) as refused:
        anyio.run(talk, _subprotocols("not-a-token"))
    assert refused.value.response.status_code == 401
    assert refused.value.response.headers["x-amzn-ErrorType"] == "UnauthorizedException"
