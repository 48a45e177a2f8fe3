"""The AgentCore data plane: invoke (with its retries), stream, stop.

Each call goes out on ``data_path``'s signed path; the exceptions of botocore and urllib3
become the proxy's in ``aws_boundary``, and nowhere else.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from mcp_agentcore_proxy.answer import RuntimeAnswer
from mcp_agentcore_proxy.aws_boundary import parse_error, translate_errors
from mcp_agentcore_proxy.data_path import INVOKE, AwsConnection, InvokeTarget, SignedInvoke
from mcp_agentcore_proxy.errors import (
    CredentialsError,
    ProxyError,
    RuntimeServiceError,
    RuntimeUnreachableError,
)
from mcp_agentcore_proxy.retry_policy import RetryPolicy
from mcp_agentcore_proxy.trace import NO_TRACE, TraceContext

if TYPE_CHECKING:
    from mcp_agentcore_proxy.bearer import BearerTokens
    from mcp_agentcore_proxy.config import ProxyConfig

logger = logging.getLogger(__name__)

ACCEPT = "application/json, text/event-stream"
# Rejected before anything ran: a fresh credential lookup may fix these.
CREDENTIAL_ERROR_CODES = frozenset(
    {"ExpiredTokenException", "UnrecognizedClientException", "InvalidSignatureException"}
)
# Headers the proxy derives from a message; the rest come from the session.
# Taken from the client's messages: one that cannot be a header is left off, not an error.
_DERIVED_HEADERS = ("mcpMethod", "mcpName", "traceParent", "traceState", "baggage")
_ERROR_BODY_LIMIT = 1 << 20  # bytes of an error answer read to find AWS's code and message


@dataclass(frozen=True)
class InvokeHeaders:
    """The per-call MCP and session headers of InvokeAgentRuntime."""

    runtime_session_id: str
    mcp_session_id: str | None = None
    mcp_protocol_version: str | None = None
    mcp_method: str | None = None
    mcp_name: str | None = None
    trace: TraceContext = NO_TRACE
    # Headers of this call only (MCP's Mcp-Param-*): names and values already header-safe.
    extra: tuple[tuple[str, str], ...] = ()


class Streaming(Protocol):
    """An answer being read: the router's view of ``RuntimeAnswer``."""

    @property
    def mcp_session_id(self) -> str | None: ...

    def payloads(self) -> Iterator[bytes]: ...

    def close(self) -> None: ...


class Runtime(Protocol):
    """What the router needs of the runtime: ``AgentCoreRuntime``, or a fake in tests."""

    def invoke(
        self,
        payload: bytes,
        headers: InvokeHeaders,
        on_sent: Callable[[], None] | None = None,
    ) -> Streaming: ...


def _target(config: ProxyConfig) -> InvokeTarget:
    if config.mcp_url is not None:
        assert config.signing_service is not None
        return InvokeTarget.of_url(config.mcp_url, config.signing_service, config.region)
    assert config.agent_arn is not None
    return InvokeTarget.of_runtime(config.agent_arn.arn, config.qualifier)


def header_value(value: str | None, limit: int) -> str | None:
    """``value`` if it can travel as an HTTP header within ``limit`` characters."""
    if not value or len(value) > limit or value != value.strip():
        return None
    if not (value.isascii() and value.isprintable()):
        return None  # HTTP headers carry printable ASCII only
    return value


