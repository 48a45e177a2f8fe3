"""AWS errors on the wire, serialized as AWS JSON services do so boto3 parses them."""

from __future__ import annotations

import json
import uuid

from starlette.responses import Response

from mcp_agentcore_proxy.aws_errors import AwsError


def new_request_id() -> str:
    return str(uuid.uuid4())


def error_response(error: AwsError, request_id: str | None = None) -> Response:
    """``x-amzn-ErrorType`` names the code; the body carries ``message`` and extra fields."""
    body = {"message": error.message, **error.fields}
    return Response(
        json.dumps(body),
        status_code=error.status,
        media_type="application/json",
        headers={
            "x-amzn-ErrorType": error.code,
            "x-amzn-RequestId": request_id or new_request_id(),
        },
    )
