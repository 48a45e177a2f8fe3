"""The emulator's routes, read like the list of operations it answers."""

from __future__ import annotations

from starlette.routing import Route, WebSocketRoute

from agentcore_emulator import admin, dashboard, identity_api, idp, otlp
from agentcore_emulator.data_plane import (
    agent_card,
    invocations,
    runtime_command,
    stop_runtime_session,
)
from agentcore_emulator.gateway_mcp import gateway_mcp, protected_resource
from agentcore_emulator.oauth import IDP_PATH
from agentcore_emulator.passthrough import aws_services
from agentcore_emulator.ws import runtime_ws


def _admin(path: str, endpoint: admin.Endpoint, method: str) -> Route:
    guarded = admin.local_only(admin.answers_bad_requests(endpoint))
    return Route(f"/_emulator/{path}", guarded, methods=[method])


ROUTES = [
    Route(
        "/runtimes/{arn:path}/invocations/.well-known/agent-card.json",
        agent_card,
        methods=["GET"],
    ),
    Route("/runtimes/{arn:path}/invocations", invocations, methods=["POST", "GET", "DELETE"]),
    # An A2A agent card names the URL with a slash; clients post to it as named.
    Route("/runtimes/{arn:path}/invocations/", invocations, methods=["POST", "GET", "DELETE"]),
    Route("/runtimes/{arn:path}/stopruntimesession", stop_runtime_session, methods=["POST"]),
    Route("/runtimes/{arn:path}/commands", runtime_command, methods=["POST"]),
    WebSocketRoute("/runtimes/{arn:path}/ws", runtime_ws),
    Route(f"{IDP_PATH}/.well-known/openid-configuration", idp.discovery, methods=["GET"]),
    Route(f"{IDP_PATH}/.well-known/jwks.json", idp.jwks, methods=["GET"]),
    Route(f"{IDP_PATH}/oauth2/token", idp.token, methods=["POST"]),
    Route(f"{IDP_PATH}/authorize", idp.authorize, methods=["GET", "POST"]),
    # Identity's user flow, where a person's browser is sent (not signed API calls).
    Route("/identities/oauth2/authorize", identity_api.authorize_redirect, methods=["GET"]),
    Route("/identities/oauth2/callback", identity_api.callback, methods=["GET"]),
    # AgentCore Gateway's MCP endpoints (a path each here; a host each on AWS).
    Route("/gateways/{gateway_id}/mcp", gateway_mcp, methods=["POST", "GET", "DELETE"]),
    Route(
        "/gateways/{gateway_id}/.well-known/oauth-protected-resource",
        protected_resource,
        methods=["GET"],
    ),
    # Instances' OpenTelemetry exporters, each under its session's path.
    Route("/_otlp/{session}/v1/{signal}", otlp.receive, methods=["POST"]),
    # The dashboard and what it reads.
    _admin("dashboard/{name}", dashboard.asset, "GET"),
    _admin("state", dashboard.snapshot, "GET"),
    _admin("events", dashboard.events, "GET"),
    _admin("sessions/{session}/logs", dashboard.session_logs, "GET"),
    _admin("sessions/{session}/traces", dashboard.session_traces, "GET"),
    _admin("invoke", dashboard.invoke, "POST"),
    _admin("idp/token", admin.issue_token, "POST"),
    _admin("health", admin.health, "GET"),
    _admin("env", admin.exports, "GET"),
    _admin("sessions", admin.list_sessions, "GET"),
    _admin("sessions", admin.stop_all_sessions, "DELETE"),
    _admin("invocations", admin.list_arrivals, "GET"),
    _admin("runtimes/{name}/faults", admin.set_faults, "PUT"),
    _admin("bedrock/error", admin.set_model_error, "PUT"),
    _admin("models/script", admin.set_model_script, "PUT"),
    _admin("models/calls", admin.list_model_calls, "GET"),
    _admin("models", admin.reset_models, "DELETE"),
    _admin("identity/issued", admin.list_identity_issued, "GET"),
    _admin("identity/reset", admin.reset_identity, "POST"),
    _admin("clock/advance", admin.advance_clock, "POST"),
    _admin("reset", admin.reset, "POST"),
    _admin("credentials/expire", admin.expire_credentials, "POST"),
    # The root: the dashboard for a browser, else an AWS call (STS, S3) as below.
    Route("/", dashboard.root, methods=["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]),
    Route("/{path:path}", aws_services, methods=["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH"]),
]
