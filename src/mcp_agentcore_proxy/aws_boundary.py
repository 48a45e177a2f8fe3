"""The one boundary with botocore and urllib3: their exceptions become the proxy's here.

No other module names an exception of theirs (httpx's ``map_httpcore_exceptions`` is the
model). ``MAPPED`` lists what each becomes, most specific first, and
tests/proxy/test_aws_boundary.py walks ``botocore.exceptions`` and ``urllib3.exceptions``
to prove every exception the proxy can meet has a deliberate place in it.
"""

from __future__ import annotations

import contextlib
import http.client
import ssl
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import botocore.exceptions
import botocore.parsers
import urllib3.exceptions

from agentcore_wire.aws_errors import AwsError
from agentcore_wire.redaction import redact_url
from mcp_agentcore_proxy.errors import (
    ConnectFailedError,
    ConnectionLostError,
    CredentialsError,
    ProxyError,
    ReadTimedOutError,
    RuntimeServiceError,
    StreamInterruptedError,
    TlsError,
    clause,
)


def aws_error(response: Mapping[str, Any]) -> AwsError:
    """AWS's error in a parsed answer (``Error`` and ``ResponseMetadata``, as botocore
    gives them)."""
    err = response.get("Error", {})
    meta = response.get("ResponseMetadata", {})
    status = int(meta.get("HTTPStatusCode") or 0) or 500
    return AwsError.from_response(
        str(err.get("Code") or status), str(err.get("Message") or ""), status, meta.get("RequestId")
    )


def parse_error(status: int, headers: Mapping[str, str], body: bytes, operation: Any) -> AwsError:
    """An error answer read off the wire, its code and message found as botocore finds
    them (``x-amzn-ErrorType``, then the body's ``code``/``__type``, then the status)."""
    parser = botocore.parsers.create_parser("rest-json")
    try:
        parsed = parser.parse(
            {"status_code": status, "headers": headers, "body": body},  # case-insensitive
            operation.output_shape,
        )
    except botocore.parsers.ResponseParserError:
        return _not_aws(status)
    return aws_error(parsed)


def _not_aws(status: int) -> AwsError:
    # A gateway's error page, not an AWS answer; its text may quote the request.
    return AwsError(
        "the answer was not a valid AWS response (a proxy or gateway error page?)",
        code="InvalidResponse",
        status=status if status >= 400 else 502,
    )


def _tls(operation: str, exc: Exception, hint: str) -> ProxyError:
    return TlsError(
        f"TLS certificate verification failed for {operation}: {clause(exc)}. Behind a TLS-"
        f"inspecting proxy or with your own CA, set AWS_CA_BUNDLE (or --ca-bundle) to a "
        f"PEM file with that CA"
    )


def _through_proxy(operation: str, exc: Exception, hint: str) -> ProxyError:
    return ConnectFailedError(
        f"Cannot reach the endpoint for {operation} through the HTTP(S) proxy: {clause(exc)}. "
        f"Check HTTPS_PROXY and NO_PROXY"
    )


def _unreachable(operation: str, exc: Exception, hint: str) -> ProxyError:
    return ConnectFailedError(f"Cannot reach the endpoint for {operation}: {exc}")


def _timed_out(operation: str, exc: Exception, hint: str) -> ProxyError:
    return ReadTimedOutError(f"{operation} timed out waiting for an answer: {exc}")


def _lost(operation: str, exc: Exception, hint: str) -> ProxyError:
    return ConnectionLostError(f"{operation} failed on the connection: {exc}")


def _sso(operation: str, exc: Exception, hint: str) -> ProxyError:
    return CredentialsError(f"The AWS SSO session has expired or is invalid. {hint}")


def _no_credentials(operation: str, exc: Exception, hint: str) -> ProxyError:
    return CredentialsError(
        f"No AWS credentials found for {operation}: set AWS_PROFILE or AWS_ACCESS_KEY_ID, "
        f"or run `aws configure`"
    )


def _invalid(operation: str, exc: Exception, hint: str) -> ProxyError:
    return RuntimeServiceError(AwsError(str(exc), code="ValidationException"), operation)


def _refused(operation: str, exc: Exception, hint: str) -> ProxyError:
    assert isinstance(exc, botocore.exceptions.ClientError)
    return RuntimeServiceError(aws_error(exc.response), operation)


