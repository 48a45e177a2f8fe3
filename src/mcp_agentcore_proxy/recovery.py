"""Recovering a lost MCP session: replay the client's initialize on a new one, once."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable

from mcp_agentcore_proxy import jsonrpc
from mcp_agentcore_proxy.mcp_session import INITIALIZED, McpSession
from mcp_agentcore_proxy.runtime import InvokeHeaders, Runtime

logger = logging.getLogger(__name__)

# AgentCore's words for a container that answered HTTP 404. To a request that carried
# Mcp-Session-Id, that is the MCP transport's own signal for an unknown session, sent
# before the server ran anything. A tool's text ("Browser session not found") is not.
_CONTAINER_404 = re.compile(r"\bReceived error \(404\) from runtime\b")


def is_session_lost(error_message: str, carried_session: bool) -> bool:
    """Whether the runtime says it no longer knows the MCP session of the request."""
    return carried_session and _CONTAINER_404.search(error_message) is not None


class SessionLostError(Exception):
    """The runtime lost the MCP session; replay the handshake and send once more."""

    def __init__(self, generation: int) -> None:
        super().__init__(f"MCP session of generation {generation} lost")
        self.generation = generation


class SessionRecovery:
    """Opens a new MCP session with the client's cached initialize, once for all waiters."""

    def __init__(
        self,
        runtime: Runtime,
        mcp: McpSession,
        runtime_session_id: Callable[[], str],
        tell_client: Callable[[bytes], object],
    ) -> None:
        self._runtime = runtime
        self._mcp = mcp
        self._runtime_session_id = runtime_session_id
        self._tell_client = tell_client
        self.replays = 0

    def recover(self, failed_generation: int, request_id: object) -> None:
        """Replay unless another request already did since ``failed_generation``."""
        with self._mcp.replay_lock:
            if self._mcp.snapshot().generation != failed_generation or self._mcp.handshake is None:
                return
            self.replays += 1
            payload = jsonrpc.with_id(
                self._mcp.handshake, f"mcp-agentcore-proxy-replay-{self.replays}"
            )
            answer = self._runtime.invoke(
                payload, InvokeHeaders(runtime_session_id=self._runtime_session_id())
            )
            try:
                for _ in answer.payloads():
                    pass  # the client already has its initialize result
            finally:
                answer.close()
            generation = self._mcp.restart(answer.mcp_session_id)
            initialized = self._runtime.invoke(
                INITIALIZED,
                InvokeHeaders(
                    runtime_session_id=self._runtime_session_id(),
                    mcp_session_id=answer.mcp_session_id,
                ),
            )
            try:
                for _ in initialized.payloads():
                    pass
            finally:
                initialized.close()
            logger.warning(
                "MCP session expired; opened a new one (generation %d) and retrying id=%s",
                generation,
                request_id,
            )
            self._tell_client(
                jsonrpc.notification(
                    "notifications/message",
                    {
                        "level": "warning",
                        "logger": "mcp-agentcore-proxy",
                        "data": "The runtime's MCP session had expired; the proxy opened a "
                        "new session and retried the request once.",
                    },
                )
            )
