"""The AgentCore data plane, reached through boto3: invoke, stream, stop.

botocore's and urllib3's exceptions become the proxy's errors here and nowhere else.
"""

from __future__ import annotations

import contextlib
import http.client
import logging
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import botocore.exceptions
import botocore.parsers
import urllib3.exceptions

from mcp_agentcore_proxy.aws_errors import AwsError
from mcp_agentcore_proxy.errors import (
    ConnectFailedError,
    ConnectionLostError,
    CredentialsError,
    ReadTimedOutError,
    RuntimeServiceError,
    RuntimeUnreachableError,
    StreamInterruptedError,
    TlsError,
    clause,
)
from mcp_agentcore_proxy.sse import SseDecoder
from mcp_agentcore_proxy.trace import NO_TRACE, TraceContext

if TYPE_CHECKING:
    from mcp_agentcore_proxy.bearer import BearerTokens
    from mcp_agentcore_proxy.config import ProxyConfig

logger = logging.getLogger(__name__)

ACCEPT = "application/json, text/event-stream"
INVOKE = "InvokeAgentRuntime"
_READ_SIZE = 65536
# Rejected before anything ran: a fresh credential lookup may fix these.
CREDENTIAL_ERROR_CODES = frozenset(
    {"ExpiredTokenException", "UnrecognizedClientException", "InvalidSignatureException"}
)
_SSO_ERRORS: tuple[type[Exception], ...] = (
    botocore.exceptions.SSOError,
    botocore.exceptions.TokenRetrievalError,
    botocore.exceptions.SSOTokenLoadError,
)
# Headers the proxy derives from a message; the rest come from the session.
# Taken from the client's messages: one that cannot be a header is left off, not an error.
_DERIVED_HEADERS = ("mcpMethod", "mcpName", "traceParent", "traceState", "baggage")


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


class RuntimeAnswer:
    """An answer whose headers have arrived; its body is read as the caller iterates."""

    def __init__(
        self,
        *,
        status: int,
        content_type: str,
        mcp_session_id: str | None,
        request_id: str | None,
        body: Any,
        on_done: Callable[[], None] = lambda: None,
    ) -> None:
        self.status = status
        self.content_type = content_type
        self.mcp_session_id = mcp_session_id
        self.request_id = request_id
        self._body = body
        self._on_done = on_done
        self._lock = threading.Lock()
        self._finished = False
        self._closed_early = False

    def payloads(self) -> Iterator[bytes]:
        """Yield each JSON-RPC message payload of the body as soon as it is complete."""
        try:
            with _stream_errors():
                if self.content_type.startswith("text/event-stream"):
                    decoder = SseDecoder()
                    for chunk in self._chunks():
                        yield from decoder.feed(chunk)
                    yield from decoder.close()
                    return
                body = b"".join(self._chunks())
                if not body.strip():
                    return
                if not self.content_type.startswith("application/json"):
                    raise StreamInterruptedError(
                        f"The runtime answered with an unexpected content type "
                        f"{self.content_type!r} (expected JSON or an SSE stream)"
                    )
                yield body
        except Exception as exc:
            if self._closed_early:
                # Another thread closed it (cancellation, shutdown) under our read; the
                # HTTP library fails in its own ways then.
                raise StreamInterruptedError("The answer was closed while being read") from exc
            raise
        finally:
            self._finish(complete=True)

    def _chunks(self) -> Iterator[bytes]:
        raw = getattr(self._body, "_raw_stream", None)
        # read1() hands over each HTTP chunk as it lands; StreamingBody.read(n) would
        # wait for n bytes and hold progress notifications back.
        read = raw.read1 if raw is not None and hasattr(raw, "read1") else self._body.read
        while True:
            chunk = read(_READ_SIZE)
            if not chunk:
                return
            yield chunk

    def close(self) -> None:
        """Stop reading, even a read blocked in another thread (cancellation, shutdown)."""
        self._finish(complete=False)

    def _finish(self, complete: bool) -> None:
        with self._lock:
            if self._finished:
                return
            self._finished = True
            self._closed_early = not complete
        if not complete:
            raw = getattr(self._body, "_raw_stream", None)
            sock = getattr(getattr(raw, "connection", None), "sock", None)
            if sock is not None:
                # close() alone does not wake a thread blocked in recv(); shutdown() does.
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)
            with contextlib.suppress(Exception):
                self._body.close()
        self._on_done()


@contextlib.contextmanager
def _stream_errors() -> Iterator[None]:
    try:
        yield
    except (
        urllib3.exceptions.HTTPError,
        botocore.exceptions.ResponseStreamingError,
        botocore.exceptions.IncompleteReadError,
        http.client.HTTPException,
        OSError,
        ValueError,  # read from a body closed by a cancellation
    ) as exc:
        raise StreamInterruptedError(
            f"The runtime's answer broke off mid-stream: {type(exc).__name__}: {exc}"
        ) from exc


