"""Every other AWS call the emulator answers, dispatched by its SigV4 service: Bedrock
Runtime's model operations (``bedrock``), AgentCore's control plane and the services moto
answers whole (``aws_services``), and for anything else an answer that says it is not
emulated (``operations``)."""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import Response

from agentcore_emulator import bedrock, code_interpreter_api, identity_api, memory_api
from agentcore_emulator.activity import calling_from
from agentcore_emulator.exceptions import AwsError
from agentcore_emulator.gateways import with_emulator_urls
from agentcore_emulator.operations import (
    CODE_INTERPRETER_OPERATIONS,
    IDENTITY_OPERATIONS,
    MEMORY_OPERATIONS,
    MOTO_SERVICES,
    Answerer,
    not_emulated_operation,
    not_emulated_service,
    protocol_of,
)
from agentcore_emulator.wire import (
    emulator_of,
    error_in_protocol,
    note,
    raw_target,
    request_id_of,
    signed_request_of,
    signing_service,
)


async def aws_services(request: Request) -> Response:
    """Any other AWS call: dispatched by the service of its SigV4 credential scope; an
    error in the protocol of that service's clients, whichever service it is."""
    try:
        return await _dispatch(request)
    except AwsError as exc:
        service = signing_service(request)
        if service is None or service in ("bedrock", "bedrock-agentcore"):
            raise  # rest-json, the emulator's own
        protocol = await asyncio.to_thread(protocol_of, service)  # may read a model
        return error_in_protocol(exc, protocol, request_id_of(request))


async def _dispatch(request: Request) -> Response:
    emulator = emulator_of(request)
    body = await request.body()
    # Any service's signature is checked here: a well-signed call to a service nobody
    # emulates is told so, not refused as if its signature were wrong.
    verified = emulator.verify(signed_request_of(request, body), services=None)
    raw_path, query = raw_target(request)
    service = verified.scope.service
    if service == "bedrock":
        # Whose model call it is: the activity finds the session by the caller's address.
        token = calling_from.set(request.client.host if request.client else None)
        try:
            return await bedrock.answer(emulator.models, raw_path, body)
        finally:
            calling_from.reset(token)
    if service == "bedrock-agentcore":
        # A worker thread: the first call reads botocore's models.
        found = await asyncio.to_thread(emulator.operations.match, request.method, raw_path)
        if found is not None:
            plane, name, params = found
            note(request, operation=name)
            if name in IDENTITY_OPERATIONS:
                return await identity_api.answer(request, emulator, name, body)
            if plane == "data" and name in MEMORY_OPERATIONS:
                return memory_api.answer(emulator.memory, name, params, body)
            if plane == "data" and name in CODE_INTERPRETER_OPERATIONS:
                sandboxes = emulator.code_interpreters
                return await code_interpreter_api.answer(request, sandboxes, name, params, body)
            if emulator.operations.answerer(plane, name) is Answerer.NOBODY:
                raise not_emulated_operation(f"bedrock-agentcore {plane} plane", name)
            if "Gateway" in name:
                answer = await emulator.moto.call(
                    request.method, raw_path, query, request.headers, body
                )
                # AWS's gateway URLs (moto writes them) made the emulator's, where clients go.
                content = with_emulator_urls(bytes(answer.body), emulator.base_url)
                headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-length"}
                return Response(content, status_code=answer.status_code, headers=headers)
    elif service not in MOTO_SERVICES:
        raise not_emulated_service(service)
    return await emulator.moto.call(request.method, raw_path, query, request.headers, body)
