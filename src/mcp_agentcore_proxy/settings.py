"""The proxy's settings, each defined once: flag, variables, check and help.

The table builds the argument parser, the ``--help`` text and the ``ProxyConfig``; a
default is read from ``ProxyConfig`` itself, so it is written nowhere else.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agentcore_wire.header_rules import (
    HEADER_NAME,
    MAX_ALLOWLIST,
    MAX_ALLOWLISTED_VALUE,
    allowlist_problem,
)
from agentcore_wire.loopback import is_loopback
from agentcore_wire.redaction import redact, redact_url
from mcp_agentcore_proxy.config import ProxyConfig, RuntimeArn, SessionMode, signing_for
from mcp_agentcore_proxy.errors import ConfigurationError

TRANSPORTS = ("stdio", "streamable-http")
_LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off", ""})


def _seconds(minimum: float, allow_zero: bool) -> Callable[[str], float]:
    def parse(raw: str) -> float:
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < minimum or (value == 0 and not allow_zero):
            bound = "0 or more" if allow_zero else "more than 0"
            raise ValueError(f"expected a number of seconds, {bound} (for example 30 or 2.5)")
        return value

    return parse


def _whole(low: int, high: int | None, expected: str) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            value = low - 1
        if value < low or (high is not None and value > high):
            raise ValueError(f"expected {expected}")
        return value

    return parse


_count = _whole(1, 10_000, "a whole number from 1 to 10000")
_rate = _whole(0, 10_000, "a whole number of calls a second, 0 (no pacing) to 10000")
_bytes = _whole(1024, None, "a number of bytes, 1024 or more")


def _port(raw: str) -> int:
    if not raw.strip().isdigit() or int(raw) > 65535:
        raise ValueError("expected a port number from 0 to 65535")
    return int(raw)


def _boolean(raw: str) -> bool:
    if raw.lower() in _TRUE:
        return True
    if raw.lower() in _FALSE:
        return False
    raise ValueError("expected true or false (1/0, yes/no, on/off)")


def _choice(options: Sequence[str], upper: bool = False) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = raw.upper() if upper else raw.lower()
        if value not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return value

    return parse


def _metadata(raw: str) -> tuple[tuple[str, str], ...]:
    """``KEY=VALUE`` lines, for the ``_meta`` of each request."""
    entries: dict[str, str] = {}
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        key, equals, value = line.partition("=")
        if not equals or not key.strip():
            raise ValueError(f"line {number}: expected KEY=VALUE")
        entries[key.strip()] = value.strip()
    return tuple(entries.items())


def _mcp_url(raw: str) -> str:
    parts = urlsplit(raw.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http(s) URL, for example https://<id>.gateway...")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        # A signed request in the clear could be replayed by whoever sees it.
        raise ValueError("expected https:// (http:// only to a loopback address)")
    if parts.username or parts.password:
        raise ValueError("expected a URL without user:password@")
    return raw.strip()


def _text(raw: str) -> str:
    if not raw.strip():
        raise ValueError("expected a value")
    return raw.strip()


def _existing_file(raw: str) -> str:
    path = Path(_text(raw)).expanduser()
    if not path.is_file():
        raise ValueError("expected the path of a readable file")
    return str(path)


def _header_value(limit: int) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        value = _text(raw)
        if not (value.isascii() and value.isprintable()) or len(value) > limit:
            raise ValueError(f"expected printable ASCII, at most {limit} characters")
        return value

    return parse


# Headers the proxy sets itself, each from its own source.
_OWN_HEADERS = ("mcp-", "traceparent", "tracestate", "baggage")


def _headers(raw: str) -> tuple[tuple[str, str], ...]:
    """``NAME=VALUE`` (or ``NAME: VALUE``) lines; AgentCore's rules for custom headers.

    An error names a line by its number and a header by its name only when the name is
    one: whatever else a malformed line holds may be its secret value.
    """
    headers: dict[str, tuple[str, str]] = {}
    for number, line in enumerate(raw.splitlines(), 1):
        if not line.strip():
            continue
        cut = min((i for i in (line.find("="), line.find(":")) if i > 0), default=-1)
        if cut < 0:
            raise ValueError(f"header {number}: expected NAME=VALUE")
        name, value = line[:cut].strip(), line[cut + 1 :].strip()
        if not HEADER_NAME.fullmatch(name):
            raise ValueError(
                f"header {number}: expected NAME=VALUE, NAME of letters, digits, '-' and '_'"
            )
        if not value:
            raise ValueError(f"header {number}: no value after the name")
        problem = allowlist_problem(name, jwt_authorizer=False)
        if problem is None and name.lower().startswith(_OWN_HEADERS):
            problem = f"{name!r} is set by the proxy itself"
        if problem:
            raise ValueError(problem)
        if not (value.isascii() and value.isprintable()):
            raise ValueError(f"the value of {name} must be printable ASCII")
        if len(value) > MAX_ALLOWLISTED_VALUE:
            raise ValueError(f"the value of {name} is over {MAX_ALLOWLISTED_VALUE} bytes")
        if name.lower() in headers:
            raise ValueError(f"{name} is given twice")
        headers[name.lower()] = (name, value)
    if len(headers) > MAX_ALLOWLIST:
        raise ValueError(f"at most {MAX_ALLOWLIST} headers (AgentCore forwards no more)")
    return tuple(headers.values())


@dataclass(frozen=True)
class Setting:
    """One setting: the ``ProxyConfig`` field it fills and how users set it."""

    field: str
    flag: str
    variables: tuple[str, ...]
    parse: Callable[[str], Any]
    help: str
    switch: bool = False  # a flag without a value, which means true
    secret: bool = False  # may hold a secret: an error never repeats the value
    repeatable: bool = False  # a flag given once per value; its values parsed as lines


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "agent_arn",
        "--agent-arn",
        ("AGENTCORE_AGENT_ARN", "AGENT_ARN"),
        RuntimeArn.parse,
        "the runtime's ARN (this, or --url)",
    ),
    Setting(
        "mcp_url",
        "--url",
        ("AGENTCORE_MCP_URL",),
        _mcp_url,
        "any SigV4 MCP URL instead of a runtime: an AgentCore Gateway's, or an MCP server's "
        "behind IAM (https://; http:// to loopback only)",
    ),
    Setting(
        "read_only",
        "--read-only",
        ("AGENTCORE_READ_ONLY",),
        _boolean,
        "list and call only the tools annotated readOnlyHint: true; calls to others are "
        "refused (-32602) before they are sent",
        switch=True,
    ),
    Setting(
        "metadata",
        "--metadata",
        ("AGENTCORE_METADATA",),
        _metadata,
        "KEY=VALUE added to the _meta of every request (the client's own keys win); repeat "
        "the flag, or one per line in the variable",
        repeatable=True,
    ),
    Setting(
        "tool_timeout",
        "--tool-timeout",
        ("AGENTCORE_TOOL_TIMEOUT",),
        _seconds(0, allow_zero=True),
        "seconds a tools/call may take in all; past them the client gets a tool error "
        "(isError) and the server a cancellation (default 0: no limit)",
    ),
    Setting(
        "signing_service",
        "--service",
        ("AGENTCORE_SIGNING_SERVICE",),
        _text,
        "the SigV4 service of --url (default: from its host, as bedrock-agentcore for a gateway's)",
    ),
    Setting(
        "region",
        "--region",
        ("AWS_REGION", "AWS_DEFAULT_REGION"),
        _text,
        "AWS region (default: the ARN's); a shell's AWS_REGION that differs from the ARN's "
        "gives way to it, with a warning; --region is used as given, with a warning",
    ),
    Setting("qualifier", "--qualifier", ("AGENTCORE_QUALIFIER",), _text, "endpoint qualifier"),
    Setting(
        "session_mode",
        "--session-mode",
        ("RUNTIME_SESSION_MODE",),
        _choice([m.value for m in SessionMode]),
        "identity: one runtime session per caller identity; session: one per proxy "
        "process; request: a new one for every request",
    ),
    Setting(
        "assume_role_arn",
        "--assume-role-arn",
        ("AGENTCORE_ASSUME_ROLE_ARN",),
        _text,
        "a role to assume before calling",
    ),
    Setting(
        "assume_role_session_name",
        "--assume-role-session-name",
        ("AGENTCORE_ASSUME_ROLE_SESSION_NAME",),
        _text,
        "the assumed role's session name",
    ),
    Setting(
        "profile",
        "--profile",
        ("AWS_PROFILE",),
        _text,
        "profile of the default credential chain; one your AWS config does not name stops "
        "the proxy at start, listing those it does",
    ),
    Setting(
        "read_timeout",
        "--read-timeout",
        ("AGENTCORE_READ_TIMEOUT",),
        _seconds(0, allow_zero=False),
        "seconds to wait for the runtime's answer",
    ),
    Setting(
        "connect_timeout",
        "--connect-timeout",
        ("AGENTCORE_CONNECT_TIMEOUT",),
        _seconds(0, allow_zero=False),
        "seconds to wait for a connection",
    ),
    Setting(
        "ca_bundle",
        "--ca-bundle",
        ("AWS_CA_BUNDLE",),
        _existing_file,
        "a PEM file of the CAs to trust, for every call (a TLS-inspecting proxy's CA)",
    ),
    Setting(
        "sts_timeout",
        "--sts-timeout",
        ("AGENTCORE_STS_TIMEOUT",),
        _seconds(0, allow_zero=False),
        "seconds to wait for STS (connection, then answer) when looking up the caller",
    ),
    Setting(
        "idle_connection_timeout",
        "--idle-connection-timeout",
        ("AGENTCORE_IDLE_CONNECTION_TIMEOUT",),
        _seconds(0, allow_zero=True),
        "pooled connections idle this long are not reused (servers close idle "
        "connections; 0 never reuses one)",
    ),
    Setting(
        "max_concurrency",
        "--max-concurrency",
        ("AGENTCORE_MAX_CONCURRENCY",),
        _count,
        "requests in flight at once",
    ),
    Setting(
        "max_attempts",
        "--max-attempts",
        ("AGENTCORE_MAX_ATTEMPTS",),
        _count,
        "attempts for errors answered before anything ran (throttling, 5xx, a connection "
        "never made); a throttled call waits out AgentCore's one-second window first",
    ),
    Setting(
        "max_rate",
        "--max-rate",
        ("AGENTCORE_MAX_RATE",),
        _rate,
        "invocations a second at most: a burst waits its turn instead of being throttled "
        "(AgentCore's quota per endpoint; 0: no pacing)",
    ),
    Setting(
        "shutdown_grace",
        "--shutdown-grace",
        ("AGENTCORE_SHUTDOWN_GRACE",),
        _seconds(0, allow_zero=True),
        "seconds that requests in flight get to finish when stdin closes or a signal arrives",
    ),
    Setting(
        "keep_sessions",
        "--keep-sessions",
        ("AGENTCORE_KEEP_SESSIONS",),
        _boolean,
        "do not call StopRuntimeSession (session and request modes)",
        switch=True,
    ),
    Setting(
        "bearer_token",
        "--bearer-token",
        ("AGENTCORE_BEARER_TOKEN",),
        _text,
        "an OAuth access token for a runtime with a JWT authorizer (sent instead of SigV4)",
        secret=True,
    ),
    Setting(
        "bearer_token_file",
        "--bearer-token-file",
        ("AGENTCORE_BEARER_TOKEN_FILE",),
        _text,
        "a file holding the token, read again when the runtime refuses it",
    ),
    Setting(
        "bearer_token_command",
        "--bearer-token-command",
        ("AGENTCORE_BEARER_TOKEN_COMMAND",),
        _text,
        "a command that prints a token, run again when the runtime refuses it (30 s and "
        "16 KiB at most; ended with what it started)",
    ),
    Setting(
        "headers",
        "--header",
        ("AGENTCORE_HEADERS",),
        _headers,
        "NAME=VALUE sent on every invocation; repeat the flag, or one per line in the "
        "variable (the runtime's request-header allowlist decides what reaches it)",
        repeatable=True,
        secret=True,
    ),
    Setting(
        "runtime_user_id",
        "--runtime-user-id",
        ("AGENTCORE_RUNTIME_USER_ID",),
        _header_value(1024),
        "the end user the runtime acts for (needs bedrock-agentcore:InvokeAgentRuntimeForUser)",
    ),
    Setting(
        "traceparent",
        "--traceparent",
        ("TRACEPARENT",),
        _header_value(128),
        "W3C trace context for messages that carry none in _meta",
    ),
    Setting("tracestate", "--tracestate", ("TRACESTATE",), _header_value(512), "W3C tracestate"),
    Setting("baggage", "--baggage", ("BAGGAGE",), _header_value(8192), "W3C baggage"),
    Setting(
        "transport",
        "--transport",
        ("AGENTCORE_TRANSPORT",),
        _choice(TRANSPORTS),
        "stdio: one client on stdin/stdout; streamable-http: MCP's Streamable HTTP at "
        "http://HOST:PORT/mcp for any number of local clients (the [http] extra)",
    ),
    Setting(
        "http_host",
        "--host",
        ("AGENTCORE_HTTP_HOST",),
        _text,
        "the address the HTTP front end binds (loopback unless you mean otherwise)",
    ),
    Setting("http_port", "--port", ("AGENTCORE_HTTP_PORT",), _port, "its port (0: any free)"),
    Setting(
        "http_max_sessions",
        "--max-sessions",
        ("AGENTCORE_HTTP_MAX_SESSIONS",),
        _count,
        "HTTP client sessions at once; an initialize past them gets 503",
    ),
    Setting(
        "http_session_idle_timeout",
        "--session-idle-timeout",
        ("AGENTCORE_HTTP_SESSION_IDLE_TIMEOUT",),
        _seconds(0, allow_zero=False),
        "seconds an HTTP client session may idle (no call, no stream) before it ends, "
        "with its runtime session",
    ),
    Setting(
        "http_max_body",
        "--max-body",
        ("AGENTCORE_HTTP_MAX_BODY",),
        _bytes,
        "bytes of one POST; a larger one is refused with 413 before it is read",
    ),
    Setting(
        "http_header_timeout",
        "--header-timeout",
        ("AGENTCORE_HTTP_HEADER_TIMEOUT",),
        _seconds(0, allow_zero=False),
        "seconds an HTTP request has to send its headers, and again its body",
    ),
    Setting(
        "log_level",
        "--log-level",
        ("LOG_LEVEL",),
        _choice(_LOG_LEVELS, upper=True),
        "stderr log level; botocore stays at WARNING, secrets are redacted",
    ),
)

_ENDPOINTS_HELP = """\
endpoints, as boto3 defines them (for example the emulator's):
  AWS_ENDPOINT_URL, AWS_ENDPOINT_URL_BEDROCK_AGENTCORE, AWS_ENDPOINT_URL_STS
"""


def _defaults() -> dict[str, Any]:
    return {
        f.name: f.default
        for f in dataclasses.fields(ProxyConfig)
        if f.default is not dataclasses.MISSING
    }


def build_parser() -> argparse.ArgumentParser:
    """The command line parser; every option's help names its variables and default."""
    from mcp_agentcore_proxy import __version__

    parser = argparse.ArgumentParser(
        prog="mcp-agentcore-proxy",
        description="A stdio MCP server that forwards every message to an MCP server on "
        "Amazon Bedrock AgentCore Runtime, signed with your AWS credentials (SigV4).",
        epilog=_ENDPOINTS_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    defaults = _defaults()
    for setting in SETTINGS:
        default = defaults.get(setting.field)
        shown = f"; default: {default}" if default not in (None, False) else ""
        text = f"{setting.help} [{' or '.join(setting.variables)}{shown}]"
        if setting.switch:
            parser.add_argument(
                setting.flag, dest=setting.field, action="store_const", const="true", help=text
            )
        elif setting.repeatable:
            parser.add_argument(
                setting.flag, dest=setting.field, metavar="VALUE", action="append", help=text
            )
        else:
            parser.add_argument(setting.flag, dest=setting.field, metavar="VALUE", help=text)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def parse_config(argv: Sequence[str], env: Mapping[str, str]) -> ProxyConfig:
    """Build the configuration, or raise ConfigurationError naming what to fix."""
    args = vars(build_parser().parse_args(argv))
    values: dict[str, Any] = {}
    origins: dict[str, str] = {}  # where each value came from: its flag or variable
    for setting in SETTINGS:
        source, raw = setting.flag, args[setting.field]
        if isinstance(raw, list):
            raw = "\n".join(raw)
        if raw is None:
            source, raw = next(
                ((name, env[name]) for name in setting.variables if env.get(name, "").strip()),
                (setting.variables[0], None),
            )
        if raw is None:
            continue
        origins[setting.field] = source
        try:
            values[setting.field] = setting.parse(raw)
        except ConfigurationError:
            raise
        except ValueError as exc:
            # A value is repeated, but never a secret in it (a URL's user:password@).
            shown = source if setting.secret else f"{source}={redact(raw)!r}"
            raise ConfigurationError(f"{shown} is not valid: {exc}") from None
    sources = [
        f for f in ("bearer_token", "bearer_token_file", "bearer_token_command") if f in values
    ]
    if len(sources) > 1:
        raise ConfigurationError(
            "Set only one of AGENTCORE_BEARER_TOKEN, AGENTCORE_BEARER_TOKEN_FILE and "
            "AGENTCORE_BEARER_TOKEN_COMMAND"
        )
    values["start_notes"] = tuple(
        _url_target(values, origins) if "mcp_url" in values else _runtime_target(values, origins)
    )
    if "profile" in values:
        _check_profile(values["profile"], origins["profile"], env)
    if "session_mode" in values:
        values["session_mode"] = SessionMode(values["session_mode"])
    return ProxyConfig(**values)


def _runtime_target(values: dict[str, Any], origins: Mapping[str, str]) -> list[str]:
    """A runtime's region settled against its ARN's; what the user should know of it."""
    if "signing_service" in values:
        raise ConfigurationError(
            f"{origins['signing_service']} applies to a URL (--url) only: a runtime's calls "
            "are signed for bedrock-agentcore"
        )
    if "agent_arn" not in values:
        raise ConfigurationError(
            "Set AGENTCORE_AGENT_ARN (or AGENT_ARN) to the runtime's ARN, or AGENTCORE_MCP_URL "
            "(--url) to an MCP URL"
        )
    notes = []
    arn_region = values["agent_arn"].region
    if values.setdefault("region", arn_region) != arn_region:
        if origins["region"] == "--region":
            notes.append(
                f"--region {values['region']} differs from the runtime ARN's region "
                f"{arn_region}: calls go to {values['region']}'s endpoint as asked"
            )
        else:
            # A shell's default region says nothing about where this runtime lives.
            notes.append(
                f"{origins['region']}={values['region']} differs from the runtime ARN's "
                f"region {arn_region}: calling {arn_region}, where the runtime is"
            )
            values["region"] = arn_region
    return notes


def _url_target(values: dict[str, Any], origins: Mapping[str, str]) -> list[str]:
    """A URL's service and region, from its host where it names them (a setting given
    wins), else from the settings; what the user should know of them."""
    url = values["mcp_url"]
    if "agent_arn" in values:
        raise ConfigurationError(
            f"Set a runtime's ARN ({origins['agent_arn']}) or a URL ({origins['mcp_url']}), "
            "not both"
        )
    service, region = signing_for(url)
    values.setdefault("signing_service", service)
    if values["signing_service"] is None:
        raise ConfigurationError(
            f"{redact_url(url)} names no AWS service in its host: give the one its signatures "
            "are for with --service (AGENTCORE_SIGNING_SERVICE), e.g. bedrock-agentcore"
        )
    notes = []
    if "region" not in values:
        if region is None:
            raise ConfigurationError(
                f"{redact_url(url)} names no region in its host: give it with --region (AWS_REGION)"
            )
        values["region"] = region
    elif region is not None and values["region"] != region and origins["region"] != "--region":
        notes.append(
            f"{origins['region']}={values['region']} differs from the URL's region {region}: "
            f"signing for {region}, where the URL is"
        )
        values["region"] = region
    values["agent_arn"] = None
    return notes


def _check_profile(profile: str, source: str, env: Mapping[str, str]) -> None:
    """A profile the AWS config files name, or a ConfigurationError listing those that exist."""
    import botocore.session

    session = botocore.session.Session()
    session.set_config_variable("config_file", env.get("AWS_CONFIG_FILE") or "~/.aws/config")
    session.set_config_variable(
        "credentials_file", env.get("AWS_SHARED_CREDENTIALS_FILE") or "~/.aws/credentials"
    )
    known = sorted(session.available_profiles)
    if profile not in known:
        listed = ", ".join(known) if known else "none: run `aws configure`"
        raise ConfigurationError(
            f"{source}={profile!r} is not a profile of your AWS config (profiles: {listed})"
        )
