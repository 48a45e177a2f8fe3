"""AWS errors on the wire, each in its service's own protocol, so boto3 parses them.

JSON services (AgentCore, Bedrock) name the code in ``x-amzn-ErrorType``; query services
(STS) answer an XML ``ErrorResponse`` whose codes for authentication are their own.
"""

from __future__ import annotations

import json
import uuid
from xml.sax.saxutils import escape

from starlette.responses import Response

from agentcore_wire.aws_errors import AwsError


def new_request_id() -> str:
    return str(uuid.uuid4())


def error_response(
    error: AwsError, request_id: str | None = None, *, type_in_body: bool = False
) -> Response:
    """``x-amzn-ErrorType`` names the code; the body carries ``message`` and extra fields
    (and ``__type``, where JSON 1.x clients read the code: ``type_in_body``)."""
    body = {"message": error.message, **error.fields}
    if type_in_body:
        body["__type"] = error.code
    return Response(
        json.dumps(body),
        status_code=error.status,
        media_type="application/json",
        headers={
            **getattr(error, "headers", {}),
            "x-amzn-ErrorType": error.code,
            "x-amzn-RequestId": request_id or new_request_id(),
        },
    )


# What STS calls the authentication errors that JSON services name otherwise.
_QUERY_CODES = {
    "InvalidSignatureException": "SignatureDoesNotMatch",
    "UnrecognizedClientException": "InvalidClientTokenId",
    "ExpiredTokenException": "ExpiredToken",
    "IncompleteSignatureException": "IncompleteSignature",
    "MissingAuthenticationTokenException": "MissingAuthenticationToken",
}
STS_NAMESPACE = "https://sts.amazonaws.com/doc/2011-06-15/"


def query_error_response(error: AwsError, request_id: str | None = None) -> Response:
    """An error as STS (the AWS query protocol) answers it: an XML ``ErrorResponse``."""
    request_id = request_id or new_request_id()
    code = _QUERY_CODES.get(error.code, error.code)
    kind = "Receiver" if error.status >= 500 else "Sender"
    body = (
        f'<ErrorResponse xmlns="{STS_NAMESPACE}">'
        f"<Error><Type>{kind}</Type><Code>{escape(code)}</Code>"
        f"<Message>{escape(error.message)}</Message></Error>"
        f"<RequestId>{request_id}</RequestId></ErrorResponse>"
    )
    return Response(
        body,
        status_code=error.status,
        media_type="text/xml",
        headers={"x-amzn-RequestId": request_id},
    )
