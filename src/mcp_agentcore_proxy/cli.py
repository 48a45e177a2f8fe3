"""Command line: flags and environment in, one ProxyConfig out, then run."""

from __future__ import annotations

import gc
import logging
import os
import sys
from collections.abc import Sequence

from mcp_agentcore_proxy.errors import ConfigurationError
from mcp_agentcore_proxy.settings import parse_config


def main(argv: Sequence[str] | None = None) -> int:
    # What the start allocates (modules, botocore's models) lives as long as the process;
    # the cyclic collector walked it over and over while starting (22 ms of a 0.235 s
    # start, measured end to end; one pass of 21 ms fell in the first call). Paused while
    # the modules load, then frozen: later passes walk only what came after.
    gc.disable()
    try:
        return _main(argv)
    finally:
        gc.enable()


def _main(argv: Sequence[str] | None) -> int:
    try:
        config = parse_config(sys.argv[1:] if argv is None else argv, os.environ)
    except ConfigurationError as exc:
        print(f"mcp-agentcore-proxy: {exc}", file=sys.stderr)
        return 2
    from mcp_agentcore_proxy.logs import configure_logging
    from mcp_agentcore_proxy.stdio_serve import run

    configure_logging(config.log_level)
    for note in config.start_notes:
        logging.getLogger("mcp_agentcore_proxy").warning("%s", note)
    if config.transport == "streamable-http":
        try:
            from mcp_agentcore_proxy.front_serve import serve
        except ImportError as exc:
            print(
                f"mcp-agentcore-proxy: the Streamable HTTP front end needs the [http] extra "
                f"({exc.name} is missing): install 'mcp-agentcore-proxy[http]'",
                file=sys.stderr,
            )
            return 2
        _loaded()
        return serve(config)
    _loaded()
    return run(config, sys.stdin.buffer, sys.stdout.buffer)


def _loaded() -> None:
    """The modules are in: keep what they made out of the collector's passes."""
    gc.freeze()
    gc.enable()
