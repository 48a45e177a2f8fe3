"""The emulator's state: runtimes, sessions, credentials, and the services behind it.

Nothing here sees HTTP: handlers turn requests into plain values (``wire``) first.
"""

from __future__ import annotations

import collections
import itertools
import socket
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import aiohttp

from agentcore_emulator.activity import Activity, calling_from
from agentcore_emulator.aws_services import MotoServices
from agentcore_emulator.bedrock import Models
from agentcore_emulator.code_interpreter import CodeInterpreters, SandboxLimits
from agentcore_emulator.config import EmulatorConfig, FaultSpec, RuntimeSpec
from agentcore_emulator.credentials import CredentialStore
from agentcore_emulator.gateway_sessions import GatewaySessions
from agentcore_emulator.gateways import Gateways
from agentcore_emulator.identity import TokenVault
from agentcore_emulator.instance_http import (
    INSTANCE_CONNECT_TIMEOUT,
    INSTANCE_KEEPALIVE_EXPIRY,
    InstanceClient,
)
from agentcore_emulator.instance_logs import InstanceLogs
from agentcore_emulator.memory import MemoryStore
from agentcore_emulator.networks import Networks
from agentcore_emulator.oauth import IDP_PATH, BearerCheck, IdentityProvider
from agentcore_emulator.observer import SessionObserver
from agentcore_emulator.operations import AgentCoreOperations
from agentcore_emulator.otel_settings import instance_observability
from agentcore_emulator.runtimes import RuntimeRegistry
from agentcore_emulator.sessions import SessionClock, SessionRegistry
from agentcore_emulator.sigv4 import (
    Credential,
    SignedRequest,
    Verified,
    is_presigned,
    verify_presigned,
    verify_sigv4,
)
from agentcore_emulator.traces import TraceStore

DATA_PLANE = ("bedrock-agentcore",)  # InvokeAgentRuntime, StopRuntimeSession
# Services whose SigV4 scope the emulator accepts: the data and control planes share a name;
# CloudWatch Logs (moto's) is where an agent's own code may log, as on AWS.
SIGNING_SERVICES = frozenset({"bedrock-agentcore", "sts", "bedrock", "logs"})


