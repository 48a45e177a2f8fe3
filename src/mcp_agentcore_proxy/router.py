"""Routes client messages to the runtime and answers back, many in flight at once.

The router owns intake (one line at a time, bounded), the order in which messages
reach the runtime, the table of calls in flight, and shutdown. A call's own life is
``lifecycle.Call``; recovering a lost MCP session is ``recovery``.

Rules, each proven in tests/proxy/test_router.py:
- A request goes at once; nothing but the handshake goes before ``initialize`` is
  answered, and nothing but the handshake before ``notifications/initialized`` is sent.
- A notification goes after every message read before it has been sent: a request
  once it is written in full to its connection, a notification once it is answered
  (202). A cancellation follows its request only. (Messages travel on separate
  connections, so a server may still start an earlier request after a later
  notification; only the runtime's answer could prove otherwise, and a JSON-response
  server answers a request only when it is done.)
- The client's answers to the server's own requests wait for nothing.
- Every request with an id gets exactly one response line, or none once cancelled;
  its id is free again before that line is written.
- An answer's stream carries the response to its own request; any other response
  in it is dropped with a warning.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable

from agentcore_wire.jsonrpc_errors import CONTAINER_ERROR_CODE, error_envelope
from agentcore_wire.mcp_revisions import HEADER_MISMATCH, is_modern
from agentcore_wire.redaction import redact
from mcp_agentcore_proxy import jsonrpc
from mcp_agentcore_proxy.deadlines import Deadlines
from mcp_agentcore_proxy.errors import (
    INTERNAL_ERROR,
    ProxyError,
    RuntimeServiceError,
    StreamInterruptedError,
)
from mcp_agentcore_proxy.jsonrpc import Kind, Message
from mcp_agentcore_proxy.lifecycle import Call, CallState, Once
from mcp_agentcore_proxy.mcp_headers import ClientHeaders
from mcp_agentcore_proxy.mcp_session import (
    McpSession,
    SessionSnapshot,
    StandardHeaders,
    is_handshake,
)
from mcp_agentcore_proxy.ordering import SendOrder
from mcp_agentcore_proxy.rate import no_pacing
from mcp_agentcore_proxy.recovery import (
    SessionLostError,
    SessionRecovery,
    is_session_lost,
)
from mcp_agentcore_proxy.runtime import InvokeHeaders, Runtime, Streaming
from mcp_agentcore_proxy.stdio import Output
from mcp_agentcore_proxy.threads import Serial, Workers
from mcp_agentcore_proxy.tool_headers import ToolHeaders
from mcp_agentcore_proxy.tool_policy import ToolPolicy
from mcp_agentcore_proxy.trace import NO_TRACE, TraceContext

logger = logging.getLogger(__name__)

CANCELLED = "notifications/cancelled"
INITIALIZED_METHOD = "notifications/initialized"
# Messages read but not yet finished, beyond the requests that may run at once: enough
# for notifications and replies to flow while every request slot is busy.
_INTAKE_HEADROOM = 64


_Gate = threading.Event | None
_Queued = tuple[Message, int, _Gate, _Gate, Callable[[], None]]


@dataclasses.dataclass(frozen=True)
class _Exchange:
    """One request's exchange with the runtime: what its decisions go by, fixed as it goes."""

    call: Call
    standard: StandardHeaders
    snapshot: SessionSnapshot
    handshake: bool  # an initialize: its session is a new one
    replayed: bool  # sent again on a new session after the last was lost

    @property
    def modern(self) -> bool:
        return self.standard.modern

    @property
    def no_replay(self) -> bool:
        """A lost session is not recovered: a handshake, a replay, or a revision without
        sessions (whose 404 is the server's answer)."""
        return self.handshake or self.replayed or self.modern


class _HeadersRefused(Exception):
    """The server answered a tools/call with HeaderMismatch: its tools may have changed."""


