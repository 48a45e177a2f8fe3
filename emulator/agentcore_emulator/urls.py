"""The emulator's routes, read like the list of operations it answers."""

from __future__ import annotations

from starlette.routing import Route

from agentcore_emulator import admin
from agentcore_emulator.data_plane import aws_services, invocations, stop_runtime_session

ROUTES = [
    Route("/runtimes/{arn:path}/invocations", invocations, methods=["POST", "GET", "DELETE"]),
    Route("/runtimes/{arn:path}/stopruntimesession", stop_runtime_session, methods=["POST"]),
    Route("/_emulator/health", admin.health, methods=["GET"]),
    Route("/_emulator/sessions", admin.list_sessions, methods=["GET"]),
    Route("/_emulator/sessions", admin.stop_all_sessions, methods=["DELETE"]),
    Route("/_emulator/invocations", admin.list_arrivals, methods=["GET"]),
    Route("/_emulator/runtimes/{name}/faults", admin.set_faults, methods=["PUT"]),
    Route("/_emulator/bedrock/error", admin.set_converse_error, methods=["PUT"]),
    Route("/_emulator/clock/advance", admin.advance_clock, methods=["POST"]),
    Route("/_emulator/credentials/expire", admin.expire_credentials, methods=["POST"]),
    Route("/{path:path}", aws_services, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
]
