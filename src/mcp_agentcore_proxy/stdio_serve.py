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
from mcp_agentcore_proxy.config import ProxyConfig
from mcp_agentcore_proxy.errors import INTERNAL_ERROR
from mcp_agentcore_proxy.forwarding import EXIT_BUDGET, Forwarding, exit_now
from mcp_agentcore_proxy.router import Router
from mcp_agentcore_proxy.stdio import LineWriter, read_lines
from mcp_agentcore_proxy.threads import start_daemon

logger = logging.getLogger(__name__)

SHUTTING_DOWN = {"code": INTERNAL_ERROR, "message": "The proxy is shutting down"}


class _Stop(Exception):
    """A signal asked the proxy to stop reading stdin."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


def _in_background(name: str, work: Callable[[], None]) -> threading.Thread:
    return start_daemon(work, name=name)


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
