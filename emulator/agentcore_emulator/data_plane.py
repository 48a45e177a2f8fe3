"""AgentCore's data plane: InvokeAgentRuntime, StopRuntimeSession, GetAgentCard and
InvokeAgentRuntimeCommand.

Handlers parse the request and write the answer; the model (``sessions``) decides which
session a call goes to, what becomes of an instance that died, and how a container's
failure is reported. Handlers raise AWS errors; ``wire`` turns them into the service's
answer and logs.
"""

from __future__ import annotations

import json
import logging

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from agentcore_emulator import eventstream, headers
from agentcore_emulator.activity import InvocationRecord
from agentcore_emulator.config import RuntimeSpec
from agentcore_emulator.exceptions import (
    AccessDeniedException,
    ResourceNotFoundException,
    RuntimeClientError,
    ValidationException,
)
from agentcore_emulator.headers import USER_ID_HEADER, WORKLOAD_TOKEN_HEADER
from agentcore_emulator.oauth import METHOD_MISMATCH
from agentcore_emulator.relay import RelayLimits, relay
from agentcore_emulator.runtime_commands import CommandRequest, run_command
from agentcore_emulator.sessions import RuntimeSession, container_error
from agentcore_emulator.state import DATA_PLANE, Emulator
from agentcore_emulator.traces import InvocationTrace, current_trace
from agentcore_emulator.wire import (
    emulator_of,
    note,
    request_id_of,
    signed_request_of,
)
from agentcore_wire.header_rules import RUNTIME_SESSION_HEADER

logger = logging.getLogger("agentcore_emulator")


def _method_of(body: bytes) -> tuple[str, str]:
    """The JSON-RPC method (for the log and the arrivals), and what the dashboard shows:
    the method with the tool a ``tools/call`` names, "" for a payload that is not
    JSON-RPC (an HTTP agent's). One parse of the body."""
    if len(body) > 1_000_000:
        return "?", ""
    try:
        message = json.loads(body)
    except ValueError:
        return "?", ""
    if not isinstance(message, dict):
        return "?", ""
    method = str(message.get("method", "response"))
    if message.get("jsonrpc") is None:
        return method, ""
    params = message.get("params")
    name = params.get("name") if method == "tools/call" and isinstance(params, dict) else None
    return method, f"{method} {str(name)[:100]}" if name is not None else method


def session_id_from(request: HTTPConnection) -> str | None:
    """A WebSocket's runtime session id: its header, or the query parameter of that name
    (a browser cannot set headers on a WebSocket; a presigned URL carries it)."""
    return _runtime_session_id(request, required=False, in_query=True)


def _runtime_session_id(
    request: HTTPConnection, required: bool, in_query: bool = False
) -> str | None:
    """The runtime session id header, checked as AgentCore's model bounds it."""
    session_id = request.headers.get(RUNTIME_SESSION_HEADER)
    if session_id is None and in_query:
        session_id = request.query_params.get(RUNTIME_SESSION_HEADER)
    if (session_id is None and required) or (
        session_id is not None and not 33 <= len(session_id) <= 256
    ):
        raise ValidationException.for_field(
            "runtimeSessionId", "Member must have length between 33 and 256"
        )
    return session_id


async def authorized(
    request: HTTPConnection, body: bytes, bearer: str | None = None
) -> tuple[RuntimeSpec, str | None]:
    """The runtime a data-plane call names, and who calls it.

    A runtime takes SigV4, or, with a JWT authorizer, a bearer token; each is refused on a
    runtime of the other kind. A signature is checked before the runtime is looked up, as
    AWS authenticates before it looks for the resource. ``bearer`` is an ``Authorization``
    value carried elsewhere than its header (a WebSocket's subprotocol).
    """
    emulator = emulator_of(request)
    authorization = request.headers.get("authorization") or bearer
    if authorization is None or not authorization.startswith("AWS4-"):
        try:
            spec: RuntimeSpec | None = _runtime_of(request)
        except (ResourceNotFoundException, ValidationException):
            if authorization is not None:
                raise
            spec = None  # unsigned: the missing signature is the answer
        if spec is not None and spec.jwt_authorizer is not None:
            claims = await emulator.bearer.verify(emulator.web, spec.jwt_authorizer, authorization)
            return spec, str(claims.get("sub", ""))
        if authorization is not None:
            raise AccessDeniedException(METHOD_MISMATCH)
    verified = emulator.verify(signed_request_of(request, body), DATA_PLANE)
    spec = _runtime_of(request)
    if spec.jwt_authorizer is not None:
        raise AccessDeniedException(METHOD_MISMATCH)
    return spec, verified.credential.principal


