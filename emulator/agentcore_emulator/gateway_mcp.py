"""AgentCore Gateway's MCP endpoint: one MCP server aggregating a gateway's targets, behind
the gateway's inbound auth (AWS_IAM: SigV4 for ``bedrock-agentcore``; CUSTOM_JWT: the
runtimes' authorizer, a 401 pointing at the gateway's protected-resource metadata; NONE).

Tools are named ``{target}___{tool}``; ``tools/list`` is paginated (``TOOLS_PAGE`` a page)
unless the gateway disables it; with ``searchType = SEMANTIC`` the search tool
``x_amz_bedrock_agentcore_search`` ranks the tools for a query (lexically, here).
Sessions are opt-in (``sessionConfiguration``): ``initialize`` then begins one, and every
other request must carry its ``Mcp-Session-Id``, of the same caller, before its absolute
timeout (``gateway_sessions``); without, each request stands alone. A 2026-07-28 request
(its ``MCP-Protocol-Version``) needs no session: its version must be one the gateway lists
(-32022 else), its ``Mcp-Method`` and ``Mcp-Name`` must match its body (-32020 else), and
``server/discover`` answers what the gateway supports.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agentcore_emulator.activity import InvocationRecord
from agentcore_emulator.config import JwtAuthorizerSpec
from agentcore_emulator.exceptions import ResourceNotFoundException, UnauthorizedException
from agentcore_emulator.gateway_outbound import outbound_auth
from agentcore_emulator.gateway_targets import CallContext, Target, TargetError
from agentcore_emulator.gateways import GatewayView
from agentcore_emulator.lexical import score, words
from agentcore_emulator.state import DATA_PLANE
from agentcore_emulator.wire import emulator_of, note, signed_request_of
from agentcore_wire.mcp_revisions import (
    HEADER_MISMATCH,
    META_VERSION,
    NAME_PARAMS,
    UNSUPPORTED_VERSION,
    is_modern,
)

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
    record = _record(request, gateway, body)
    caller = await _authenticate(request, gateway, body)
    record.caller = caller
    authorization = request.headers.get("authorization")
    gateway = dataclasses.replace(
        gateway, auth_for=lambda configs: outbound_auth(emulator, configs, authorization)
    )
    session_id = request.headers.get("mcp-session-id")
    if request.method == "DELETE" and session_id and gateway.session_timeout is not None:
        if emulator.gateway_sessions.find(session_id, gateway.gateway_id, caller) is None:
            return _error(None, _INVALID_REQUEST, "Session not found", status=404)
        emulator.gateway_sessions.end(session_id)
        return Response(status_code=204)
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
    refusal = _refusal(request, gateway, caller, message, params)
    if refusal is not None:
        return refusal
    answer = await _answer(gateway, str(method), params, message_id)
    if is_modern(request.headers.get("mcp-protocol-version") or _meta_version(params)):
        return _modern_result(answer, str(method))
    return answer


async def _answer(
    gateway: GatewayView, method: str, params: dict[str, Any], message_id: object
) -> Response:
    """The answer of the request's own method."""
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


def _record(request: Request, gateway: GatewayView, body: bytes) -> InvocationRecord:
    """Shown on the dashboard as it arrives, refused or not; its outcome once answered."""
    activity = emulator_of(request).activity
    try:
        message = json.loads(body)
        method = str(message.get("method", ""))
        name = (message.get("params") or {}).get("name") if method == "tools/call" else None
    except (ValueError, AttributeError):
        method, name = "", None
    record = activity.begin(
        "InvokeGateway",
        runtime=f"gateway {gateway.name}",
        method=f"{method} {name}" if name else method,
        sent=body,
    )

    def finish(status: int, duration_ms: float, answered: bytes) -> None:
        activity.finish(record, status, duration_ms, answered)

    request.scope.setdefault("state", {})["on_finish"] = finish
    return record


async def _authenticate(request: Request, gateway: GatewayView, body: bytes) -> str | None:
    """Who calls (the signer's principal, the token's subject); None for a gateway
    without inbound auth. Raises AWS's refusal."""
    emulator = emulator_of(request)
    if gateway.authorizer_type == "AWS_IAM":
        credential = emulator.verify(signed_request_of(request, body), DATA_PLANE).credential
        return credential.principal or credential.access_key
    if gateway.authorizer_type != "CUSTOM_JWT":
        return None  # NONE (and the offloaded kinds): the targets decide
    config = gateway.jwt_configuration
    authorizer = JwtAuthorizerSpec(
        discovery_url=config.get("discoveryUrl"),
        allowed_audience=tuple(config.get("allowedAudience") or ()),
        allowed_clients=tuple(config.get("allowedClients") or ()),
        allowed_scopes=tuple(config.get("allowedScopes") or ()),
    )
    try:
        claims = await emulator.bearer.verify(
            emulator.web, authorizer, request.headers.get("authorization")
        )
    except UnauthorizedException as refused:
        # Where an MCP client learns how to get a token (RFC 9728).
        metadata = f"{gateway.url.rsplit('/mcp', 1)[0]}/.well-known/oauth-protected-resource"
        challenge = getattr(refused, "headers", {}).get("WWW-Authenticate", "Bearer")
        refused.headers = {"WWW-Authenticate": f'{challenge}, resource_metadata="{metadata}"'}
        raise
    return str(claims.get("sub") or claims.get("client_id") or "")


