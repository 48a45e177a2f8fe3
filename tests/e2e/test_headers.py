"""Custom headers, the runtime user id and trace context: proxy -> emulator -> container."""

from __future__ import annotations

from typing import Any

from tests.harness import Proxy

SECRET = "k-very-secret-4711"
CUSTOM = "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Team"
PROXY_TRACE = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"
CLIENT_TRACE = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _seen(proxy: Proxy, id_: int, meta: dict[str, Any] | None = None) -> dict[str, str]:
    params: dict[str, Any] = {"name": "headers", "arguments": {}}
    if meta:
        params["_meta"] = meta
    answer = proxy.request(id_, "tools/call", params)
    return answer["result"]["structuredContent"]  # type: ignore[no-any-return]


def test_headers_user_id_and_trace_reach_the_server_and_no_secret_reaches_a_log(
    proxy_factory,
) -> None:
    proxy: Proxy = proxy_factory(
        "testing_server",
        ["--header", f"X-Api-Key={SECRET}", "--header", f"{CUSTOM}: blue"],
        AGENTCORE_RUNTIME_USER_ID="alice",
        TRACEPARENT=PROXY_TRACE,
        TRACESTATE="vendor=1",
        LOG_LEVEL="DEBUG",
    )
    proxy.initialize()
    seen = _seen(proxy, 1)
    assert seen["x-api-key"] == SECRET
    assert seen[CUSTOM.lower()] == "blue"
    assert seen["x-amzn-bedrock-agentcore-runtime-user-id"] == "alice"
    assert seen["traceparent"] == PROXY_TRACE
    assert seen["tracestate"] == "vendor=1"

    # A client's own trace context wins, all of it: no tracestate of the proxy's goes along.
    seen = _seen(proxy, 2, {"traceparent": CLIENT_TRACE, "baggage": "tenant=acme"})
    assert seen["traceparent"] == CLIENT_TRACE
    assert seen["baggage"] == "tenant=acme"
    assert "tracestate" not in seen

    # One past AgentCore's limit is left off, and the call still goes.
    seen = _seen(proxy, 3, {"traceparent": CLIENT_TRACE, "baggage": "b" * 8193})
    assert seen["traceparent"] == CLIENT_TRACE and "baggage" not in seen
    proxy.stop()
    assert SECRET not in proxy.stderr()


def test_a_header_agentcore_never_forwards_stops_the_proxy_at_start(proxy_factory) -> None:
    proxy: Proxy = proxy_factory("testing_server", AGENTCORE_HEADERS=f"Authorization={SECRET}")
    assert proxy.process.wait(30) == 2
    stderr = proxy.stderr()
    assert "AGENTCORE_HEADERS" in stderr and "JWT authorizer" in stderr
    assert SECRET not in stderr
    assert proxy.lines.get(timeout=30) is None  # stdout: nothing at all
