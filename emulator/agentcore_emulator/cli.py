"""agentcore-emulator serve | env: run the emulator, or print the exports that use it."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import os
import shlex
import signal
import socket
import ssl
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import FrameType

from agentcore_emulator.config import NETWORKS, ConfigError, EmulatorConfig, load_config
from agentcore_emulator.process import READY
from agentcore_wire.loopback import base_url, is_loopback, listening_socket
from agentcore_wire.redaction import redact

DEFAULT_PORT = 8765
ENV_LOOKUP_TIMEOUT = 5.0  # seconds `env` waits for a running emulator to describe itself


class _RedactingFormatter(logging.Formatter):
    """A log line with no secret in it (a URL's password, a signature, a token)."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        port = -1
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{text!r} is not a TCP port (0 to 65535; 0: a free one)")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agentcore-emulator",
        description="A local Amazon Bedrock AgentCore Runtime endpoint (data plane, STS, "
        "control plane and Bedrock Converse) for offline development and tests.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    serve = commands.add_parser("serve", help="run the emulator")
    serve.add_argument("--host", default="127.0.0.1", help="address to bind (default: loopback)")
    serve.add_argument("--port", type=_port, default=DEFAULT_PORT, help="0 picks a free port")
    serve.add_argument("--config", type=Path, help="runtimes file (default: the demo server)")
    serve.add_argument("--log-level", default="INFO")
    serve.add_argument(
        "--network",
        choices=NETWORKS,
        help="isolated: each instance in a network of its own, on AgentCore's ports; "
        "shared: on loopback, on $PORT (default: the config's, else isolated)",
    )
    serve.add_argument(
        "--tls-cert", type=Path, help="serve HTTPS with this PEM certificate (chain)"
    )
    serve.add_argument("--tls-key", type=Path, help="its private key (default: in --tls-cert)")
    serve.add_argument(
        "--stdin-lifeline",
        action="store_true",
        help="stop (as on SIGTERM) once stdin closes: the process that started the emulator, "
        "holding its other end, has ended, even by SIGKILL",
    )
    serve.add_argument(
        "--print-env",
        type=Path,
        metavar="FILE",
        help="once serving, write the exports of `env` to FILE (then: source FILE)",
    )
    env = commands.add_parser("env", help="print shell exports that point AWS tools here")
    env.add_argument("--host", default="127.0.0.1")
    env.add_argument("--port", type=_port, default=DEFAULT_PORT)
    env.add_argument(
        "--config",
        type=Path,
        help="describe this config (default: ask the emulator serving on --host and --port)",
    )
    env.add_argument("--runtime", help="runtime whose ARN to export (default: the first)")
    return parser


def env_lines(config: EmulatorConfig, url: str, runtime: str | None = None) -> list[str]:
    """The shell lines that point boto3, the AWS CLI and the proxy at the emulator.

    ConfigError if ``runtime`` is not one of the config's (naming those it has).
    """
    return shell_lines(config.exports(url, runtime))


def shell_lines(exports: Mapping[str, str]) -> list[str]:
    lines = ["unset AWS_SESSION_TOKEN AWS_PROFILE"]
    lines += [f"export {key}={shlex.quote(value)}" for key, value in exports.items()]
    return lines


def running_exports(host: str, port: int, runtime: str | None) -> dict[str, str]:
    """The exports of the emulator serving on ``host:port``, as it describes itself.

    ConfigError if none answers there, or it has no runtime ``runtime``.
    """
    query = f"?{urllib.parse.urlencode({'runtime': runtime})}" if runtime else ""
    where = f"{host}:{port}" if ":" not in host else f"[{host}]:{port}"
    for scheme in ("http", "https"):
        url = f"{scheme}://{where}/_emulator/env{query}"
        context = ssl._create_unverified_context() if scheme == "https" else None  # noqa: S323  (its own certificate, on loopback)
        try:
            with urllib.request.urlopen(url, timeout=ENV_LOOKUP_TIMEOUT, context=context) as answer:  # noqa: S310
                return dict(json.load(answer)["exports"])
        except urllib.error.HTTPError as exc:
            raise ConfigError(json.load(exc).get("message", str(exc))) from None
        except (urllib.error.URLError, OSError, ValueError, KeyError):
            continue  # not this scheme, or nothing there
    raise ConfigError(
        f"no emulator answers on {where}: start one (agentcore-emulator serve --port {port}), "
        "or name the config to describe with --config"
    )


def _write_atomically(path: Path, text: str) -> None:
    """A reader never sees half the file: it appears whole, once ready."""
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(text)
    partial.replace(path)


async def _serve(
    config: EmulatorConfig,
    sock: socket.socket,
    url: str,
    log_level: str,
    tls: tuple[Path, Path | None] | None = None,
    print_env: Path | None = None,
    lifeline: bool = False,
) -> int | None:
    """Serve until a signal; the signal that stopped the server, if one did."""
    import uvicorn

    from agentcore_emulator.app import build_app
    from agentcore_wire.http_server import with_deadlines

    class Server(uvicorn.Server):
        stopped_by: int | None = None

        def handle_exit(self, sig: int, frame: FrameType | None) -> None:
            self.stopped_by = sig
            super().handle_exit(sig, frame)

    server = Server(
        uvicorn.Config(
            build_app(config, url),
            log_config=None,  # our logging, on stderr; uvicorn's access log would use stdout
            access_log=False,
            # Callers reach the emulator directly: X-Forwarded-* from a local client is not
            # trusted to rewrite who called (and that is a middleware less per request).
            proxy_headers=False,
            # uvicorn's WebSocket protocol traces each upgrade's headers (Authorization
            # included) at DEBUG: its loggers never go below INFO.
            log_level=max(logging.INFO, logging.getLevelNamesMapping()[log_level.upper()]),
            timeout_graceful_shutdown=5,
            timeout_keep_alive=int(config.keep_alive),
            http=with_deadlines(config.header_timeout, config.body_timeout),
            ssl_certfile=tls[0] if tls else None,
            ssl_keyfile=tls[1] if tls else None,
        )
    )
    if lifeline:
        _watch_stdin(lambda: server.handle_exit(signal.SIGTERM, None))
    serving = asyncio.ensure_future(server.serve(sockets=[sock]))
    while not server.started and not serving.done():
        await asyncio.sleep(0.01)
    if server.started:
        # Once requests are served: the ready line (scripts wait for it), then one line that
        # points a shell at it, and the same exports in a file if asked for.
        lines = env_lines(config, url)
        if print_env is not None:  # before the ready line: whoever reads it finds the file
            _write_atomically(print_env, "\n".join(lines) + "\n")
        print(f"{READY} {url}\n{'; '.join(lines)}", flush=True)
    await serving
    return server.stopped_by


def _watch_stdin(on_close: Callable[[], None]) -> None:
    """Call ``on_close`` once stdin reaches its end (no thread: the loop watches it)."""
    loop = asyncio.get_running_loop()
    fd = sys.stdin.fileno()
    os.set_blocking(fd, False)

    def readable() -> None:
        try:
            data = os.read(fd, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:  # what is written is ignored; only the end counts
            loop.remove_reader(fd)
            on_close()

    loop.add_reader(fd, readable)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"agentcore-emulator: {exc}", file=sys.stderr)
        return 2
    if getattr(args, "network", None):
        config = dataclasses.replace(config, network=args.network)
    if args.command == "env":
        try:
            if args.config is None:
                exports = running_exports(args.host, args.port, args.runtime)
            else:
                exports = config.exports(f"http://{args.host}:{args.port}", args.runtime)
        except ConfigError as exc:
            print(f"agentcore-emulator: {exc}", file=sys.stderr)
            return 2
        print("\n".join(shell_lines(exports)))
        return 0
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler])
    for quiet in ("botocore", "boto3", "urllib3", "aiohttp", "werkzeug", "sse_starlette"):
        logging.getLogger(quiet).setLevel(logging.WARNING)
    if not is_loopback(args.host):
        print(
            f"agentcore-emulator: warning: serving on {args.host}, beyond this machine. The "
            "emulator trusts fixed, public test credentials; anyone who can reach it can "
            "call it (its admin endpoints still answer loopback only).",
            file=sys.stderr,
        )
    tls = (args.tls_cert, args.tls_key) if args.tls_cert else None
    if tls and not all(path is None or path.is_file() for path in tls):
        print("agentcore-emulator: --tls-cert and --tls-key must be files", file=sys.stderr)
        return 2
    if args.print_env is not None and not args.print_env.parent.is_dir():
        print(
            f"agentcore-emulator: --print-env {args.print_env}: no folder "
            f"{args.print_env.parent} to write it in",
            file=sys.stderr,
        )
        return 2
    try:
        sock = listening_socket(args.host, args.port)
    except OSError as exc:
        print(f"agentcore-emulator: cannot bind {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    url = base_url(sock, "https" if tls else "http")
    try:
        stopped_by = asyncio.run(
            _serve(config, sock, url, args.log_level, tls, args.print_env, args.stdin_lifeline)
        )
    except KeyboardInterrupt:
        # uvicorn shut down gracefully, then re-raised the SIGINT, which asyncio turns into
        # a KeyboardInterrupt unless serving ended first: either way, exit as Ctrl-C does.
        stopped_by = signal.SIGINT
    return 128 + stopped_by if stopped_by else 0
