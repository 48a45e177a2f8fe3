"""MCP 2026-07-28 on the HTTP front end: no sessions, every request on its own.

Its clients send no ``initialize`` and get no ``Mcp-Session-Id``: each request carries its
protocol version, and its method and target in headers the server checks against the body
(``Mcp-Method``, ``Mcp-Name``, ``MCP-Protocol-Version``; -32020 ``HeaderMismatch`` if they
differ). The front end checks them as such a server does, then routes every modern request
of every client through one router, each under an id of the proxy's own (two clients'
ids collide), given back in its answer. The client's ``Mcp-Param-*`` headers are passed on.
"""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Mapping
from typing import Any

from agentcore_wire.jsonrpc_errors import error_envelope
from agentcore_wire.mcp_revisions import HEADER_MISMATCH, META_VERSION, NAME_PARAMS, is_modern
from mcp_agentcore_proxy import jsonrpc
from mcp_agentcore_proxy.jsonrpc import JsonId, Message
from mcp_agentcore_proxy.mcp_headers import (
    PARAM_PREFIX,
    ClientHeaders,
    decode_value,
)

VERSION_HEADER = "mcp-protocol-version"
# The HTTP status of an answer that is one JSON-RPC error, as the revision gives it
# (a server's early refusals: parse, request, params, headers, capability, version, method).
ERROR_STATUS = {-32700: 400, -32600: 400, -32602: 400, -32020: 400, -32021: 400, -32022: 400}
ERROR_STATUS[-32601] = 404


def answer_status(line: bytes) -> int | None:
    """HTTP status of a request's answer sent as one JSON body; None if ``line`` is not
    the answer (a notification before it, say)."""
    body = json.loads(line)
    if not isinstance(body, dict) or "method" in body or "id" not in body:
        return None
    error = body.get("error")
    code = error.get("code") if isinstance(error, dict) else None
    return ERROR_STATUS.get(code, 200) if isinstance(code, int) else 200


def body_version(message: Message) -> object:
    meta = message.params.get("_meta")
    return meta.get(META_VERSION) if isinstance(meta, dict) else None


def is_modern_request(headers: Mapping[str, str], message: Message | None = None) -> bool:
    """Whether a request speaks 2026-07-28 or later (by its header, else its ``_meta``)."""
    if is_modern(headers.get(VERSION_HEADER)):
        return True
    return message is not None and is_modern(body_version(message))


def header_mismatch(headers: Mapping[str, str], message: Message) -> str | None:
    """What a 2026-07-28 server would refuse in these headers, or None."""
    version = headers.get(VERSION_HEADER)
    if version is not None:
        version = version.strip(" \t")
    if version is None:
        return "the MCP-Protocol-Version header is missing"
    in_body = body_version(message)
    if in_body is not None and in_body != version:
        return f"MCP-Protocol-Version header {version!r} does not match the body's {in_body!r}"
    if message.kind is not jsonrpc.Kind.REQUEST:
        return None
    method = headers.get("mcp-method")
    if method is not None:
        method = method.strip(" \t")  # RFC 9110: whitespace around a field value is not in it
    if method != message.method:
        said = "is missing" if method is None else f"{method!r} does not match"
        return f"the Mcp-Method header {said} the body's {message.method!r}"
    name_param = NAME_PARAMS.get(message.method or "")
    if name_param is not None:
        sent = headers.get("mcp-name")
        name = decode_value(sent.strip(" \t")) if sent is not None else None
        expected = message.params.get(name_param)
        if name != expected:
            said = "is missing" if sent is None else f"{sent!r} does not match"
            return f"the Mcp-Name header {said} the body's {expected!r}"
    return None


def mismatch_error(reply_id: JsonId | None, problem: str) -> dict[str, Any]:
    error = {"code": HEADER_MISMATCH, "message": f"Header mismatch: {problem}"}
    return error_envelope(reply_id, error)


def passed_on(headers: Mapping[str, str]) -> ClientHeaders:
    """The client's headers its server checks that the proxy passes on as sent
    (``Mcp-Method`` and ``Mcp-Name`` are checked here and built from the body)."""
    prefix = PARAM_PREFIX.lower()
    params = tuple(
        (PARAM_PREFIX + name[len(prefix) :], value.strip(" \t"))
        for name, value in headers.items()
        if name.lower().startswith(prefix)
    )
    version = headers.get(VERSION_HEADER)
    return ClientHeaders(version.strip(" \t") if version is not None else None, params)


class RequestIds:
    """Ids of the proxy's own for the requests of many clients on one router."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._numbers = itertools.count(1)
        self._originals: dict[str, JsonId] = {}  # the proxy's id key -> the client's id

    def own(self, message: Message) -> tuple[str, Message]:
        """A unique id for a client's request: its key, and the request under it."""
        assert message.id is not None
        own_id = f"mcp-agentcore-proxy/{next(self._numbers)}"
        key = jsonrpc.id_key(own_id)
        with self._lock:
            self._originals[key] = message.id
        return key, message.with_id(own_id)

    def restore(self, key: str, line: bytes) -> bytes:
        """An answer line of request ``key``, under the client's own id again."""
        with self._lock:
            original = self._originals.get(key)
        if original is None or b'"id"' not in line:
            return line
        body = json.loads(line)
        if isinstance(body, dict) and "id" in body and "method" not in body:
            body["id"] = original
            return jsonrpc.dumps(body)
        return line

    def drop(self, key: str) -> None:
        with self._lock:
            self._originals.pop(key, None)