def _runtime_of(request: HTTPConnection) -> RuntimeSpec:
    return emulator_of(request).runtimes.resolve(
        request.path_params["arn"], request.query_params.get("accountId")
    )


def _check_invoke_for_user(spec: RuntimeSpec, principal: str | None) -> None:
    """Sending a runtime user id needs InvokeAgentRuntimeForUser, as in AgentCore."""
    allowed = spec.invoke_for_user
    who = principal or "anonymous"
    if "*" in allowed or who in allowed or _assumed_from(who) in allowed:
        return
    raise AccessDeniedException(
        f"User: {who} is not authorized to perform: "
        f"bedrock-agentcore:InvokeAgentRuntimeForUser on resource: {spec.arn} because no "
        f"identity-based policy allows the bedrock-agentcore:InvokeAgentRuntimeForUser action"
    )


def _assumed_from(principal: str) -> str | None:
    """``arn:aws:sts::A:assumed-role/R/S`` came from role ``arn:aws:iam::A:role/R``."""
    head, _, rest = principal.partition(":assumed-role/")
    if not rest:
        return None
    return f"{head.replace(':sts:', ':iam:')}:role/{rest.split('/')[0]}"


def _hand_workload_token(
    emulator: Emulator,
    spec: RuntimeSpec,
    forwarded: dict[str, str],
    user_id: str | None,
    principal: str | None,
) -> None:
    """Give the instance its workload access token, as AgentCore does: for the runtime's
    workload identity and the caller (the user id header; on an OAuth runtime, the
    token's subject). Chosen (not confirmable offline): a SigV4 call without a user id
    gets a token for the workload alone, not none."""
    for name in [n for n in forwarded if n.lower() == WORKLOAD_TOKEN_HEADER.lower()]:
        del forwarded[name]  # never the caller's own
    user = user_id or (principal if spec.jwt_authorizer is not None else None)
    token = emulator.identity.invocation_token(spec.runtime_id, user)
    if token is not None:
        forwarded[WORKLOAD_TOKEN_HEADER] = token


async def invocations(request: Request) -> Response:
    """InvokeAgentRuntime: route to the session's instance, starting one if needed."""
    emulator = emulator_of(request)
    body = await request.body()
    method, shown_method = _method_of(body)
    note(request, runtime=request.path_params["arn"].rsplit("/", 1)[-1], method=method)
    # Shown at once on the dashboard, refused or not; its outcome and spans at its end.
    trace = InvocationTrace.continuing(request.headers.get("traceparent"))
    record = emulator.activity.begin(
        "InvokeAgentRuntime",
        runtime=request.path_params["arn"].rsplit("/", 1)[-1][:100],
        method=shown_method,
        trace_id=trace.trace_id,
        sent=body,
    )
    _finish_when_answered(request, emulator, record, trace)
    with trace.step("authenticate"):
        spec, principal = await authorized(request, body)
    record.runtime, record.caller = spec.name, principal
    if request.method != "POST":
        raise HTTPException(405, headers={"Allow": "POST"})
    if USER_ID_HEADER in request.headers:
        _check_invoke_for_user(spec, principal)
    forwarded = headers.forwarded(request.headers, spec.request_headers)
    _hand_workload_token(emulator, spec, forwarded, request.headers.get(USER_ID_HEADER), principal)
    mcp_session_id = request.headers.get("mcp-session-id")
    session_id = emulator.sessions.session_id_for_call(
        spec, _runtime_session_id(request, required=False), mcp_session_id
    )
    note(request, session=session_id)
    emulator.record_arrival(spec, session_id, method)
    emulator.activity.attach(record, session_id)
    limits = RelayLimits(
        emulator.config.request_timeout,
        emulator.config.stream_timeout,
        emulator.config.max_chunk_bytes,
    )

    async def forward(session: RuntimeSession) -> Response:
        emulator.observer.invoked(spec.name, session_id, principal)
        with trace.step("relay to instance", **{"session.id": session_id}) as span_id:
            # The caller's trace headers reach the instance as sent (AgentCore forwards
            # them); a call without one gets the relay's, so the instance's spans nest here.
            if not any(name.lower() == "traceparent" for name in forwarded):
                forwarded["traceparent"] = trace.traceparent_for(span_id)
            return await relay(
                session,
                body,
                forwarded,
                mcp_session_id,
                request_id_of(request),
                emulator.sessions.clock,
                spec.faults,  # the runtime's current faults, switched while serving
                limits,
            )

    joined = current_trace.set(trace)  # a session started for this call adds its span
    try:
        emulator.runtimes.admit(spec)
        return await emulator.sessions.call(spec, session_id, forward)
    except RuntimeClientError as exc:
        in_band = container_error(spec, exc)
        if in_band is None:
            raise
        return JSONResponse(in_band, headers={RUNTIME_SESSION_HEADER: session_id})
    finally:
        current_trace.reset(joined)


