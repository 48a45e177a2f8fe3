"""MCP's Streamable HTTP on loopback, in front of the same forwarding as stdio.

One proxy serves many local clients: each ``initialize`` opens a client session with its
own ``Mcp-Session-Id`` and its own router (so its own MCP session with the runtime), and
every message then goes through the router exactly as a stdin line would. A request's
answer, and the server's messages about it (progress carries the request's token), come
back on the SSE stream of its POST; other server messages go to the client's GET stream.

Security, as the transport's rules ask: loopback only by default; a request whose
``Origin`` is not a loopback page, or whose ``Host`` is not a loopback name (DNS
rebinding), is refused with 403.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from mcp_agentcore_proxy import jsonrpc
from mcp_agentcore_proxy.errors import INVALID_REQUEST
from mcp_agentcore_proxy.loopback import host_name, is_loopback, is_loopback_origin
from mcp_agentcore_proxy.router import Router

logger = logging.getLogger(__name__)

SESSION_HEADER = "Mcp-Session-Id"
_BACKLOG = 256  # server messages kept for a client with no stream open

RouterFactory = Callable[["ClientSession"], Router]


def _error(status: int, message: str, code: int = INVALID_REQUEST) -> Response:
    body = {"jsonrpc": "2.0", "id": None, "error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status)


class ClientSession:
    """One HTTP client: its router, and the streams its messages come back on."""

    def __init__(self, loop: asyncio.AbstractEventLoop, make_router: RouterFactory) -> None:
        self.id = uuid.uuid4().hex
        self._loop = loop
        self._answers: dict[str, asyncio.Queue[bytes | None]] = {}
        self._tokens: dict[str, str] = {}  # progress token -> the request it reports on
        self._general: asyncio.Queue[bytes | None] | None = None
        self._backlog: collections.deque[bytes] = collections.deque(maxlen=_BACKLOG)
        self.router = make_router(self)

    # The router's output: called from its threads, handled on the event loop.
    def write(self, line: bytes) -> bool:
        try:
            self._loop.call_soon_threadsafe(self._deliver, line)
        except RuntimeError:  # the server has stopped: its clients are gone
            return False
        return True

    def expect(self, message: jsonrpc.Message) -> asyncio.Queue[bytes | None]:
        """The stream a request's answer (and its progress) will come on."""
        stream: asyncio.Queue[bytes | None] = asyncio.Queue()
        key = jsonrpc.id_key(message.id)
        self._answers[key] = stream
        meta = message.params.get("_meta")
        token = meta.get("progressToken") if isinstance(meta, dict) else None
        if token is not None:
            self._tokens[jsonrpc.id_key(token)] = key
        return stream

    def forget(self, message: jsonrpc.Message) -> None:
        self._answers.pop(jsonrpc.id_key(message.id), None)

    def open_general(self) -> asyncio.Queue[bytes | None] | None:
        """The GET stream; None if one is already open."""
        if self._general is not None:
            return None
        self._general = asyncio.Queue()
        while self._backlog:
            self._general.put_nowait(self._backlog.popleft())
        return self._general

    def close_general(self, stream: asyncio.Queue[bytes | None]) -> None:
        if self._general is stream:
            self._general = None

    def _deliver(self, line: bytes) -> None:
        try:
            message = json.loads(line)
        except ValueError:
            return
        if not isinstance(message, dict):
            return
        if "method" not in message and "id" in message:  # a response ends its stream
            stream = self._answers.pop(jsonrpc.id_key(message["id"]), None)
            if stream is not None:
                stream.put_nowait(line)
                stream.put_nowait(None)
                self._tokens = {t: k for t, k in self._tokens.items() if k in self._answers}
            else:
                logger.warning("a response for id %s has no stream to go on", message["id"])
            return
        params = message.get("params")
        token = params.get("progressToken") if isinstance(params, dict) else None
        owner = (
            self._answers.get(self._tokens.get(jsonrpc.id_key(token), ""))
            if token is not None
            else None
        )
        target = owner or self._general or next(iter(self._answers.values()), None)
        if target is not None:
            target.put_nowait(line)
        else:
            self._backlog.append(line)

    def close(self, grace: float) -> None:
        """End the router (calls in flight get ``grace``); from any thread."""
        self.router.close(time.monotonic() + grace)
        for stream in [*self._answers.values(), self._general]:
            if stream is not None:
                with contextlib.suppress(RuntimeError):
                    self._loop.call_soon_threadsafe(stream.put_nowait, None)


