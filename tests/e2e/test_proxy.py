"""The real proxy process against the real emulator: each behaviour a user relies on."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.harness import Emulator, Proxy


def _call(name: str, arguments: dict, token: object = None) -> dict:
    params: dict = {"name": name, "arguments": arguments}
    if token is not None:
        params["_meta"] = {"progressToken": token}
    return params


def _is_response(id_: object):
    return lambda m: m.get("id") == id_ and "method" not in m


def _progress_of(token: object):
    return lambda m: (
        m.get("method") == "notifications/progress" and m["params"]["progressToken"] == token
    )


def test_sixteen_slow_calls_are_all_in_flight_at_once(proxy_factory, tmp_path: Path) -> None:
    proxy: Proxy = proxy_factory("testing_server")
    proxy.initialize()
    gates = [tmp_path / f"gate-{i}" for i in range(16)]
    for i, gate in enumerate(gates):
        proxy.send_call(i, "gated", {"gate": str(gate)}, f"t{i}")
    # Every tool reports progress before any of them may finish: all 16 run concurrently.
    seen = set()
    while len(seen) < 16:
        message = proxy.read()
        assert "result" not in message and "error" not in message, message
        if message.get("method") == "notifications/progress" and message["params"]["progress"] == 1:
            seen.add(message["params"]["progressToken"])
    for gate in gates:
        gate.touch()
    answered = set()
    while len(answered) < 16:
        message = proxy.read()
        if "result" in message:
            assert message["result"]["structuredContent"]["result"] == "gate passed"
            answered.add(message["id"])
    assert answered == set(range(16))


@pytest.mark.all_pythons
def test_progress_reaches_stdout_while_the_tool_still_runs(proxy_factory, tmp_path: Path) -> None:
    proxy: Proxy = proxy_factory("testing_server")
    gate = tmp_path / "gate"
    proxy.send_call("g", "gated", {"gate": str(gate)}, "tok")
    progress, before = proxy.read_until(_progress_of("tok"))
    assert progress["params"]["progress"] == 1 and before == []
    # Another request is answered meanwhile: nothing waits behind the slow call.
    assert proxy.request(2, "tools/call", _call("echo_size", {"text": "abc"}))["result"][
        "structuredContent"
    ] == {"result": 3}
    gate.touch()
    result, _ = proxy.read_until(_is_response("g"))
    assert result["result"]["structuredContent"]["result"] == "gate passed"


def test_bad_lines_get_errors_and_the_proxy_keeps_serving(proxy: Proxy) -> None:
    for line in (
        b"{oops",
        b"[]",
        b'"scalar"',
        b'{"jsonrpc":"2.0","id":null,"method":"ping"}',
        b"\xff\xfe",
    ):
        proxy.send(line)
        answer = proxy.read()
        assert answer["id"] is None and answer["error"]["code"] in (-32700, -32600)
    proxy.send(b"   ")  # blank lines are skipped, not answered
    assert proxy.request("still", "ping")["result"] == {}
    duplicate_id = proxy.request(0, "tools/list")
    assert "result" in duplicate_id


def test_ids_of_every_valid_type_come_back_as_sent(proxy: Proxy) -> None:
    for id_ in (0, "", "0", 2**53, "ünïcode"):
        assert proxy.request(id_, "ping") == {"jsonrpc": "2.0", "id": id_, "result": {}}


def test_aws_errors_become_one_json_rpc_error_each(proxy_factory, emulator: Emulator) -> None:
    env = emulator.env()
    env["AGENTCORE_AGENT_ARN"] = (
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/missing-AbCdEf1234"
    )
    proxy = Proxy(env)
    try:
        answer = proxy.request(7, "tools/list")
        assert answer["error"]["message"].startswith(
            "InvokeAgentRuntime error: ResourceNotFoundException:"
        )
        assert answer["error"]["data"]["awsErrorCode"] == "ResourceNotFoundException"
        assert answer["error"]["data"]["httpStatus"] == 404
        assert answer["error"]["data"]["requestId"]
        assert proxy.request(8, "ping")["error"]["code"] == answer["error"]["code"]
    finally:
        proxy.stop()


def test_throttling_is_retried_then_reported(proxy_factory, emulator: Emulator, faults) -> None:
    proxy: Proxy = proxy_factory("faulty_server", AGENTCORE_MAX_ATTEMPTS="2", LOG_LEVEL="INFO")
    assert "result" in proxy.request(1, "tools/list")
    faults(throttle_per_second=0)
    answer = proxy.request(2, "tools/list")
    assert answer["error"]["data"]["awsErrorCode"] == "ThrottlingException"
    assert answer["error"]["data"]["retryable"] is True
    faults()
    assert "result" in proxy.request(3, "tools/list")
    proxy.close_stdin()
    assert proxy.stderr().count("retrying InvokeAgentRuntime") == 1  # 2 attempts: one retry


def test_a_stream_cut_mid_answer_is_one_error(proxy_factory, faults, tmp_path: Path) -> None:
    proxy: Proxy = proxy_factory("faulty_server")
    assert "result" in proxy.request(1, "tools/list")
    gate = tmp_path / "gate"
    gate.touch()
    faults(cut_after_events=1)
    proxy.send_call(2, "gated", {"gate": str(gate)}, "c")
    answer, before = proxy.read_until(_is_response(2))
    assert [m["method"] for m in before] == ["notifications/progress"]
    assert answer["error"]["code"] == -32004
    faults()
    assert "result" in proxy.request(3, "tools/list")


def test_cancelled_request_gets_no_response(proxy_factory, tmp_path: Path) -> None:
    proxy: Proxy = proxy_factory("testing_server")
    gate = tmp_path / "gate"
    proxy.send_call("c", "gated", {"gate": str(gate)}, "c")
    proxy.read_until(_progress_of("c"))
    proxy.send(
        {
            "jsonrpc": "2.0",
            "method": "notifications/cancelled",
            "params": {"requestId": "c", "reason": "user"},
        }
    )
    assert proxy.request("after", "ping")["result"] == {}
    gate.touch()
    assert proxy.close_stdin() == 0
    rest = [json.loads(line) for line in proxy.rest()]
    assert all(m.get("id") != "c" for m in rest), rest


def test_request_mode_uses_a_new_session_per_request_and_stops_it(
    proxy_factory, emulator: Emulator
) -> None:
    proxy: Proxy = proxy_factory("demo_server", RUNTIME_SESSION_MODE="request")
    first = proxy.request(1, "tools/call", _call("whoami", {}))["result"]["structuredContent"]
    second = proxy.request(2, "tools/call", _call("whoami", {}))["result"]["structuredContent"]
    assert first["runtime_session_id"] != second["runtime_session_id"]
    assert all(len(r["runtime_session_id"]) >= 33 for r in (first, second))
    # Each session is stopped once its request is done, while the proxy runs on; so
    # exit has nothing left to stop, however many requests came before.
    used = {first["runtime_session_id"], second["runtime_session_id"]}
    for _ in range(500):
        if not used & {s["sessionId"] for s in emulator.sessions()}:
            break
        time.sleep(0.02)
    assert not used & {s["sessionId"] for s in emulator.sessions()}
    assert proxy.process.poll() is None


def test_session_mode_keeps_one_session_and_stops_it_on_exit(
    proxy_factory, emulator: Emulator
) -> None:
    proxy: Proxy = proxy_factory("demo_server", RUNTIME_SESSION_MODE="session")
    first = proxy.request(1, "tools/call", _call("whoami", {}))["result"]["structuredContent"]
    second = proxy.request(2, "tools/call", _call("whoami", {}))["result"]["structuredContent"]
    assert first == second
    session = first["runtime_session_id"]
    assert session in {s["sessionId"] for s in emulator.sessions()}
    assert proxy.close_stdin() == 0
    assert session not in {s["sessionId"] for s in emulator.sessions()}


def test_identity_mode_is_stable_across_proxy_restarts(proxy_factory) -> None:
    ids = []
    for _ in range(2):
        proxy: Proxy = proxy_factory("demo_server")
        ids.append(
            proxy.request(1, "tools/call", _call("whoami", {}))["result"]["structuredContent"][
                "runtime_session_id"
            ]
        )
        proxy.close_stdin()
    assert ids[0] == ids[1] and ids[0].startswith("mcp-identity-")


def test_assume_role_through_the_emulators_sts(proxy_factory) -> None:
    proxy: Proxy = proxy_factory(
        "demo_server",
        AGENTCORE_ASSUME_ROLE_ARN="arn:aws:iam::123456789012:role/proxy-invoke",
        LOG_LEVEL="INFO",
    )
    assert "result" in proxy.request(1, "tools/call", _call("get_weather", {"city": "Lima"}))
    proxy.close_stdin()
    assert "assumed-role/proxy-invoke/mcpAgentCoreProxy" in proxy.stderr()


def test_without_credentials_each_request_gets_a_clear_error(
    proxy_factory, emulator: Emulator
) -> None:
    env = emulator.env()
    del env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]
    proxy = Proxy(env)
    try:
        answer = proxy.request(1, "tools/list")
        assert answer["error"]["code"] == -32001
        assert "Unable to call sts:GetCallerIdentity" in answer["error"]["message"]
        assert proxy.request(2, "ping")["error"]["code"] == -32001  # still serving
    finally:
        proxy.stop()
    assert "Unable to call sts:GetCallerIdentity" in proxy.stderr()


def test_large_messages_pass_intact_both_ways(proxy_factory) -> None:
    proxy: Proxy = proxy_factory("testing_server")
    text = "é" * 6_000_000  # 12 MB of UTF-8 in one request line
    answer = proxy.request(1, "tools/call", _call("echo_size", {"text": text}))
    assert "result" in answer, answer
    assert answer["result"]["structuredContent"] == {"result": len(text)}
    # Just under AgentCore's 10 MB per streamed chunk: the result carries the text twice
    # (content and structuredContent).
    answer = proxy.request(2, "tools/call", _call("blob", {"size": 4_900_000}))
    assert "result" in answer, answer.get("error")
    assert len(answer["result"]["structuredContent"]["result"]) == 4_900_000


@pytest.mark.all_pythons
def test_no_secret_reaches_any_log_at_debug(proxy_factory, emulator: Emulator) -> None:
    proxy: Proxy = proxy_factory("demo_server", LOG_LEVEL="DEBUG")
    assert "result" in proxy.request(1, "tools/call", _call("whoami", {}))
    proxy.close_stdin()
    secret = emulator.env()["AWS_SECRET_ACCESS_KEY"]
    for log in (proxy.stderr(), emulator.stderr()):
        assert secret not in log
        assert "Signature=" not in log or "Signature=<redacted>" in log


def test_cancelling_frees_the_worker_at_once(proxy_factory, tmp_path: Path) -> None:
    # One worker: the ping after the cancel is served only if the cancelled call let go.
    proxy: Proxy = proxy_factory("testing_server", AGENTCORE_MAX_CONCURRENCY="1")
    gate = tmp_path / "never-opened"
    proxy.send_call("stuck", "gated", {"gate": str(gate)}, "stuck")
    proxy.read_until(_progress_of("stuck"))
    proxy.send(
        {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": "stuck"}}
    )
    assert proxy.request("next", "ping")["result"] == {}
    gate.touch()


def test_a_notification_after_requests_reaches_the_same_session(
    proxy_factory, emulator: Emulator
) -> None:
    # The wiring only: the ordering rule itself is proven in tests/proxy/test_router.py.
    proxy: Proxy = proxy_factory("testing_server", RUNTIME_SESSION_MODE="session")
    assert "result" in proxy.request("warm", "tools/list")
    for i in range(8):
        proxy.send_call(i, "sleep", {"seconds": 0})
    proxy.send({"jsonrpc": "2.0", "method": "notifications/roots/list_changed"})
    for _ in range(8):
        proxy.read()
    arrivals = _arrivals_until(emulator, "notifications/roots/list_changed")
    assert arrivals.count("notifications/roots/list_changed") == 1, arrivals
    assert arrivals.count("tools/call") == 8


def _arrivals_until(emulator: Emulator, method: str) -> list[str]:
    """The methods that reached the session which received ``method``, once it has arrived."""
    for _ in range(500):  # the notification may still be on its way: at most ~10 s
        log = emulator.arrivals()
        sessions = [a["session"] for a in log if a["method"] == method]
        if sessions:
            return [a["method"] for a in log if a["session"] == sessions[-1]]
        time.sleep(0.02)
    raise AssertionError(f"{method} never reached the emulator")