def _aws_error(exc: botocore.exceptions.ClientError) -> AwsError:
    err = exc.response.get("Error", {})
    meta = exc.response.get("ResponseMetadata", {})
    status = int(meta.get("HTTPStatusCode") or 0) or 500
    return AwsError.from_response(
        str(err.get("Code") or status), str(err.get("Message") or ""), status, meta.get("RequestId")
    )


@contextlib.contextmanager
def translate_errors(operation: str, sso_hint: str) -> Iterator[None]:
    """Map botocore's exceptions to the proxy's, most specific first."""
    try:
        yield
    except botocore.exceptions.ClientError as exc:
        raise RuntimeServiceError(_aws_error(exc), operation) from exc
    except botocore.parsers.ResponseParserError as exc:
        # A gateway's error page, not an AWS answer; its text may quote the request.
        error = AwsError(
            "the answer was not a valid AWS response (a proxy or gateway error page?)",
            code="InvalidResponse",
            status=502,
        )
        raise RuntimeServiceError(error, operation) from exc
    except _SSO_ERRORS as exc:
        raise CredentialsError(
            f"The AWS SSO session has expired or is invalid. {sso_hint}"
        ) from exc
    except botocore.exceptions.NoCredentialsError as exc:
        raise CredentialsError(
            f"No AWS credentials found for {operation}: set AWS_PROFILE or AWS_ACCESS_KEY_ID, "
            f"or run `aws configure`"
        ) from exc
    except botocore.exceptions.ParamValidationError as exc:
        raise RuntimeServiceError(
            AwsError(str(exc), code="ValidationException"), operation
        ) from exc
    except botocore.exceptions.SSLError as exc:
        raise TlsError(
            f"TLS certificate verification failed for {operation}: {clause(exc)}. Behind a TLS-"
            f"inspecting proxy or with your own CA, set AWS_CA_BUNDLE (or --ca-bundle) to a "
            f"PEM file with that CA"
        ) from exc
    except botocore.exceptions.ProxyConnectionError as exc:
        raise ConnectFailedError(
            f"Cannot reach the endpoint for {operation} through the HTTP(S) proxy: {clause(exc)}. "
            f"Check HTTPS_PROXY and NO_PROXY"
        ) from exc
    except botocore.exceptions.ReadTimeoutError as exc:
        raise ReadTimedOutError(f"{operation} timed out waiting for an answer: {exc}") from exc
    except (
        botocore.exceptions.EndpointConnectionError,
        botocore.exceptions.ConnectTimeoutError,
    ) as exc:
        raise ConnectFailedError(f"Cannot reach the endpoint for {operation}: {exc}") from exc
    except botocore.exceptions.HTTPClientError as exc:
        raise ConnectionLostError(f"{operation} failed on the connection: {exc}") from exc
    except botocore.exceptions.BotoCoreError as exc:
        raise CredentialsError(f"{operation} failed: {exc}") from exc


@dataclass(frozen=True)
class RetryPolicy:
    """Resend only what the runtime cannot have run: errors answered before any output.

    botocore's own retries would also resend after a read timeout or a dropped
    connection, when a tool may already be running; so they are off and this takes over.
    """

    max_attempts: int = 3
    base_delay: float = 0.05
    throttle_base_delay: float = 0.5
    # AgentCore counts calls over a sliding second: a throttled call retried within it
    # is throttled again, so a retry waits the window out first (then backs off, jittered).
    throttle_window: float = 1.0
    max_delay: float = 20.0
    sleep: Callable[[float], None] = time.sleep

    def delay(self, attempt: int, throttled: bool) -> float:
        base = self.throttle_base_delay if throttled else self.base_delay
        jittered = random.uniform(0, min(self.max_delay, base * 2**attempt))  # noqa: S311
        return self.throttle_window + jittered if throttled else jittered

    def should_retry(self, exc: Exception, attempt: int) -> bool:
        if attempt + 1 >= self.max_attempts:
            return False
        if isinstance(exc, RuntimeServiceError):
            return exc.aws_error.retryable
        return isinstance(exc, ConnectFailedError)


def _body_then(body: bytes, on_sent: Callable[[], None]) -> Iterator[bytes]:
    # urllib3 sends an iterable body chunk by chunk: resuming after the one chunk
    # means the last byte has gone to the socket.
    yield body
    on_sent()


def header_value(value: str | None, limit: int) -> str | None:
    """``value`` if it can travel as an HTTP header within ``limit`` characters."""
    if not value or len(value) > limit or value != value.strip():
        return None
    if not (value.isascii() and value.isprintable()):
        return None  # HTTP headers carry printable ASCII only
    return value


