"""Wiring: stdin -> router -> AgentCore -> stdout, and an orderly exit."""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import BinaryIO

from mcp_agentcore_proxy.config import ProxyConfig, SessionMode
from mcp_agentcore_proxy.errors import ProxyError
from mcp_agentcore_proxy.identity import (
    AwsSessionFactory,
    IdentityCheck,
    RuntimeSessionIds,
    sso_hint,
)
from mcp_agentcore_proxy.router import Router
from mcp_agentcore_proxy.runtime import AgentCoreRuntime
from mcp_agentcore_proxy.stdio import LineWriter, read_lines

logger = logging.getLogger(__name__)


class _Stop(Exception):
    """A signal asked the proxy to stop reading stdin."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def run(config: ProxyConfig, stdin: BinaryIO, stdout: BinaryIO) -> int:
    """Serve until stdin closes or a signal arrives; return the exit status."""
    factory = AwsSessionFactory(config)
    identity = IdentityCheck(factory)
    try:
        who = identity()
        logger.info("ready: runtime %s as %s", config.agent_arn.arn, who.arn)
    except ProxyError as exc:
        # Keep serving: each request reports this, and `aws sso login` fixes it live.
        logger.error("%s", exc)
    runtime = AgentCoreRuntime(config, factory.agentcore_client, sso_hint(config))
    session_ids = RuntimeSessionIds(config, identity)
    router = Router(runtime, LineWriter(stdout), session_ids, config.max_concurrency)
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _raise_stop)
        signal.signal(signal.SIGINT, _raise_stop)
    try:
        for line in read_lines(stdin):
            router.submit(line)
        logger.info("stdin closed; finishing %d request(s) in flight", router.in_flight())
    except _Stop as stop:
        logger.info("%s received; finishing %d request(s) in flight", stop, router.in_flight())
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        router.close(config.shutdown_grace)
        if config.stop_sessions_on_exit and config.session_mode is not SessionMode.IDENTITY:
            for session_id in sorted(session_ids.opened):
                runtime.stop_session(session_id)
    return 0
