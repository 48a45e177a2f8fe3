"""The dashboard's data, end to end against a real emulator: the page at the root, each
invocation recorded (caller, status, request and answer redacted), sessions with their
state and compute, live events, the emulator's own spans joined by an instance's, exported
by OpenTelemetry's SDK with only the environment the emulator gave it."""

from __future__ import annotations

import json
import threading
import uuid
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.emulator.test_gateway import GET_ORDER
from tests.harness import Emulator, wait_until


def _invoke(emulator: Emulator, runtime: str, payload: dict[str, Any], **extra: Any) -> Any:
    session = f"dash-{uuid.uuid4()}"
    answer = emulator.client().invoke_agent_runtime(
        agentRuntimeArn=emulator.arns[runtime],
        runtimeSessionId=session,
        payload=json.dumps(payload).encode(),
        contentType="application/json",
        **extra,
    )
    return session, json.loads(answer["response"].read())


def _state(emulator: Emulator) -> dict[str, Any]:
    answer = emulator.admin.get("/_emulator/state")
    answer.raise_for_status()
    return dict(answer.json())


def test_the_root_is_the_dashboard_for_a_browser_and_aws_for_anyone_else(
    emulator: Emulator,
) -> None:
    page = httpx.get(emulator.url, headers={"Accept": "text/html"}, timeout=30)
    assert page.status_code == 200 and "<title>AgentCore emulator</title>" in page.text
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "connect-src 'self'" in csp
    for asset in ("app.js", "style.css"):
        assert httpx.get(f"{emulator.url}/_emulator/dashboard/{asset}", timeout=30).is_success
    assert httpx.get(f"{emulator.url}/_emulator/dashboard/x.js", timeout=30).status_code == 404
    # Not a browser: the root is AWS's, and an unsigned call is refused as AWS refuses it.
    unsigned = httpx.get(emulator.url, timeout=30)
    assert unsigned.status_code == 403
    # A page elsewhere cannot read the dashboard through DNS rebinding.
    rebound = httpx.get(
        emulator.url, headers={"Accept": "text/html", "Host": "evil.example"}, timeout=30
    )
    assert rebound.status_code == 403


def test_an_invocation_is_recorded_with_its_caller_status_and_redacted_exchange(
    emulator: Emulator,
) -> None:
    secret = "sk-live-" + uuid.uuid4().hex
    session, answer = _invoke(emulator, "http_agent", {"prompt": "hi", "api_key": secret})
    assert answer["session"] == session
    record = next(r for r in _state(emulator)["invocations"] if r["session"] == session)
    assert record["operation"] == "InvokeAgentRuntime"
    assert record["runtime"] == "http_agent" and record["status"] == 200
    assert record["caller"] and record["duration_ms"] > 0
    assert '"prompt": "hi"' in record["request"] and session in record["answer"]
    assert secret not in record["request"] and secret not in record["answer"]
    view = next(s for s in _state(emulator)["sessions"] if s["sessionId"] == session)
    assert view["runtime"] == "http_agent" and view["state"] == "Idle"
    assert view["idleEndsAt"] > view["startedAt"] and view["lifetimeEndsAt"] > view["idleEndsAt"]
    assert view["invocations"] == 1

    def measured() -> bool:  # at the observer's next tick: starting Python used CPU
        now = next(s for s in _state(emulator)["sessions"] if s["sessionId"] == session)
        return bool(now["vcpuSeconds"] > 0 and now["gbSeconds"] > 0 and now["costUsd"] > 0)

    wait_until(measured, "the session's compute to be measured")
    rates = _state(emulator)["rates"]
    assert rates["vcpuHour"] == 0.0895 and rates["gbHour"] == 0.00945


def test_a_refused_invocation_is_recorded_too(emulator: Emulator) -> None:
    denied = httpx.post(
        f"{emulator.url}/runtimes/{emulator.arns['http_agent']}/invocations", content=b"{}"
    )
    assert denied.status_code == 403
    latest = _state(emulator)["invocations"][-1]
    assert latest["status"] == 403 and latest["session"] is None
    assert "Missing Authentication Token" in latest["answer"]


