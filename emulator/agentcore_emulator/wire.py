"""Where errors become the wire's shape, and every request gets its id and its log line.

Handlers only raise: ``AwsError`` becomes the AWS answer of the request's service (JSON
for AgentCore and Bedrock, XML for STS; other services' in their own, by ``passthrough``);
Starlette's own 404/405/413 and anything unexpected become AWS-shaped errors too, never a
plain-text page.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import parse_qs

from starlette.exceptions import HTTPException
from starlette.requests import HTTPConnection, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from agentcore_emulator.error_responses import error_response, new_request_id, query_error_response
from agentcore_emulator.exceptions import InternalServerException, ValidationException
from agentcore_emulator.sigv4 import SignedRequest
from agentcore_emulator.state import Emulator
from agentcore_wire.aws_errors import AwsError

logger = logging.getLogger("agentcore_emulator")


def emulator_of(request: HTTPConnection) -> Emulator:
    """The Emulator serving a request."""
    return request.app.state.emulator  # type: ignore[no-any-return]


def raw_target(request: HTTPConnection) -> tuple[str, str]:
    """Path and query exactly as sent: SigV4 signs them undecoded (a %2F stays a %2F)."""
    raw_path = request.scope.get("raw_path") or request.url.path.encode()
    return raw_path.decode("latin-1"), request.scope.get("query_string", b"").decode("latin-1")


def signed_request_of(request: HTTPConnection, body: bytes) -> SignedRequest:
    """What SigV4 covers of a request (or a WebSocket's upgrade), as it came off the wire."""
    raw_path, query = raw_target(request)
    return SignedRequest(
        method=request.scope.get("method", "GET"),
        raw_path=raw_path,
        query=query,
        headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]],
        body=body,
    )


def json_object(body: bytes) -> dict[str, Any]:
    """A request's JSON object body (an empty body: no members); ValidationException, as
    AWS answers, for anything else."""
    try:
        given = json.loads(body) if body.strip() else {}
    except ValueError:
        raise ValidationException("The request body is not valid JSON") from None
    if not isinstance(given, dict):
        raise ValidationException("The request body must be a JSON object")
    return given


def request_id_of(request: HTTPConnection) -> str:
    """The id the middleware gave this request (x-amzn-RequestId)."""
    return str(request.scope.get("state", {}).get("request_id") or new_request_id())


def note(request: HTTPConnection, **fields: object) -> None:
    """Add fields to the request's access-log line."""
    request.scope.setdefault("state", {}).setdefault("log_fields", {}).update(fields)


XML_PROTOCOLS = frozenset({"query", "rest-xml", "ec2"})


def signing_service(request: HTTPConnection) -> str | None:
    """The service a request was signed for, read off its credential scope (unverified)."""
    credential = request.headers.get("authorization", "").partition("Credential=")[2]
    if not credential:  # a presigned URL's
        query = parse_qs(request.scope.get("query_string", b"").decode("latin-1"))
        credential = query.get("X-Amz-Credential", [""])[0]
    scope = credential.split(",", 1)[0].split("/")
    return scope[3] if len(scope) > 3 else None


def speaks_query(request: HTTPConnection) -> bool:
    """Whether a call is for STS (the query protocol), even one whose signature fails.

    STS is called at ``/``; AgentCore's and Bedrock's routes answer JSON whatever their
    caller signed for, and the other services' errors are rendered in their own protocol
    where they are answered (``passthrough``).
    """
    if request.url.path != "/":
        return False
    service = signing_service(request)
    if service is not None:
        return service == "sts"
    return request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded")


def error_in_protocol(error: AwsError, protocol: str | None, request_id: str) -> Response:
    """``error`` as a client of ``protocol`` parses it: XML for query and REST-XML, JSON
    otherwise (JSON 1.x clients read the code from ``__type`` in the body)."""
    if protocol in XML_PROTOCOLS:
        return query_error_response(error, request_id)
    return error_response(error, request_id, type_in_body=protocol == "json")


def aws_error_response(request: Request, error: AwsError) -> Response:
    protocol = "query" if speaks_query(request) else "rest-json"
    return error_in_protocol(error, protocol, request_id_of(request))


async def on_aws_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AwsError)
    if "check your CloudWatch logs" in exc.message:
        # AgentCore's 424 sends the caller to the container's logs: here, they are ours.
        logger.warning(
            "%s: the instance's own output (its CloudWatch logs on AgentCore) is in this "
            "emulator's stderr, above this line",
            exc.code,
        )
    return aws_error_response(request, exc)


async def on_http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 413:
        error: AwsError = ValidationException("Request body too large", status=413)
    elif exc.status_code in (404, 405):
        error = AwsError(
            f"No operation answers {request.method} {request.url.path}",
            code="UnknownOperationException",
            status=exc.status_code,
        )
    else:
        error = AwsError(exc.detail, code="BadRequestException", status=exc.status_code)
    response = aws_error_response(request, error)
    if exc.headers:
        response.headers.update(exc.headers)  # Allow, for a 405
    return response


async def on_unexpected(request: Request, exc: Exception) -> Response:
    # Starlette raises it again once this answer is sent, so the server logs the traceback.
    return aws_error_response(request, InternalServerException("Internal server error"))


EXCEPTION_HANDLERS: dict[Any, Any] = {
    AwsError: on_aws_error,
    HTTPException: on_http_error,
    Exception: on_unexpected,
}


CAPTURE = 4096  # bytes of an answer kept for a handler that asked to see them


class RequestIdMiddleware:
    """Gives each request an id (sent back as x-amzn-RequestId) and logs one line for it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        started = time.monotonic()
        status: int | str = "?"
        # The answer's first bytes, for a handler that asked to see them (``on_finish``:
        # the dashboard's record of an invocation, which has the request already); bounded.
        answered = bytearray()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                if not any(k.lower() == b"x-amzn-requestid" for k, _ in headers):
                    headers.append((b"x-amzn-requestid", request_id.encode()))
                message = {**message, "headers": headers}
            elif (
                message["type"] == "http.response.body"
                and "on_finish" in state
                and len(answered) <= CAPTURE
            ):
                answered.extend(message.get("body", b"")[: CAPTURE + 1 - len(answered)])
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            elapsed = (time.monotonic() - started) * 1000
            if logger.isEnabledFor(logging.INFO):
                self._log(scope, status, state.get("log_fields", {}), started)
            finish = state.get("on_finish")
            if finish is not None:
                finish(
                    status if isinstance(status, int) else 500,
                    elapsed,
                    bytes(answered),
                )

    @staticmethod
    def _log(scope: Scope, status: int | str, log_fields: dict[str, Any], started: float) -> None:
        fields = " ".join(f"{k}={v}" for k, v in log_fields.items())
        logger.info(
            "%s %s %s%s %.0fms",
            scope["method"],
            scope["path"][:120],
            status,
            f" {fields}" if fields else "",
            (time.monotonic() - started) * 1000,
        )


def _too_large(limit: int) -> AwsError:
    return ValidationException(f"Request body too large: the limit is {limit} bytes", status=413)


class BodyLimitMiddleware:
    """AgentCore's payload limit, refused as an AWS error (Starlette's own answers text)."""

    def __init__(self, app: ASGIApp, max_body_size: int) -> None:
        self.app = app
        self.max_body_size = max_body_size

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_size:
            response = aws_error_response(Request(scope), _too_large(self.max_body_size))
            await response(scope, receive, send)
            return
        received = 0

        async def limited() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_body_size:
                    raise _too_large(self.max_body_size)  # answered by on_aws_error
            return message

        await self.app(scope, limited, send)
