"""Every other AWS call the emulator answers, dispatched by its SigV4 service: Bedrock's
Converse (``bedrock``), and STS and the control plane (moto, ``aws_services``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agentcore_emulator import bedrock
from agentcore_emulator.exceptions import ValidationException
from agentcore_emulator.wire import emulator_of, raw_target, signed_request_of


async def aws_services(request: Request) -> Response:
    """Any other AWS call: dispatched by the service of its SigV4 credential scope."""
    emulator = emulator_of(request)
    body = await request.body()
    verified = emulator.verify(signed_request_of(request, body))
    path = request.url.path
    if verified.scope.service == "bedrock":
        if not path.endswith("/converse"):
            raise ValidationException(f"The emulator answers Converse only, not {path}")
        model_id = path.removeprefix("/model/").removesuffix("/converse")
        return JSONResponse(bedrock.converse(model_id, body, emulator.converse_error))
    raw_path, query = raw_target(request)
    return await emulator.moto.call(request.method, raw_path, query, request.headers, body)