class Router:
    """Dispatches messages in the order read; writes each answer the moment it arrives."""

    def __init__(
        self,
        runtime: Runtime,
        writer: Output,
        runtime_session_id: Callable[[], str],
        max_concurrency: int = 32,
        session_done: Callable[[str], None] = lambda _: None,
        trace: TraceContext = NO_TRACE,
        pace: Callable[[threading.Event | None], bool] = no_pacing,
        workers: Workers | None = None,
        policy: ToolPolicy | None = None,
        tool_timeout: float | None = None,
    ) -> None:
        self._runtime = runtime
        self._policy = policy or ToolPolicy()
        self._tool_timeout = tool_timeout
        # Each message's work runs on a worker kept for the next: a thread's start costs
        # about as much as the rest of the proxy's part of a call. Daemon threads: a
        # runtime that never answers must not hold the process at exit. Given: shared
        # with other routers (the HTTP front end's clients), and not this one's to close.
        self._owns_workers = workers is None
        self._workers = workers or Workers("router-worker")
        self._pace = pace
        self._trace = trace
        self._writer = writer
        self._runtime_session_id = runtime_session_id
        self._session_done = session_done
        self._mcp = McpSession()
        self._tools = ToolHeaders()
        self._recovery = SessionRecovery(runtime, self._mcp, runtime_session_id, writer.write)
        self._order = SendOrder()
        self._calls: dict[str, Call] = {}
        self._lock = threading.Lock()
        self._slots = threading.Semaphore(max_concurrency)
        self._intake = threading.Semaphore(max_concurrency + _INTAKE_HEADROOM)
        # What messages must wait for: the initialize answer, then `initialized` sent.
        self._lifecycle_gate: threading.Event | None = None
        # Notifications go out one after another, in order; requests beyond the free
        # slots wait their turn, not in a thread each. Each line is served by a worker
        # only while it has items: a router with nothing to do holds no thread.
        self._notifications: Serial[_Queued] = Serial(
            self._workers, lambda item: self._run_message(*item)
        )
        self._waiting: Serial[tuple[Call, int, _Gate]] = Serial(
            self._workers, self._dispatch_waiting
        )
        self._dispatch_lock = threading.Lock()
        self._backlog = 0
        self._deadlines = Deadlines(self._workers)  # holds no thread until one is armed

    @property
    def replays(self) -> int:
        return self._recovery.replays

    # -- intake (the stdin thread) ------------------------------------------------------

    def admit(self) -> Callable[[], None]:
        """Wait until one more message may be read; returns what frees its place."""
        self._intake.acquire()
        return Once(self._intake.release)

    def try_admit(self) -> Callable[[], None] | None:
        """One more message's place if there is one now (never waits); else None."""
        if not self._intake.acquire(blocking=False):
            return None
        return Once(self._intake.release)

    def submit(
        self,
        line: bytes,
        release: Callable[[], None] | None = None,
        headers: ClientHeaders | None = None,
    ) -> None:
        """Take one line from stdin; blocks only while too many messages are unfinished.

        ``headers``: an HTTP client's own checked headers of a request, passed on as they
        are (its server checks them); None: the proxy builds them (stdio).
        """
        release = release or self.admit()
        try:
            message = jsonrpc.parse_line(line)
        except jsonrpc.InvalidLine as exc:
            logger.warning("rejected a line from stdin: %s", exc)
            refusal = jsonrpc.error_response(exc.reply_id, exc.to_jsonrpc())
            self._workers.run(self._tell, refusal, release)
            return
        self.submit_message(message, release, headers)

    def submit_message(
        self,
        message: Message,
        release: Callable[[], None],
        headers: ClientHeaders | None = None,
    ) -> None:
        """Take one message parsed already (an HTTP client's): never parsed again."""
        gate = self._lifecycle_gate
        if message.kind is Kind.REQUEST:
            self._submit_request(message, gate, release, headers)
        elif message.kind is Kind.RESPONSE:
            number = self._order.admit()
            self._workers.run(self._run_message, message, number, gate, None, release)
        elif message.method == CANCELLED:
            self._submit_cancellation(message, release)
        else:
            number = self._order.admit()
            sent = None
            if message.method == INITIALIZED_METHOD:
                sent = threading.Event()
                self._lifecycle_gate = sent
            # Notifications go one after another anyway (each after the one before is
            # accepted): one thread sends them all, however many wait.
            self._notifications.put((message, number, gate, sent, release))

    def cancel(self, key: str, reason: str) -> None:
        """Cancel request ``key`` if it is still in flight, as the client's own
        ``notifications/cancelled`` would (its client went away without one)."""
        with self._lock:
            call = self._calls.get(key)
        if call is None:
            return  # answered already: nothing to cancel, nothing to tell the runtime
        cancel = jsonrpc.Message.notification(CANCELLED, {"requestId": call.id, "reason": reason})
        self.submit_message(cancel, lambda: None)

    def _submit_request(
        self,
        message: Message,
        gate: threading.Event | None,
        release: Callable[[], None],
        headers: ClientHeaders | None = None,
    ) -> None:
        call = Call(self._policy.outgoing(message), release, headers)
        with self._lock:
            taken = call.key in self._calls
            if not taken:
                self._calls[call.key] = call
        if taken:
            # Answering it would put two responses with one id on stdout.
            logger.warning("ignored request id=%r: that id is still in flight", message.id)
            notice = jsonrpc.notification(
                "notifications/message",
                {
                    "level": "error",
                    "logger": "mcp-agentcore-proxy",
                    "data": f"Ignored a {message.method} request: its id {message.id!r} is "
                    "still in use by a request in flight.",
                },
            )
            self._workers.run(self._tell, notice, release)
            return
        if self._tool_timeout and message.method == "tools/call":
            timeout = self._tool_timeout
            disarm = self._deadlines.arm(
                timeout, lambda: self._workers.run(self._time_out, call, timeout)
            )
            call.on_final(disarm)
        number = self._order.admit()
        if is_handshake(message):
            self._mcp.begin_handshake(message)
            self._lifecycle_gate = call.done
            gate = None
        self._dispatch(call, number, gate)

    def _dispatch(self, call: Call, number: int, gate: _Gate) -> None:
        """Start the call's worker now if a slot is free, else queue it (in order)."""
        with self._dispatch_lock:
            if self._backlog == 0 and self._slots.acquire(blocking=False):
                self._workers.run(self._run_request, call, number, gate)
                return
            self._backlog += 1
        self._waiting.put((call, number, gate))

    def _dispatch_waiting(self, item: tuple[Call, int, _Gate]) -> None:
        """Start a queued call once a slot frees up (the queue's own worker waits)."""
        call, number, gate = item
        if call.final:  # cancelled while it waited: it never goes
            with self._dispatch_lock:
                self._backlog -= 1
            call.sending_over()
            self._order.mark_sent(number)
            call.release()
            return
        self._slots.acquire()
        with self._dispatch_lock:
            self._backlog -= 1
        self._workers.run(self._run_request, call, number, gate)

    def _submit_cancellation(self, message: Message, release: Callable[[], None]) -> None:
        with self._lock:
            call = self._calls.get(jsonrpc.id_key(message.params.get("requestId")))
        number = self._order.admit()
        if call is None:
            # Already answered or never seen: the runtime may still want to know.
            self._workers.run(self._run_message, message, number, None, None, release)
            return
        ended = call.interrupt()
        if ended is None:
            self._workers.run(self._run_message, message, number, None, None, release)
            return
        was_sent, answer = ended
        self._end(call)
        self._writer.end(call.key)  # a cancelled request is not answered
        call.release()  # its worker may wait on the runtime for long yet
        logger.info("cancelled request id=%r", call.id)
        if answer is not None:
            answer.close()  # stop reading; the runtime sees the connection close too
        if not was_sent:
            self._order.mark_sent(number)  # the runtime never saw the request
            release()
            return
        self._workers.run(self._run_message, message, number, call.sent, None, release)

    def _time_out(self, call: Call, timeout: float) -> None:
        """A tools/call past ``--tool-timeout``: the client gets a tool error (as a tool
        that failed), the runtime the cancellation a client would have sent."""
        ended = call.interrupt(CallState.FAILED)
        if ended is None:
            return  # answered or cancelled just before
        was_sent, answer = ended
        name = call.message.params.get("name")
        logger.warning("tool call %r (id=%r) timed out after %g s", name, call.id, timeout)
        self._end(call)
        text = (
            f"Tool call {name!r} timed out after {timeout:g} s (the proxy's --tool-timeout) "
            "and was cancelled."
        )
        result = {"content": [{"type": "text", "text": text}], "isError": True}
        self._writer.write(
            jsonrpc.dumps({"jsonrpc": "2.0", "id": call.id, "result": result}), call.key
        )
        self._writer.end(call.key)
        call.release()
        if answer is not None:
            answer.close()
        if was_sent:
            reason = f"timed out after {timeout:g} s"
            cancel = jsonrpc.Message.notification(
                CANCELLED, {"requestId": call.id, "reason": reason}
            )
            number = self._order.admit()
            self._run_message(cancel, number, call.sent, None, lambda: None)

    # -- workers ------------------------------------------------------------------------

    def _run_request(self, call: Call, number: int, gate: _Gate) -> None:
        started = time.monotonic()
        free_slot = Once(self._slots.release)  # taken by _dispatch for this call
        call.on_final(free_slot)  # a cancelled call frees its slot at once
        try:
            if gate is not None:
                gate.wait()
            try:
                self._exchange(call, number)
            except SessionLostError as lost:
                self._recovery.recover(lost.generation, call.id)
                self._exchange(call, number, replayed=True)
            except _HeadersRefused:
                # As the revision asks of a client: list the tools again, then send the
                # call once more with the headers that listing gives (the server ran
                # nothing: it checks headers before it calls a tool).
                self._tools.list_all(self._ask, call.message, again=True)
                self._exchange(call, number, replayed=True)
            finally:
                free_slot()
        except ProxyError as exc:
            if call.final:  # cancelled or cut at shutdown: nobody waits for this
                logger.info(
                    "request %s ended after %s: %s", _describe(call.message), call.state.value, exc
                )
            else:
                logger.warning("request %s failed: %s", _describe(call.message), exc)
            self._respond(call, jsonrpc.error_response(call.id, exc.to_jsonrpc()), failed=True)
        except Exception as exc:  # a bug must still answer the request
            logger.error(
                "request %s failed unexpectedly: %s",
                _describe(call.message),
                exc,
                exc_info=logger.isEnabledFor(logging.DEBUG),
            )
            error = {"code": INTERNAL_ERROR, "message": redact(f"Internal proxy error: {exc}")}
            self._respond(call, jsonrpc.error_response(call.id, error), failed=True)
        finally:
            call.sending_over()
            self._order.mark_sent(number)
            call.release()
            if logger.isEnabledFor(logging.INFO):  # once per call: not even its arguments
                logger.info(
                    "%s -> %s in %.0f ms",
                    _describe(call.message),
                    call.state.value,
                    (time.monotonic() - started) * 1000,
                )

    def _exchange(self, call: Call, number: int, replayed: bool = False) -> None:
        """Send one request and relay its answer: each message of it taken on its own."""
        self._policy.check_call(call.message, self._ask)
        exchange = self._prepare(call, replayed)
        if exchange is None:
            return  # cancelled or shutting down before it went
        session_id, answer = self._send(exchange, number)
        try:
            if not exchange.modern:
                self._mcp.observe(answer.mcp_session_id, exchange.snapshot.generation)
            if not call.attach(answer):
                return  # cancelled while the runtime was answering
            for payload in answer.payloads():
                self._take(exchange, payload)
        finally:
            answer.close()
            self._session_done(session_id)
        if not call.final:
            raise StreamInterruptedError(
                f"The runtime's answer ended before the response to request id {call.id!r}"
            )

    def _prepare(self, call: Call, replayed: bool) -> _Exchange | None:
        """What the exchange decides by, once the call may go; None if it may not."""
        standard = self._mcp.headers_for(call.message)
        if call.headers is not None and call.headers.version is not None:
            standard = dataclasses.replace(standard, version=call.headers.version)
        if standard.modern and call.message.method == "tools/call" and call.headers is None:
            self._tools.list_unless_known(self._ask, call.message)
        if not self._pace(call.done) or not call.begin_send():
            return None
        handshake = is_handshake(call.message)
        return _Exchange(call, standard, self._mcp.snapshot(), handshake, replayed)

    def _send(self, exchange: _Exchange, number: int) -> tuple[str, Streaming]:
        call = exchange.call

        def on_sent() -> None:
            call.mark_sent()
            self._order.mark_sent(number)

        return self._invoke(
            call.message,
            exchange.snapshot,
            exchange.handshake,
            on_sent,
            may_recover=not exchange.no_replay,
            client_headers=call.headers,
            standard=exchange.standard,
        )

    def _take(self, exchange: _Exchange, payload: bytes) -> None:
        """One message of the runtime's answer: passed on, dropped, or the response."""
        call = exchange.call
        reply = jsonrpc.parse_payload(payload)
        if reply is None:
            logger.warning("dropped a non-JSON-RPC event from the runtime (%d bytes)", len(payload))
            return
        if reply.kind is not Kind.RESPONSE:  # progress, a log, a server request about it
            if not call.final:
                self._writer.write(reply.raw, call.key)
            return
        if reply.id is None and isinstance(reply.body.get("error"), dict):
            reply = self._envelope(reply, call, exchange.snapshot, exchange.no_replay)
        if jsonrpc.id_key(reply.id) != call.key:
            logger.warning(
                "dropped a response for id=%r in the stream of request id=%r", reply.id, call.id
            )
            return
        self._respond(call, self._learn(exchange, reply).raw)

    def _learn(self, exchange: _Exchange, reply: Message) -> Message:
        """The response as the client gets it, after the proxy learns what it teaches: the
        protocol version agreed, a modern server's tools and their header marks."""
        request = exchange.call.message
        if exchange.handshake and isinstance(reply.body.get("result"), dict):
            self._mcp.adopt_protocol_version(reply.body["result"].get("protocolVersion"))
        if request.method == "tools/list":
            reply = self._policy.listing(request, reply)
        if exchange.modern and request.method == "tools/list":
            return self._tools.learn_reply(request, reply)
        if (
            exchange.modern
            and not exchange.replayed
            and exchange.call.headers is None  # an HTTP client's own headers: its mismatch
            and _is_header_mismatch(request, reply)
        ):
            raise _HeadersRefused
        return reply

    def _envelope(
        self, reply: Message, call: Call, snapshot: SessionSnapshot, no_replay: bool
    ) -> Message:
        """AgentCore's error for a container failure, which has no id: it is this call's."""
        error = reply.body["error"]
        message = str(error.get("message", ""))
        if (
            error.get("code") == CONTAINER_ERROR_CODE
            and not no_replay
            and is_session_lost(message, snapshot.mcp_session_id is not None)
        ):
            raise SessionLostError(snapshot.generation)
        rebuilt = {**error, "message": redact(message)}
        return jsonrpc.Message(
            raw=jsonrpc.error_response(call.id, rebuilt),
            body=error_envelope(call.id, rebuilt),
            kind=Kind.RESPONSE,
        )

    def _run_message(
        self,
        message: Message,
        number: int,
        gate: threading.Event | None,
        sent: threading.Event | None,
        release: Callable[[], None],
    ) -> None:
        """Forward a notification, or the client's answer to a server request."""
        try:
            if gate is not None:
                gate.wait()
            if message.kind is Kind.NOTIFICATION and message.method != CANCELLED:
                self._order.wait_for_earlier(number)
                # Paced with requests; a cancellation or an answer to the server's own
                # request is rare and waited for, so it never waits its turn.
                self._pace(None)

            session_id, answer = self._invoke(message, self._mcp.snapshot(), False, None)
            # A notification is answered at once (202): its answer proves it arrived,
            # which a request's cannot (a JSON-response server answers when done).
            self._order.mark_sent(number)
            if sent is not None:
                sent.set()
            try:
                for payload in answer.payloads():
                    reply = jsonrpc.parse_payload(payload)
                    if reply is None or reply.kind is Kind.RESPONSE:
                        logger.warning("dropped a stray event after %s", _describe(message))
                        continue
                    self._writer.write(reply.raw)
            finally:
                answer.close()
                self._session_done(session_id)
        except ProxyError as exc:
            logger.warning("could not forward %s: %s", _describe(message), exc)
        except Exception as exc:
            logger.error(
                "could not forward %s: %s",
                _describe(message),
                exc,
                exc_info=logger.isEnabledFor(logging.DEBUG),
            )
        finally:
            self._order.mark_sent(number)
            if sent is not None:
                sent.set()
            release()

    # -- the runtime --------------------------------------------------------------------

    def _invoke(
        self,
        message: Message,
        snapshot: SessionSnapshot,
        fresh_session: bool,
        on_sent: Callable[[], None] | None,
        may_recover: bool = False,
        client_headers: ClientHeaders | None = None,
        standard: StandardHeaders | None = None,
    ) -> tuple[str, Streaming]:
        """``standard``: the message's own MCP headers, if the caller has them already."""
        headers_of = standard or self._mcp.headers_for(message)
        protocol, method, name = headers_of.version, headers_of.method, headers_of.name
        session_id = self._runtime_session_id()
        carried = None if fresh_session else snapshot.mcp_session_id
        extra: tuple[tuple[str, str], ...] = ()
        if client_headers is not None:
            extra = client_headers.params
        elif method == "tools/call" and is_modern(protocol):
            extra = tuple(self._tools.headers_for(message.params))
        headers = InvokeHeaders(
            runtime_session_id=session_id,
            mcp_session_id=carried,
            mcp_protocol_version=protocol,
            mcp_method=method,
            mcp_name=name,
            trace=self._trace.for_params(message.params),
            extra=extra,
        )
        try:
            return session_id, self._runtime.invoke(message.raw, headers, on_sent)
        except RuntimeServiceError as exc:
            self._session_done(session_id)
            if (
                may_recover
                and is_session_lost(exc.aws_error.message, carried is not None)
                and exc.aws_error.code == "RuntimeClientError"
            ):
                raise SessionLostError(snapshot.generation) from exc
            raise
        except BaseException:
            self._session_done(session_id)
            raise

    # -- requests of the proxy's own ----------------------------------------------------

    def _ask(self, line: bytes) -> dict[str, object]:
        """Send a request of the proxy's own; its result (ProxyError if none)."""
        message = jsonrpc.parse_line(line)
        self._pace(None)
        session_id, answer = self._invoke(message, self._mcp.snapshot(), False, None)
        try:
            for payload in answer.payloads():
                reply = jsonrpc.parse_payload(payload)
                if reply is not None and reply.kind is Kind.RESPONSE and reply.id == message.id:
                    result = reply.body.get("result")
                    if isinstance(result, dict):
                        return result
                    raise ProxyError(f"{message.method} answered {reply.body.get('error')!r}")
        finally:
            answer.close()
            self._session_done(session_id)
        raise ProxyError(f"the runtime did not answer {message.method}")

    # -- answers ------------------------------------------------------------------------

    def _tell(self, line: bytes, release: Callable[[], None]) -> None:
        """Write a line of the proxy's own; the stdin thread never writes (stdout may be full)."""
        try:
            self._writer.write(line)
        finally:
            release()

    def _respond(self, call: Call, line: bytes, failed: bool = False) -> None:
        """Write the one response of ``call``; any later one is dropped."""
        if not call.settle(CallState.FAILED if failed else CallState.ANSWERED):
            return
        self._end(call)  # the id is free before the client can read its response
        self._writer.write(line, call.key)
        self._writer.end(call.key)

    def _end(self, call: Call) -> None:
        with self._lock:
            if self._calls.get(call.key) is call:
                del self._calls[call.key]

    # -- shutdown -----------------------------------------------------------------------

    def in_flight(self) -> int:
        with self._lock:
            return len(self._calls)

    def close(self, deadline: float) -> list[Call]:
        """Let calls in flight finish until ``deadline`` (monotonic); cancel the rest.

        Returns the calls that did not finish, ended as FAILED; the caller answers them
        (writing may block on a client that stopped reading).
        """
        with self._lock:
            calls = list(self._calls.values())
        for call in calls:
            call.done.wait(max(0.0, deadline - time.monotonic()))
        with self._lock:
            leftover = list(self._calls.values())
            self._calls.clear()
        cut: list[Call] = []
        for call in leftover:
            ended = call.interrupt(CallState.FAILED)
            if ended is None:
                continue
            _, answer = ended
            if answer is not None:
                answer.close()
            cut.append(call)
        if self._owns_workers:
            self._workers.close()
        return cut


def _is_header_mismatch(request: Message, reply: Message) -> bool:
    error = reply.body.get("error")
    return (
        request.method == "tools/call"
        and isinstance(error, dict)
        and error.get("code") == HEADER_MISMATCH
    )


def _describe(message: Message) -> str:
    return f"{message.method or 'response'} id={message.id!r}"
