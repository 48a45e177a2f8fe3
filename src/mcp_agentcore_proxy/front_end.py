"""MCP's Streamable HTTP on loopback, in front of the same forwarding as stdio.

One proxy serves many local clients: each ``initialize`` opens a client session with its
own ``Mcp-Session-Id``, its own router (so its own MCP session with the runtime, and in
``session`` mode its own runtime session) and its own bounded intake. Every message then
goes through the router exactly as a stdin line would. A request's answer, and every
message the runtime sends inside that answer (progress, logs, server requests about
it), come back on the SSE stream of its POST while that stream is open; messages of no
request's go to the client's GET stream.

What one client cannot do to another, or to the process:
- fill the proxy: a session's intake is bounded; past it a message gets HTTP 429 with a
  JSON-RPC error (``BUSY``) and ``Retry-After``, and nothing blocks;
- hold memory: a stream's outbox is bounded (``front_streams``), a POST body is refused
  with 413 past ``http_max_body`` before it is read, and the number of sessions is
  bounded (503 past it);
- hold the shutdown: on SIGTERM, calls in flight get the grace to finish, the rest are
  answered "shutting down", then every stream ends;
- linger: a session with no call and no stream for ``http_session_idle_timeout`` ends,
  with its runtime session.

Clients of MCP 2026-07-28 and later have no session (``front_modern``): their requests
are checked as a server of that revision checks them and go through one router, side by
side with the sessions of 2025-era clients, each under an id of the proxy's own. The
revision gives a request no client identity, so each request is isolated on its own:
- none waits for another's slot: up to ``stateless_calls`` run at once, and past them a
  request is refused at once (429, ``Retry-After``), never queued behind others' calls;
- its cancellation is its client's closing its response stream (the revision's rule for
  Streamable HTTP); a ``notifications/cancelled`` from such a client is accepted (202)
  and dropped, so no client can name, and end, another's request;
- its answer reaches only its own stream (``RequestIds``).

Security, as the transport's rules ask: loopback only by default; a request whose
``Origin`` is not a loopback page, or whose ``Host`` is not a loopback name (DNS
rebinding), is refused with 403.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from agentcore_wire.jsonrpc_errors import error_body, error_envelope
from agentcore_wire.limits import MAX_PAYLOAD
from agentcore_wire.loopback import host_name, is_loopback, is_loopback_origin
from mcp_agentcore_proxy import jsonrpc
from mcp_agentcore_proxy.errors import INTERNAL_ERROR, INVALID_REQUEST
from mcp_agentcore_proxy.front_modern import (
    RequestIds,
    answer_status,
    header_mismatch,
    is_modern_request,
    mismatch_error,
    passed_on,
)
from mcp_agentcore_proxy.front_streams import PING_INTERVAL, Outbox, event_stream
from mcp_agentcore_proxy.lifecycle import Call, Once
from mcp_agentcore_proxy.router import CANCELLED, Router
from mcp_agentcore_proxy.threads import start_daemon

logger = logging.getLogger(__name__)

MCP_SESSION_HEADER = "Mcp-Session-Id"
BUSY = -32005  # JSON-RPC error of a message refused because its session's intake is full
_STREAM_BOUND = 16  # messages waiting on one stream before its writer waits
_BACKLOG = 64  # messages of no request's kept for a client with no GET stream open
SHUTTING_DOWN_TEXT = "The proxy is shutting down"
SHUTTING_DOWN: dict[str, Any] = {"code": INTERNAL_ERROR, "message": SHUTTING_DOWN_TEXT}
SESSION_CLOSED: dict[str, Any] = {
    "code": INTERNAL_ERROR,
    "message": "The client session was closed",
}

RouterFactory = Callable[["ClientSession"], Router]
_T = TypeVar("_T")


def _error(
    status: int,
    message: str,
    code: int = INVALID_REQUEST,
    reply_id: object = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return JSONResponse(error_body(reply_id, code, message), status_code=status, headers=headers)


async def in_thread(work: Callable[[], _T]) -> _T:
    """Run blocking ``work`` on a thread of its own (never a shared pool) and await it."""
    loop = asyncio.get_running_loop()
    result: asyncio.Future[_T] = loop.create_future()

    def settle(outcome: Callable[[], None]) -> None:
        if not result.done():
            outcome()

    def run() -> None:
        try:
            value = work()
        except BaseException as exc:  # handed to the awaiting task
            error = exc
            outcome = lambda: result.set_exception(error)  # noqa: E731
        else:
            outcome = lambda: result.set_result(value)  # noqa: E731
        with contextlib.suppress(RuntimeError):  # the loop has stopped: nobody awaits
            loop.call_soon_threadsafe(settle, outcome)

    start_daemon(run, name="http-front-work")
    return await result


class ClientSession:
    """One HTTP client: its router, and the streams its messages come back on."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        make_router: RouterFactory,
        clock: Callable[[], float] = time.monotonic,
        ids: RequestIds | None = None,
        max_calls: int | None = None,
    ) -> None:
        self.id = uuid.uuid4().hex
        # The stateless session's own ids for its clients' requests (None: the client's).
        self.ids = ids
        self.max_calls = max_calls  # its router's calls at once (None: the configured)
        self._loop = loop
        self._clock = clock
        self._lock = threading.Lock()
        self._posts: dict[str, Outbox] = {}  # request id key -> its POST's stream
        self._general: Outbox | None = None
        self._backlog: collections.deque[bytes] = collections.deque(maxlen=_BACKLOG)
        self._last_active = clock()
        self._on_end: list[Callable[[], None]] = []
        self.router = make_router(self)

    def on_end(self, hook: Callable[[], None]) -> None:
        """Run ``hook`` once the session has ended (its runtime session's stop, say)."""
        self._on_end.append(hook)

    # -- the router's output: called from its threads ------------------------------------

    def write(self, line: bytes, call: str | None = None) -> bool:
        if call is not None:
            if self.ids is not None:
                line = self.ids.restore(call, line)
            with self._lock:
                stream = self._posts.get(call)
            if stream is None or not stream.put(line):  # waits while the client lags
                logger.debug("dropped a message of request %s: its stream is gone", call)
            return True
        with self._lock:
            general = self._general
            if general is None:
                self._backlog.append(line)
                return True
        if not general.offer(line):
            logger.warning("dropped a server message: the GET stream is not being read")
        return True

    def end(self, call: str) -> None:
        with self._lock:
            stream = self._posts.get(call)
        if stream is not None:
            stream.finish()

    # -- streams: on the event loop ------------------------------------------------------

    def expect(self, key: str) -> Outbox | None:
        """The stream a request's answer will come on; None if its id is still in flight."""
        with self._lock:
            if key in self._posts:
                return None
            stream = self._posts[key] = Outbox(self._loop, _STREAM_BOUND)
            return stream

    def forget(self, key: str, stream: Outbox) -> None:
        with self._lock:
            if self._posts.get(key) is stream:
                del self._posts[key]
            self._last_active = self._clock()
        if self.ids is not None:
            self.ids.drop(key)

    def open_general(self) -> Outbox | None:
        """The GET stream; None if one is already open."""
        with self._lock:
            if self._general is not None:
                return None
            self._general = Outbox(self._loop, _BACKLOG)
            while self._backlog:
                self._general.offer(self._backlog.popleft())
            return self._general

    def close_general(self, stream: Outbox) -> None:
        with self._lock:
            if self._general is stream:
                self._general = None
            self._last_active = self._clock()

    def touch(self) -> None:
        with self._lock:
            self._last_active = self._clock()

    def idle_for(self) -> float:
        """Seconds without a call in flight or a stream open (0 while it has either)."""
        with self._lock:
            if self._posts or self._general is not None:
                return 0.0
            since = self._last_active
        return 0.0 if self.router.in_flight() else self._clock() - since

    # -- the end -------------------------------------------------------------------------

    def close(self, deadline: float, error: dict[str, Any]) -> None:
        """Let calls finish until ``deadline``, answer the rest with ``error``, end every
        stream. Blocks: call it on a thread of its own."""
        cut: list[Call] = self.router.close(deadline)
        for call in cut:
            with self._lock:
                stream = self._posts.get(call.key)
            if stream is not None:
                stream.offer(jsonrpc.error_response(call.id, error))  # never waits on a client
                stream.finish()
        with self._lock:
            streams = [*self._posts.values(), self._general]
        for stream in streams:
            if stream is not None:
                stream.finish()
        for hook in self._on_end:
            hook()


