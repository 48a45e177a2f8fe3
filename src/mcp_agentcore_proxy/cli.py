"""Command line: flags and environment in, one ProxyConfig out, then run."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence

from mcp_agentcore_proxy import __version__
from mcp_agentcore_proxy.config import ProxyConfig, RuntimeArn, SessionMode
from mcp_agentcore_proxy.errors import ConfigurationError

_ENV_HELP = """\
environment (each flag's default comes from it):
  AGENTCORE_AGENT_ARN or AGENT_ARN       the runtime ARN (required)
  AWS_REGION                             region (default: the ARN's)
  AGENTCORE_QUALIFIER                    endpoint qualifier (default: DEFAULT)
  RUNTIME_SESSION_MODE                   identity | session | request
  AGENTCORE_ASSUME_ROLE_ARN              role to assume before calling
  AGENTCORE_ASSUME_ROLE_SESSION_NAME     its session name
  AWS_PROFILE                            profile of the default credential chain
  AGENTCORE_READ_TIMEOUT                 seconds to wait for the runtime (default: 900)
  AGENTCORE_MAX_CONCURRENCY              requests in flight at once (default: 32)
  LOG_LEVEL                              DEBUG, INFO, WARNING (default) or ERROR
  AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_BEDROCK_AGENTCORE, AWS_ENDPOINT_URL_STS
                                         endpoints, as boto3 defines them (e.g. the emulator)
"""


def build_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mcp-agentcore-proxy",
        description="A stdio MCP server that forwards every message to an MCP server on "
        "Amazon Bedrock AgentCore Runtime, signed with your AWS credentials (SigV4).",
        epilog=_ENV_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add = parser.add_argument
    add("--agent-arn", default=env.get("AGENTCORE_AGENT_ARN") or env.get("AGENT_ARN"))
    add("--region", default=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION"))
    add("--qualifier", default=env.get("AGENTCORE_QUALIFIER", "DEFAULT"))
    add(
        "--session-mode",
        choices=[m.value for m in SessionMode],
        default=env.get("RUNTIME_SESSION_MODE", SessionMode.IDENTITY.value).lower(),
        help="identity: one runtime session per caller identity; session: one per proxy "
        "process; request: a new one for every request",
    )
    add("--assume-role-arn", default=env.get("AGENTCORE_ASSUME_ROLE_ARN") or None)
    add(
        "--assume-role-session-name",
        default=env.get("AGENTCORE_ASSUME_ROLE_SESSION_NAME", "mcpAgentCoreProxy"),
    )
    add("--profile", default=env.get("AWS_PROFILE") or None)
    add("--read-timeout", type=float, default=float(env.get("AGENTCORE_READ_TIMEOUT", 900)))
    add("--connect-timeout", type=float, default=float(env.get("AGENTCORE_CONNECT_TIMEOUT", 10)))
    add("--max-concurrency", type=int, default=int(env.get("AGENTCORE_MAX_CONCURRENCY", 32)))
    add("--max-attempts", type=int, default=int(env.get("AGENTCORE_MAX_ATTEMPTS", 3)))
    add("--shutdown-grace", type=float, default=float(env.get("AGENTCORE_SHUTDOWN_GRACE", 10)))
    add(
        "--keep-sessions",
        action="store_true",
        default=env.get("AGENTCORE_KEEP_SESSIONS", "").lower() in ("1", "true", "yes"),
        help="do not call StopRuntimeSession on exit (session and request modes)",
    )
    add("--log-level", default=env.get("LOG_LEVEL", "WARNING").upper())
    add("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def parse_config(argv: Sequence[str], env: Mapping[str, str]) -> ProxyConfig:
    """Build the configuration, or raise ConfigurationError saying what to fix."""
    args = build_parser(env).parse_args(argv)
    if not args.agent_arn:
        raise ConfigurationError("Set AGENTCORE_AGENT_ARN (or AGENT_ARN) to the runtime's ARN")
    arn = RuntimeArn.parse(args.agent_arn)
    if args.max_concurrency < 1 or args.max_attempts < 1:
        raise ConfigurationError("--max-concurrency and --max-attempts must be at least 1")
    if args.log_level not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        raise ConfigurationError(f"Unknown LOG_LEVEL {args.log_level!r}")
    return ProxyConfig(
        agent_arn=arn,
        region=args.region or arn.region,
        qualifier=args.qualifier,
        session_mode=SessionMode(args.session_mode),
        assume_role_arn=args.assume_role_arn,
        assume_role_session_name=args.assume_role_session_name,
        profile=args.profile,
        read_timeout=args.read_timeout,
        connect_timeout=args.connect_timeout,
        max_concurrency=args.max_concurrency,
        max_attempts=args.max_attempts,
        shutdown_grace=args.shutdown_grace,
        stop_sessions_on_exit=not args.keep_sessions,
        log_level=args.log_level,
    )


def main(argv: Sequence[str] | None = None) -> int:
    try:
        config = parse_config(sys.argv[1:] if argv is None else argv, os.environ)
    except ConfigurationError as exc:
        print(f"mcp-agentcore-proxy: {exc}", file=sys.stderr)
        return 2
    from mcp_agentcore_proxy.logs import configure_logging
    from mcp_agentcore_proxy.proxy import run

    configure_logging(config.log_level)
    return run(config, sys.stdin.buffer, sys.stdout.buffer)
