"""AgentCore Code Interpreter's operations on the wire: path, query, header and JSON body to
the sandboxes (``code_interpreter``) and back; a tool call's result as an event stream."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agentcore_emulator import eventstream
from agentcore_emulator.code_interpreter import CodeInterpreters
from agentcore_emulator.exceptions import ValidationException
from agentcore_emulator.wire import json_object

SESSION_HEADER = "x-amzn-code-interpreter-session-id"


async def answer(
    request: Request,
    sandboxes: CodeInterpreters,
    operation: str,
    params: Mapping[str, str],
    body: bytes,
) -> Response:
    """One Code Interpreter operation's answer (``operations.CODE_INTERPRETER_OPERATIONS``);
    an AwsError for what AWS refuses."""
    identifier = params["codeInterpreterIdentifier"]
    given = json_object(body)
    session_id = request.query_params.get("sessionId")
    if operation == "StartCodeInterpreterSession":
        return JSONResponse(await sandboxes.start(identifier, given))
    if operation == "StopCodeInterpreterSession":
        return JSONResponse(await sandboxes.stop(identifier, session_id))
    if operation == "GetCodeInterpreterSession":
        return JSONResponse(sandboxes.get(identifier, session_id))
    if operation == "ListCodeInterpreterSessions":
        return JSONResponse(sandboxes.list(identifier, given))
    session_id = request.headers.get(SESSION_HEADER)
    arguments = given.get("arguments") or {}
    if not isinstance(arguments, dict):
        raise ValidationException.for_field("arguments", "Member must be a structure")
    result = await sandboxes.invoke(identifier, session_id, given.get("name"), arguments)
    return Response(
        eventstream.event("result", result),
        media_type=eventstream.CONTENT_TYPE,
        headers={SESSION_HEADER: str(session_id)},
    )
