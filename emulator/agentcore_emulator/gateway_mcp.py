"""AgentCore Gateway's MCP endpoint: one MCP server aggregating a gateway's targets, behind
the gateway's inbound auth (AWS_IAM: SigV4 for ``bedrock-agentcore``; CUSTOM_JWT: the
runtimes' authorizer, a 401 pointing at the gateway's protected-resource metadata; NONE).

Tools are named ``{target}___{tool}``; ``tools/list`` is paginated (``TOOLS_PAGE`` a page)
unless the gateway disables it; with ``searchType = SEMANTIC`` the search tool
``x_amz_bedrock_agentcore_search`` ranks the tools for a query (lexically, here).
Stateless: each request stands alone (sessions are opt-in on AWS, and not emulated).
"""

from __future__ import annotations

import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agentcore_emulator.config import JwtAuthorizerSpec
from agentcore_emulator.exceptions import ResourceNotFoundException, UnauthorizedException
from agentcore_emulator.gateway_targets import CallContext, Target, TargetError
from agentcore_emulator.gateways import GatewayView
from agentcore_emulator.lexical import score, words
from agentcore_emulator.state import DATA_PLANE
from agentcore_emulator.wire import emulator_of, note, signed_request_of

logger = logging.getLogger(__name__)

SEPARATOR = "___"
SEARCH_TOOL = "x_amz_bedrock_agentcore_search"
TOOLS_PAGE = 50  # chosen: AWS's page size is not published
VERSIONS = ("2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26")
_INVALID_REQUEST, _NOT_FOUND, _INVALID_PARAMS, _INTERNAL = -32600, -32601, -32602, -32603


async def gateway_mcp(request: Request) -> Response:
    """One MCP request to a gateway: authenticated, then answered in JSON."""
    emulator = emulator_of(request)
    gateway = emulator.gateways.find(request.path_params["gateway_id"])
    if gateway is None:
        raise ResourceNotFoundException(f"Gateway not found: {request.path_params['gateway_id']}")
    body = await request.body()
    await _authenticate(request, gateway, body)
    if request.method != "POST":
        return _error(None, _INVALID_REQUEST, "HTTP method not supported.", status=405)
    try:
        message = json.loads(body)
    except ValueError:
        return _error(None, -32700, "Parse error", status=400)
    if not isinstance(message, dict) or message.get("jsonrpc") != "2.0":
        return _error(None, _INVALID_REQUEST, "Invalid Request: one JSON-RPC 2.0 object")
    method, message_id = message.get("method"), message.get("id")
    note(request, method=method, gateway=gateway.gateway_id)
    if "id" not in message:
        return Response(status_code=202)  # a notification: accepted, nothing to answer
    params = message.get("params") or {}
    if method == "initialize":
        return _result(message_id, _initialize(gateway, params))
    if method == "ping":
        return _result(message_id, {})
    if method == "tools/list":
        try:
            return _result(message_id, await _list(gateway, params))
        except _Invalid as exc:
            return _error(message_id, _INVALID_PARAMS, str(exc))
    if method == "tools/call":
        return await _call(gateway, params, message_id)
    return _error(message_id, _NOT_FOUND, f"Method not found: {method}")


async def _authenticate(request: Request, gateway: GatewayView, body: bytes) -> None:
    emulator = emulator_of(request)
    if gateway.authorizer_type == "AWS_IAM":
        emulator.verify(signed_request_of(request, body), DATA_PLANE)
        return
    if gateway.authorizer_type != "CUSTOM_JWT":
        return  # NONE (and the offloaded kinds): the targets decide
    config = gateway.jwt_configuration
    authorizer = JwtAuthorizerSpec(
        discovery_url=config.get("discoveryUrl"),
        allowed_audience=tuple(config.get("allowedAudience") or ()),
        allowed_clients=tuple(config.get("allowedClients") or ()),
        allowed_scopes=tuple(config.get("allowedScopes") or ()),
    )
    try:
        await emulator.bearer.verify(emulator.web, authorizer, request.headers.get("authorization"))
    except UnauthorizedException as refused:
        # Where an MCP client learns how to get a token (RFC 9728).
        metadata = f"{gateway.url.rsplit('/mcp', 1)[0]}/.well-known/oauth-protected-resource"
        challenge = getattr(refused, "headers", {}).get("WWW-Authenticate", "Bearer")
        refused.headers = {"WWW-Authenticate": f'{challenge}, resource_metadata="{metadata}"'}
        raise


async def protected_resource(request: Request) -> Response:
    """The gateway's OAuth protected-resource metadata (RFC 9728), for JWT gateways."""
    emulator = emulator_of(request)
    gateway = emulator.gateways.find(request.path_params["gateway_id"])
    if gateway is None or gateway.authorizer_type != "CUSTOM_JWT":
        raise ResourceNotFoundException("No protected-resource metadata for this gateway")
    discovery = gateway.jwt_configuration.get("discoveryUrl") or emulator.idp.discovery_url
    issuer = str(discovery).split("/.well-known/", 1)[0]
    document: dict[str, Any] = {
        "resource": gateway.url,
        "authorization_servers": [issuer],
        "bearer_methods_supported": ["header"],
    }
    if gateway.jwt_configuration.get("allowedScopes"):
        document["scopes_supported"] = list(gateway.jwt_configuration["allowedScopes"])
    return JSONResponse(document)


