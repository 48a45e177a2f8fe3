"""The emulator's state: runtimes, sessions, credentials, and the services behind it."""

from __future__ import annotations

import collections
import itertools
from collections.abc import Collection
from datetime import UTC, datetime, timedelta

import httpx
from starlette.requests import Request

from agentcore_emulator.aws_services import MotoServices
from agentcore_emulator.config import EmulatorConfig, RuntimeSpec
from agentcore_emulator.credentials import CredentialStore
from agentcore_emulator.runtimes import RuntimeRegistry
from agentcore_emulator.sessions import SessionClock, SessionRegistry
from agentcore_emulator.sigv4 import Credential, SignedRequest, Verified, verify_sigv4

# Services whose SigV4 scope the emulator accepts: the data and control planes share a name.
INSTANCE_KEEPALIVE_EXPIRY = 2.0  # seconds; below the instances' own 5 s
DATA_PLANE = ("bedrock-agentcore",)  # InvokeAgentRuntime, StopRuntimeSession
SIGNING_SERVICES = frozenset({"bedrock-agentcore", "sts", "bedrock"})


class Emulator:
    """The emulator's state: runtimes, sessions, credentials, and the services behind it."""

    def __init__(
        self, config: EmulatorConfig, base_url: str, clock: SessionClock | None = None
    ) -> None:
        self.config = config
        self.base_url = base_url
        self.runtimes = RuntimeRegistry(config.runtimes, config.account)
        self.credentials = CredentialStore([Credential(config.access_key, config.secret_key)])
        # Instances are uvicorn servers that close idle connections after 5 s, httpx's own
        # default expiry: a request sent just then is lost ("Server disconnected").
        # Expiring ours sooner means the instance never closes one under a request.
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(None, connect=5.0),
            limits=httpx.Limits(keepalive_expiry=INSTANCE_KEEPALIVE_EXPIRY),
        )
        self.sessions = SessionRegistry(self.client, self.instance_env, config.max_sessions, clock)
        self.moto = MotoServices(config)
        self.converse_error: str | None = None
        # The latest invocations, numbered in the order they arrived (for tests).
        self.arrivals: collections.deque[dict[str, str | int]] = collections.deque(maxlen=1000)
        self._arrival_numbers = itertools.count(1)

    def record_arrival(self, spec: RuntimeSpec, session_id: str, method: str) -> None:
        self.arrivals.append(
            {
                "seq": next(self._arrival_numbers),
                "runtime": spec.name,
                "session": session_id,
                "method": method,
            }
        )

    def instance_env(self, spec: RuntimeSpec, session_id: str) -> dict[str, str]:
        """What an instance sees, as a runtime's execution role would give it."""
        return {**self.config.client_environment(self.base_url), "AGENTCORE_RUNTIME_ARN": spec.arn}

    async def verify(
        self, request: Request, body: bytes, services: Collection[str] = SIGNING_SERVICES
    ) -> Verified:
        """Check the request's SigV4 signature, scoped to one of ``services`` (the route's)."""
        raw_path, query = raw_target(request)
        signed = SignedRequest(
            method=request.method,
            raw_path=raw_path,
            query=query,
            headers=[
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]
            ],
            body=body,
        )
        return verify_sigv4(
            signed,
            self.credentials,
            now=datetime.now(UTC),
            region=self.config.region,
            services=services,
            max_skew=timedelta(seconds=self.config.max_skew_seconds),
        )


def raw_target(request: Request) -> tuple[str, str]:
    """Path and query exactly as sent: SigV4 signs them undecoded (a %2F stays a %2F)."""
    raw_path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    return raw_path, request.scope.get("query_string", b"").decode("latin-1")


def emulator_of(request: Request) -> Emulator:
    """The Emulator serving a request."""
    return request.app.state.emulator  # type: ignore[no-any-return]
