"""JSON-RPC 2.0 messages as the proxy sees them: classified once, forwarded untouched."""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass
from typing import Any, TypeGuard

from agentcore_wire.jsonrpc_errors import error_envelope
from mcp_agentcore_proxy.errors import PARSE_ERROR, InvalidMessageError

JsonId = str | int


class Kind(enum.Enum):
    REQUEST = "request"
    NOTIFICATION = "notification"
    RESPONSE = "response"


@dataclass(frozen=True)
class Message:
    """One JSON-RPC message: the bytes to forward and what the proxy needs to route it."""

    raw: bytes
    body: dict[str, Any]
    kind: Kind

    @classmethod
    def notification(cls, method: str, params: dict[str, Any]) -> Message:
        body = {"jsonrpc": "2.0", "method": method, "params": params}
        return cls(raw=dumps(body), body=body, kind=Kind.NOTIFICATION)

    def with_id(self, new_id: JsonId) -> Message:
        """The same message under another id (as the proxy's own request), unparsed."""
        body = {**self.body, "id": new_id}
        return Message(raw=dumps(body), body=body, kind=self.kind)

    @property
    def id(self) -> JsonId | None:
        return self.body.get("id")

    @property
    def method(self) -> str | None:
        return self.body.get("method")

    @property
    def params(self) -> dict[str, Any]:
        params = self.body.get("params")
        return params if isinstance(params, dict) else {}


class InvalidLine(InvalidMessageError):
    """A line that cannot be forwarded, with the id to answer it on (if any)."""

    def __init__(self, message: str, code: int, reply_id: JsonId | None = None) -> None:
        super().__init__(message, code)
        self.reply_id = reply_id


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON (RFC 8259)")


# Made once: json.loads and json.dumps with options build a new decoder or encoder on
# every call, a measurable part of the proxy's own cost of a call.
_DECODER = json.JSONDecoder(parse_constant=_no_constant)
_ENCODER = json.JSONEncoder(separators=(",", ":"), allow_nan=False)


def loads(data: bytes | str) -> Any:
    """Parse strict RFC 8259 JSON: NaN and Infinity are refused."""
    return _DECODER.decode(data.decode() if isinstance(data, bytes | bytearray) else data)


def dumps(value: object) -> bytes:
    """Serialize compactly as strict RFC 8259 JSON on one line."""
    # ASCII escapes keep even a lone surrogate from a client's id valid UTF-8.
    return _ENCODER.encode(value).encode()


def id_key(value: object) -> str:
    """A key that tells 1 from "1", so ids keep their JSON type."""
    return json.dumps(value, sort_keys=True) if isinstance(value, dict) else json.dumps(value)


def _valid_id(value: object) -> TypeGuard[JsonId]:
    return isinstance(value, str | int) and not isinstance(value, bool)


def parse_line(line: bytes) -> Message:
    """Parse one stdin line; raise ``InvalidLine`` for anything that is not forwardable."""
    try:
        body = loads(line)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidLine(f"Parse error: {exc}", PARSE_ERROR) from exc
    if isinstance(body, list):
        raise InvalidLine("Invalid Request: JSON-RPC batches are not supported by MCP", -32600)
    if not isinstance(body, dict):
        raise InvalidLine("Invalid Request: a JSON-RPC message must be a JSON object", -32600)
    raw_id = body.get("id")
    # Echo an id MCP allows; JSON-RPC says null when it cannot be determined.
    reply_id = raw_id if _valid_id(raw_id) else None
    if body.get("jsonrpc") != "2.0":
        raise InvalidLine('Invalid Request: "jsonrpc" must be exactly "2.0"', -32600, reply_id)
    if "id" in body and not _valid_id(raw_id):
        raise InvalidLine(
            "Invalid Request: an MCP id must be a string or an integer", -32600, reply_id
        )
    method = body.get("method")
    if "method" in body:
        if not isinstance(method, str):
            raise InvalidLine('Invalid Request: "method" must be a string', -32600, reply_id)
        if "params" in body and not isinstance(body["params"], dict | list):
            raise InvalidLine(
                'Invalid Request: "params" must be an object or an array', -32600, reply_id
            )
        kind = Kind.REQUEST if "id" in body else Kind.NOTIFICATION
    elif "id" in body and ("result" in body or "error" in body):
        kind = Kind.RESPONSE
    else:
        raise InvalidLine(
            'Invalid Request: a message needs "method", or "id" with "result" or "error"',
            -32600,
            reply_id,
        )
    return Message(raw=line.strip(), body=body, kind=kind)


def parse_payload(data: bytes | str) -> Message | None:
    """Classify a message that came from the runtime; None when it is not JSON-RPC."""
    try:
        body = loads(data)
    except (UnicodeDecodeError, ValueError):
        return None
    if not isinstance(body, dict):
        return None
    if "method" in body:
        kind = Kind.REQUEST if "id" in body else Kind.NOTIFICATION
    elif "result" in body or "error" in body:
        kind = Kind.RESPONSE
    else:
        return None
    raw = data.encode() if isinstance(data, str) else data
    if b"\n" in raw or b"\r" in raw:
        # stdio framing is one message per line: re-serialize compactly.
        raw = dumps(body)
    return Message(raw=raw.strip(), body=body, kind=kind)


def with_id(raw: bytes, new_id: JsonId) -> bytes:
    """The same message under another id (for requests the proxy sends on its own)."""
    body = loads(raw)
    body["id"] = new_id
    return dumps(body)


def error_response(reply_id: object, error: dict[str, Any]) -> bytes:
    """Serialize a JSON-RPC error response."""
    return dumps(error_envelope(reply_id, error))


def notification(method: str, params: dict[str, Any]) -> bytes:
    """Serialize a JSON-RPC notification."""
    return dumps({"jsonrpc": "2.0", "method": method, "params": params})


def request(request_id: JsonId, method: str, params: dict[str, Any]) -> bytes:
    """Serialize a JSON-RPC request (one the proxy sends on its own)."""
    return dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
