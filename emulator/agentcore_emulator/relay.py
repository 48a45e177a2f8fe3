"""Relays one invocation to a session's instance and its answer back, as it is produced."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.responses import Response

from agentcore_emulator.config import FaultSpec
from agentcore_emulator.exceptions import RuntimeClientError
from agentcore_emulator.instance_http import (
    InstanceAnswerTooLarge,
    InstanceHttpError,
    InstanceResponse,
    InstanceUnreachable,
)
from agentcore_emulator.sessions import (
    INSTANCE_EXIT_WAIT,
    InstanceExited,
    RuntimeSession,
    SessionClock,
)
from agentcore_wire.header_rules import RUNTIME_SESSION_HEADER
from agentcore_wire.limits import MAX_PAYLOAD
from agentcore_wire.mcp_revisions import is_modern
from agentcore_wire.sse import SseDecoder

logger = logging.getLogger(__name__)

REQUEST_ID_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Request-Id"

TOO_SLOW = (
    "Runtime did not respond within {}s, the limit for a synchronous request. Please check "
    "your CloudWatch logs for more information."
)


@dataclass(frozen=True)
class RelayLimits:
    """AgentCore's limits on an answer: 15 minutes for a synchronous one, 60 for a stream,
    10 MB per streamed chunk (an event, here)."""

    request: float = 900.0
    stream: float = 3600.0
    chunk: int = 10_000_000


_ERROR_BODY_LIMIT = 65536  # bytes of a 4xx answer read to see whether it is a JSON-RPC error


def _header(headers: Mapping[str, str], name: str) -> str | None:
    return next((v for k, v in headers.items() if k.lower() == name), None)


async def _jsonrpc_error(upstream: InstanceResponse) -> bytes | None:
    """The body of an error answer if it is one JSON-RPC error response, else None."""
    if not upstream.headers.get("content-type", "").startswith("application/json"):
        return None
    body = b""
    async for chunk in upstream.chunks():
        body += chunk
        if len(body) > _ERROR_BODY_LIMIT:
            return None
    try:
        message = json.loads(body)
    except ValueError:
        return None
    is_error = isinstance(message, dict) and isinstance(message.get("error"), dict)
    return body if is_error and message.get("jsonrpc") == "2.0" else None


async def _refused(
    session: RuntimeSession,
    upstream: InstanceResponse,
    clock: SessionClock,
    answer_headers: dict[str, str],
    modern_mcp: bool,
) -> Response:
    """An error answer: to an MCP 2026-07-28 request, the server's own JSON-RPC error (a
    4xx: header, version and method errors) passed on intact, as HTTP 200 (chosen, see
    ``RuntimeSpec.container_errors``); else the container's 424, as AgentCore reports it
    (a 2025-era client learns of a lost session from its "Received error (404)")."""
    status = upstream.status
    try:
        error = await _jsonrpc_error(upstream) if modern_mcp and 400 <= status < 500 else None
    finally:
        upstream.release()
        session.call_ended(clock())
    if error is None or session.spec.container_errors == "aws-424":
        raise RuntimeClientError.from_container(status)
    logger.info(
        "instance of session %s answered %d with a JSON-RPC error: passed on intact",
        session.session_id,
        status,
    )
    return Response(error, media_type="application/json", headers=answer_headers)


class StreamCut(Exception):
    """Injected fault: the answer stream breaks off."""


async def _send(
    session: RuntimeSession, body: bytes, headers: Mapping[str, str]
) -> InstanceResponse:
    """The instance's answer, headers only; a failure is the container's (424)."""
    try:
        return await session.instance.request("POST", session.spec.path, headers, body)
    except InstanceHttpError as exc:
        refused = isinstance(exc, InstanceUnreachable)
        if refused and await session.instance.exited(INSTANCE_EXIT_WAIT):
            # Nothing reached it (a crash a moment ago): a new instance may take the call.
            raise InstanceExited(session.session_id) from exc
        logger.warning("instance of session %s did not answer: %r", session.session_id, exc)
        session.broken = True
        raise RuntimeClientError.from_container(502) from exc


async def relay(
    session: RuntimeSession,
    body: bytes,
    forwarded: Mapping[str, str],
    caller_mcp: str | None,
    request_id: str,
    clock: SessionClock,
    faults: FaultSpec,
    limits: RelayLimits = RelayLimits(),
) -> Response:
    """POST the payload to the instance; return its answer as AgentCore would.

    ``forwarded`` are the caller's headers that reach the container (``headers``).
    """
    spec = session.spec
    if faults.latency:
        await asyncio.sleep(faults.latency)
    mcp = spec.protocol == "MCP"
    # MCP 2026-07-28 has no sessions: no Mcp-Session-Id is passed on, minted or echoed.
    sessions = mcp and not is_modern(_header(forwarded, "mcp-protocol-version"))
    headers = {
        **forwarded,
        RUNTIME_SESSION_HEADER: session.session_id,
        REQUEST_ID_HEADER: request_id,
    }
    if sessions and (forwarded_mcp := session.mcp_session_for_instance(caller_mcp)):
        headers["Mcp-Session-Id"] = forwarded_mcp
    session.call_started()
    deadline = asyncio.get_running_loop().time() + limits.request
    try:
        async with asyncio.timeout_at(deadline):
            upstream = await _send(session, body, headers)
    except BaseException as exc:
        session.call_ended(clock())
        if isinstance(exc, TimeoutError):
            raise RuntimeClientError(TOO_SLOW.format(int(limits.request))) from None
        raise
    answer_headers = {RUNTIME_SESSION_HEADER: session.session_id, "x-amzn-RequestId": request_id}
    if upstream.status >= 400:
        return await _refused(session, upstream, clock, answer_headers, mcp and not sessions)
    if mcp:
        server_mcp = upstream.headers.get("mcp-session-id")
        if sessions or server_mcp:
            mcp_id = session.mcp_session_for_caller(caller_mcp, server_mcp)
            if mcp_id:
                answer_headers["Mcp-Session-Id"] = mcp_id
        if "mcp-protocol-version" in upstream.headers:
            answer_headers["Mcp-Protocol-Version"] = upstream.headers["mcp-protocol-version"]
    content_type = upstream.headers.get("content-type", "application/json")
    if content_type.startswith("text/event-stream"):
        return EventSourceResponse(
            _events(upstream, session, clock, faults.cut_after_events, limits),
            headers=answer_headers,
            status_code=upstream.status,
        )
    try:
        async with asyncio.timeout_at(deadline):
            payload = await upstream.read(MAX_PAYLOAD)
    except TimeoutError:
        raise RuntimeClientError(TOO_SLOW.format(int(limits.request))) from None
    except InstanceAnswerTooLarge:
        # Chosen (not confirmable offline): a container's answer past AgentCore's payload
        # limit is the container's failure, as a broken one is; nothing more of it is held.
        logger.warning(
            "instance of session %s answered more than %d bytes", session.session_id, MAX_PAYLOAD
        )
        raise RuntimeClientError.from_container(502) from None
    except InstanceHttpError as exc:
        # The instance broke off its answer: the container's failure, as a refusal is.
        logger.warning("instance of session %s broke off its answer: %s", session.session_id, exc)
        session.broken = True
        raise RuntimeClientError.from_container(502) from exc
    finally:
        upstream.release()
        session.call_ended(clock())
    return Response(
        payload, status_code=upstream.status, media_type=content_type, headers=answer_headers
    )


async def _chunks(upstream: InstanceResponse, session: RuntimeSession) -> AsyncIterator[bytes]:
    """The answer's bytes as they arrive; a break marks the session suspect."""
    try:
        async for chunk in upstream.chunks():
            yield chunk
    except InstanceHttpError:
        session.broken = True  # the instance may be dying: the next call checks first
        raise


