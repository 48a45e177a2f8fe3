"""What every client of one proxy shares, whatever transport it came by (stdin, or the HTTP
front end): the runtime, its session ids and their stops, the pace; and how the process
leaves."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from types import FrameType

from agentcore_wire.redaction import redact_url
from mcp_agentcore_proxy.bearer import BearerTokens
from mcp_agentcore_proxy.config import ProxyConfig, SessionMode
from mcp_agentcore_proxy.errors import ProxyError
from mcp_agentcore_proxy.identity import (
    AwsSessionFactory,
    CallerIdentity,
    IdentityCheck,
    sso_hint,
)
from mcp_agentcore_proxy.rate import SendRate, no_pacing
from mcp_agentcore_proxy.router import Router
from mcp_agentcore_proxy.runtime import AgentCoreRuntime
from mcp_agentcore_proxy.sessions import RuntimeSessionIds, SessionStops
from mcp_agentcore_proxy.stdio import Output
from mcp_agentcore_proxy.threads import Workers, start_daemon
from mcp_agentcore_proxy.tool_policy import ToolPolicy

logger = logging.getLogger(__name__)

# After the grace for calls in flight: time to write their last answers and end sessions.
EXIT_BUDGET = 0.8


def exit_now(signum: int, frame: FrameType | None) -> None:
    # A second signal while shutting down: the user wants out, whatever is pending.
    os._exit(128 + signum)


def _log_identity(identity: Callable[[], CallerIdentity], config: ProxyConfig) -> None:
    try:
        logger.info("ready: %s as %s", redact_url(config.target), identity().arn)
    except ProxyError as exc:
        # Keep serving: each request reports this, and `aws sso login` fixes it live.
        logger.error("%s", exc)


class Forwarding:
    """What every client of one proxy shares: the runtime, its session ids, their stops."""

    def __init__(self, config: ProxyConfig) -> None:
        self.config = config
        factory = AwsSessionFactory(config)
        bearer = BearerTokens.from_config(config)
        self.runtime = AgentCoreRuntime(config, factory.agentcore, sso_hint(config), bearer=bearer)

        # With a bearer token the caller is the token's subject, and STS is never asked.
        # While STS answers, the data path opens beside it (its first use waits for that).
        def open_beside() -> None:
            start_daemon(self.runtime.prepare, name="data-path")

        identity: Callable[[], CallerIdentity] = (
            bearer.identity if bearer is not None else IdentityCheck(factory, open_beside)
        )
        # Identity mode needs the caller for its session id; the other modes never wait
        # on STS, and look it up only to log it.
        if config.session_mode is SessionMode.IDENTITY or logger.isEnabledFor(logging.INFO):
            start_daemon(lambda: _log_identity(identity, config), name="identity")
        self._bearer = bearer
        self.session_ids = RuntimeSessionIds(config, identity)
        self.stops = SessionStops(self.runtime.stop_session)
        # One pace for every client: AgentCore's quota is the endpoint's, not a client's.
        self.pace = SendRate(config.max_rate).wait_turn if config.max_rate else no_pacing

    def router(
        self,
        writer: Output,
        session_ids: RuntimeSessionIds | None = None,
        max_concurrency: int | None = None,
        workers: Workers | None = None,
    ) -> Router:
        """A router for one client, writing its answers to ``writer``; its calls at once
        are ``max_concurrency`` (default: the configured one), its threads from
        ``workers`` (default: a pool of its own)."""
        ids = session_ids or self.session_ids
        stop_each = ids.per_request and self.config.stop_sessions_on_exit
        return Router(
            self.runtime,
            writer,
            ids.current,
            max_concurrency or self.config.max_concurrency,
            session_done=self.stops.stop if stop_each else lambda _: None,
            trace=self.config.trace,
            pace=self.pace,
            workers=workers,
            policy=ToolPolicy(self.config.read_only, dict(self.config.metadata)),
            tool_timeout=self.config.tool_timeout or None,
        )

    def end_client(self, session_ids: RuntimeSessionIds) -> None:
        """Stop the runtime session one client had of its own (session mode), in the background."""
        fixed = session_ids.fixed()
        if self.config.stop_sessions_on_exit and fixed is not None:
            self.stops.stop(fixed)

    def end_sessions(self, deadline: float) -> None:
        """Stop the process's one runtime session, if it has one and should; by ``deadline``.

        A token command still running is ended first: no call waits for it any more.
        """
        if self._bearer is not None:
            self._bearer.close()
        fixed = self.session_ids.fixed()
        if self.config.stop_sessions_on_exit and fixed is not None:
            self.stops.stop(fixed)
        self.stops.wait(deadline)
        self.stops.close()
