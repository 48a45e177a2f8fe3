"""``--transport streamable-http``: the HTTP front end served by uvicorn until a signal.

A first SIGTERM or SIGINT drains: new requests get 503, calls in flight have the
shutdown grace to finish, the rest are answered "shutting down", every stream ends, the
runtime sessions the clients had are stopped, and the process exits. A second signal
exits at once.
"""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from types import FrameType

import uvicorn

from agentcore_wire.http_server import with_deadlines
from agentcore_wire.loopback import base_url, is_loopback, listening_socket
from mcp_agentcore_proxy.config import ProxyConfig
from mcp_agentcore_proxy.forwarding import EXIT_BUDGET, Forwarding, exit_now
from mcp_agentcore_proxy.front_end import ClientSession, StreamableHttpFront
from mcp_agentcore_proxy.router import Router
from mcp_agentcore_proxy.threads import Workers

logger = logging.getLogger(__name__)


class _DrainingServer(uvicorn.Server):
    """uvicorn, stopped only once the front end has drained."""

    def __init__(self, config: uvicorn.Config, front: StreamableHttpFront, grace: float) -> None:
        super().__init__(config)
        self._front = front
        self._grace = grace
        self._draining = False
        self._drain: asyncio.Task[None] | None = None  # owned: uvicorn stops when it ends

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        if self._draining:
            exit_now(sig, frame)  # a second signal: out at once, whatever is pending
        self._draining = True
        logger.info("%s received; draining", signal.Signals(sig).name)
        # A signal handler may run inside the loop's own bookkeeping: start from the loop.
        asyncio.get_running_loop().call_soon_threadsafe(self._start_drain, sig, frame)

    def _start_drain(self, sig: int, frame: FrameType | None) -> None:
        self._drain = asyncio.ensure_future(self._drain_then_stop(sig, frame))

    async def _drain_then_stop(self, sig: int, frame: FrameType | None) -> None:
        try:
            await self._front.drain(self._grace)
        finally:
            super().handle_exit(sig, frame)


def _stopped(signum: int, frame: FrameType | None) -> None:
    """uvicorn raises the signal it stopped on again once it has: nothing left to do."""


def serve(config: ProxyConfig) -> int:
    """Serve MCP's Streamable HTTP until SIGTERM/SIGINT; return the exit status."""
    loopback = is_loopback(config.http_host)
    if not loopback:
        logger.warning(
            "serving on %s, beyond this machine: anyone who reaches it calls your runtime "
            "with your credentials",
            config.http_host,
        )
    try:
        sock = listening_socket(config.http_host, config.http_port)
    except OSError as exc:
        print(
            f"mcp-agentcore-proxy: cannot bind {config.http_host}:{config.http_port}: {exc}",
            file=sys.stderr,
        )
        return 2
    url = f"{base_url(sock)}/mcp"
    forwarding = Forwarding(config)
    # One pool of threads for every client's router: threads go to calls in flight, and a
    # session that waits holds none (a few idle ones are kept for the next calls).
    workers = Workers("router-worker", max_idle=config.max_concurrency)

    def make_router(session: ClientSession) -> Router:
        ids = forwarding.session_ids.for_client()
        session.on_end(lambda: forwarding.end_client(ids))
        return forwarding.router(session, ids, session.max_calls, workers)

    # Bound beyond loopback, Host names other than loopback ones are the user's choice.
    front = StreamableHttpFront(
        make_router,
        allow_any_host=not loopback,
        max_sessions=config.http_max_sessions,
        # 2026-07-28 requests: as many at once as there may be client sessions, each its own.
        stateless_calls=config.http_max_sessions,
        idle_timeout=config.http_session_idle_timeout,
        max_body=config.http_max_body,
    )
    server = _DrainingServer(
        uvicorn.Config(
            front.app,
            log_config=None,
            access_log=False,
            lifespan="off",
            http=with_deadlines(config.http_header_timeout, config.http_header_timeout),
            # The streams have ended by now: what is left are connections to close.
            timeout_graceful_shutdown=1,
        ),
        front,
        config.shutdown_grace,
    )

    async def run() -> None:
        serving = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if server.started:
            print(f"mcp-agentcore-proxy: serving MCP Streamable HTTP at {url}", file=sys.stderr)
            sys.stderr.flush()
        await serving

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stopped)
    asyncio.run(run())
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, exit_now)  # a second signal: out at once
    workers.close()
    forwarding.end_sessions(time.monotonic() + EXIT_BUDGET)
    return 0