class Emulator:
    """The emulator's state: runtimes, sessions, credentials, and the services behind it."""

    def __init__(
        self, config: EmulatorConfig, base_url: str, clock: SessionClock | None = None
    ) -> None:
        self.config = config
        self.base_url = base_url
        self.runtimes = RuntimeRegistry(config.runtimes, config.account)
        static = Credential(config.access_key, config.secret_key, principal=config.principal)
        self.credentials = CredentialStore([static])
        self.networks = Networks(config.network, base_url)
        # Every invocation crosses it; aiohttp (``web``) does the rest: WebSockets, OIDC.
        self.instance_client = InstanceClient(sockets=self.networks.socket_for)
        self.logs = InstanceLogs(self._logs_backend)
        self.sessions = SessionRegistry(
            self.instance_env,
            config.max_sessions,
            self.instance_client,
            clock,
            self.logs,
            self.networks,
        )
        self.moto = MotoServices(config)
        self.idp = IdentityProvider(base_url + IDP_PATH, config.oauth_clients)
        self.bearer = BearerCheck(self.idp)
        self.models = Models(config.models)  # Bedrock Runtime's models: sources, every call
        self.operations = AgentCoreOperations()  # which AgentCore operation a call is
        self.memory = MemoryStore(self.moto.memory)  # Memory's events and records
        # Gateways: the control plane's (moto's), served as MCP endpoints of their own.
        self.gateways = Gateways(
            self.moto.control_backend, base_url, lambda: self.web, config.lambda_handlers
        )
        self.gateway_sessions = GatewaySessions(clock=self.sessions.clock)
        # What the dashboard shows: invocations, logs, sessions, spans, warnings.
        self.activity = Activity()
        self.traces = TraceStore()
        self.observer = SessionObserver(self.sessions, self.activity, config)
        self.logs.listener = self.activity.log_line
        self.models.calls.listener = self._model_called
        self.code_interpreters = CodeInterpreters(
            SandboxLimits(
                config.sandbox_call_timeout,
                config.sandbox_memory_mb * 1024 * 1024,
                config.sandbox_max_output,
                isolated=self.networks.mode == "isolated",
            )
        )
        # Identity's token vault: a workload identity per runtime, named as its id.
        self.identity = TokenVault(
            config.account,
            config.region,
            [spec.runtime_id for spec in config.runtimes],
            base_url=base_url,
            providers=config.credential_providers,
            own_discovery_url=self.idp.discovery_url,
        )
        # The latest invocations, numbered in the order they arrived (for tests).
        self.arrivals: collections.deque[dict[str, str | int]] = collections.deque(maxlen=1000)
        self._arrival_numbers = itertools.count(1)
        self._web: aiohttp.ClientSession | None = None

    def _logs_backend(self) -> Any:
        """moto's CloudWatch Logs of this emulator's account and region (once serving)."""
        from moto.logs.models import logs_backends

        return logs_backends[self.config.account][self.config.region]

    @property
    def web(self) -> aiohttp.ClientSession:
        """aiohttp, for instances' WebSockets and OIDC discovery (open while serving)."""
        if self._web is None:
            raise RuntimeError("the emulator is not serving")
        return self._web

    async def open(self) -> None:
        self.moto.start()
        self._web = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=0,
                keepalive_timeout=INSTANCE_KEEPALIVE_EXPIRY,
                socket_factory=self._socket,
            ),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=INSTANCE_CONNECT_TIMEOUT),
            # Only what AgentCore forwards: no User-Agent or Accept-Encoding of our own, so
            # an instance never compresses what the relay passes through byte for byte.
            skip_auto_headers=("User-Agent", "Accept-Encoding"),
            auto_decompress=False,
        )

    def _socket(self, addr_info: tuple[Any, ...]) -> socket.socket:
        """aiohttp's sockets: an instance's made inside its network."""
        family, kind, proto, _, address = addr_info
        maker = self.networks.socket_for(address[0])
        return maker() if maker is not None else socket.socket(family, kind, proto)

    async def close(self) -> None:
        await self.bearer.close()
        await self.sessions.stop_all()
        await self.code_interpreters.close()
        await self.instance_client.close()
        if self._web is not None:
            await self._web.close()
        self.networks.close()

    async def reset(self) -> None:
        """Back to as started, for the next test: no session, fault, moved clock,
        invocation log, Bedrock error or Identity provider of the last one. (Numbers of
        later invocations go on from where they were, so none is taken for an earlier one.)"""
        await self.sessions.stop_all()
        for spec in self.runtimes:
            self.runtimes.set_faults(spec.name, FaultSpec())
        self.sessions.clock.reset()
        self.arrivals.clear()
        self.models.reset()
        self.identity.reset()
        self.memory.reset()
        self.gateway_sessions.reset()
        await self.code_interpreters.reset()
        self.logs.clear()
        self.traces.clear()
        self.observer.clear()
        self.activity.clear()

    def record_arrival(self, spec: RuntimeSpec, session_id: str, method: str) -> None:
        self.arrivals.append(
            {
                "seq": next(self._arrival_numbers),
                "runtime": spec.name,
                "session": session_id,
                "method": method,
            }
        )

    def _model_called(self, call: dict[str, Any]) -> None:
        """A model call, shown inside the invocation of the session that made it: found by
        the caller's address (each session has its own in an isolated network); from a
        shared address, only while exactly one invocation is in flight."""
        address = calling_from.get()
        session = None
        for live in self.sessions:
            if address is not None and live.instance.network.address == address:
                session = live.session_id
                break
        answer = call.get("answer") or {}
        summary = {
            "seq": call["seq"],
            "modelId": call["modelId"],
            "operation": call["operation"],
            "error": call["error"],
            "text": str(answer.get("text") or "")[:500],
            "toolCalls": [t.get("name") for t in answer.get("tool_uses") or []],
        }
        self.activity.model_call(session, summary)

    def instance_env(self, spec: RuntimeSpec, session_id: str) -> dict[str, str]:
        """What an instance sees, as a runtime's execution role would give it."""
        url = self.networks.instance_emulator_url(self.base_url, spec)
        return {
            **instance_observability(spec, url, session_id),
            **self.config.client_environment(url),
            "AGENTCORE_RUNTIME_ARN": spec.arn,
            # Where callers reach this runtime (an A2A agent card names it).
            "AGENTCORE_RUNTIME_URL": f"{url}/runtimes/{quote(spec.arn, safe='')}/invocations/",
        }

    def verify(
        self, signed: SignedRequest, services: Collection[str] | None = SIGNING_SERVICES
    ) -> Verified:
        """Check a request's SigV4 signature, scoped to one of ``services`` (the route's;
        None: any service, for the routes that answer every other service).

        In its headers, or in the query of a presigned URL (valid 300 s at most, as
        AgentCore's WebSocket URLs are).
        """
        check = verify_presigned if is_presigned(signed) else verify_sigv4
        return check(
            signed,
            self.credentials,
            now=datetime.now(UTC),
            region=self.config.region,
            services=services,
            max_skew=timedelta(seconds=self.config.max_skew_seconds),
        )
