"""Code written for AgentCore runs in the emulator unchanged, each instance in a network of
its own on AgentCore's ports; the classic deploy mistakes are named in seconds.

The agents are AgentCore's samples as their authors write them (fixtures/agentcore_samples:
the bedrock-agentcore SDK's app with its default ``run()``, an ``mcp`` SDK server on its
Streamable HTTP defaults, an a2a-sdk server on 9000); none reads ``$PORT``.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import anyio
import botocore.exceptions
import httpx
import pytest
from a2a.client import ClientConfig, create_client
from a2a.helpers.proto_helpers import get_message_text, new_text_message
from a2a.types import AgentCard, Role, SendMessageRequest
from google.protobuf.json_format import ParseDict

from agentcore_emulator import netns
from tests.emulator.test_a2a import SignedForAgentCore
from tests.harness import ROOT, Emulator

_WHY_NOT = netns.unavailable()
isolated = pytest.mark.skipif(_WHY_NOT is not None, reason=f"no isolated network: {_WHY_NOT}")


def _running(config: str) -> Iterator[Emulator]:
    with Emulator(ROOT / "fixtures" / config) as running:
        yield running


@pytest.fixture(scope="module")
def samples() -> Iterator[Emulator]:
    yield from _running("agentcore-samples.toml")


def _invoke(emulator: Emulator, runtime: str, session: str, payload: dict[str, Any]) -> Any:
    answer = emulator.client().invoke_agent_runtime(
        agentRuntimeArn=emulator.arns[runtime],
        runtimeSessionId=session,
        contentType="application/json",
        accept="application/json, text/event-stream",
        payload=json.dumps(payload),
    )
    body = answer["response"].read().decode()
    if body.startswith(("event:", "data:")):  # an SSE answer: its one message
        body = next(line[5:] for line in body.splitlines() if line.startswith("data:"))
    return json.loads(body)


def _two_sessions_at_once(emulator: Emulator, runtime: str, payload: dict[str, Any]) -> list[Any]:
    sessions = [f"{runtime}-{uuid.uuid4()}" for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda s: _invoke(emulator, runtime, s, payload), sessions))
    live = [s for s in emulator.sessions() if s["sessionId"] in sessions]
    # Two instances on the contract's one port, each in a network of its own.
    assert len(live) == 2
    assert len({s["address"] for s in live}) == 2
    return answers


@isolated
def test_an_agentcore_sdk_app_runs_on_its_default_port_two_sessions_at_once(
    samples: Emulator,
) -> None:
    answers = _two_sessions_at_once(samples, "sample_app", {"prompt": "emulator"})
    assert answers == [{"result": "Hello, emulator!"}] * 2
    assert {s["port"] for s in samples.sessions() if s["runtime"] == "sample_app"} == {8080}


@isolated
def test_an_mcp_sdk_server_on_its_streamable_http_defaults_two_sessions_at_once(
    samples: Emulator,
) -> None:
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "add_numbers", "arguments": {"a": 2, "b": 3}},
    }
    answers = _two_sessions_at_once(samples, "sample_mcp", call)
    assert [a["result"]["structuredContent"] for a in answers] == [{"result": 5}] * 2
    assert {s["port"] for s in samples.sessions() if s["runtime"] == "sample_mcp"} == {8000}


@isolated
def test_an_a2a_sdk_server_on_9000_two_sessions_at_once(samples: Emulator) -> None:
    """Through the a2a-sdk's own client, its requests signed for AgentCore."""

    async def converse(session: str) -> list[str]:
        card = samples.client().get_agent_card(
            agentRuntimeArn=samples.arns["sample_a2a"], runtimeSessionId=session
        )["agentCard"]
        parsed = ParseDict(card, AgentCard(), ignore_unknown_fields=True)
        async with httpx.AsyncClient(auth=SignedForAgentCore(samples, session)) as http:
            client = await create_client(
                parsed, client_config=ClientConfig(streaming=False, httpx_client=http)
            )
            request = SendMessageRequest(message=new_text_message("A2A", role=Role.ROLE_USER))
            return [get_message_text(a.message) async for a in client.send_message(request)]

    sessions = [f"a2a-{uuid.uuid4()}" for _ in range(2)]
    with ThreadPoolExecutor(2) as pool:
        answers = list(pool.map(lambda s: anyio.run(converse, s), sessions))
    assert answers == [["Hello, A2A!"]] * 2
    live = [s for s in samples.sessions() if s["sessionId"] in sessions]
    assert {s["port"] for s in live} == {9000} and len({s["address"] for s in live}) == 2