class StreamableHttpFront:
    """The Starlette app of the front end, and its client sessions."""

    def __init__(
        self,
        make_router: RouterFactory,
        *,
        allow_any_host: bool,
        max_sessions: int = 64,
        idle_timeout: float = 900.0,
        max_body: int = MAX_PAYLOAD,
        clock: Callable[[], float] = time.monotonic,
        stateless_calls: int = 64,
    ) -> None:
        self._make_router = make_router
        self._stateless_calls = stateless_calls
        self._allow_any_host = allow_any_host
        self._max_sessions = max_sessions
        self._idle_timeout = idle_timeout
        self._max_body = max_body
        self._clock = clock
        self._sessions: dict[str, ClientSession] = {}
        self._stateless: ClientSession | None = None  # every 2026-07-28 client's
        self._draining = False
        self._reaper: asyncio.Task[None] | None = None
        methods = ["POST", "GET", "DELETE"]
        self.app = Starlette(routes=[Route("/mcp", self._endpoint, methods=methods)])

    async def drain(self, grace: float) -> None:
        """Refuse new requests, give calls in flight ``grace`` seconds, end every session."""
        self._draining = True
        if self._reaper is not None:
            self._reaper.cancel()
            await asyncio.gather(self._reaper, return_exceptions=True)
        sessions = list(self._sessions.values())
        self._sessions.clear()
        if self._stateless is not None:
            sessions.append(self._stateless)
        deadline = self._clock() + grace
        await asyncio.gather(*(self._end(s, deadline, SHUTTING_DOWN) for s in sessions))

    async def reap(self) -> None:
        """End the sessions idle past the timeout (each with its runtime session)."""
        idle = [s for s in self._sessions.values() if s.idle_for() >= self._idle_timeout]
        for session in idle:
            logger.info("client session %s idle for %gs; ending it", session.id, self._idle_timeout)
            self._sessions.pop(session.id, None)
        await asyncio.gather(*(self._end(s, self._clock(), SESSION_CLOSED) for s in idle))

    async def _reap_forever(self) -> None:
        while True:
            await asyncio.sleep(min(30.0, self._idle_timeout / 4))
            await self.reap()

    @staticmethod
    async def _end(session: ClientSession, deadline: float, error: dict[str, Any]) -> None:
        await in_thread(lambda: session.close(deadline, error))

    def _refusal(self, request: Request) -> Response | None:
        origin = request.headers.get("origin")
        if origin is not None and not is_loopback_origin(origin):
            return _error(403, f"Forbidden: requests from {origin} are not accepted")
        host = host_name(request.headers.get("host", ""))
        if not self._allow_any_host and not is_loopback(host):
            return _error(403, "Forbidden: Host is not a loopback name")
        if self._draining:
            return _error(503, SHUTTING_DOWN_TEXT, INTERNAL_ERROR)
        return None

    async def _endpoint(self, request: Request) -> Response:
        refused = self._refusal(request)
        if refused is not None:
            return refused
        if self._reaper is None:
            self._reaper = asyncio.ensure_future(self._reap_forever())
        if request.method == "POST":
            return await self._post(request)
        if is_modern_request(request.headers):
            # The revision has no GET stream and no session to end.
            return _error(
                405, "Method Not Allowed: MCP 2026-07-28 takes POST only", headers={"Allow": "POST"}
            )
        session = self._sessions.get(request.headers.get(MCP_SESSION_HEADER, ""))
        if session is None:
            return _error(
                400 if MCP_SESSION_HEADER not in request.headers else 404, "Unknown session"
            )
        session.touch()
        if request.method == "DELETE":
            del self._sessions[session.id]
            logger.info("client session %s closed by the client", session.id)
            await self._end(session, self._clock(), SESSION_CLOSED)
            return Response(status_code=204)
        if "text/event-stream" not in request.headers.get("accept", ""):
            return _error(406, "Not Acceptable: the GET stream is text/event-stream")
        stream = session.open_general()
        if stream is None:
            return _error(409, "Conflict: this session already has a GET stream")
        return event_stream(
            stream, {MCP_SESSION_HEADER: session.id}, lambda: session.close_general(stream)
        )

    async def _post(self, request: Request) -> Response:
        accept = request.headers.get("accept", "")
        json_ok, sse_ok = "application/json" in accept, "text/event-stream" in accept
        if not (json_ok or sse_ok):
            return _error(406, "Not Acceptable: accept application/json and text/event-stream")
        body = await self._body(request)
        if isinstance(body, Response):
            return body
        try:
            message = jsonrpc.parse_line(body)
        except jsonrpc.InvalidLine as exc:
            return JSONResponse(jsonrpc_error(exc), status_code=400)
        if is_modern_request(request.headers, message):
            return await self._post_modern(request, message)  # answered as JSON or SSE
        if not (json_ok and sse_ok):
            return _error(406, "Not Acceptable: accept application/json and text/event-stream")
        session = self._session_for(request, message)
        if isinstance(session, Response):
            return session
        session.touch()
        release = session.router.try_admit()
        if release is None:
            return _error(
                429,
                "Too many messages in flight in this client session: retry after some "
                "have been answered",
                BUSY,
                message.id,
                headers={"Retry-After": "1", MCP_SESSION_HEADER: session.id},
            )
        headers = {MCP_SESSION_HEADER: session.id}
        if message.kind is not jsonrpc.Kind.REQUEST:
            session.router.submit_message(message, release)
            return Response(status_code=202, headers=headers)
        key = jsonrpc.id_key(message.id)
        stream = session.expect(key)
        if stream is None:
            release()
            return _error(
                409, f"Conflict: request id {message.id!r} is still in flight", reply_id=None
            )
        session.router.submit_message(message, release)
        return event_stream(stream, headers, lambda: session.forget(key, stream))

    async def _post_modern(self, request: Request, message: jsonrpc.Message) -> Response:
        """A 2026-07-28 request: checked, then routed without a session. Its answer is one
        JSON body (with the revision's HTTP status for an error) when it comes first, else
        an SSE stream, as the client accepts."""
        problem = header_mismatch(request.headers, message)
        if problem is not None:
            logger.info("refused a %s request: header mismatch: %s", message.method, problem)
            return JSONResponse(mismatch_error(message.id, problem), status_code=400)
        if message.method == CANCELLED:
            # The revision cancels by closing the response stream; this names an id of a
            # request that is not the sender's to end (its ids are the proxy's own).
            logger.debug("dropped a notifications/cancelled of a 2026-07-28 client")
            return Response(status_code=202)
        if self._stateless is None:
            self._stateless = ClientSession(
                asyncio.get_running_loop(),
                self._make_router,
                self._clock,
                RequestIds(),
                max_calls=self._stateless_calls,
            )
        session = self._stateless
        is_request = message.kind is jsonrpc.Kind.REQUEST
        # Its router has a slot for each call it takes: past them, refused at once, never
        # queued behind other clients' calls.
        full = is_request and session.router.in_flight() >= self._stateless_calls
        release = None if full else session.router.try_admit()
        if release is None:
            return _error(
                429,
                "Too many requests in flight: retry after some have been answered",
                BUSY,
                message.id,
                headers={"Retry-After": "1"},
            )
        if not is_request:
            session.router.submit_message(message, release, passed_on(request.headers))
            return Response(status_code=202)
        assert session.ids is not None
        key, owned = session.ids.own(message)
        stream = session.expect(key)
        assert stream is not None  # the key is new
        session.router.submit_message(owned, release, passed_on(request.headers))

        def ended() -> None:
            # Still in flight: the client closed its stream, which cancels the request.
            session.router.cancel(key, "the client closed the request's stream")
            session.forget(key, stream)

        done = Once(ended)
        accept = request.headers.get("accept", "")
        try:
            first = await asyncio.wait_for(stream.get(), PING_INTERVAL)
        except TimeoutError:
            first = None  # a long call: the stream's pings keep the client waiting
        else:
            if first is None:  # the stream ended with no answer: cut at shutdown
                done()
                return _error(503, SHUTTING_DOWN_TEXT, INTERNAL_ERROR, message.id)
            status = answer_status(first)
            if status is not None and "application/json" in accept:
                stream.close()
                done()
                return Response(first, status_code=status, media_type="application/json")
        if "text/event-stream" in accept:
            return event_stream(stream, {}, done, first)
        return StreamingResponse(_last_line(stream, done, first), media_type="application/json")

    async def _body(self, request: Request) -> bytes | Response:
        """The POST's body, or 413 past the limit (before reading, when it says its size)."""
        too_large = _error(413, f"Payload Too Large: at most {self._max_body} bytes")
        length = request.headers.get("content-length", "")
        if length.isdigit() and int(length) > self._max_body:
            return too_large
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > self._max_body:
                    return too_large
                chunks.append(chunk)
        except ClientDisconnect:
            return Response(status_code=400)
        return b"".join(chunks)

    def _session_for(self, request: Request, message: jsonrpc.Message) -> ClientSession | Response:
        session_id = request.headers.get(MCP_SESSION_HEADER)
        if session_id is not None:
            found = self._sessions.get(session_id)
            return found or _error(404, "Session not found: initialize again")
        if message.method != "initialize":
            return _error(400, "Bad Request: no Mcp-Session-Id (initialize first)")
        if len(self._sessions) >= self._max_sessions:
            return _error(
                503,
                f"Service Unavailable: this proxy serves at most {self._max_sessions} client "
                "sessions; end one (DELETE) or raise AGENTCORE_HTTP_MAX_SESSIONS",
                INTERNAL_ERROR,
                message.id,
            )
        session = ClientSession(asyncio.get_running_loop(), self._make_router, self._clock)
        self._sessions[session.id] = session
        logger.info("client session %s opened", session.id)
        return session


async def _last_line(
    stream: Outbox, done: Callable[[], None], first: bytes | None
) -> AsyncIterator[bytes]:
    """A request's answer as one JSON body: its response (what came before is dropped,
    as a JSON answer has room for one message only)."""
    last = first or b""
    try:
        while (line := await stream.get()) is not None:
            last = line
    finally:
        stream.close()
        done()
    yield last


def jsonrpc_error(exc: jsonrpc.InvalidLine) -> dict[str, Any]:
    return error_envelope(exc.reply_id, exc.to_jsonrpc())