async def _events(
    upstream: InstanceResponse,
    session: RuntimeSession,
    clock: SessionClock,
    cut_after: int | None,
    limits: RelayLimits,
) -> AsyncIterator[ServerSentEvent]:
    decoder = SseDecoder()
    sent = 0
    deadline = asyncio.get_running_loop().time() + limits.stream
    # As browsers decode an event stream: a byte that is not UTF-8 becomes U+FFFD, and
    # the stream goes on (the relay must never die of the content it relays).
    try:
        chunks = _chunks(upstream, session)
        while True:
            try:
                async with asyncio.timeout_at(deadline):
                    chunk = await anext(chunks, None)
            except TimeoutError:
                # Chosen: the stream ends where AgentCore's limit falls (the caller sees
                # an answer that stops short), and the instance keeps running.
                logger.warning(
                    "stream of session %s ended at the %gs limit", session.session_id, limits.stream
                )
                return
            if chunk is None:
                break
            for data in decoder.feed(chunk):
                if cut_after is not None and sent >= cut_after:
                    raise StreamCut(f"stream cut after {sent} event(s) (injected fault)")
                if len(data) > limits.chunk:
                    # Chosen (not confirmable offline): the stream ends before the event.
                    logger.warning(
                        "stream of session %s ended: an event of %d bytes is past the %d limit",
                        session.session_id,
                        len(data),
                        limits.chunk,
                    )
                    return
                sent += 1
                yield ServerSentEvent(data=data.decode("utf-8", "replace"), event="message")
            if decoder.pending > limits.chunk:
                # An event still growing past the limit ends the stream as a whole one
                # does, before all of it is held.
                logger.warning(
                    "stream of session %s ended: an event passed the %d-byte limit",
                    session.session_id,
                    limits.chunk,
                )
                return
        for data in decoder.close():
            yield ServerSentEvent(data=data.decode("utf-8", "replace"), event="message")
    finally:
        upstream.release()  # an unfinished answer closes its connection rather than pool it
        session.call_ended(clock())
