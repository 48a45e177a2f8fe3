"""Routes client messages to the runtime and answers back, many in flight at once.

Every request with an id is tracked here from the line that carried it to its one
response, whatever happens in between: an AWS error, a broken stream, a cancellation,
an expired session, or shutdown.
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from mcp_agentcore_proxy import jsonrpc
from mcp_agentcore_proxy.errors import (
    INTERNAL_ERROR,
    ProxyError,
    RuntimeServiceError,
    StreamInterruptedError,
)
from mcp_agentcore_proxy.identity import RuntimeSessionIds
from mcp_agentcore_proxy.jsonrpc import Kind, Message
from mcp_agentcore_proxy.mcp_session import (
    INITIALIZED,
    McpSession,
    SessionSnapshot,
    is_handshake,
    is_session_gone,
)
from mcp_agentcore_proxy.runtime import AgentCoreRuntime, InvokeHeaders, RuntimeAnswer
from mcp_agentcore_proxy.stdio import LineWriter

logger = logging.getLogger(__name__)


class _SessionGone(Exception):
    """The runtime lost the MCP session; replay the handshake and try once more."""


@dataclass(eq=False)
class Call:
    """A request from the client, from the line that carried it to its one response."""

    message: Message
    key: str
    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: threading.Event = field(default_factory=threading.Event)
    done: threading.Event = field(default_factory=threading.Event)
    started: bool = False
    answered: bool = False
    cancelled: bool = False
    answer: RuntimeAnswer | None = None


class Router:
    """Dispatches messages in the order read; writes each answer the moment it arrives."""

    def __init__(
        self,
        runtime: AgentCoreRuntime,
        writer: LineWriter,
        session_ids: RuntimeSessionIds,
        max_concurrency: int = 32,
    ) -> None:
        self._runtime = runtime
        self._writer = writer
        self._session_ids = session_ids
        self._mcp = McpSession()
        self._calls: dict[str, Call] = {}
        self._lock = threading.Lock()
        self._handshake_done: threading.Event | None = None
        self._requests = ThreadPoolExecutor(max_concurrency, thread_name_prefix="request")
        # Notifications wait for what was read before them; replies to the server's own
        # requests wait for nothing (a tool may be waiting on them), so each has a pool.
        self._notifications = ThreadPoolExecutor(4, thread_name_prefix="notification")
        self._replies = ThreadPoolExecutor(4, thread_name_prefix="reply")
        self._unsent: list[threading.Event] = []  # earlier messages not yet at the runtime
        self.replays = 0

    # -- intake (the stdin thread) ------------------------------------------------------

    def submit(self, line: bytes) -> None:
        """Take one line from stdin; never blocks on the runtime."""
        try:
            message = jsonrpc.parse_line(line)
        except jsonrpc.InvalidLine as exc:
            logger.warning("rejected a line from stdin: %s", exc)
            self._writer.write(jsonrpc.error_response(exc.reply_id, exc.to_jsonrpc()))
            return
        wait_for = self._handshake_done
        if message.kind is Kind.REQUEST:
            call = Call(message, jsonrpc.id_key(message.id))
            with self._lock:
                if call.key in self._calls:
                    self._reply_error(
                        message.id, -32600, f"Invalid Request: id {message.id!r} is already in use"
                    )
                    return
                self._calls[call.key] = call
            if is_handshake(message):
                self._mcp.begin_handshake(message)
                self._handshake_done = call.done
            self._unsent = [*self._pending(), call.sent]
            self._requests.submit(self._run_request, call, wait_for)
            return
        if message.kind is Kind.RESPONSE:
            self._replies.submit(self._run_message, message, [wait_for], None, None)
            return
        target = self._cancel_target(message)
        # A cancellation need only follow its request; any other notification follows
        # everything read before it, so it never overtakes a request.
        earlier = [target.sent] if target is not None else self._pending()
        sent = threading.Event()
        self._unsent = [*self._pending(), sent]
        self._notifications.submit(self._run_message, message, [wait_for, *earlier], target, sent)

    def _pending(self) -> list[threading.Event]:
        return [event for event in self._unsent if not event.is_set()]

    def _cancel_target(self, message: Message) -> Call | None:
        if message.method != "notifications/cancelled":
            return None
        with self._lock:
            call = self._calls.get(jsonrpc.id_key(message.params.get("requestId")))
        if call is None:
            return None
        with call.lock:
            call.cancelled = True
            started = call.started
        logger.info("cancelled request id=%s", call.message.id)
        return call if started else None

    # -- workers ------------------------------------------------------------------------

    def _run_request(self, call: Call, wait_for: threading.Event | None) -> None:
        started = time.monotonic()
        outcome = "ok"
        try:
            if wait_for is not None:
                wait_for.wait()
            with call.lock:
                if call.cancelled:
                    outcome = "cancelled"
                    return
                call.started = True
            try:
                self._exchange(call)
            except _SessionGone:
                self._replay_handshake(call)
                self._exchange(call, replayed=True)
        except ProxyError as exc:
            outcome = type(exc).__name__
            logger.warning("request %s failed: %s", self._describe(call.message), exc)
            self._answer(call, jsonrpc.error_response(call.message.id, exc.to_jsonrpc()))
        except Exception as exc:  # a bug must still answer the request
            outcome = "internal error"
            logger.exception("request %s failed unexpectedly", self._describe(call.message))
            self._answer(
                call,
                jsonrpc.error_response(
                    call.message.id,
                    {"code": INTERNAL_ERROR, "message": f"Internal proxy error: {exc}"},
                ),
            )
        finally:
            call.sent.set()
            with self._lock:
                self._calls.pop(call.key, None)
            call.done.set()
            logger.info(
                "%s -> %s in %.0f ms",
                self._describe(call.message),
                outcome,
                (time.monotonic() - started) * 1000,
            )

    def _exchange(self, call: Call, replayed: bool = False) -> None:
        message = call.message
        handshake = is_handshake(message)
        snapshot = self._mcp.snapshot()
        answer = self._invoke(message, snapshot, fresh_session=handshake)
        self._mcp.observe(answer.mcp_session_id, snapshot.generation)
        with call.lock:
            call.answer = answer
            cancelled = call.cancelled
        call.sent.set()
        if cancelled:
            answer.close()
            return
        for payload in answer.payloads():
            reply = jsonrpc.parse_payload(payload)
            if reply is None:
                logger.warning(
                    "dropped a non-JSON-RPC event from the runtime (%d bytes)", len(payload)
                )
                continue
            if reply.kind is Kind.RESPONSE and reply.id is None and "error" in reply.body:
                # An error the runtime could not tie to an id (AgentCore's -32010 envelope
                # for a container failure) can only be about the request of this POST.
                reply = jsonrpc.parse_payload(jsonrpc.with_id(reply.raw, message.id)) or reply
            if reply.kind is Kind.RESPONSE and jsonrpc.id_key(reply.id) == call.key:
                if not replayed and not handshake and self._lost_session(reply, snapshot):
                    answer.close()
                    raise _SessionGone
                if handshake and isinstance(reply.body.get("result"), dict):
                    self._mcp.adopt_protocol_version(reply.body["result"].get("protocolVersion"))
                self._answer(call, reply.raw)
                continue
            if call.cancelled:
                continue
            self._writer.write(reply.raw)
        with call.lock:
            if call.answered or call.cancelled:
                return
        raise StreamInterruptedError(
            f"The runtime's answer ended before the response to request id {message.id!r}"
        )

    def _run_message(
        self,
        message: Message,
        wait_for: list[threading.Event | None],
        target: Call | None,
        sent: threading.Event | None,
    ) -> None:
        try:
            for event in wait_for:
                if event is not None:
                    event.wait()
            try:
                answer = self._invoke(message, self._mcp.snapshot(), fresh_session=False)
            finally:
                if sent is not None:
                    sent.set()
            if target is not None and target.answer is not None:
                target.answer.close()
            for payload in answer.payloads():
                reply = jsonrpc.parse_payload(payload)
                if reply is not None:
                    self._writer.write(reply.raw)
        except ProxyError as exc:
            logger.warning("could not forward %s: %s", self._describe(message), exc)
        except Exception:
            logger.exception("could not forward %s", self._describe(message))

    # -- the runtime --------------------------------------------------------------------

    def _invoke(
        self, message: Message, snapshot: SessionSnapshot, fresh_session: bool
    ) -> RuntimeAnswer:
        protocol, method, name = self._mcp.headers_for(message)
        headers = InvokeHeaders(
            runtime_session_id=self._session_ids.current(),
            mcp_session_id=None if fresh_session else snapshot.mcp_session_id,
            mcp_protocol_version=protocol,
            mcp_method=method,
            mcp_name=name,
        )
        try:
            return self._runtime.invoke(message.raw, headers)
        except RuntimeServiceError as exc:
            if (
                not fresh_session
                and snapshot.mcp_session_id
                and is_session_gone(exc.aws_error.message)
            ):
                raise _SessionGone from exc
            raise

    def _lost_session(self, reply: Message, snapshot: SessionSnapshot) -> bool:
        error = reply.body.get("error")
        return (
            snapshot.mcp_session_id is not None
            and isinstance(error, dict)
            and is_session_gone(str(error.get("message", "")))
        )

    def _replay_handshake(self, call: Call) -> None:
        """Open a new MCP session with the client's cached initialize, once for all."""
        failed_generation = self._mcp.snapshot().generation
        with self._mcp.replay_lock:
            if self._mcp.snapshot().generation != failed_generation or self._mcp.handshake is None:
                return  # another request already replayed, or there is nothing to replay
            self.replays += 1
            payload = jsonrpc.with_id(
                self._mcp.handshake, f"mcp-agentcore-proxy-replay-{self.replays}"
            )
            answer = self._runtime.invoke(
                payload, InvokeHeaders(runtime_session_id=self._session_ids.current())
            )
            for _ in answer.payloads():
                pass  # the client already has its initialize result
            generation = self._mcp.restart(answer.mcp_session_id)
            self._runtime.invoke(
                INITIALIZED,
                InvokeHeaders(
                    runtime_session_id=self._session_ids.current(),
                    mcp_session_id=answer.mcp_session_id,
                ),
            ).close()
            logger.warning(
                "MCP session expired; opened a new one (generation %d) and retrying id=%s",
                generation,
                call.message.id,
            )
            self._writer.write(
                jsonrpc.notification(
                    "notifications/message",
                    {
                        "level": "warning",
                        "logger": "mcp-agentcore-proxy",
                        "data": "The runtime's MCP session had expired; the proxy opened a "
                        "new session and retried the request once.",
                    },
                )
            )

    # -- answers ------------------------------------------------------------------------

    def _answer(self, call: Call, line: bytes) -> None:
        """Write the one response of ``call``; later ones are dropped."""
        with call.lock:
            if call.answered or call.cancelled:
                return
            call.answered = True
        self._writer.write(line)

    def _reply_error(self, reply_id: object, code: int, message: str) -> None:
        self._writer.write(jsonrpc.error_response(reply_id, {"code": code, "message": message}))

    @staticmethod
    def _describe(message: Message) -> str:
        return f"{message.method or 'response'} id={message.id!r}"

    # -- shutdown -----------------------------------------------------------------------

    def in_flight(self) -> int:
        with self._lock:
            return len(self._calls)

    def close(self, grace: float) -> None:
        """Let calls in flight finish for ``grace`` seconds, then answer the rest."""
        deadline = time.monotonic() + grace
        with self._lock:
            calls = list(self._calls.values())
        for call in calls:
            call.done.wait(max(0.0, deadline - time.monotonic()))
        with self._lock:
            leftover = list(self._calls.values())
        for call in leftover:
            self._answer(
                call,
                jsonrpc.error_response(
                    call.message.id,
                    {"code": INTERNAL_ERROR, "message": "The proxy is shutting down"},
                ),
            )
            with call.lock:
                call.cancelled = True
                answer = call.answer
            if answer is not None:
                answer.close()
        self._notifications.shutdown(wait=True, cancel_futures=False)
        self._replies.shutdown(wait=True, cancel_futures=False)
        self._requests.shutdown(wait=False, cancel_futures=True)
