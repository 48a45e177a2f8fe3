"""Wiring: stdin -> router -> AgentCore -> stdout, and an exit in bounded time."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import BinaryIO

from mcp_agentcore_proxy import jsonrpc
from mcp_agentcore_proxy.bearer import BearerTokens
from mcp_agentcore_proxy.config import ProxyConfig, SessionMode
from mcp_agentcore_proxy.errors import INTERNAL_ERROR, ProxyError
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
from mcp_agentcore_proxy.stdio import LineWriter, Output, read_lines
from mcp_agentcore_proxy.threads import Workers, start_daemon

logger = logging.getLogger(__name__)

# After the grace for calls in flight: time to write their last answers and end sessions.
EXIT_BUDGET = 0.8
SHUTTING_DOWN = {"code": INTERNAL_ERROR, "message": "The proxy is shutting down"}


class _Stop(Exception):
    """A signal asked the proxy to stop reading stdin."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def exit_now(signum: int, frame: FrameType | None) -> None:
    # A second signal while shutting down: the user wants out, whatever is pending.
    os._exit(128 + signum)


def _in_background(name: str, work: Callable[[], None]) -> threading.Thread:
    return start_daemon(work, name=name)


def _log_identity(identity: Callable[[], CallerIdentity], config: ProxyConfig) -> None:
    try:
        logger.info("ready: runtime %s as %s", config.agent_arn.arn, identity().arn)
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
            _in_background("data-path", self.runtime.prepare)

        identity: Callable[[], CallerIdentity] = (
            bearer.identity if bearer is not None else IdentityCheck(factory, open_beside)
        )
        # Identity mode needs the caller for its session id; the other modes never wait
        # on STS, and look it up only to log it.
        if config.session_mode is SessionMode.IDENTITY or logger.isEnabledFor(logging.INFO):
            _in_background("identity", lambda: _log_identity(identity, config))
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


def run(config: ProxyConfig, stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Serve until stdin closes or a signal arrives; return the exit status."""
    on_main = threading.current_thread() is threading.main_thread()
    if on_main:
        signal.signal(signal.SIGTERM, _raise_stop)
        signal.signal(signal.SIGINT, _raise_stop)
    writer = LineWriter(stdout)
    forwarding = Forwarding(config)
    router = forwarding.router(writer)
    try:
        for line in read_lines(stdin, router.admit):
            router.submit(*line)
        logger.info("stdin closed; finishing %d request(s) in flight", router.in_flight())
    except _Stop as stop:
        logger.info("%s received; finishing %d request(s) in flight", stop, router.in_flight())
    finally:
        if on_main:
            signal.signal(signal.SIGTERM, exit_now)
            signal.signal(signal.SIGINT, exit_now)
        _shut_down(config, router, writer, forwarding)
    return 0


def _shut_down(
    config: ProxyConfig,
    router: Router,
    writer: LineWriter,
    forwarding: Forwarding,
) -> None:
    """Finish within the grace plus EXIT_BUDGET, whatever the runtime or the client do."""
    cut = router.close(time.monotonic() + config.shutdown_grace)
    budget_end = time.monotonic() + EXIT_BUDGET

    def answer_cut() -> None:
        for call in cut:
            writer.write(jsonrpc.error_response(call.id, SHUTTING_DOWN))

    # Writing blocks if the client stopped reading: a daemon thread may be left behind.
    answering = _in_background("answer-cut", answer_cut)
    forwarding.end_sessions(budget_end)
    answering.join(max(0.0, budget_end - time.monotonic()))
    if not writer.close(budget_end - time.monotonic()):
        # A write blocks on a full pipe: Python's own exit would flush stdout and block
        # (or abort on the lock a daemon thread holds). Leave without it.
        logger.warning("stdout is not being read; exiting without the last answers")
        for handler in logging.getLogger().handlers:
            handler.flush()
        os._exit(0)
