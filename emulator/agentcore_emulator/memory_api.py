"""AgentCore Memory's data plane operations on the wire: each operation's path values and
JSON body to the memory store (``memory``) and back."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from starlette.responses import JSONResponse, Response

from agentcore_emulator.memory import MemoryStore
from agentcore_emulator.wire import json_object

_Handler = Callable[[MemoryStore, str, Mapping[str, str], dict[str, Any]], dict[str, Any]]

# Each operation: how the store answers it, and the HTTP status of its success.
_OPERATIONS: dict[str, tuple[_Handler, int]] = {
    "CreateEvent": (lambda m, i, p, b: m.create_event(i, b), 201),
    "GetEvent": (lambda m, i, p, b: m.get_event(i, p), 200),
    "DeleteEvent": (lambda m, i, p, b: m.delete_event(i, p), 200),
    "ListEvents": (lambda m, i, p, b: m.list_events(i, p, b), 200),
    "ListSessions": (lambda m, i, p, b: m.list_sessions(i, p, b), 200),
    "ListActors": (lambda m, i, p, b: m.list_actors(i, b), 200),
    "BatchCreateMemoryRecords": (lambda m, i, p, b: m.batch_create_records(i, b), 201),
    "BatchUpdateMemoryRecords": (lambda m, i, p, b: m.batch_update_records(i, b), 200),
    "BatchDeleteMemoryRecords": (lambda m, i, p, b: m.batch_delete_records(i, b), 200),
    "GetMemoryRecord": (lambda m, i, p, b: m.get_record(i, p), 200),
    "DeleteMemoryRecord": (lambda m, i, p, b: m.delete_record(i, p), 200),
    "ListMemoryRecords": (lambda m, i, p, b: m.list_records(i, b), 200),
    "RetrieveMemoryRecords": (lambda m, i, p, b: m.retrieve_records(i, b), 200),
}


def answer(store: MemoryStore, operation: str, params: Mapping[str, str], body: bytes) -> Response:
    """One Memory operation's answer (``operations.MEMORY_OPERATIONS``); an AwsError for
    what AWS refuses."""
    given = json_object(body)
    handler, status = _OPERATIONS[operation]
    return JSONResponse(handler(store, params["memoryId"], params, given), status_code=status)
