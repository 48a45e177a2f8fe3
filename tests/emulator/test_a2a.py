"""A2A runtimes: the agent card through GetAgentCard (boto3), then a message sent with the
a2a-sdk's own client, its requests signed with SigV4 as AgentCore needs."""

from __future__ import annotations

import uuid
from collections.abc import Generator
from typing import Any

import anyio
import botocore.exceptions
import httpx
import pytest
from a2a.client import ClientConfig, create_client
from a2a.helpers.proto_helpers import get_message_text, new_text_message
from a2a.types import AgentCard, Role, SendMessageRequest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from google.protobuf.json_format import ParseDict

from tests.harness import Emulator

SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"


class SignedForAgentCore(httpx.Auth):
    """httpx requests signed with SigV4 for bedrock-agentcore, in one runtime session."""

    requires_request_body = True

    def __init__(self, emulator: Emulator, session: str) -> None:
        env = emulator.env(next(iter(emulator.arns)))  # the keys are the same for every runtime
        credentials = Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
        self._signer = SigV4Auth(credentials, "bedrock-agentcore", "us-east-1")
        self._session = session

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[SESSION_HEADER] = self._session
        signed = AWSRequest(
            method=request.method,
            url=str(request.url),
            data=request.content,
            headers={k: v for k, v in request.headers.items() if k.lower() != "connection"},
        )
        self._signer.add_auth(signed)
        request.headers.update(dict(signed.headers.items()))
        yield request


def _card(emulator: Emulator, session: str) -> dict[str, Any]:
    answer = emulator.client().get_agent_card(
        agentRuntimeArn=emulator.arns["a2a_agent"], runtimeSessionId=session
    )
    assert answer["runtimeSessionId"] == session
    return answer["agentCard"]  # type: ignore[no-any-return]


def test_the_agent_card_comes_from_the_sessions_instance_and_names_agentcores_url(
    emulator: Emulator,
) -> None:
    card = _card(emulator, f"a2a-{uuid.uuid4()}")
    assert card["name"] == "echo-agent"
    (interface,) = card["supportedInterfaces"]
    assert interface["url"].startswith(f"{emulator.url}/runtimes/arn%3Aaws%3Abedrock-agentcore")
    assert interface["url"].endswith("/invocations/")


def test_an_a2a_client_sends_a_message_through_agentcores_url(emulator: Emulator) -> None:
    session = f"a2a-{uuid.uuid4()}"
    card = ParseDict(_card(emulator, session), AgentCard(), ignore_unknown_fields=True)

    async def converse() -> list[str]:
        async with httpx.AsyncClient(auth=SignedForAgentCore(emulator, session)) as http:
            client = await create_client(
                card, client_config=ClientConfig(streaming=False, httpx_client=http)
            )
            request = SendMessageRequest(message=new_text_message("hello", role=Role.ROLE_USER))
            texts = []
            async for answer in client.send_message(request):
                texts.append(get_message_text(answer.message))
            return texts

    assert anyio.run(converse) == ["echo: hello"]
    assert any(a["session"] == session for a in emulator.arrivals())  # through AgentCore


def test_get_agent_card_is_for_a2a_runtimes_only(emulator: Emulator) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        emulator.client().get_agent_card(
            agentRuntimeArn=emulator.arns["http_agent"], runtimeSessionId=f"a2a-{uuid.uuid4()}"
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