def test_events_arrive_live_as_the_invocation_happens(emulator: Emulator) -> None:
    seen: list[tuple[str, Any]] = []
    subscribed, arrived = threading.Event(), threading.Event()
    marker = f"live-{uuid.uuid4()}"

    def listen() -> None:
        with httpx.stream("GET", f"{emulator.url}/_emulator/events", timeout=30) as events:
            kind = None
            for line in events.iter_lines():
                if line.startswith(": live"):
                    subscribed.set()
                elif line.startswith("event: "):
                    kind = line[7:]
                elif line.startswith("data: "):
                    seen.append((kind or "", json.loads(line[6:])))
                    data = seen[-1][1]
                    if kind == "invocation" and marker in json.dumps(data) and data["status"]:
                        arrived.set()
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert subscribed.wait(30)
    session, _ = _invoke(emulator, "http_agent", {"prompt": marker})
    assert arrived.wait(30)
    listener.join(30)
    kinds = [kind for kind, data in seen if session in json.dumps(data)]
    assert kinds[0] == "invocation"  # shown as it arrives, then again when answered
    assert "sessions" in kinds


@pytest.mark.parametrize("carried", [True, False], ids=["caller-trace", "no-trace"])
def test_the_emulators_spans_and_the_instances_share_one_trace(
    emulator: Emulator, carried: bool
) -> None:
    trace_id = uuid.uuid4().hex
    caller_span = "00f067aa0ba902b7"

    def add_traceparent(request: Any, **_: Any) -> None:
        request.headers["traceparent"] = f"00-{trace_id}-{caller_span}-01"

    client = emulator.client()
    if carried:
        client.meta.events.register(
            "before-sign.bedrock-agentcore.InvokeAgentRuntime", add_traceparent
        )
    session = f"trace-{uuid.uuid4()}"
    answered = client.invoke_agent_runtime(
        agentRuntimeArn=emulator.arns["otel_agent"],
        runtimeSessionId=session,
        payload=b'{"prompt": "trace me"}',
        contentType="application/json",
    )
    assert json.loads(answered["response"].read()) == {"answer": "you said: trace me"}

    def spans() -> list[dict[str, Any]]:
        found = emulator.admin.get(f"/_emulator/sessions/{session}/traces").json()["spans"]
        names = {span["name"] for span in found}
        return found if {"agent.invoke", "agent.think", "InvokeAgentRuntime"} <= names else []

    found = wait_until(spans, "the instance's spans to be exported")  # within a second or so
    by_name = {span["name"]: span for span in found}
    root, agent = by_name["InvokeAgentRuntime"], by_name["agent.invoke"]
    assert len({span["trace_id"] for span in found}) == 1  # one trace
    steps = {"authenticate", "start session", "relay to instance"}
    assert steps <= set(by_name) and root["source"] == "emulator"
    assert all(by_name[step]["parent_span_id"] == root["span_id"] for step in steps)
    if carried:
        # The caller's trace, continued; its traceparent reaches the instance as sent.
        assert root["trace_id"] == trace_id and root["parent_span_id"] == caller_span
        assert agent["parent_span_id"] == caller_span
    else:
        assert root["parent_span_id"] == ""
        assert agent["parent_span_id"] == by_name["relay to instance"]["span_id"]
    assert agent["source"] == "instance"
    assert agent["service"] == "otel_agent.DEFAULT"  # OTEL_SERVICE_NAME, as given
    assert agent["attributes"]["agent.prompt"] == "trace me"
    assert by_name["agent.think"]["parent_span_id"] == agent["span_id"]
    logs = emulator.admin.get(f"/_emulator/sessions/{session}/logs").json()["lines"]
    assert any("answered 'trace me'" in entry["line"] for entry in logs)