class AgentCoreRuntime:
    """One AgentCore runtime (ARN and qualifier), called through a boto3 client."""

    def __init__(
        self,
        config: ProxyConfig,
        client_factory: Callable[[], Any],
        sso_hint: str,
        clock: Callable[[], float] = time.monotonic,
        bearer: BearerTokens | None = None,
    ) -> None:
        self._config = config
        self._bearer = bearer
        self._clock = clock
        self._client_factory = client_factory
        self._sso_hint = sso_hint
        self._retry = RetryPolicy(max_attempts=config.max_attempts)
        self._sending = threading.local()
        self._lock = threading.Lock()
        self._open_answers = 0
        self._last_release = clock()
        self._client = self._new_client()
        members = self._client.meta.service_model.operation_model(INVOKE).input_shape.members
        # Header limits from botocore's model; it checks only minimums itself.
        self._limits = {
            name: int(shape.metadata.get("max", 1024)) for name, shape in members.items()
        }

    def _new_client(self) -> Any:
        client = self._client_factory()
        client.meta.events.register(f"before-send.bedrock-agentcore.{INVOKE}", self._track_body)
        if self._bearer is not None:
            client.meta.events.register("before-send.bedrock-agentcore", self._add_bearer)
        # Before signing, so SigV4 covers them as it covers the modelled ones.
        client.meta.events.register(f"before-sign.bedrock-agentcore.{INVOKE}", self._add_headers)
        return client

    def _add_bearer(self, request: Any, **_: Any) -> None:
        assert self._bearer is not None
        token = self._bearer.current()
        self._sending.bearer = token
        request.headers["Authorization"] = f"Bearer {token}"

    def _add_headers(self, request: Any, **_: Any) -> None:
        sending = getattr(self._sending, "call", None)
        for name, value in (*self._config.headers, *(sending[1] if sending else ())):
            request.headers[name] = value

    def reset_client(self) -> None:
        """Build a new client, so credentials are looked up again."""
        with self._lock:
            self._client = self._new_client()

    def _track_body(self, request: Any, **_: Any) -> None:
        sending = getattr(self._sending, "call", None)
        on_sent = sending[0] if sending else None
        if on_sent is not None and isinstance(request.body, bytes):
            request.body = _body_then(request.body, on_sent)

    def _acquire_connection_slot(self) -> Any:
        """Count an answer in the making; retire the pool if it idled past the timeout."""
        with self._lock:
            idle = self._clock() - self._last_release
            # urllib3's pool is LIFO: the connection reused next is the one freed last.
            # A server may close it after its own keep-alive timeout, racing our
            # request; a request lost that way cannot be told apart from one that ran.
            if self._open_answers == 0 and idle >= self._config.idle_connection_timeout:
                self._client.close()
            self._open_answers += 1
            return self._client

    def _release_connection_slot(self) -> None:
        with self._lock:
            self._open_answers -= 1
            self._last_release = self._clock()

    def invoke(
        self,
        payload: bytes,
        headers: InvokeHeaders,
        on_sent: Callable[[], None] | None = None,
    ) -> RuntimeAnswer:
        """Send one message and return once the answer's headers arrive.

        ``on_sent`` runs once the whole request has been written to the connection.
        """
        kwargs: dict[str, Any] = {
            "agentRuntimeArn": self._config.agent_arn.arn,
            "qualifier": self._config.qualifier,
            "payload": payload,
            "contentType": "application/json",
            "accept": ACCEPT,
            "runtimeSessionId": headers.runtime_session_id,
        }
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
            if name not in self._limits:
                continue  # an older botocore without this header
            checked = header_value(value, self._limits[name])
            if checked is not None:
                kwargs[name] = checked
            elif value and name in _DERIVED_HEADERS:
                logger.debug("%s omitted: not a valid header value", name)
        attempt = 0
        refreshed = False
        while True:
            client = self._acquire_connection_slot()
            # What this thread's request carries besides kwargs, for the event hooks.
            self._sending.call = (on_sent, headers.extra)
            try:
                with translate_errors(INVOKE, self._sso_hint):
                    response = client.invoke_agent_runtime(**kwargs)
                break
            except RuntimeServiceError as exc:
                self._release_connection_slot()
                if not refreshed and self._refused_bearer(exc):
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
            finally:
                self._sending.call = None
            attempt += 1
        meta = response.get("ResponseMetadata", {})
        return RuntimeAnswer(
            status=int(response.get("statusCode") or meta.get("HTTPStatusCode") or 200),
            content_type=str(response.get("contentType") or ""),
            mcp_session_id=response.get("mcpSessionId"),
            request_id=meta.get("RequestId"),
            body=response["response"],
            on_done=self._release_connection_slot,
        )

    def _refused_bearer(self, exc: RuntimeServiceError) -> bool:
        """Whether the runtime refused our bearer token and its source has another."""
        if self._bearer is None or exc.aws_error.status != 401:
            return False
        refused = getattr(self._sending, "bearer", None)
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
        try:
            with translate_errors("StopRuntimeSession", self._sso_hint):
                self._client.stop_runtime_session(
                    agentRuntimeArn=self._config.agent_arn.arn,
                    qualifier=self._config.qualifier,
                    runtimeSessionId=runtime_session_id,
                )
            logger.info("stopped runtime session %s", runtime_session_id)
        except (RuntimeServiceError, RuntimeUnreachableError, CredentialsError) as exc:
            logger.warning("StopRuntimeSession failed for %s: %s", runtime_session_id, exc)
