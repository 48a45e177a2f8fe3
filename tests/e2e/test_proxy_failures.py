"""Failures the proxy must explain, without losing or repeating a request."""

from __future__ import annotations

import signal
from pathlib import Path

from mcp_agentcore_proxy.errors import RuntimeUnreachableError
from tests.harness import Emulator, Proxy


def test_unreachable_endpoint_is_a_clear_error(emulator: Emulator) -> None:
    env = emulator.env()
    env["AWS_ENDPOINT_URL"] = "http://127.0.0.1:9"  # discard port: nothing listens
    proxy = Proxy(
        env, ["--max-attempts", "2", "--connect-timeout", "1", "--session-mode", "session"]
    )
    try:
        answer = proxy.request(1, "tools/list")
        assert answer["error"]["code"] == RuntimeUnreachableError.jsonrpc_code
        assert "Cannot reach the endpoint for InvokeAgentRuntime" in answer["error"]["message"]
        assert proxy.request(2, "ping")["error"]["code"] == RuntimeUnreachableError.jsonrpc_code
    finally:
        proxy.stop()


def test_read_timeout_is_reported_and_the_tool_is_not_run_twice(
    proxy_factory, emulator: Emulator
) -> None:
    # Identity mode: both proxies share one runtime session, warmed by the first.
    warm: Proxy = proxy_factory("testing_server")
    assert "result" in warm.request(0, "tools/list")
    assert warm.close_stdin() == 0
    slow: Proxy = proxy_factory("testing_server", AGENTCORE_READ_TIMEOUT="1")
    # A server that answers JSON only when done sends nothing for 3 s: past the read timeout.
    before = emulator.last_arrival()
    emulator.set_faults("testing_server", latency=3)
    try:
        answer = slow.request(1, "tools/call", {"name": "count_call", "arguments": {"key": "once"}})
    finally:
        emulator.set_faults("testing_server")
    assert answer["error"]["code"] == RuntimeUnreachableError.jsonrpc_code
    assert "timed out" in answer["error"]["message"]
    # The emulator saw the call once: a tool that may be running is never sent again.
    assert [a["method"] for a in emulator.arrivals(after=before)] == ["tools/call"]


def test_duplicate_id_in_flight_is_ignored_and_the_client_told(
    proxy_factory, tmp_path: Path
) -> None:
    proxy: Proxy = proxy_factory("testing_server")
    gate = tmp_path / "gate"
    call = {"name": "gated", "arguments": {"gate": str(gate)}}
    proxy.send_call(5, call["name"], call["arguments"])
    proxy.send_call(5, call["name"], call["arguments"])
    notice, before = proxy.read_until(lambda m: m.get("method") == "notifications/message")
    assert "still in use" in notice["params"]["data"] and before == []
    gate.touch()
    original, _ = proxy.read_until(lambda m: m.get("id") == 5)
    assert original["result"]["structuredContent"]["result"] == "gate passed"
    assert proxy.close_stdin() == 0
    assert proxy.rest() == []  # one response for id 5, never two


def test_sigterm_answers_what_is_in_flight_and_exits_0(proxy_factory, tmp_path: Path) -> None:
    proxy: Proxy = proxy_factory("testing_server", AGENTCORE_SHUTDOWN_GRACE="0.5", LOG_LEVEL="INFO")
    gate = tmp_path / "never"
    proxy.send_call("slow", "gated", {"gate": str(gate)}, token=1)
    proxy.read_until(lambda m: m.get("method") == "notifications/progress")
    proxy.process.send_signal(signal.SIGTERM)
    assert proxy.process.wait(30) == 0
    answer, _ = proxy.read_until(lambda m: m.get("id") == "slow")
    assert answer["error"]["message"] == "The proxy is shutting down"
    assert "SIGTERM received" in proxy.stderr()
    gate.touch()  # let the instance's tool finish


def test_expired_credentials_are_refreshed_once_and_the_call_succeeds(
    proxy_factory, emulator: Emulator
) -> None:
    proxy: Proxy = proxy_factory(
        "demo_server",
        AGENTCORE_ASSUME_ROLE_ARN="arn:aws:iam::123456789012:role/rotating",
        LOG_LEVEL="INFO",
    )
    call = {"name": "get_weather", "arguments": {"city": "Bern"}}
    first = proxy.request(1, "tools/call", call)
    assert emulator.admin.post("/_emulator/credentials/expire", json={}).json()["expired"] >= 1
    # The next call is refused with ExpiredTokenException, re-resolves credentials, and succeeds.
    assert proxy.request(2, "tools/call", call)["result"] == first["result"]
    proxy.close_stdin()
    assert proxy.stderr().count("credentials refused (ExpiredTokenException)") == 1


def test_modern_protocol_passes_through_with_its_headers(proxy: Proxy) -> None:
    meta = {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "tests", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {},
    }
    discovered = proxy.request(1, "server/discover", {"_meta": meta})
    assert "tools" in discovered["result"]["capabilities"]
    # The server checks Mcp-Method and Mcp-Name against the body for this version.
    called = proxy.request(
        2, "tools/call", {"name": "get_weather", "arguments": {"city": "Oslo"}, "_meta": meta}
    )
    assert called["result"]["structuredContent"]["city"] == "Oslo"


def test_a_proxy_url_it_cannot_use_is_each_requests_clear_error(emulator: Emulator) -> None:
    """An https:// proxy (TLS to the proxy itself): refused with why, and the proxy serves."""
    env = {
        **emulator.env("testing_server"),
        "HTTP_PROXY": "https://proxy.example:3128",
        "RUNTIME_SESSION_MODE": "session",  # no STS call first: the runtime's own error
    }
    env.pop("NO_PROXY", None)
    env.pop("no_proxy", None)
    proxy = Proxy(env)
    try:
        for id_ in (1, 2):
            answer = proxy.request(id_, "tools/list")
            assert "must name one as http://host:port" in answer["error"]["message"]
    finally:
        proxy.stop()
    assert "Traceback" not in proxy.stderr()
