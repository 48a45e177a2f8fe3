"""The bedrock-agentcore SDK on both sides of the emulator, unchanged: its app server as a
runtime, and its runtime client's WebSocket headers and presigned URLs as the caller.

The SDK builds URLs for AWS's own host name only (and over TLS), so the emulator here serves
TLS with a certificate for that name, made by a test CA, and the client's socket is pointed at
the emulator: every byte the SDK produced, the host it signed included, arrives unchanged.
"""

from __future__ import annotations

import json
import socket
import ssl
import uuid
from collections.abc import Iterator
from urllib.parse import urlsplit

import anyio
import boto3
import pytest
import trustme
from bedrock_agentcore.runtime import AgentCoreRuntimeClient
from websockets.asyncio.client import connect

from tests.harness import Emulator

AWS_HOST = "bedrock-agentcore.us-east-1.amazonaws.com"
# Set by the SDK for the handshake itself; the WebSocket client writes its own.
HANDSHAKE = {"host", "upgrade", "connection", "sec-websocket-version", "sec-websocket-key"}


def test_an_agent_on_the_sdks_app_server_answers_through_the_emulator(emulator: Emulator) -> None:
    session = f"sdk-{uuid.uuid4()}"
    answer = emulator.client().invoke_agent_runtime(
        agentRuntimeArn=emulator.arns["sdk_agent"],
        runtimeSessionId=session,
        payload=json.dumps({"prompt": "hi"}),
    )
    assert json.loads(answer["response"].read()) == {"echo": {"prompt": "hi"}, "session": session}


@pytest.fixture(scope="module")
def aws_named(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[Emulator, ssl.SSLContext]]:
    folder = tmp_path_factory.mktemp("aws-named")
    ca = trustme.CA()
    issued = ca.issue_cert(AWS_HOST, "127.0.0.1")
    chain, key = folder / "chain.pem", folder / "key.pem"
    issued.private_key_pem.write_to_path(str(key))
    for blob in issued.cert_chain_pems:
        blob.write_to_path(str(chain), append=True)
    context = ssl.create_default_context()
    ca.configure_trust(context)
    emulator = Emulator(args=["--tls-cert", str(chain), "--tls-key", str(key)], ssl_context=context)
    yield emulator, context
    emulator.stop()


def _sdk_client(emulator: Emulator) -> AgentCoreRuntimeClient:
    env = emulator.env()
    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    return AgentCoreRuntimeClient(region="us-east-1", session=session)


async def _say(url: str, headers: dict[str, str], emulator: Emulator, tls: ssl.SSLContext) -> str:
    assert urlsplit(url).hostname == AWS_HOST
    parts = urlsplit(emulator.url)
    sock = socket.create_connection((parts.hostname, parts.port), timeout=30)
    async with connect(url, sock=sock, ssl=tls, additional_headers=headers) as websocket:
        await websocket.send("hello")
        return str(await websocket.recv())


def test_the_sdks_signed_websocket_connection_is_accepted(
    aws_named: tuple[Emulator, ssl.SSLContext],
) -> None:
    emulator, tls = aws_named
    session = f"sdk-{uuid.uuid4()}"
    url, headers = _sdk_client(emulator).generate_ws_connection(
        runtime_arn=emulator.arns["sdk_agent"], session_id=session
    )
    # As the SDK documents it: every header passed to websockets, which sends its own
    # Host, Upgrade, Connection and Sec-WebSocket-* too (a second key of another value).
    # Before: 426 Upgrade Required, hidden by a test that stripped those headers first.
    assert {name.lower() for name in headers} >= HANDSHAKE
    assert anyio.run(_say, url, headers, emulator, tls) == f"{session}: hello"


def test_the_sdks_presigned_url_is_accepted(aws_named: tuple[Emulator, ssl.SSLContext]) -> None:
    emulator, tls = aws_named
    session = f"sdk-{uuid.uuid4()}"
    url = _sdk_client(emulator).generate_presigned_url(
        runtime_arn=emulator.arns["sdk_agent"], session_id=session, expires=300
    )
    assert anyio.run(_say, url, {}, emulator, tls) == f"{session}: hello"