class AgentCoreRuntime:
    """One AgentCore runtime (ARN and qualifier): its calls, their retries, its pool."""

    def __init__(
        self,
        config: ProxyConfig,
        connect: Callable[[], AwsConnection],
        sso_hint: str,
        clock: Callable[[], float] = time.monotonic,
        bearer: BearerTokens | None = None,
    ) -> None:
        self._config = config
        self._bearer = bearer
        self._clock = clock
        self._connect = connect
        self._sso_hint = sso_hint
        self._retry = RetryPolicy(max_attempts=config.max_attempts)
        self._lock = threading.Lock()
        self._opening = threading.Lock()
        self._open_answers = 0
        self._last_release = clock()
        # Opened at the first call, not here: a proxy that cannot open it (no credentials,
        # a proxy URL it cannot use) answers each request with why, and keeps serving.
        self._opened: tuple[AwsConnection, SignedInvoke] | None = None

    def _open(self) -> tuple[AwsConnection, SignedInvoke]:
        """A credential lookup, and the signed path built on it."""
        cfg = self._config
        with translate_errors(INVOKE, self._sso_hint):
            connection = self._connect()
            if self._bearer is not None:
                # StopRuntimeSession, through the client, carries the token too.
                connection.client.meta.events.register(
                    "before-send.bedrock-agentcore", self._add_bearer
                )
            path = SignedInvoke(
                connection,
                target=_target(cfg),
                connect_timeout=cfg.connect_timeout,
                read_timeout=cfg.read_timeout,
                # A slot frees when the response is written, a little before its stream
                # is closed; room for those, notifications and replies, without urllib3
                # discarding connections (and warning) under full load.
                max_pool_connections=2 * cfg.max_concurrency + 8,
                signed=self._bearer is None,
            )
        return connection, path

    def _add_bearer(self, request: Any, **_: Any) -> None:
        assert self._bearer is not None
        request.headers["Authorization"] = f"Bearer {self._bearer.current()}"

    def _current(self) -> tuple[AwsConnection, SignedInvoke]:
        with self._lock:
            opened = self._opened
        if opened is not None:
            return opened
        # One lookup at a time: calls arriving while another opens the path wait for it
        # instead of each spending the same CPU (tens of ms) again, side by side.
        with self._opening:
            with self._lock:
                opened = self._opened
            if opened is None:
                opened = self._open()
                with self._lock:
                    self._opened = opened
        return opened

    def prepare(self) -> None:
        """Open the path before the first call needs it; that call waits for this opening
        instead of making its own. A failure is left for the call to meet and report."""
        try:
            self._current()
        except ProxyError as exc:
            logger.debug("the data path opens at the first call instead: %s", exc)

    def reset_client(self) -> None:
        """Look credentials up again (a new session and path); the old pool is closed."""
        with self._lock:
            old, self._opened = self._opened, None
        if old is not None:
            old[1].close()

    def _acquire_connection_slot(self) -> SignedInvoke:
        """Count an answer in the making; retire the pool if it idled past the timeout."""
        with self._lock:
            idle = self._clock() - self._last_release
            # urllib3's pool is LIFO: the connection reused next is the one freed last.
            # A server may close it after its own keep-alive timeout, racing our
            # request; a request lost that way cannot be told apart from one that ran.
            opened = self._opened
            retire = self._open_answers == 0 and idle >= self._config.idle_connection_timeout
            if retire and opened is not None:
                opened[1].close()
            self._open_answers += 1
        try:
            return self._current()[1]
        except BaseException:
            self._release_connection_slot()
            raise

    def _release_connection_slot(self) -> None:
        with self._lock:
            self._open_answers -= 1
            self._last_release = self._clock()

    def _wire_headers(self, path: SignedInvoke, headers: InvokeHeaders) -> dict[str, str]:
        names = path.header_names
        wire = {"Content-Type": "application/json", "Accept": ACCEPT}
        if self._config.agent_arn is not None:  # a runtime's: a URL's server has none
            wire[names["runtimeSessionId"]] = headers.runtime_session_id
        optional = {
            "mcpSessionId": headers.mcp_session_id,
            "mcpProtocolVersion": headers.mcp_protocol_version,
            "mcpMethod": headers.mcp_method,
            "mcpName": headers.mcp_name,
            "runtimeUserId": self._config.runtime_user_id,
            "traceParent": headers.trace.traceparent,
            "traceState": headers.trace.tracestate,
            "baggage": headers.trace.baggage,
        }
        for name, value in optional.items():
            if name not in names:
                continue  # an older botocore's model without this header
            checked = header_value(value, path.limits[name])
            if checked is not None:
                wire[names[name]] = checked
            elif value and name in _DERIVED_HEADERS:
                logger.debug("%s omitted: not a valid header value", name)
        # Custom headers (checked at start) and this call's own, signed with the rest.
        wire.update(self._config.headers)
        wire.update(headers.extra)
        return wire

    def invoke(
        self,
        payload: bytes,
        headers: InvokeHeaders,
        on_sent: Callable[[], None] | None = None,
    ) -> RuntimeAnswer:
        """Send one message and return once the answer's headers arrive.

        ``on_sent`` runs once the whole request has been written to the connection.
        """
        attempt = 0
        refreshed = False
        while True:
            path = self._acquire_connection_slot()
            bearer: str | None = None
            try:
                # The token this attempt sends: if the runtime refuses it, it is this one.
                bearer = self._bearer.current() if self._bearer is not None else None
                wire = self._wire_headers(path, headers)
                answer = self._send(path, payload, wire, on_sent, bearer)
                break
            except RuntimeServiceError as exc:
                self._release_connection_slot()
                if not refreshed and self._refused_bearer(exc, bearer):
                    refreshed = True
                    continue  # once, with the token its source gave anew
                if exc.aws_error.code in CREDENTIAL_ERROR_CODES and not refreshed:
                    logger.warning(
                        "credentials refused (%s); looking them up again", exc.aws_error.code
                    )
                    refreshed = True
                    self.reset_client()
                    continue
                if not self._retry.should_retry(exc, attempt):
                    raise
                self._backoff(exc, attempt)
            except RuntimeUnreachableError as exc:
                self._release_connection_slot()
                if not self._retry.should_retry(exc, attempt):
                    raise
                self._backoff(exc, attempt)
            except CredentialsError:
                self._release_connection_slot()
                self.reset_client()  # the next call looks credentials up afresh
                raise
            except BaseException:
                self._release_connection_slot()
                raise
            attempt += 1
        return answer

    def _send(
        self,
        path: SignedInvoke,
        payload: bytes,
        wire: dict[str, str],
        on_sent: Callable[[], None] | None,
        bearer: str | None,
    ) -> RuntimeAnswer:
        with translate_errors(INVOKE, self._sso_hint):
            answer = path.send(payload, wire, on_sent, bearer)
            if answer.status >= 300:
                try:
                    body = answer.body.read(_ERROR_BODY_LIMIT)
                finally:
                    answer.close()
                error = parse_error(answer.status, answer.headers, body, path.operation)
                raise RuntimeServiceError(error, INVOKE)
        answer.when_done(self._release_connection_slot)
        return answer

    def _refused_bearer(self, exc: RuntimeServiceError, refused: str | None) -> bool:
        """Whether the runtime refused ``refused``, our bearer token, and its source has
        another."""
        if self._bearer is None or exc.aws_error.status != 401:
            return False
        if refused is None or not self._bearer.refresh(refused):
            return False
        logger.warning("bearer token refused; using the one %s gives now", self._bearer.source)
        return True

    def _backoff(self, exc: Exception, attempt: int) -> None:
        throttled = isinstance(exc, RuntimeServiceError) and exc.aws_error.status == 429
        delay = self._retry.delay(attempt, throttled)
        logger.info("retrying %s in %.2fs after: %s", INVOKE, delay, exc)
        self._retry.sleep(delay)

    def stop_session(self, runtime_session_id: str) -> None:
        """End a runtime session (its microVM); errors are logged, not raised."""
        if self._config.agent_arn is None:
            return  # a URL (a gateway): no runtime session of ours to stop
        try:
            with translate_errors("StopRuntimeSession", self._sso_hint):
                self._current()[0].client.stop_runtime_session(
                    agentRuntimeArn=self._config.agent_arn.arn,
                    qualifier=self._config.qualifier,
                    runtimeSessionId=runtime_session_id,
                )
            logger.info("stopped runtime session %s", runtime_session_id)
        except (RuntimeServiceError, RuntimeUnreachableError, CredentialsError) as exc:
            logger.warning("StopRuntimeSession failed for %s: %s", runtime_session_id, exc)
