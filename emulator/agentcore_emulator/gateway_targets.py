"""A gateway's targets, each turned into MCP tools: an MCP server (its own tools), a Lambda
function (the tools of its schema, answered by a local Python handler), an OpenAPI
service (a tool per operation, answered by the service at the spec's server URL).

Each target lists its tools by their own names; the gateway prefixes them
(``{target}___{tool}``) and routes calls back by that prefix.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import re
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Protocol
from urllib.parse import quote, urlencode

import aiohttp
from yarl import URL

from agentcore_wire.sse import SseDecoder

# How long a target has to answer one call (AWS's invocation timeout is 15 min; chosen
# shorter so a hung local target shows up in a test run).
TARGET_DEADLINE = 120.0
MAX_TARGET_ANSWER = 6 * 1024 * 1024  # the gateway's payload quota: 6 MB
_MCP_VERSION = "2025-06-18"


class TargetError(Exception):
    """A target could not answer; the message says why (it goes back to the caller)."""


# How a target's requests are authenticated (gateway_outbound): (method, url, headers,
# body) -> the url and headers to send.
Authenticate = Callable[[str, str, Mapping[str, str], bytes], Awaitable[tuple[str, dict[str, str]]]]


async def no_auth(
    method: str, url: str, headers: Mapping[str, str], body: bytes
) -> tuple[str, dict[str, str]]:
    """Requests sent as they are."""
    return url, dict(headers)


class Target(Protocol):
    name: str

    async def tools(self) -> list[dict[str, Any]]: ...

    async def call(self, tool: str, arguments: dict[str, Any], context: CallContext) -> Any: ...


@dataclass(frozen=True)
class CallContext:
    """What the gateway knows of a call, for the targets that are told (Lambda)."""

    gateway_id: str
    target_id: str
    prefixed_name: str
    message_id: object


# -- MCP servers ------------------------------------------------------------------------


class McpSessions:
    """The MCP session the gateway holds with each MCP-server target, reused from call to
    call as AWS's gateway reuses a target's session id (one initialize, not one a call)."""

    def __init__(self) -> None:
        self._open: dict[str, dict[str, str]] = {}

    def get(self, endpoint: str) -> dict[str, str] | None:
        return self._open.get(endpoint)

    def keep(self, endpoint: str, headers: dict[str, str]) -> None:
        if len(self._open) >= 1000 and endpoint not in self._open:  # bounded: oldest out
            del self._open[next(iter(self._open))]
        self._open[endpoint] = headers

    def forget(self, endpoint: str) -> None:
        self._open.pop(endpoint, None)


class _SessionGone(TargetError):
    """The target no longer knows the session (HTTP 404): initialize again."""


class McpServerTarget:
    """An MCP server at ``endpoint``, spoken to over Streamable HTTP in a session the
    gateway keeps (``McpSessions``); a session the server forgot is opened again once."""

    def __init__(
        self,
        name: str,
        endpoint: str,
        web: aiohttp.ClientSession,
        sessions: McpSessions | None = None,
        auth: Authenticate = no_auth,
    ) -> None:
        self.name = name
        self._endpoint = endpoint
        self._web = web
        self._sessions = sessions or McpSessions()
        self._auth = auth

    async def tools(self) -> list[dict[str, Any]]:
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        while True:
            params = {"cursor": cursor} if cursor else {}
            result = await self._in_session("tools/list", params)
            tools += result.get("tools", [])
            cursor = result.get("nextCursor")
            if not cursor or len(tools) > 1000:
                return tools

    async def call(self, tool: str, arguments: dict[str, Any], context: CallContext) -> Any:
        return await self._in_session("tools/call", {"name": tool, "arguments": arguments})

    async def _in_session(self, method: str, params: Any) -> Any:
        async with asyncio.timeout(TARGET_DEADLINE):
            session = self._sessions.get(self._endpoint)
            if session is not None:
                try:
                    return await self._request(session, method, params)
                except _SessionGone:
                    self._sessions.forget(self._endpoint)
            session = await self._open()
            self._sessions.keep(self._endpoint, session)
            return await self._request(session, method, params)

    async def _open(self) -> dict[str, str]:
        headers: dict[str, str] = {}
        init = {
            "protocolVersion": _MCP_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "agentcore-emulator-gateway", "version": "1"},
        }
        result, session_id = await self._post(headers, "initialize", init, want_id=True)
        if session_id:
            headers["Mcp-Session-Id"] = session_id
        headers["MCP-Protocol-Version"] = str(result.get("protocolVersion", _MCP_VERSION))
        await self._post(headers, "notifications/initialized", None)
        return headers

    async def _request(self, headers: dict[str, str], method: str, params: Any) -> Any:
        result, _ = await self._post(headers, method, params, want_id=True)
        return result

    async def _post(
        self, headers: dict[str, str], method: str, params: Any, want_id: bool = False
    ) -> tuple[Any, str | None]:
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        if want_id:
            message["id"] = str(uuid.uuid4())
        body = json.dumps(message).encode()
        sent = {
            **headers,
            "Content-Type": "application/json",
            "Accept": "application/json, text/event-stream",
        }
        url, sent = await self._auth("POST", self._endpoint, sent, body)
        try:
            # As given (encoded=True): aiohttp would otherwise decode the path's %3A (an
            # ARN's) and send a path other than the one that was signed.
            async with self._web.post(URL(url, encoded=True), data=body, headers=sent) as answer:
                if not want_id:
                    return None, None
                if answer.status == 404 and "Mcp-Session-Id" in headers:
                    raise _SessionGone("the MCP server no longer knows the session")
                if answer.status >= 400:
                    raise TargetError(f"the MCP server answered HTTP {answer.status}")
                reply = await _reply(answer, message["id"])
                session_id = answer.headers.get("Mcp-Session-Id")
        except aiohttp.ClientError as exc:
            raise TargetError(
                f"the MCP server at {self._endpoint} cannot be reached: {exc}"
            ) from None
        if "error" in reply:
            error = reply["error"]
            raise TargetError(
                f"the MCP server answered error {error.get('code')}: {error.get('message')}"
            )
        return reply.get("result", {}), session_id


async def _reply(answer: aiohttp.ClientResponse, request_id: str) -> dict[str, Any]:
    """The JSON-RPC answer to ``request_id``, from a JSON body or an SSE stream."""
    size = 0
    if answer.content_type == "text/event-stream":
        decoder = SseDecoder()
        async for chunk in answer.content.iter_any():
            size += len(chunk)
            if size > MAX_TARGET_ANSWER:
                raise TargetError("the MCP server's answer passed 6 MB")
            for data in decoder.feed(chunk):
                message = json.loads(data)
                if isinstance(message, dict) and message.get("id") == request_id:
                    return message
        raise TargetError("the MCP server's stream ended without an answer")
    body = await answer.content.read(MAX_TARGET_ANSWER + 1)
    if len(body) > MAX_TARGET_ANSWER:
        raise TargetError("the MCP server's answer passed 6 MB")
    message = json.loads(body)
    if not isinstance(message, dict):
        raise TargetError("the MCP server's answer is not a JSON-RPC message")
    return message


# -- Lambda functions ---------------------------------------------------------------------


class LambdaTarget:
    """A Lambda target: the tools of its schema, each call a local Python handler's, with
    the event (the arguments) and the context AgentCore passes."""

    def __init__(self, name: str, tools: list[dict[str, Any]], handler: str | None) -> None:
        self.name = name
        self._tools = tools
        self._handler = handler  # "path/to/file.py:function", or None (none configured)

    async def tools(self) -> list[dict[str, Any]]:
        return [dict(tool) for tool in self._tools]

    async def call(self, tool: str, arguments: dict[str, Any], context: CallContext) -> Any:
        if self._handler is None:
            raise TargetError(
                f"no local handler for the Lambda function of target {self.name}: name one "
                f"in the config's [[lambda_functions]]"
            )
        function = _load_handler(self._handler)
        lambda_context = SimpleNamespace(
            function_name=self._handler.rsplit(":", 1)[-1],
            aws_request_id=str(uuid.uuid4()),
            client_context=SimpleNamespace(
                custom={
                    "bedrockAgentCoreToolName": context.prefixed_name,
                    "bedrockAgentCoreMessageVersion": "1.0",
                    "bedrockAgentCoreAwsRequestId": str(uuid.uuid4()),
                    "bedrockAgentCoreMcpMessageId": str(context.message_id),
                    "bedrockAgentCoreGatewayId": context.gateway_id,
                    "bedrockAgentCoreTargetId": context.target_id,
                }
            ),
        )
        try:
            async with asyncio.timeout(TARGET_DEADLINE):
                result = await asyncio.to_thread(function, dict(arguments), lambda_context)
        except TimeoutError:
            raise TargetError(f"the Lambda handler of {self.name} did not answer in time") from None
        except Exception as exc:  # the user's handler: reported, never the emulator's fault
            raise TargetError(f"the Lambda handler raised {type(exc).__name__}: {exc}") from None
        return {"content": [{"type": "text", "text": _as_text(result)}], "isError": False}


def _load_handler(handler: str) -> Any:
    path, _, name = handler.rpartition(":")
    spec = importlib.util.spec_from_file_location(f"agentcore_lambda_{abs(hash(path))}", path)
    if spec is None or spec.loader is None:
        raise TargetError(f"the Lambda handler {path} cannot be loaded")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
        return getattr(module, name)
    except (OSError, AttributeError, SyntaxError) as exc:
        raise TargetError(f"the Lambda handler {handler} cannot be loaded: {exc}") from None


def _as_text(result: object) -> str:
    return result if isinstance(result, str) else json.dumps(result, default=str)


# -- OpenAPI services ---------------------------------------------------------------------


_PARAMETER = re.compile(r"\{([^}]+)\}")


class OpenApiTarget:
    """An OpenAPI target: a tool per operation (named by its operationId), each call an
    HTTP request to the spec's first server URL."""

    def __init__(
        self,
        name: str,
        spec: Mapping[str, Any],
        web: aiohttp.ClientSession,
        auth: Authenticate = no_auth,
    ) -> None:
        self.name = name
        self._web = web
        self._auth = auth
        servers = spec.get("servers") or [{}]
        self._base = str(servers[0].get("url", "")).rstrip("/")
        self._operations: dict[str, tuple[str, str, dict[str, Any]]] = {}
        for path, methods in (spec.get("paths") or {}).items():
            for method, operation in (methods or {}).items():
                if isinstance(operation, dict) and operation.get("operationId"):
                    self._operations[operation["operationId"]] = (method.upper(), path, operation)

    async def tools(self) -> list[dict[str, Any]]:
        tools = []
        for name, (_, _, operation) in self._operations.items():
            properties: dict[str, Any] = {}
            required: list[str] = []
            for parameter in operation.get("parameters") or []:
                properties[parameter["name"]] = parameter.get("schema", {"type": "string"})
                if parameter.get("required"):
                    required.append(parameter["name"])
            body = (
                ((operation.get("requestBody") or {}).get("content") or {}).get("application/json")
                or {}
            ).get("schema")
            if body is not None:
                properties["body"] = body
            tools.append(
                {
                    "name": name,
                    "description": operation.get("summary") or operation.get("description", ""),
                    "inputSchema": {
                        "type": "object",
                        "properties": properties,
                        "required": required,
                    },
                }
            )
        return tools

    async def call(self, tool: str, arguments: dict[str, Any], context: CallContext) -> Any:
        if tool not in self._operations:
            raise TargetError(f"no operation {tool} in the OpenAPI target {self.name}")
        method, path, operation = self._operations[tool]
        located = {p["name"]: p.get("in") for p in operation.get("parameters") or []}
        url_path = _PARAMETER.sub(
            lambda m: quote(str(arguments.get(m.group(1), "")), safe=""), path
        )
        query = {k: v for k, v in arguments.items() if located.get(k) == "query"}
        url = self._base + url_path + (f"?{urlencode(query)}" if query else "")
        given = arguments.get("body")
        data = json.dumps(given).encode() if given is not None else b""
        headers = {"Content-Type": "application/json"} if given is not None else {}
        url, headers = await self._auth(method, url, headers, data)
        try:
            async with (
                asyncio.timeout(TARGET_DEADLINE),
                self._web.request(
                    method, URL(url, encoded=True), data=data or None, headers=headers
                ) as answer,
            ):
                text = (await answer.content.read(MAX_TARGET_ANSWER)).decode(errors="replace")
                failed = answer.status >= 400
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TargetError(
                f"the OpenAPI service at {self._base} cannot be reached: {exc}"
            ) from None
        return {"content": [{"type": "text", "text": text}], "isError": failed}


def openapi_spec(configuration: Mapping[str, Any], base: Path | None = None) -> dict[str, Any]:
    """An inline OpenAPI schema (JSON) of a target's configuration."""
    payload = (configuration.get("openApiSchema") or {}).get("inlinePayload")
    if not isinstance(payload, str):
        raise TargetError("an OpenAPI target needs an inline JSON schema (inlinePayload)")
    try:
        spec = json.loads(payload)
    except ValueError as exc:
        raise TargetError(f"the OpenAPI schema is not JSON: {exc}") from None
    if not isinstance(spec, dict):
        raise TargetError("the OpenAPI schema is not an object")
    return spec
