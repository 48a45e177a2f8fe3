"""AgentCore's time limits for an answer and a stream, with short limits set for the test."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import anyio
import botocore.exceptions
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus

from tests.harness import INITIALIZE_PARAMS, ROOT, Emulator, websocket_to

CONFIG = """
[emulator]
request_timeout = 1
stream_timeout = 1
max_chunk_bytes = 1000

[[runtimes]]
name = "json_server"
command = ["python", "servers/testing_server.py"]
cwd = "{fixtures}"
[runtimes.env]
MCP_JSON_RESPONSE = "1"

[[runtimes]]
name = "sse_server"
command = ["python", "servers/testing_server.py"]
cwd = "{fixtures}"

[[runtimes]]
name = "hung_upgrade"
protocol = "HTTP"
command = ["python", "servers/http_agent.py"]
cwd = "{fixtures}"
[runtimes.env]
WS_NEVER_ACCEPT = "1"
"""


@pytest.fixture(scope="module")
def hasty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    config = tmp_path_factory.mktemp("limits") / "emulator.toml"
    config.write_text(CONFIG.format(fixtures=ROOT / "fixtures"))
    emulator = Emulator(config)
    yield emulator
    emulator.stop()


def _call(
    emulator: Emulator, runtime: str, session: str, id_: int, method: str, params: dict
) -> bytes:
    answer = emulator.client().invoke_agent_runtime(
        agentRuntimeArn=emulator.arns[runtime],
        runtimeSessionId=session,
        contentType="application/json",
        accept="application/json, text/event-stream",
        payload=json.dumps({"jsonrpc": "2.0", "id": id_, "method": method, "params": params}),
    )
    return answer["response"].read()  # type: ignore[no-any-return]


def test_an_answer_slower_than_the_request_limit_is_a_424(hasty: Emulator) -> None:
    session = f"limits-{uuid.uuid4()}"
    _call(hasty, "json_server", session, 0, "initialize", INITIALIZE_PARAMS)
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        _call(
            hasty,
            "json_server",
            session,
            1,
            "tools/call",
            {"name": "sleep", "arguments": {"seconds": 5}},
        )
    error = refused.value.response["Error"]
    assert error["Code"] == "RuntimeClientError"
    assert "did not respond within 1s" in error["Message"]


def test_a_stream_ends_at_the_stream_limit(hasty: Emulator) -> None:
    session = f"limits-{uuid.uuid4()}"
    _call(hasty, "sse_server", session, 0, "initialize", INITIALIZE_PARAMS)
    body = _call(
        hasty,
        "sse_server",
        session,
        1,
        "tools/call",
        {"name": "sleep", "arguments": {"seconds": 5}},
    )
    assert b'"result"' not in body  # the stream stopped short of the answer
    assert "ended at the 1s limit" in hasty.stderr()


def test_a_streamed_event_past_the_chunk_limit_ends_the_stream(hasty: Emulator) -> None:
    session = f"limits-{uuid.uuid4()}"
    _call(hasty, "sse_server", session, 0, "initialize", INITIALIZE_PARAMS)
    small = _call(
        hasty, "sse_server", session, 1, "tools/call", {"name": "blob", "arguments": {"size": 10}}
    )
    assert b'"result"' in small
    big = _call(
        hasty, "sse_server", session, 2, "tools/call", {"name": "blob", "arguments": {"size": 5000}}
    )
    assert b'"result"' not in big
    assert "past the 1000 limit" in hasty.stderr()


def test_an_instance_that_never_answers_the_upgrade_is_a_424_not_a_hang(hasty: Emulator) -> None:
    url, headers = websocket_to(hasty, "hung_upgrade", f"limits-{uuid.uuid4()}")

    async def open_stream() -> None:
        async with connect(url, additional_headers=headers, open_timeout=60):
            pass

    with pytest.raises(InvalidStatus) as refused:
        anyio.run(open_stream)
    response = refused.value.response
    assert response.status_code == 424
    assert response.headers["x-amzn-ErrorType"] == "RuntimeClientError"
    assert b"did not respond within 1s" in response.body
