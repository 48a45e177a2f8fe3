"""InvokeAgentRuntime, StopRuntimeSession, and every other AWS call the emulator answers."""

from __future__ import annotations

import json
import logging
import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agentcore_emulator import bedrock
from agentcore_emulator.config import RuntimeSpec
from agentcore_emulator.errors import error_response, new_request_id, query_error_response
from agentcore_emulator.relay import RUNTIME_ERROR, SESSION_HEADER, InstanceExited, relay
from agentcore_emulator.state import DATA_PLANE, emulator_of, raw_target
from mcp_agentcore_proxy.aws_errors import (
    AwsError,
    ResourceNotFoundException,
    RuntimeClientError,
    ValidationException,
)

logger = logging.getLogger("agentcore_emulator")


def _method_of(body: bytes) -> str:
    if len(body) > 1_000_000:
        return "?"
    try:
        message = json.loads(body)
    except ValueError:
        return "?"
    return str(message.get("method", "response")) if isinstance(message, dict) else "?"


async def invocations(request: Request) -> Response:
    """InvokeAgentRuntime: route to the session's instance, starting one if needed."""
    emulator = emulator_of(request)
    request_id = new_request_id()
    started = time.monotonic()
    body = await request.body()
    method = _method_of(body)
    session_id = request.headers.get(SESSION_HEADER)
    status: int | str = "?"
    spec: RuntimeSpec | None = None
    try:
        await emulator.verify(request, body, DATA_PLANE)
        if request.method != "POST":
            status = 405
            return Response("Method Not Allowed", 405, headers={"Allow": "POST"})
        spec = emulator.runtimes.resolve(
            request.path_params["arn"], request.query_params.get("accountId")
        )
        if session_id is not None and not 33 <= len(session_id) <= 256:
            raise ValidationException.for_field(
                "runtimeSessionId", "Member must have length between 33 and 256"
            )
        mcp_session_id = request.headers.get("mcp-session-id")
        if session_id is None and mcp_session_id:
            known = emulator.sessions.by_mcp_session(spec, mcp_session_id)
            session_id = known.session_id if known else None
        session_id = session_id or emulator.sessions.new_session_id()
        emulator.record_arrival(spec, session_id, method)
        emulator.runtimes.admit(spec)
        for attempt in (1, 2):
            session = await emulator.sessions.acquire(spec, session_id)
            try:
                response = await relay(
                    emulator.client,
                    session,
                    body,
                    request.headers,
                    request_id,
                    emulator.sessions.clock,
                    spec.faults,  # the runtime's current faults, switched while serving
                )
                break
            except InstanceExited:
                if attempt == 2:
                    raise RuntimeClientError(RUNTIME_ERROR.format(502)) from None
                logger.warning("instance of session %s had exited; replacing it", session_id)
        status = response.status_code
        return response
    except RuntimeClientError as exc:
        status = exc.code
        if spec is not None and spec.container_errors == "jsonrpc" and session_id is not None:
            status = 200
            return JSONResponse(
                {"jsonrpc": "2.0", "id": None, "error": {"code": -32010, "message": exc.message}},
                headers={SESSION_HEADER: session_id, "x-amzn-RequestId": request_id},
            )
        return error_response(exc, request_id)
    except AwsError as exc:
        status = exc.code
        return error_response(exc, request_id)
    finally:
        logger.info(
            "invoke runtime=%s session=%s method=%s status=%s %.0fms",
            request.path_params.get("arn", "?").rsplit("/", 1)[-1],
            session_id,
            method,
            status,
            (time.monotonic() - started) * 1000,
        )


async def stop_runtime_session(request: Request) -> Response:
    """StopRuntimeSession: end the session's instance now."""
    emulator = emulator_of(request)
    request_id = new_request_id()
    body = await request.body()
    try:
        await emulator.verify(request, body, DATA_PLANE)
        spec = emulator.runtimes.resolve(
            request.path_params["arn"], request.query_params.get("accountId")
        )
        session_id = request.headers.get(SESSION_HEADER)
        if session_id is None or not 33 <= len(session_id) <= 256:
            raise ValidationException.for_field(
                "runtimeSessionId", "Member must have length between 33 and 256"
            )
        if not await emulator.sessions.stop(spec, session_id):
            raise ResourceNotFoundException(f"Session not found: {session_id}")
        logger.info("stopped session %s of %s", session_id, spec.name)
        return JSONResponse(
            {}, headers={SESSION_HEADER: session_id, "x-amzn-RequestId": request_id}
        )
    except AwsError as exc:
        return error_response(exc, request_id)


def _speaks_query(request: Request) -> bool:
    """Whether a call is for STS (the query protocol), even one whose signature fails."""
    scope = request.headers.get("authorization", "").partition("Credential=")[2].split("/")
    if len(scope) > 3:
        return scope[3] == "sts"
    return request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")


async def aws_services(request: Request) -> Response:
    """Any other AWS call: dispatched by the service of its SigV4 credential scope."""
    emulator = emulator_of(request)
    request_id = new_request_id()
    body = await request.body()
    answer_error = query_error_response if _speaks_query(request) else error_response
    try:
        verified = await emulator.verify(request, body)
        service = verified.scope.service
        path = request.url.path
        if service == "bedrock":
            if not path.endswith("/converse"):
                raise ValidationException(f"The emulator answers Converse only, not {path}")
            model_id = path.removeprefix("/model/").removesuffix("/converse")
            answer = bedrock.converse(model_id, body, emulator.converse_error)
            return JSONResponse(answer, headers={"x-amzn-RequestId": request_id})
        raw, query = raw_target(request)
        return await emulator.moto.forward(
            emulator.client,
            request.method,
            raw + (f"?{query}" if query else ""),
            request.headers,
            body,
        )
    except AwsError as exc:
        return answer_error(exc, request_id)