def _finish_when_answered(
    request: Request, emulator: Emulator, record: InvocationRecord, trace: InvocationTrace
) -> None:
    """What the request's middleware calls once the answer has gone: the record's
    outcome, and the emulator's spans kept with the session's."""

    def finish(status: int, duration_ms: float, answered: bytes) -> None:
        emulator.activity.finish(record, status, duration_ms, answered)
        if record.session is not None:
            spans = trace.finish(
                "InvokeAgentRuntime",
                status,
                **{"runtime": record.runtime or "", "session.id": record.session},
            )
            emulator.traces.add(record.session, spans)

    request.scope.setdefault("state", {})["on_finish"] = finish


async def stop_runtime_session(request: Request) -> Response:
    """StopRuntimeSession: end the session's instance now."""
    emulator = emulator_of(request)
    spec, _ = await authorized(request, await request.body())
    session_id = _runtime_session_id(request, required=True)
    if not await emulator.sessions.stop(spec, session_id or ""):
        raise ResourceNotFoundException(f"Session not found: {session_id}")
    logger.info("stopped session %s of %s", session_id, spec.name)
    return JSONResponse({}, headers={RUNTIME_SESSION_HEADER: session_id or ""})


async def agent_card(request: Request) -> Response:
    """GetAgentCard: an A2A runtime's card, as its session's instance serves it."""
    emulator = emulator_of(request)
    spec, _ = await authorized(request, await request.body())
    if spec.protocol != "A2A":
        raise ValidationException(
            f"GetAgentCard needs a runtime with the A2A protocol; {spec.name} is {spec.protocol}"
        )
    session_id = _runtime_session_id(request, required=False) or emulator.sessions.new_session_id()
    emulator.runtimes.admit(spec)
    session = await emulator.sessions.acquire(spec, session_id)
    note(request, runtime=spec.name, session=session_id, method="agent-card")
    card = await session.instance.agent_card()
    return JSONResponse(card, headers={RUNTIME_SESSION_HEADER: session_id})


async def runtime_command(request: Request) -> Response:
    """InvokeAgentRuntimeCommand: run a shell command in the session's environment."""
    emulator = emulator_of(request)
    body = await request.body()
    spec, _ = await authorized(request, body)
    note(request, runtime=spec.name, method="command")
    try:
        parsed = json.loads(body) if body else None
    except ValueError:
        raise ValidationException("The request body is not valid JSON") from None
    command = CommandRequest.parse(parsed)
    session_id = _runtime_session_id(request, required=False) or emulator.sessions.new_session_id()
    emulator.runtimes.admit(spec)
    session = await emulator.sessions.acquire(spec, session_id)
    note(request, session=session_id)
    return StreamingResponse(
        run_command(
            command,
            session.instance.environment,
            spec.cwd,
            session.instance.network.enter if session.instance.network.isolated else None,
        ),
        media_type=eventstream.CONTENT_TYPE,
        headers={RUNTIME_SESSION_HEADER: session_id},
    )
