"""WebSocket streams: ``/runtimes/{arn}/ws`` relayed to the session's instance at ``/ws``.

As AgentCore's: the upgrade is authenticated by SigV4 headers, a SigV4 presigned URL
(valid 300 s at most) or, for a runtime with a JWT authorizer, a bearer token; the runtime
session comes in the session header or the query parameter of the same name. A refused
upgrade is answered with the AWS error, as an HTTP response, before any WebSocket opens.
Messages then pass both ways unchanged until either side closes.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import contextlib
import logging

import aiohttp
from starlette.websockets import WebSocket, WebSocketDisconnect

from agentcore_emulator import headers
from agentcore_emulator.config import EmulatorConfig
from agentcore_emulator.data_plane import authorized, session_id_from
from agentcore_emulator.error_responses import error_response
from agentcore_emulator.exceptions import RuntimeClientError
from agentcore_emulator.relay import REQUEST_ID_HEADER, TOO_SLOW
from agentcore_emulator.sessions import RuntimeSession
from agentcore_emulator.wire import emulator_of, note, request_id_of
from agentcore_wire.aws_errors import AwsError
from agentcore_wire.header_rules import RUNTIME_SESSION_HEADER

logger = logging.getLogger(__name__)

BEARER_SUBPROTOCOL = "base64UrlBearerAuthorization"


def subprotocol_bearer(websocket: WebSocket) -> str | None:
    """A bearer token offered as a subprotocol, ``base64UrlBearerAuthorization.<base64url>``,
    as a browser must send it (it can set no header on an upgrade), as ``Bearer <token>``."""
    prefix = BEARER_SUBPROTOCOL + "."
    for offered in websocket.scope.get("subprotocols", []):
        if offered.startswith(prefix):
            encoded = offered[len(prefix) :]
            try:
                token = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
            except (binascii.Error, UnicodeDecodeError):
                token = ""  # refused as a malformed token
            return f"Bearer {token}"
    return None


async def runtime_ws(websocket: WebSocket) -> None:
    """A WebSocket to the runtime session's instance."""
    emulator = emulator_of(websocket)
    bearer = subprotocol_bearer(websocket)
    try:
        spec, _ = await authorized(websocket, b"", bearer)
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
        RUNTIME_SESSION_HEADER: session_id,
        REQUEST_ID_HEADER: request_id_of(websocket),
    }
    session.call_started()  # an open stream keeps the session from idling out
    try:
        upstream = await _open_upstream(emulator.web, session, upstream_headers, emulator.config)
        if isinstance(upstream, AwsError):
            await websocket.send_denial_response(error_response(upstream, request_id_of(websocket)))
            return
        async with upstream:
            await websocket.accept(
                # The scheme's own name answers a token offered as a subprotocol.
                subprotocol=BEARER_SUBPROTOCOL if bearer is not None else None,
                headers=[(RUNTIME_SESSION_HEADER.encode(), session_id.encode())],
            )
            await _pump(websocket, upstream, session)
    finally:
        session.call_ended(emulator.sessions.clock())


async def _open_upstream(
    web: aiohttp.ClientSession,
    session: RuntimeSession,
    upstream_headers: dict[str, str],
    config: EmulatorConfig,
) -> aiohttp.ClientWebSocketResponse | AwsError:
    """The instance's side of the stream, or the error for the caller: never a hang.

    An instance that does not finish the handshake within the synchronous request limit
    has not answered, as AgentCore reports a request it does not answer.
    """
    try:
        async with asyncio.timeout(config.request_timeout):
            return await web.ws_connect(session.instance.base_url + "/ws", headers=upstream_headers)
    except TimeoutError:
        logger.warning(
            "instance of session %s did not answer its WebSocket upgrade within %gs",
            session.session_id,
            config.request_timeout,
        )
        return RuntimeClientError(TOO_SLOW.format(int(config.request_timeout)))
    except aiohttp.ClientError as exc:  # a refused handshake included
        logger.warning("instance of session %s refused its WebSocket: %r", session.session_id, exc)
        return RuntimeClientError.from_container(502)


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
