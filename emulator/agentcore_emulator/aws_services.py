"""STS, the AgentCore control plane and the services agents read, served by moto's WSGI
app inside this process; and what the emulator's own services read of moto's state."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from starlette.responses import Response
from werkzeug.test import EnvironBuilder, run_wsgi_app

from agentcore_emulator.config import EmulatorConfig
from agentcore_emulator.memory import Strategy

logger = logging.getLogger(__name__)

# Hop-by-hop or recomputed headers, never copied from moto's answer.
_DROPPED = {"content-length", "transfer-encoding", "connection", "server", "date"}


class MotoServices:
    """moto's app, answering every AWS API the emulator does not model itself."""

    def __init__(self, config: EmulatorConfig) -> None:
        self._config = config
        self._app: Any = None

    def start(self) -> None:
        # Imported here: moto loads its service index on first use, which takes a while.
        from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

        self._app = DomainDispatcherApplication(create_backend_app)
        self._register_runtimes()

    def _register_runtimes(self) -> None:
        """Make the control plane list the configured runtimes, with the data plane's ARNs."""
        from moto.bedrockagentcorecontrol.models import bedrockagentcorecontrol_backends

        backend = bedrockagentcorecontrol_backends[self._config.account][self._config.region]
        for spec in self._config.runtimes:
            if spec.runtime_id in backend.agent_runtimes:
                continue
            runtime = backend.create_agent_runtime(
                agent_runtime_name=spec.name,
                agent_runtime_artifact={
                    "containerConfiguration": {"containerUri": f"local/{spec.name}:latest"}
                },
                role_arn=f"arn:aws:iam::{self._config.account}:role/{spec.name}-execution",
                network_configuration={"networkMode": "PUBLIC"},
                description=f"Local runtime: {' '.join(spec.command)}",
                protocol_configuration={"serverProtocol": spec.protocol},
                lifecycle_configuration={
                    "idleRuntimeSessionTimeout": int(spec.idle_timeout),
                    "maxLifetime": int(spec.max_lifetime),
                },
                environment_variables=dict(spec.env) or None,
                authorizer_configuration=None,
                request_header_configuration=(
                    {"requestHeaderAllowlist": list(spec.request_headers)}
                    if spec.request_headers
                    else None
                ),
                tags=None,
            )
            # moto mints its own id and ARN; ours must be the ones the data plane answers to.
            backend.agent_runtimes.pop(runtime.agent_runtime_id, None)
            runtime.agent_runtime_id = spec.runtime_id
            runtime.agent_runtime_arn = spec.arn
            backend.agent_runtimes[spec.runtime_id] = runtime

    def control_backend(self) -> Any:
        """moto's AgentCore control plane of this emulator's account and region."""
        from moto.bedrockagentcorecontrol.models import bedrockagentcorecontrol_backends

        return bedrockagentcorecontrol_backends[self._config.account][self._config.region]

    def memory(self, memory_id: str) -> tuple[str, list[Strategy]] | None:
        """A memory the control plane knows (by id or ARN): its id and strategies."""
        backend = self.control_backend()
        key = memory_id.rsplit("/", 1)[-1]
        memory = backend.memories.get(key)
        if memory is None:
            return None
        strategies = [
            Strategy(s["strategyId"], str(s["type"]), tuple(s.get("namespaces") or ()))
            for s in memory.strategies
        ]
        return key, strategies

    async def call(
        self, method: str, raw_path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> Response:
        """Answer a verified request with moto (in a worker thread: moto blocks)."""
        status, answer_headers, content = await asyncio.to_thread(
            self._call, method, raw_path, query, headers, body
        )
        return Response(content, status_code=status, headers=answer_headers)

    def _call(
        self, method: str, raw_path: str, query: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        environ = EnvironBuilder(
            method=method,
            path=raw_path,
            query_string=query,
            headers=list(headers.items()),
            data=body,
        ).get_environ()
        chunks, status, answer_headers = run_wsgi_app(self._app, environ, buffered=True)
        dropped = _DROPPED - {"content-length"} if method == "HEAD" else _DROPPED
        # A HEAD answer has no body: its Content-Length is the object's, kept as moto gave it.
        kept = {k: v for k, v in answer_headers.items() if k.lower() not in dropped}
        return int(status.split(" ", 1)[0]), kept, b"".join(chunks)
