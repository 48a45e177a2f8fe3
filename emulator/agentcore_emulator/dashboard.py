"""The dashboard: a page at the emulator's root (``GET /`` asking for HTML) and the admin
endpoints it reads: the state, the live events, a session's logs and spans, and the invoke
panel, which calls the emulator's own data plane signed as any client is (every check
applies). Local only, as every admin endpoint; its assets are served here and its
Content-Security-Policy allows nothing beyond the emulator.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response, StreamingResponse

from agentcore_emulator.activity import TooManySubscribers, shown, sse_frame
from agentcore_emulator.admin import BadRequest, json_body, local_only
from agentcore_emulator.config import RuntimeSpec
from agentcore_emulator.passthrough import aws_services
from agentcore_emulator.state import Emulator
from agentcore_emulator.wire import emulator_of

ASSETS = Path(__file__).parent / "dashboard"
_MEDIA = {"app.js": "text/javascript", "style.css": "text/css"}
# Nothing the page loads or calls may leave the emulator.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
)
HEARTBEAT = 15.0  # seconds between comments on an idle event stream (proxies close silence)
MAX_ANSWER = 65_536  # bytes of an invoke panel's answer read


async def root(request: Request) -> Response:
    """``GET /``: the dashboard for a browser; any other call is AWS's (S3's ListBuckets)."""
    accept = request.headers.get("accept", "")
    if request.method == "GET" and "text/html" in accept and "authorization" not in request.headers:
        return await _page(request)
    return await aws_services(request)


@local_only
async def _page(request: Request) -> Response:
    return FileResponse(
        ASSETS / "index.html",
        media_type="text/html",
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-store"},
    )


async def asset(request: Request) -> Response:
    name = request.path_params["name"]
    if name not in _MEDIA:
        return JSONResponse({"message": f"no asset {name!r}"}, status_code=404)
    return FileResponse(
        ASSETS / name, media_type=_MEDIA[name], headers={"Cache-Control": "no-store"}
    )


async def snapshot(request: Request) -> Response:
    """Everything the page shows, at once: it then follows the events."""
    emulator = emulator_of(request)
    config = emulator.config
    return JSONResponse(
        {
            "network": emulator.networks.mode,
            "runtimes": [_runtime(spec) for spec in emulator.runtimes],
            "sessions": emulator.observer.views(),
            "invocations": [record.view() for record in emulator.activity.invocations],
            "warnings": list(emulator.observer.warnings.values()),
            "rates": {
                "vcpuHour": config.price_vcpu_hour,
                "gbHour": config.price_gb_hour,
                "source": "AgentCore Runtime's published prices, us-east-1; "
                "[emulator] price_vcpu_hour and price_gb_hour",
            },
        }
    )


def _runtime(spec: RuntimeSpec) -> dict[str, Any]:
    return {
        "name": spec.name,
        "arn": spec.arn,
        "protocol": spec.protocol,
        "auth": "JWT" if spec.jwt_authorizer is not None else "SigV4",
        "quota": spec.requests_per_second,
        "idleTimeout": spec.idle_timeout,
        "maxLifetime": spec.max_lifetime,
        "faults": dataclasses.asdict(spec.faults),  # as PUT .../faults answers them
    }


async def events(request: Request) -> Response:
    """What happens, as server-sent events, until the page goes or falls behind (then a
    ``resync`` event ends the stream: the page reloads the state and subscribes again)."""
    try:
        subscription = emulator_of(request).activity.subscribe()
    except TooManySubscribers as exc:
        return JSONResponse({"message": str(exc)}, status_code=429)

    async def stream() -> AsyncIterator[str]:
        try:
            yield ": live\n\n"
            while True:
                try:
                    event = await asyncio.wait_for(subscription.next(), HEARTBEAT)
                except TimeoutError:
                    yield ": still here\n\n"
                    continue
                if event is None:
                    return  # too far behind: its last event was a resync
                yield sse_frame(*event)
        finally:
            subscription.close()

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )


async def session_logs(request: Request) -> Response:
    """A session's latest log lines (the whole of them is in CloudWatch Logs)."""
    lines = emulator_of(request).activity.logs(request.path_params["session"])
    return JSONResponse({"lines": lines})


async def session_traces(request: Request) -> Response:
    """A session's spans, the instance's and the emulator's, oldest first."""
    spans = emulator_of(request).traces.spans(request.path_params["session"])
    return JSONResponse({"spans": [span.view() for span in spans]})


async def invoke(request: Request) -> Response:
    """The invoke panel: InvokeAgentRuntime through the emulator's own endpoint, signed
    with its configured keys, so the call is checked as any client's."""
    emulator = emulator_of(request)
    body = await json_body(request)
    name = body.get("runtime")
    spec = next((s for s in emulator.runtimes if s.name == name), None)
    if spec is None:
        raise BadRequest(f"no runtime {name!r}")
    session_id = body.get("sessionId") or emulator.sessions.new_session_id()
    if not isinstance(session_id, str):
        raise BadRequest("sessionId is a string")
    payload = _payload(spec, body)
    answer = await asyncio.to_thread(_invoke, emulator, spec, session_id, payload)
    return JSONResponse({**answer, "sessionId": session_id})


def _payload(spec: RuntimeSpec, body: dict[str, Any]) -> bytes:
    if spec.protocol == "MCP":
        tool, arguments = body.get("tool"), body.get("arguments", {})
        if not isinstance(tool, str) or not tool or not isinstance(arguments, dict):
            raise BadRequest("an MCP call names a tool and gives its arguments (an object)")
        call = {
            "jsonrpc": "2.0",
            "id": 1,
            "method": "tools/call",
            "params": {"name": tool, "arguments": arguments},
        }
        return json.dumps(call).encode()
    payload = body.get("payload")
    if not isinstance(payload, str):
        raise BadRequest("payload is the text to send")
    return payload.encode()


def _invoke(
    emulator: Emulator, spec: RuntimeSpec, session_id: str, payload: bytes
) -> dict[str, Any]:
    client = boto3.client(
        "bedrock-agentcore",
        endpoint_url=emulator.base_url,
        region_name=emulator.config.region,
        aws_access_key_id=emulator.config.access_key,
        aws_secret_access_key=emulator.config.secret_key,
        config=Config(
            retries={"total_max_attempts": 1}, read_timeout=emulator.config.request_timeout
        ),
    )
    extra = {"accept": "application/json, text/event-stream"} if spec.protocol == "MCP" else {}
    try:
        answer = client.invoke_agent_runtime(
            agentRuntimeArn=spec.arn,
            runtimeSessionId=session_id,
            payload=payload,
            contentType="application/json",
            **extra,
        )
        data = answer["response"].read(MAX_ANSWER)
        answer["response"].close()
        status = answer["ResponseMetadata"]["HTTPStatusCode"]
        return {"status": status, "answer": shown(data)}
    except ClientError as exc:
        error = exc.response.get("Error", {})
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)
        return {"status": status, "answer": f"{error.get('Code')}: {error.get('Message')}"}
    except BotoCoreError as exc:
        return {"status": 0, "answer": str(exc)}
    finally:
        client.close()
