"""A small stateless MCP server (Streamable HTTP, JSON answers) with one tool, ``echo``.

It needs nothing but the emulator's own dependencies, so the emulator installed alone
serves something out of the box: ``agentcore-emulator serve`` with no config runs it, and
boto3, the proxy or an MCP client can call it at once. Your own servers are better written
with an MCP SDK; this one only shows the way.
"""

from __future__ import annotations

import json
import os
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

VERSIONS = ("2025-11-25", "2025-06-18", "2025-03-26")
ECHO = {
    "name": "echo",
    "description": "Answer with the text it is given.",
    "inputSchema": {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
    },
}


def _result(request_id: object, result: dict[str, Any]) -> JSONResponse:
    return JSONResponse({"jsonrpc": "2.0", "id": request_id, "result": result})


def _error(request_id: object, code: int, message: str, status: int = 200) -> JSONResponse:
    body = {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}
    return JSONResponse(body, status_code=status)


def answer(message: dict[str, Any]) -> dict[str, Any] | None:
    """The result of one request, or None for a method it does not know."""
    method, params = message.get("method"), message.get("params") or {}
    if method == "initialize":
        asked = params.get("protocolVersion")
        return {
            "protocolVersion": asked if asked in VERSIONS else VERSIONS[0],
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "agentcore-emulator-example", "version": "1"},
        }
    if method == "ping":
        return {}
    if method == "tools/list":
        return {"tools": [ECHO]}
    if method == "tools/call" and params.get("name") == "echo":
        text = str((params.get("arguments") or {}).get("text", ""))
        return {"content": [{"type": "text", "text": text}], "isError": False}
    if method == "tools/call":
        return {"content": [{"type": "text", "text": "no such tool"}], "isError": True}
    return None


async def mcp(request: Request) -> Response:
    try:
        message = json.loads(await request.body())
    except ValueError:
        return _error(None, -32700, "Parse error", status=400)
    if not isinstance(message, dict):
        return _error(None, -32600, "Invalid Request", status=400)
    if "id" not in message:
        return Response(status_code=202)  # a notification, or the client's answer
    result = answer(message)
    if result is None:
        return _error(message["id"], -32601, f"Method not found: {message.get('method')}")
    return _result(message["id"], result)


app = Starlette(routes=[Route("/mcp", mcp, methods=["POST"])])

if __name__ == "__main__":
    # AgentCore reaches an MCP container on port 8000; the emulator says which port in $PORT.
    port = int(os.environ.get("PORT", "8000"))
    uvicorn.run(app, host=os.environ.get("HOST", "0.0.0.0"), port=port, log_level="warning")