def _not_an_answer(operation: str, exc: Exception, hint: str) -> ProxyError:
    return RuntimeServiceError(_not_aws(502), operation)


def _credentials(operation: str, exc: Exception, hint: str) -> ProxyError:
    # The rest of botocore's own errors come from the credential chain and its config.
    return CredentialsError(f"{operation} failed: {exc}")


# What each exception becomes: the first entry it is an instance of, so the most specific
# come first.
Mapper = Callable[[str, Exception, str], ProxyError]
MAPPED: tuple[tuple[type[Exception], Mapper], ...] = (
    (botocore.exceptions.ClientError, _refused),
    (botocore.parsers.ResponseParserError, _not_an_answer),
    (botocore.exceptions.SSOError, _sso),
    (botocore.exceptions.TokenRetrievalError, _sso),
    (botocore.exceptions.SSOTokenLoadError, _sso),
    (botocore.exceptions.NoCredentialsError, _no_credentials),
    (botocore.exceptions.ParamValidationError, _invalid),
    (botocore.exceptions.SSLError, _tls),
    (urllib3.exceptions.SSLError, _tls),
    (botocore.exceptions.ProxyConnectionError, _through_proxy),
    (urllib3.exceptions.ProxyError, _through_proxy),
    (urllib3.exceptions.ProxySchemeUnsupported, _through_proxy),
    (botocore.exceptions.ReadTimeoutError, _timed_out),
    (urllib3.exceptions.ReadTimeoutError, _timed_out),
    (botocore.exceptions.EndpointConnectionError, _unreachable),
    (botocore.exceptions.ConnectTimeoutError, _unreachable),
    (urllib3.exceptions.NewConnectionError, _unreachable),
    (urllib3.exceptions.ConnectTimeoutError, _unreachable),
    (urllib3.exceptions.MaxRetryError, _unreachable),  # urllib3 retries connecting only
    (botocore.exceptions.HTTPClientError, _lost),
    (urllib3.exceptions.HTTPError, _lost),
    (botocore.exceptions.BotoCoreError, _credentials),
)
_HANDLED = tuple(kind for kind, _ in MAPPED)


def mapped(operation: str, exc: Exception, sso_hint: str = "") -> ProxyError:
    """The proxy's error for one of botocore's or urllib3's, by ``MAPPED``."""
    for kind, becomes in MAPPED:
        if isinstance(exc, kind):
            return becomes(operation, exc, sso_hint)
    raise TypeError(f"no mapping for {type(exc).__name__}")  # pragma: no cover


@contextlib.contextmanager
def translate_errors(operation: str, sso_hint: str) -> Iterator[None]:
    """botocore's and urllib3's exceptions as the proxy's, by ``MAPPED``."""
    try:
        yield
    except _HANDLED as exc:
        raise mapped(operation, exc, sso_hint) from exc


@contextlib.contextmanager
def connect_errors(operation: str, url: str, proxied: bool) -> Iterator[None]:
    """Failing to connect (TCP, a proxy's tunnel, TLS) on the proxy's own path: nothing
    was sent, so the call may go again."""
    try:
        yield
    except ssl.SSLError as exc:
        raise _tls(operation, exc, "") from exc
    except (OSError, http.client.HTTPException) as exc:
        where = redact_url(url)
        cause = f'Could not connect to the endpoint URL: "{where}" ({type(exc).__name__}: {exc})'
        if proxied:
            raise _through_proxy(operation, OSError(cause), "") from exc
        raise ConnectFailedError(f"Cannot reach the endpoint for {operation}: {cause}") from exc


@contextlib.contextmanager
def transfer_errors(operation: str) -> Iterator[None]:
    """Failing once connected, while the request goes or its answer's head comes: the
    runtime may have it, so it never goes again."""
    try:
        yield
    except TimeoutError as exc:  # socket.timeout: the read timeout ran out
        raise _timed_out(operation, exc, "") from exc
    except (OSError, http.client.HTTPException) as exc:
        raise _lost(operation, exc, "") from exc


@contextlib.contextmanager
def stream_errors() -> Iterator[None]:
    """A failure while an answer's body is read: the stream broke off."""
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