def _refusal(
    request: Request,
    gateway: GatewayView,
    caller: str | None,
    message: dict[str, Any],
    params: dict[str, Any],
) -> Response | None:
    """What answers the request instead of its method: a 2026-07-28 refusal or discovery,
    a session begun (its initialize's answer) or missing; None: its method answers."""
    sessions = emulator_of(request).gateway_sessions
    method, message_id = message.get("method"), message.get("id")
    version = request.headers.get("mcp-protocol-version") or _meta_version(params)
    if is_modern(version):
        refusal = _modern_refusal(gateway, request, message, str(version))
        if refusal is None and method == "server/discover":
            return _result(message_id, _discover(gateway))
        return refusal
    if gateway.session_timeout is None:
        return None
    if method == "initialize":
        begun = sessions.begin(gateway.gateway_id, caller, gateway.session_timeout)
        answer = _result(message_id, _initialize(gateway, params))
        answer.headers["Mcp-Session-Id"] = begun.session_id
        return answer
    session_id = request.headers.get("mcp-session-id")
    if not session_id:
        return _error(message_id, _INVALID_REQUEST, "Bad Request: Mcp-Session-Id required", 400)
    if sessions.find(session_id, gateway.gateway_id, caller) is None:
        return _error(message_id, _INVALID_REQUEST, "Session not found", status=404)
    return None


def _meta_version(params: dict[str, Any]) -> object:
    meta = params.get("_meta")
    return meta.get(META_VERSION) if isinstance(meta, dict) else None


def _modern_refusal(
    gateway: GatewayView, request: Request, message: dict[str, Any], version: str
) -> Response | None:
    """A 2026-07-28 request the gateway refuses before it runs: a version it does not
    list, or headers that do not match the body (the revision's rules)."""
    message_id, method = message.get("id"), message.get("method")
    supported = gateway.supported_versions or VERSIONS
    if version not in supported:
        error = {
            "code": UNSUPPORTED_VERSION,
            "message": f"Unsupported protocol version: {version}",
            "data": {"supported": list(supported), "requested": version},
        }
        body = {"jsonrpc": "2.0", "id": message_id, "error": error}
        return JSONResponse(body, status_code=400)
    said = request.headers.get("mcp-method")
    if said != method:
        problem = f"the Mcp-Method header {'is missing' if said is None else repr(said)}"
        return _error(message_id, HEADER_MISMATCH, f"Header mismatch: {problem}, body {method!r}")
    named_by = NAME_PARAMS.get(str(method))
    if named_by is not None:
        params = message.get("params") or {}
        name = request.headers.get("mcp-name")
        if name != params.get(named_by):
            return _error(
                message_id, HEADER_MISMATCH, "Header mismatch: Mcp-Name differs from the body"
            )
    return None


def _modern_result(answer: Response, method: str) -> Response:
    """A result as 2026-07-28 shapes it: its ``resultType``, and a listing's cache hints
    (chosen: never cached, private to the caller; AWS's are not published)."""
    body = json.loads(bytes(answer.body))
    result = body.get("result")
    if not isinstance(result, dict):
        return answer
    result.setdefault("resultType", "complete")
    if method.endswith("/list"):
        result.setdefault("ttlMs", 0)
        result.setdefault("cacheScope", "private")
    return JSONResponse(body, status_code=answer.status_code)


def _discover(gateway: GatewayView) -> dict[str, Any]:
    """What a 2026-07-28 client learns instead of an initialize: versions, capabilities."""
    supported = gateway.supported_versions or VERSIONS
    result: dict[str, Any] = {
        "supportedVersions": [v for v in supported if is_modern(v)],
        "capabilities": {"tools": {"listChanged": False}},
        "ttlMs": 0,
        "cacheScope": "private",
        "resultType": "complete",
    }
    if gateway.instructions:
        result["instructions"] = gateway.instructions
    return result


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


def _error(message_id: object, code: int, message: str, status: int | None = None) -> Response:
    error = {"jsonrpc": "2.0", "id": message_id, "error": {"code": code, "message": message}}
    if status is None:  # a header mismatch is refused before the request runs: 400
        status = 400 if code == HEADER_MISMATCH else 200
    return JSONResponse(error, status_code=status)