class StreamableHttpFront:
    """The Starlette app of the front end, and its client sessions."""

    def __init__(self, make_router: RouterFactory, grace: float, allow_any_host: bool) -> None:
        self._make_router = make_router
        self._grace = grace
        self._allow_any_host = allow_any_host
        self._sessions: dict[str, ClientSession] = {}
        methods = ["POST", "GET", "DELETE"]
        self.app = Starlette(routes=[Route("/mcp", self._endpoint, methods=methods)])

    def close(self, grace: float) -> None:
        """End every client session; calls in flight get ``grace`` seconds."""
        for session in list(self._sessions.values()):
            session.close(grace)
        self._sessions.clear()

    def _refusal(self, request: Request) -> Response | None:
        origin = request.headers.get("origin")
        if origin is not None and not is_loopback_origin(origin):
            return _error(403, f"Forbidden: requests from {origin} are not accepted")
        host = host_name(request.headers.get("host", ""))
        if not self._allow_any_host and not is_loopback(host):
            return _error(403, "Forbidden: Host is not a loopback name")
        return None

    async def _endpoint(self, request: Request) -> Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        if request.method == "POST":
            return await self._post(request)
        session = self._sessions.get(request.headers.get(SESSION_HEADER, ""))
        if session is None:
            return _error(400 if SESSION_HEADER not in request.headers else 404, "Unknown session")
        if request.method == "DELETE":
            del self._sessions[session.id]
            await asyncio.to_thread(session.close, self._grace)
            return Response(status_code=204)
        if "text/event-stream" not in request.headers.get("accept", ""):
            return _error(406, "Not Acceptable: the GET stream is text/event-stream")
        stream = session.open_general()
        if stream is None:
            return _error(409, "Conflict: this session already has a GET stream")
        return EventSourceResponse(
            self._events(stream, lambda: session.close_general(stream)),
            headers={SESSION_HEADER: session.id},
        )

    async def _post(self, request: Request) -> Response:
        accept = request.headers.get("accept", "")
        if "application/json" not in accept or "text/event-stream" not in accept:
            return _error(406, "Not Acceptable: accept application/json and text/event-stream")
        body = await request.body()
        try:
            message = jsonrpc.parse_line(body)
        except jsonrpc.InvalidLine as exc:
            return JSONResponse(jsonrpc_error(exc), status_code=400)
        session_id = request.headers.get(SESSION_HEADER)
        if session_id is None:
            if message.method != "initialize":
                return _error(400, "Bad Request: no Mcp-Session-Id (initialize first)")
            session = ClientSession(asyncio.get_running_loop(), self._make_router)
            self._sessions[session.id] = session
            logger.info("client session %s opened", session.id)
        elif (found := self._sessions.get(session_id)) is None:
            return _error(404, "Session not found: initialize again")
        else:
            session = found
        headers = {SESSION_HEADER: session.id}
        if message.kind is not jsonrpc.Kind.REQUEST:
            await asyncio.to_thread(session.router.submit, body)
            return Response(status_code=202, headers=headers)
        stream = session.expect(message)
        await asyncio.to_thread(session.router.submit, body)
        return EventSourceResponse(
            self._events(stream, lambda: session.forget(message)), headers=headers
        )

    @staticmethod
    async def _events(
        stream: asyncio.Queue[bytes | None], done: Callable[[], None]
    ) -> AsyncIterator[ServerSentEvent]:
        try:
            while (line := await stream.get()) is not None:
                yield ServerSentEvent(data=line.decode(), event="message")
        finally:
            done()


def jsonrpc_error(exc: jsonrpc.InvalidLine) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": exc.reply_id, "error": exc.to_jsonrpc()}
