"""The gateways the control plane knows (moto keeps them), as the MCP endpoint reads them:
inbound auth, MCP settings, and targets made into ``gateway_targets``; and the emulator's
URL for each, where AWS gives a host of its own."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from agentcore_emulator.gateway_sessions import DEFAULT_TIMEOUT
from agentcore_emulator.gateway_targets import (
    Authenticate,
    LambdaTarget,
    McpServerTarget,
    McpSessions,
    OpenApiTarget,
    Target,
    TargetError,
    no_auth,
    openapi_spec,
)

logger = logging.getLogger(__name__)

# AWS's gateway URL as moto writes it, rewritten to the emulator's in control-plane answers.
_AWS_GATEWAY_URL = re.compile(
    rb"https://([0-9a-z-]+)\.gateway\.bedrock-agentcore\.[a-z0-9-]+\.amazonaws\.com(?:/mcp)?"
)


def gateway_url(base_url: str, gateway_id: str) -> str:
    """Where clients reach a gateway's MCP endpoint here (chosen: a path of the emulator's
    one endpoint, where AWS gives each gateway a host)."""
    return f"{base_url}/gateways/{gateway_id}/mcp"


def with_emulator_urls(content: bytes, base_url: str) -> bytes:
    """A control-plane answer with AWS's gateway URLs made the emulator's."""
    return _AWS_GATEWAY_URL.sub(lambda m: gateway_url(base_url, m[1].decode()).encode(), content)


@dataclass(frozen=True)
class GatewayView:
    """One gateway, read from the control plane's record, and its targets."""

    gateway_id: str
    name: str
    url: str
    authorizer_type: str
    jwt_configuration: Mapping[str, Any]
    mcp: Mapping[str, Any]
    debug: bool
    # (id, name, configuration, credential provider configurations)
    _targets: tuple[tuple[str, str, Mapping[str, Any], tuple[Mapping[str, Any], ...]], ...]
    _make: Callable[[str, Mapping[str, Any], Authenticate], Target]
    # A target's outbound authentication from its credential configurations (the MCP
    # endpoint sets it for each request: it may pass the caller's token on).
    auth_for: Callable[[Sequence[Mapping[str, Any]]], Authenticate] = lambda _: no_auth

    @property
    def supported_versions(self) -> tuple[str, ...]:
        return tuple(self.mcp.get("supportedVersions") or ())

    @property
    def instructions(self) -> str | None:
        return self.mcp.get("instructions")

    @property
    def session_timeout(self) -> float | None:
        """Seconds a session lives from its initialize; None: the gateway keeps none."""
        configured = self.mcp.get("sessionConfiguration")
        if not isinstance(configured, dict):
            return None
        return float(configured.get("sessionTimeoutInSeconds") or DEFAULT_TIMEOUT)

    @property
    def search_enabled(self) -> bool:
        return self.mcp.get("searchType") == "SEMANTIC"

    @property
    def pagination_disabled(self) -> bool:
        return bool(self.mcp.get("disableMcpListToolsPagination"))

    def targets(self) -> list[Target]:
        made = []
        for _, name, configuration, credentials in self._targets:
            try:
                made.append(self._make(name, configuration, self.auth_for(credentials)))
            except TargetError as exc:
                # A target the emulator cannot serve lists no tools; the log says why.
                logger.warning("gateway %s: target %s is left out: %s", self.name, name, exc)
                continue
        return made

    def target_id(self, name: str) -> str:
        return next((tid for tid, n, _, _ in self._targets if n == name), "")


class Gateways:
    """Gateways by id, read from moto's control-plane backend at each request."""

    def __init__(
        self,
        backend: Callable[[], Any],
        base_url: str,
        web: Callable[[], aiohttp.ClientSession],
        lambda_handlers: Mapping[str, str],
    ) -> None:
        self._backend = backend
        self._base_url = base_url
        self._web = web
        self._handlers = dict(lambda_handlers)  # Lambda ARN or name -> "file.py:function"
        self._mcp_sessions = McpSessions()  # with each MCP-server target, kept

    def find(self, gateway_id: str) -> GatewayView | None:
        backend = self._backend()
        gateway = backend.gateways.get(gateway_id)
        if gateway is None:
            return None
        targets = tuple(
            (
                target.target_id,
                target.name,
                target.target_configuration or {},
                tuple(target.credential_provider_configurations or ()),
            )
            for (owner, _), target in backend.gateway_targets.items()
            if owner == gateway_id
        )
        protocol = gateway.protocol_configuration or {}
        authorizer = (gateway.authorizer_configuration or {}).get("customJWTAuthorizer") or {}
        return GatewayView(
            gateway_id,
            gateway.name,
            gateway_url(self._base_url, gateway_id),
            gateway.authorizer_type,
            authorizer,
            protocol.get("mcp") or {},
            gateway.exception_level == "DEBUG",
            targets,
            self._target,
        )

    def _target(self, name: str, configuration: Mapping[str, Any], auth: Authenticate) -> Target:
        mcp = configuration.get("mcp") or {}
        if "mcpServer" in mcp:
            endpoint = str(mcp["mcpServer"].get("endpoint", ""))
            return McpServerTarget(name, endpoint, self._web(), self._mcp_sessions, auth)
        if "lambda" in mcp:
            function = mcp["lambda"]
            arn = str(function.get("lambdaArn", ""))
            tools = (function.get("toolSchema") or {}).get("inlinePayload") or []
            handler = self._handlers.get(arn) or self._handlers.get(arn.rsplit(":", 1)[-1])
            return LambdaTarget(name, list(tools), handler)
        if "openApiSchema" in mcp:
            return OpenApiTarget(name, openapi_spec(mcp), self._web(), auth)
        raise TargetError(f"target {name}: this kind of target is not emulated")
