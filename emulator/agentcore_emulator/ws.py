"""WebSocket streams: ``/runtimes/{arn}/ws`` relayed to the session's instance at ``/ws``.

As AgentCore's: the upgrade is authenticated by SigV4 headers, a SigV4 presigned URL
(valid 300 s at most) or, for a runtime with a JWT authorizer, a bearer token; the runtime
session comes in the session header or the query parameter of the same name. A refused
upgrade is answered with the AWS error, as an HTTP response, before any WebSocket opens.
Messages then pass both ways unchanged until either side closes.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aiohttp
from starlette.websockets import WebSocket, WebSocketDisconnect, WebSocketState

from agentcore_emulator import headers
from agentcore_emulator.data_plane import authorized, session_id_from
from agentcore_emulator.errors import error_response
from agentcore_emulator.exceptions import RuntimeClientError
from agentcore_emulator.relay import REQUEST_ID_HEADER, SESSION_HEADER
from agentcore_emulator.sessions import RuntimeSession
from agentcore_emulator.wire import emulator_of, note, request_id_of
from mcp_agentcore_proxy.aws_errors import AwsError

logger = logging.getLogger(__name__)


async def runtime_ws(websocket: WebSocket) -> None:
    """A WebSocket to the runtime session's instance."""
    emulator = emulator_of(websocket)
    try:
        spec, _ = await authorized(websocket, b"")
        session_id = session_id_from(websocket) or emulator.sessions.new_session_id()
        forwarded = headers.forwarded(websocket.headers, spec.request_headers)
        emulator.runtimes.admit(spec)
        session = await emulator.sessions.acquire(spec, session_id)
    except AwsError as exc:
        await websocket.send_denial_response(error_response(exc, request_id_of(websocket)))
        return
    note(websocket, runtime=spec.name, session=session_id, method="websocket")
    upstream_headers = {
        **forwarded,
        SESSION_HEADER: session_id,
        REQUEST_ID_HEADER: request_id_of(websocket),
    }
    session.call_started()  # an open stream keeps the session from idling out
    try:
        async with emulator.web.ws_connect(
            session.instance.base_url + "/ws", headers=upstream_headers
        ) as upstream:
            await websocket.accept(headers=[(SESSION_HEADER.encode(), session_id.encode())])
            await _pump(websocket, upstream, session)
    except aiohttp.ClientError as exc:  # a refused handshake included
        logger.warning("instance of session %s refused its WebSocket: %r", session_id, exc)
        if websocket.client_state is WebSocketState.CONNECTING:
            error = RuntimeClientError.from_container(502)
            await websocket.send_denial_response(error_response(error, request_id_of(websocket)))
    finally:
        session.call_ended(emulator.sessions.clock())


async def _pump(
    websocket: WebSocket, upstream: aiohttp.ClientWebSocketResponse, session: RuntimeSession
) -> None:
    async def from_caller() -> None:
        with contextlib.suppress(WebSocketDisconnect):
            while True:
                message = await websocket.receive()
                if message["type"] == "websocket.disconnect":
                    break
                if message.get("text") is not None:
                    await upstream.send_str(message["text"])
                elif message.get("bytes") is not None:
                    await upstream.send_bytes(message["bytes"])
        await upstream.close()

    async def from_instance() -> None:
        async for message in upstream:
            if message.type == aiohttp.WSMsgType.TEXT:
                await websocket.send_text(message.data)
            elif message.type == aiohttp.WSMsgType.BINARY:
                await websocket.send_bytes(message.data)
        with contextlib.suppress(RuntimeError):  # the caller may have closed first
            await websocket.close(code=upstream.close_code or 1000)

    tasks = [asyncio.ensure_future(from_caller()), asyncio.ensure_future(from_instance())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        logger.debug("WebSocket of session %s closed", session.session_id)
