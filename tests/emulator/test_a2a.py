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
from a2a.helpers.proto_helpers import get_artifact_text, get_message_text, new_text_message
from a2a.types import AgentCard, Role, SendMessageRequest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from google.protobuf.json_format import ParseDict

from tests.harness import ROOT, Emulator

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


STRANDS_A2A_PYTHON = ROOT / ".venvs" / "strands-a2a" / "bin" / "python"


def test_a_strands_a2a_agent_answers_an_a2a_client_with_its_model_and_tool(
    emulator: Emulator,
) -> None:
    # fixtures/servers/strands_a2a_agent.py, as AgentCore's A2A samples write one; it speaks
    # A2A 0.3 (Strands' pin), the client 1.x, which reaches it through its 0.3 transport.
    if not STRANDS_A2A_PYTHON.exists():
        pytest.skip("the Strands A2A agent's environment is missing: run `make test-envs`")
    emulator.admin.delete("/_emulator/models").raise_for_status()
    script = {
        "model": "*",
        "turns": [
            {"tool_calls": [{"name": "get_weather", "input": {"city": "Lyon"}}]},
            {"text": "Lyon is sunny today.", "when": "Sunny in Lyon"},
        ],
    }
    emulator.admin.put("/_emulator/models/script", json=script).raise_for_status()
    session = f"a2a-{uuid.uuid4()}"
    answer = emulator.client().get_agent_card(
        agentRuntimeArn=emulator.arns["strands_a2a_agent"], runtimeSessionId=session
    )
    card_json = answer["agentCard"]
    assert card_json["name"] == "Weather Agent"
    assert card_json["url"].startswith(f"{emulator.url}/runtimes/")  # AgentCore's URL

    async def converse() -> list[str]:
        async with httpx.AsyncClient(
            auth=SignedForAgentCore(emulator, session), timeout=60
        ) as http:
            client = await create_client(
                card_json["url"], client_config=ClientConfig(streaming=False, httpx_client=http)
            )
            request = SendMessageRequest(
                message=new_text_message("What's the weather in Lyon?", role=Role.ROLE_USER)
            )
            texts = []
            async for reply in client.send_message(request):
                if reply.HasField("task"):
                    texts += [get_artifact_text(a) for a in reply.task.artifacts]
                elif reply.HasField("message"):
                    texts.append(get_message_text(reply.message))
            return texts

    try:
        texts = anyio.run(converse)
    finally:
        calls = emulator.admin.get("/_emulator/models/calls").json()["calls"]
        emulator.admin.delete("/_emulator/models").raise_for_status()
    assert any("Lyon is sunny today." in text for text in texts), texts
    assert calls[-1]["messages"][-1]["tool_results"] == ["Sunny in Lyon"]  # the tool ran


def test_get_agent_card_is_for_a2a_runtimes_only(emulator: Emulator) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        emulator.client().get_agent_card(
            agentRuntimeArn=emulator.arns["http_agent"], runtimeSessionId=f"a2a-{uuid.uuid4()}"
        )
    assert refused.value.response["Error"]["Code"] == "ValidationException"