@pytest.mark.parametrize("encoding", ["json", "protobuf-gzip"])
def test_the_otlp_receiver_takes_json_and_gzipped_protobuf(
    emulator: Emulator, encoding: str
) -> None:
    session = f"otlp-{uuid.uuid4()}"
    url = f"{emulator.url}/_otlp/{session}/v1/traces"
    trace_id, span_id = uuid.uuid4().hex, uuid.uuid4().hex[:16]
    if encoding == "json":
        body = {
            "resourceSpans": [
                {
                    "resource": {
                        "attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]
                    },
                    "scopeSpans": [
                        {
                            "spans": [
                                {
                                    "traceId": trace_id,
                                    "spanId": span_id,
                                    "name": "json-span",
                                    "startTimeUnixNano": "1000",
                                    "endTimeUnixNano": "2000",
                                    "attributes": [
                                        {"key": "n", "value": {"intValue": "7"}},
                                    ],
                                }
                            ]
                        }
                    ],
                }
            ]
        }
        sent = httpx.post(url, json=body, timeout=30)
        assert sent.status_code == 200
    else:
        import gzip

        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        export = ExportTraceServiceRequest()
        span = export.resource_spans.add().scope_spans.add().spans.add()
        span.trace_id, span.span_id = bytes.fromhex(trace_id), bytes.fromhex(span_id)
        span.name, span.start_time_unix_nano, span.end_time_unix_nano = "pb-span", 1000, 2000
        headers = {"Content-Type": "application/x-protobuf", "Content-Encoding": "gzip"}
        sent = httpx.post(
            url, content=gzip.compress(export.SerializeToString()), headers=headers, timeout=30
        )
        assert sent.status_code == 200
        assert sent.headers["content-type"] == "application/x-protobuf"
    [kept] = emulator.admin.get(f"/_emulator/sessions/{session}/traces").json()["spans"]
    assert kept["trace_id"] == trace_id and kept["span_id"] == span_id
    assert kept["name"] in ("json-span", "pb-span")
    bad = httpx.post(url, content=b"\xff\x00", headers={"Content-Type": "application/x-protobuf"})
    assert bad.status_code == 400 and "not an OTLP export" in bad.text


def test_a_gateway_call_is_recorded_with_its_tool_and_caller(emulator: Emulator) -> None:
    orders = {
        "lambda": {
            "lambdaArn": "arn:aws:lambda:us-east-1:123456789012:function:orders",
            "toolSchema": {"inlinePayload": [GET_ORDER]},
        }
    }
    gateway = emulator.gateway("NONE", targets={"orders": orders})
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "orders___get_order", "arguments": {"id": "D-4"}},
    }
    assert httpx.post(gateway["gatewayUrl"], json=call, timeout=30).status_code == 200
    record = _state(emulator)["invocations"][-1]
    assert record["operation"] == "InvokeGateway"
    assert record["method"] == "tools/call orders___get_order"
    assert record["status"] == 200 and "D-4" in record["answer"]


def test_a_session_kept_busy_past_the_threshold_is_warned_about(emulator: Emulator) -> None:
    # The agent says HealthyBusy on /ping (background work that never ends); the emulator's
    # clock moves past warn_kept_alive_after (900 s): the next round of checks warns.
    session, _ = _invoke(emulator, "http_agent", {"busy": True})

    def busy() -> bool:
        views = _state(emulator)["sessions"]
        return any(v["sessionId"] == session and v["state"] == "HealthyBusy" for v in views)

    wait_until(busy, "the instance's /ping to say HealthyBusy")
    emulator.admin.post("/_emulator/clock/advance", json={"seconds": 901}).raise_for_status()

    def warned() -> list[dict[str, Any]]:
        return [w for w in _state(emulator)["warnings"] if w["session"] == session]

    [warning] = wait_until(warned, "the kept-alive warning")
    assert "/ping keeps it alive (HealthyBusy)" in warning["message"]
    assert f"session {session[:8]} of http_agent has had no call" in emulator.stderr()
    _invoke_in(emulator, session, {"busy": False})  # done: it may idle again
    emulator.client().stop_runtime_session(
        agentRuntimeArn=emulator.arns["http_agent"], runtimeSessionId=session
    )


def _invoke_in(emulator: Emulator, session: str, payload: dict[str, Any]) -> None:
    emulator.client().invoke_agent_runtime(
        agentRuntimeArn=emulator.arns["http_agent"],
        runtimeSessionId=session,
        payload=json.dumps(payload).encode(),
        contentType="application/json",
    )["response"].read()


def test_an_mcp_invocation_shows_its_method_and_tool(emulator: Emulator) -> None:
    session = f"mcp-{uuid.uuid4()}"
    call = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "echo_size", "arguments": {"text": "abc"}},
    }
    # No initialize first: the server refuses it (400, AgentCore's 424), and the record
    # still says what was called.
    with pytest.raises(ClientError):
        emulator.client().invoke_agent_runtime(
            agentRuntimeArn=emulator.arns["json_server"],
            runtimeSessionId=session,
            payload=json.dumps(call).encode(),
            contentType="application/json",
            accept="application/json, text/event-stream",
        )
    record = next(r for r in _state(emulator)["invocations"] if r["session"] == session)
    assert record["method"] == "tools/call echo_size" and record["status"] == 424
    http_record = _state(emulator)["invocations"]
    assert all(r["method"] == "" for r in http_record if r["runtime"] == "http_agent")
