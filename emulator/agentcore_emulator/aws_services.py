"""STS and the AgentCore control plane, served by moto (in this process, on loopback)."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import httpx
from moto.server import ThreadedMotoServer
from starlette.responses import Response

from agentcore_emulator.config import EmulatorConfig

logger = logging.getLogger(__name__)

# Hop-by-hop or recomputed headers that must not be copied between the two servers.
_DROPPED = {"host", "content-length", "transfer-encoding", "connection", "server", "date"}


class MotoServices:
    """A moto server that answers every AWS API the emulator does not model itself."""

    def __init__(self, config: EmulatorConfig) -> None:
        self._config = config
        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.base_url = ""

    def start(self) -> None:
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.base_url = f"http://{host}:{port}"
        self._register_runtimes()

    def stop(self) -> None:
        self._server.stop()

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
                request_header_configuration=None,
                tags=None,
            )
            # moto mints its own id and ARN; ours must be the ones the data plane answers to.
            backend.agent_runtimes.pop(runtime.agent_runtime_id, None)
            runtime.agent_runtime_id = spec.runtime_id
            runtime.agent_runtime_arn = spec.arn
            backend.agent_runtimes[spec.runtime_id] = runtime

    async def forward(
        self,
        client: httpx.AsyncClient,
        method: str,
        path_and_query: str,
        headers: Mapping[str, str],
        body: bytes,
    ) -> Response:
        """Send a verified request to moto and return its answer unchanged."""
        upstream = await client.request(
            method,
            self.base_url + path_and_query,
            content=body,
            headers={k: v for k, v in headers.items() if k.lower() not in _DROPPED},
        )
        return Response(
            upstream.content,
            status_code=upstream.status_code,
            headers={k: v for k, v in upstream.headers.items() if k.lower() not in _DROPPED},
        )
