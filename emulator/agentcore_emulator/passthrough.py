"""Every other AWS call the emulator answers, dispatched by its SigV4 service: Bedrock
Runtime's model operations (``bedrock``), and STS, the control plane and CloudWatch Logs
(moto, ``aws_services``)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from agentcore_emulator import bedrock
from agentcore_emulator.wire import emulator_of, raw_target, signed_request_of


async def aws_services(request: Request) -> Response:
    """Any other AWS call: dispatched by the service of its SigV4 credential scope."""
    emulator = emulator_of(request)
    body = await request.body()
    verified = emulator.verify(signed_request_of(request, body))
    raw_path, query = raw_target(request)
    if verified.scope.service == "bedrock":
        return await bedrock.answer(emulator.models, raw_path, body)
    return await emulator.moto.call(request.method, raw_path, query, request.headers, body)