def _initialize(gateway: GatewayView, params: dict[str, Any]) -> dict[str, Any]:
    supported = gateway.supported_versions or VERSIONS
    asked = params.get("protocolVersion")
    version = asked if asked in supported else max(supported)
    result: dict[str, Any] = {
        "protocolVersion": version,
        "capabilities": {"tools": {"listChanged": False}},
        "serverInfo": {"name": gateway.name, "version": "1.0.0"},
    }
    if gateway.instructions:
        result["instructions"] = gateway.instructions
    return result


async def _tools(gateway: GatewayView) -> list[tuple[Target, dict[str, Any]]]:
    """Every target's tools, each named ``{target}___{tool}``, in the targets' order."""
    listed: list[tuple[Target, dict[str, Any]]] = []
    for target in gateway.targets():
        try:
            tools = await target.tools()
        except TargetError as exc:
            logger.warning(
                "gateway %s: target %s lists no tools: %s", gateway.name, target.name, exc
            )
            continue
        for tool in tools:
            listed.append((target, {**tool, "name": f"{target.name}{SEPARATOR}{tool['name']}"}))
    return listed


async def _list(gateway: GatewayView, params: dict[str, Any]) -> dict[str, Any]:
    tools = [tool for _, tool in await _tools(gateway)]
    if gateway.search_enabled:
        tools.insert(0, _search_tool())
    if gateway.pagination_disabled:
        return {"tools": tools}
    try:
        start = int(str(params.get("cursor") or 0))
    except ValueError:
        start = -1
    if start < 0 or start > len(tools):
        raise _Invalid("Invalid cursor")
    page: dict[str, Any] = {"tools": tools[start : start + TOOLS_PAGE]}
    if start + TOOLS_PAGE < len(tools):
        page["nextCursor"] = str(start + TOOLS_PAGE)
    return page


async def _call(gateway: GatewayView, params: dict[str, Any], message_id: object) -> Response:
    name = params.get("name")
    arguments = params.get("arguments") or {}
    if not isinstance(name, str) or not isinstance(arguments, dict):
        return _error(message_id, _INVALID_PARAMS, "tools/call needs a name and arguments")
    if name == SEARCH_TOOL and gateway.search_enabled:
        return _result(message_id, await _search(gateway, str(arguments.get("query", ""))))
    target_name, _, tool = name.partition(SEPARATOR)
    target = next((t for t in gateway.targets() if t.name == target_name), None)
    if target is None or not tool:
        return _error(message_id, _INVALID_PARAMS, f"Unknown tool: {name}")
    context = CallContext(gateway.gateway_id, gateway.target_id(target_name), name, message_id)
    try:
        result = await target.call(tool, arguments, context)
    except TargetError as exc:
        logger.warning("gateway %s: %s failed: %s", gateway.name, name, exc)
        if gateway.debug:  # exceptionLevel DEBUG: the target's error, in the result
            return _result(
                message_id, {"content": [{"type": "text", "text": str(exc)}], "isError": True}
            )
        return _error(message_id, _INTERNAL, "An internal error occurred. Please retry later.")
    return _result(message_id, result)


def _search_tool() -> dict[str, Any]:
    return {
        "name": SEARCH_TOOL,
        "description": "Search this gateway's tools for the ones relevant to a query.",
        "inputSchema": {
            "type": "object",
            "properties": {"query": {"type": "string"}},
            "required": ["query"],
        },
    }


async def _search(gateway: GatewayView, query: str) -> dict[str, Any]:
    """The tools relevant to ``query``, best first (chosen: the lexical score of the
    query against each tool's name and description; AWS ranks semantically)."""
    wanted = words(query.replace("_", " "))
    ranked = []
    for _, tool in await _tools(gateway):
        text = f"{tool['name'].replace('_', ' ')} {tool.get('description', '')}"
        if (relevance := score(wanted, words(text))) > 0:
            ranked.append((relevance, tool))
    ranked.sort(key=lambda pair: (-pair[0], pair[1]["name"]))
    tools = [tool for _, tool in ranked[:10]]
    return {
        "content": [{"type": "text", "text": json.dumps({"tools": tools})}],
        "structuredContent": {"tools": tools},
        "isError": False,
    }


class _Invalid(Exception):
    pass


def _result(message_id: object, result: Any) -> Response:
    return JSONResponse({"jsonrpc": "2.0", "id": message_id, "result": result})


def _error(message_id: object, code: int, message: str, status: int = 200) -> Response:
    error = {"jsonrpc": "2.0", "id": message_id, "error": {"code": code, "message": message}}
    return JSONResponse(error, status_code=status)
