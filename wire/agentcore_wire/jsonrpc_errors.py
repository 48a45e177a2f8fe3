"""JSON-RPC errors as they cross AgentCore's wire: the envelope, and the codes both sides use."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# AgentCore's code for a container's failure, when a runtime reports it in band (HTTP 200
# with a JSON-RPC error, id null) instead of as a 424.
CONTAINER_ERROR_CODE = -32010


def error_envelope(reply_id: object, error: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-RPC error response: ``error`` (code, message, data) answering ``reply_id``."""
    return {"jsonrpc": "2.0", "id": reply_id, "error": dict(error)}


def error_body(reply_id: object, code: int, message: str) -> dict[str, Any]:
    """The same, from a code and a message."""
    return error_envelope(reply_id, {"code": code, "message": message})
