"""``--transport streamable-http``: the HTTP front end served by uvicorn until a signal."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
import time
from types import FrameType

import uvicorn

from mcp_agentcore_proxy.config import ProxyConfig
from mcp_agentcore_proxy.http_front import StreamableHttpFront
from mcp_agentcore_proxy.loopback import base_url, is_loopback, listening_socket
from mcp_agentcore_proxy.proxy import EXIT_BUDGET, Forwarding, exit_now

logger = logging.getLogger(__name__)


def _stopped(signum: int, frame: FrameType | None) -> None:
    logger.info("%s received; stopping", signal.Signals(signum).name)


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
    # Bound beyond loopback, Host names other than loopback ones are the user's choice.
    front = StreamableHttpFront(forwarding.router, config.shutdown_grace, not loopback)
    server = uvicorn.Server(
        uvicorn.Config(
            front.app,
            log_config=None,
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=max(1, int(config.shutdown_grace)),
        )
    )

    async def run() -> None:
        serving = asyncio.ensure_future(server.serve(sockets=[sock]))
        while not server.started and not serving.done():
            await asyncio.sleep(0.01)
        if server.started:
            print(f"mcp-agentcore-proxy: serving MCP Streamable HTTP at {url}", file=sys.stderr)
            sys.stderr.flush()
        await serving

    # uvicorn takes SIGTERM/SIGINT while serving and raises them again once stopped:
    # these handlers receive that, so the shutdown below still runs.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, _stopped)
    asyncio.run(run())
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, exit_now)  # a second signal: out at once
    # uvicorn gave open requests the grace already; their clients are gone now.
    front.close(grace=0)
    forwarding.end_sessions(time.monotonic() + EXIT_BUDGET)
    return 0
