"""InvokeAgentRuntime and StopRuntimeSession against the real emulator, with real boto3."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from urllib.parse import quote

import botocore.config
import botocore.exceptions
import pytest

from agentcore_wire.sse import SseDecoder
from tests.harness import INITIALIZE_PARAMS, Emulator, signed_call

ACCEPT = "application/json, text/event-stream"


def _tool_call(
    name: str, arguments: dict | None = None, id_: int = 1, meta: dict | None = None
) -> bytes:
    params: dict = {"name": name, "arguments": arguments or {}}
    if meta:
        params["_meta"] = meta
    return json.dumps(
        {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": params}
    ).encode()


def _invoke(emulator: Emulator, runtime: str, payload: bytes, session: str | None = None, **kwargs):
    client = kwargs.pop("client", None) or emulator.client()
    return client.invoke_agent_runtime(
        agentRuntimeArn=emulator.arns[runtime],
        payload=payload,
        contentType="application/json",
        accept=ACCEPT,
        runtimeSessionId=session or f"test-{uuid.uuid4()}",
        **kwargs,
    )


def _messages(answer) -> list[dict]:
    raw = answer["response"].read()
    if answer["contentType"].startswith("application/json"):
        return [json.loads(raw)]
    decoder = SseDecoder()
    return [json.loads(data) for data in [*decoder.feed(raw), *decoder.close()]]


def _whoami(emulator: Emulator, session: str) -> dict:
    result = _messages(_invoke(emulator, "demo_server", _tool_call("whoami"), session))[-1]
    return result["result"]["structuredContent"]


def test_each_session_gets_its_own_instance(emulator: Emulator) -> None:
    first, second = f"session-a-{uuid.uuid4()}", f"session-b-{uuid.uuid4()}"
    a1, b, a2 = _whoami(emulator, first), _whoami(emulator, second), _whoami(emulator, first)
    assert a1["runtime_session_id"] == first and b["runtime_session_id"] == second
    assert a1["pid"] != b["pid"]
    assert a1["pid"] == a2["pid"]  # kept warm


def test_stop_runtime_session_gives_a_fresh_instance(emulator: Emulator) -> None:
    session = f"stop-me-{uuid.uuid4()}"
    before = _whoami(emulator, session)["pid"]
    answer = emulator.client().stop_runtime_session(
        agentRuntimeArn=emulator.arns["demo_server"], runtimeSessionId=session
    )
    assert answer["runtimeSessionId"] == session
    assert _whoami(emulator, session)["pid"] != before
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        emulator.client().stop_runtime_session(
            agentRuntimeArn=emulator.arns["demo_server"], runtimeSessionId=f"never-{uuid.uuid4()}"
        )
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_idle_sessions_expire_and_come_back_fresh(emulator: Emulator) -> None:
    session = f"idle-{uuid.uuid4()}"
    before = _whoami(emulator, session)["pid"]
    ended = emulator.admin.post("/_emulator/clock/advance", json={"seconds": 901}).json()["ended"]
    assert ended >= 1
    assert session not in {s["sessionId"] for s in emulator.sessions()}
    assert _whoami(emulator, session)["pid"] != before


@pytest.mark.all_pythons
def test_answer_carries_session_headers_and_request_id(emulator: Emulator) -> None:
    session = f"headers-{uuid.uuid4()}"
    answer = _invoke(emulator, "demo_server", _tool_call("get_weather", {"city": "Oslo"}), session)
    assert answer["statusCode"] == 200
    assert answer["runtimeSessionId"] == session
    assert answer["mcpSessionId"]  # minted for a stateless server
    assert answer["ResponseMetadata"]["RequestId"]
    assert answer["contentType"].startswith("text/event-stream")
    again = _invoke(emulator, "demo_server", _tool_call("get_weather", {"city": "Oslo"}), session)
    assert again["mcpSessionId"] == answer["mcpSessionId"]


def test_stateful_server_session_id_passes_through(emulator: Emulator) -> None:
    session = f"stateful-{uuid.uuid4()}"
    init = json.dumps(
        {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INITIALIZE_PARAMS}
    ).encode()
    answer = _invoke(emulator, "demo_stateful", init, session)
    mcp_id = answer["mcpSessionId"]
    assert len(mcp_id) == 32  # the MCP SDK's own id, not one the emulator made up
    _messages(answer)
    listed = _invoke(
        emulator,
        "demo_stateful",
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}).encode(),
        session,
        mcpSessionId=mcp_id,
    )
    tools = {t["name"] for t in _messages(listed)[-1]["result"]["tools"]}
    assert {"weather_where_i_am", "weather_poem"} <= tools
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        _invoke(
            emulator,
            "demo_stateful",
            json.dumps({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).encode(),
            session,
            mcpSessionId="f" * 32,
        )
    assert caught.value.response["Error"]["Code"] == "RuntimeClientError"
    assert "Received error (404) from runtime" in caught.value.response["Error"]["Message"]


def test_progress_arrives_while_the_tool_is_still_running(
    emulator: Emulator, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    answer = _invoke(
        emulator,
        "testing_server",
        _tool_call("gated", {"gate": str(gate)}, meta={"progressToken": "t"}),
    )
    raw = answer["response"]._raw_stream
    decoder = SseDecoder()
    events: list[dict] = []
    while not events:
        events += [json.loads(d) for d in decoder.feed(raw.read1(65536))]
    assert events[0]["method"] == "notifications/progress"
    assert not gate.exists()  # the tool cannot have finished: it waits for this file
    gate.touch()
    rest = raw.read()
    events += [json.loads(d) for d in [*decoder.feed(rest), *decoder.close()]]
    assert events[-1]["result"]["structuredContent"]["result"] == "gate passed"


def test_unknown_runtime_is_resource_not_found(emulator: Emulator) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        emulator.client().invoke_agent_runtime(
            agentRuntimeArn="arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/nope-AbCdEf1234",
            payload=b"{}",
        )
    assert caught.value.response["Error"]["Code"] == "ResourceNotFoundException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404


def test_bare_runtime_id_needs_account_id(emulator: Emulator) -> None:
    runtime_id = emulator.arns["demo_server"].rsplit("/", 1)[1]
    answer = emulator.client().invoke_agent_runtime(
        agentRuntimeArn=runtime_id,
        accountId="123456789012",
        payload=_tool_call("get_weather", {"city": "Rome"}),
        contentType="application/json",
        accept=ACCEPT,
    )
    assert _messages(answer)[-1]["result"]["structuredContent"]["city"] == "Rome"
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        emulator.client().invoke_agent_runtime(agentRuntimeArn=runtime_id, payload=b"{}")
    assert caught.value.response["Error"]["Code"] == "ValidationException"


def test_session_id_length_is_validated_like_aws(emulator: Emulator) -> None:
    path = f"/runtimes/{quote(emulator.arns['demo_server'], safe='')}/invocations"
    response = signed_call(
        emulator,
        "POST",
        path,
        b"{}",
        {
            "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": "short",
            "Content-Type": "application/json",
        },
    )
    assert response.status_code == 400
    assert response.headers["x-amzn-ErrorType"] == "ValidationException"
    body = response.json()
    assert body["reason"] == "FieldValidationFailed"
    assert body["fieldList"][0]["name"] == "runtimeSessionId"


def test_raw_sigv4_client_without_session_header_gets_ids_back(emulator: Emulator) -> None:
    path = f"/runtimes/{quote(emulator.arns['demo_server'], safe='')}/invocations"
    headers = {"Content-Type": "application/json", "Accept": ACCEPT}
    first = signed_call(emulator, "POST", path, _tool_call("whoami"), headers)
    assert first.status_code == 200
    runtime_session = first.headers["X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"]
    mcp_session = first.headers["Mcp-Session-Id"]
    # Routed by Mcp-Session-Id alone, the next call lands on the same session.
    second = signed_call(
        emulator, "POST", path, _tool_call("whoami"), {**headers, "Mcp-Session-Id": mcp_session}
    )
    assert second.headers["X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"] == runtime_session
    assert signed_call(emulator, "GET", path, b"", headers).status_code == 405


@pytest.mark.all_pythons
def test_signature_problems_reach_boto3_as_aws_codes(emulator: Emulator) -> None:
    no_retry = botocore.config.Config(retries={"total_max_attempts": 1})
    cases = {
        "InvalidSignatureException": emulator.client(
            aws_secret_access_key="wrong", config=no_retry
        ),
        "UnrecognizedClientException": emulator.client(
            aws_access_key_id="AKIAUNKNOWN0000000000", config=no_retry
        ),
    }
    for code, client in cases.items():
        with pytest.raises(botocore.exceptions.ClientError) as caught:
            _invoke(emulator, "demo_server", _tool_call("whoami"), client=client)
        assert caught.value.response["Error"]["Code"] == code
        assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    response = signed_call(emulator, "POST", "/runtimes/x/invocations", b"{}", {})
    unsigned = __import__("httpx").post(emulator.url + "/runtimes/x/invocations", content=b"{}")
    assert response.status_code == 400  # a bare runtime id without accountId
    assert response.headers["x-amzn-ErrorType"] == "ValidationException"
    assert unsigned.status_code == 403
    assert unsigned.headers["x-amzn-ErrorType"] == "MissingAuthenticationTokenException"


def test_sts_and_control_plane_come_from_moto_with_our_arns(emulator: Emulator) -> None:
    sts = emulator.client("sts")
    assert sts.get_caller_identity()["Account"] == "123456789012"
    role = sts.assume_role(
        RoleArn="arn:aws:iam::123456789012:role/tester", RoleSessionName="tester"
    )["Credentials"]
    assumed = emulator.client(
        aws_access_key_id=role["AccessKeyId"],
        aws_secret_access_key=role["SecretAccessKey"],
        aws_session_token=role["SessionToken"],
    )
    assert _messages(_invoke(emulator, "demo_server", _tool_call("whoami"), client=assumed))[-1][
        "result"
    ]
    control = emulator.client("bedrock-agentcore-control")
    listed = {r["agentRuntimeArn"] for r in control.list_agent_runtimes()["agentRuntimes"]}
    assert set(emulator.arns.values()) <= listed
    runtime_id = emulator.arns["demo_server"].rsplit("/", 1)[1]
    got = control.get_agent_runtime(agentRuntimeId=runtime_id)
    assert got["agentRuntimeArn"] == emulator.arns["demo_server"]


def test_http_protocol_runtime(emulator: Emulator) -> None:
    session = f"http-{uuid.uuid4()}"
    answer = _invoke(emulator, "http_agent", b'{"prompt": "hi"}', session)
    assert json.loads(answer["response"].read()) == {"echo": {"prompt": "hi"}, "session": session}
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        _invoke(emulator, "http_agent", b"not json", session)
    assert caught.value.response["Error"]["Code"] == "RuntimeClientError"
    assert "Received error (400)" in caught.value.response["Error"]["Message"]


def test_an_answer_the_instance_breaks_off_is_the_containers_424(emulator: Emulator) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        _invoke(emulator, "http_agent", b'{"cut_short": true}')
    assert caught.value.response["Error"]["Code"] == "RuntimeClientError"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert "Received error (502) from runtime" in caught.value.response["Error"]["Message"]
    answer = _invoke(emulator, "http_agent", b'{"after": 1}')  # and the emulator serves on
    assert json.loads(answer["response"].read())["echo"] == {"after": 1}


def test_injected_faults_reach_boto3_as_aws_errors(
    emulator: Emulator, faults, tmp_path: Path
) -> None:
    no_retry = emulator.client(config=botocore.config.Config(retries={"total_max_attempts": 1}))
    session = f"faults-{uuid.uuid4()}"
    _invoke(emulator, "faulty_server", _tool_call("sleep", {"seconds": 0}), session)  # warm
    faults(throttle_per_second=1)
    _invoke(
        emulator, "faulty_server", _tool_call("sleep", {"seconds": 0}), session, client=no_retry
    )
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        _invoke(
            emulator, "faulty_server", _tool_call("sleep", {"seconds": 0}), session, client=no_retry
        )
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429

    faults(fail_start=True)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        _invoke(emulator, "faulty_server", _tool_call("sleep", {"seconds": 0}), client=no_retry)
    assert caught.value.response["Error"]["Code"] == "RuntimeClientError"
    assert "Runtime initialization time exceeded" in caught.value.response["Error"]["Message"]

    faults(cut_after_events=1)
    gate = tmp_path / "gate"
    gate.touch()  # the tool would answer at once: only the cut can keep its result away
    answer = _invoke(
        emulator,
        "faulty_server",
        _tool_call("gated", {"gate": str(gate)}, meta={"progressToken": 1}),
        session,
    )
    with pytest.raises(botocore.exceptions.ResponseStreamingError):
        answer["response"].read()


def test_crashed_instance_is_reported_and_replaced(emulator: Emulator) -> None:
    session = f"crash-{uuid.uuid4()}"
    pid_before = None
    _invoke(emulator, "testing_server", _tool_call("sleep", {"seconds": 0}), session)
    pid_before = next(s["pid"] for s in emulator.sessions() if s["sessionId"] == session)
    # The SSE answer has begun when the process dies: the stream breaks, or ends empty.
    answer = _invoke(emulator, "testing_server", _tool_call("crash"), session)
    try:
        messages = _messages(answer)
    except botocore.exceptions.BotoCoreError:
        messages = []
    assert not any("result" in m for m in messages)
    _invoke(emulator, "testing_server", _tool_call("sleep", {"seconds": 0}), session)
    pid_after = next(s["pid"] for s in emulator.sessions() if s["sessionId"] == session)
    assert pid_after != pid_before


def test_container_errors_can_come_as_json_rpc_minus_32010(emulator: Emulator) -> None:
    session = f"envelope-{uuid.uuid4()}"
    listed = json.dumps({"jsonrpc": "2.0", "id": 3, "method": "tools/list"}).encode()
    answer = _invoke(emulator, "stateful_jsonrpc_errors", listed, session, mcpSessionId="f" * 32)
    assert answer["statusCode"] == 200
    body = json.loads(answer["response"].read())
    assert body == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {
            "code": -32010,
            "message": "Received error (404) from runtime. "
            "Please check your CloudWatch logs for more information.",
        },
    }


def test_container_gets_agentcore_headers_and_never_the_callers_authorization(
    emulator: Emulator,
) -> None:
    session = f"headers-{uuid.uuid4()}"
    answer = _invoke(
        emulator,
        "http_agent",
        b'{"show_headers": true}',
        session,
        traceParent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    seen = json.loads(answer["response"].read())["headers"]
    assert seen["x-amzn-bedrock-agentcore-runtime-session-id"] == session
    assert (
        seen["x-amzn-bedrock-agentcore-runtime-request-id"]
        == answer["ResponseMetadata"]["RequestId"]
    )
    assert seen["traceparent"].startswith("00-0af7651916cd43dd")
    assert not {"authorization", "x-amz-date", "x-amz-security-token"} & set(seen)


def test_notifications_get_202_and_an_empty_body(emulator: Emulator) -> None:
    note = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}).encode()
    answer = _invoke(emulator, "demo_server", note)
    assert answer["statusCode"] == 202
    assert answer["response"].read() == b""