@isolated
def test_an_instance_reaches_the_emulator_at_the_url_it_is_given(samples: Emulator) -> None:
    """From inside its network: its AWS_ENDPOINT_URL (the emulator's, through the relay)."""
    session = f"reach-{uuid.uuid4()}"
    client = samples.client()
    client.invoke_agent_runtime(
        agentRuntimeArn=samples.arns["sample_app"], runtimeSessionId=session, payload=b"{}"
    )["response"].read()
    stream = client.invoke_agent_runtime_command(
        agentRuntimeArn=samples.arns["sample_app"],
        runtimeSessionId=session,
        body={
            "command": 'python -c "import os, urllib.request as u; '
            "print(u.urlopen(os.environ['AWS_ENDPOINT_URL'] + '/_emulator/health').status)\"",
            "timeout": 60,
        },
    )["stream"]
    out = "".join(
        event["chunk"].get("contentDelta", {}).get("stdout", "")
        for event in stream
        if "chunk" in event
    )
    assert out.strip() == "200"


@isolated
@pytest.mark.parametrize(
    ("runtime", "found"),
    [
        (
            "loopback_bound",
            "the server listens on 127.0.0.1:8000; AgentCore reaches the container on "
            "0.0.0.0:8000 (bind to 0.0.0.0, not to loopback)",
        ),
        (
            "mcp_as_http",
            "the server listens on 0.0.0.0:8000; AgentCore reaches an HTTP container on "
            "0.0.0.0:8080 at /invocations",
        ),
        (
            "mcp_as_http_on_8000",
            "the server answers 404 to GET /ping on port 8000 (an MCP server? declare it "
            'protocol = "MCP")',
        ),
        (
            "http_as_mcp_on_8080",
            "the server answers 404 to GET /mcp on port 8080 (an HTTP agent? declare it "
            'protocol = "HTTP")',
        ),
    ],
)
def test_a_deploy_mistake_ends_the_start_with_a_424_naming_it(
    samples: Emulator, runtime: str, found: str
) -> None:
    started = time.monotonic()
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        samples.client().invoke_agent_runtime(
            agentRuntimeArn=samples.arns[runtime],
            runtimeSessionId=f"{runtime}-{uuid.uuid4()}",
            payload=b"{}",
        )
    took = time.monotonic() - started
    error = refused.value.response["Error"]
    assert error["Code"] == "RuntimeClientError"
    assert error["Message"] == (
        f"Runtime initialization failed: {found}. Please check your CloudWatch logs for more "
        "information."
    )
    # Named, not waited out: the runtime's start_timeout (60 s) never ran out.
    assert "initialization time exceeded" not in error["Message"]
    print(f"{runtime}: diagnosed in {took:.2f} s")  # for the record (pytest -s)
    log = samples.stderr()
    assert f"{runtime} instance" in log and found in log


@pytest.fixture(scope="module")
def shared() -> Iterator[Emulator]:
    yield from _running("emulator-shared.toml")


def test_in_the_shared_network_an_instance_serves_on_port_and_loopback(shared: Emulator) -> None:
    session = f"shared-{uuid.uuid4()}"
    answer = _invoke(shared, "launcher", session, {"jsonrpc": "2.0", "id": 1, "method": "ping"})
    assert answer == {"jsonrpc": "2.0", "id": 1, "result": {}}
    (live,) = [s for s in shared.sessions() if s["sessionId"] == session]
    assert live["address"] == "127.0.0.1" and live["port"] not in (8000, 8080, 9000)


def test_in_the_shared_network_a_server_ignoring_port_is_named(shared: Emulator) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        shared.client().invoke_agent_runtime(
            agentRuntimeArn=shared.arns["own_port"],
            runtimeSessionId=f"own-port-{uuid.uuid4()}",
            payload=b"{}",
        )
    message = refused.value.response["Error"]["Message"]
    assert re.fullmatch(
        r"Runtime initialization failed: the server listens on 127\.0\.0\.1:\d+, not on the "
        r"port the emulator gave it in \$PORT \(\d+\); in the emulator's shared network each "
        r"instance must listen on \$PORT \(network = \"isolated\" runs it on AgentCore's own "
        r"port\)\. Please check your CloudWatch logs for more information\.",
        message,
    ), message
