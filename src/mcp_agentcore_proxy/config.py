"""Proxy configuration: one frozen object, parsed once from flags and environment.

The defaults live here, on ``ProxyConfig``; ``settings`` names the flag, variable, check
and help of each field and reads its default from this class.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from agentcore_wire.limits import MAX_PAYLOAD
from mcp_agentcore_proxy.errors import ConfigurationError
from mcp_agentcore_proxy.trace import TraceContext

_ARN_RE = re.compile(
    r"^arn:(?P<partition>aws(?:-cn|-us-gov|-iso(?:-[bef])?)?):bedrock-agentcore:"
    r"(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):runtime/"
    r"(?P<runtime_id>[a-zA-Z][a-zA-Z0-9_]{0,99}-[a-zA-Z0-9]{10})$"
)
ARN_FORMAT = "arn:aws:bedrock-agentcore:<region>:<12-digit account>:runtime/<name>-<10 characters>"


@dataclass(frozen=True)
class RuntimeArn:
    """A parsed AgentCore runtime ARN."""

    arn: str
    partition: str
    region: str
    account: str
    runtime_id: str

    @classmethod
    def parse(cls, value: str) -> RuntimeArn:
        match = _ARN_RE.match(value.strip())
        if match is None:
            raise ConfigurationError(
                f"Invalid AgentCore runtime ARN {value!r}: expected {ARN_FORMAT}"
            )
        return cls(arn=match.group(0), **match.groupdict())


_AWS_HOST = re.compile(
    r"^(?:[0-9a-z-]+\.gateway\.)?(?P<service>[a-z0-9-]+)\.(?P<region>[a-z]{2}(?:-[a-z]+)+-[0-9])"
    r"\.(?:amazonaws\.com(?:\.cn)?|api\.aws)$"
)


def signing_for(url: str) -> tuple[str | None, str | None]:
    """The SigV4 service and region an AWS MCP URL's host names, as AWS's own proxy reads
    them (``{id}.gateway.bedrock-agentcore.{region}.amazonaws.com``: bedrock-agentcore);
    (None, None) for a host that names neither (the emulator, any other server)."""
    host = (urlsplit(url).hostname or "").lower()
    match = _AWS_HOST.match(host)
    if match is None:
        return None, None
    return match["service"], match["region"]


class SessionMode(enum.StrEnum):
    """How the proxy picks the runtime session id (the microVM) for each call."""

    IDENTITY = "identity"  # one per caller identity: survives proxy restarts
    SESSION = "session"  # one per proxy process
    REQUEST = "request"  # a new one for every request


@dataclass(frozen=True)
class ProxyConfig:
    """Everything the proxy needs to run; built by the CLI and passed down."""

    agent_arn: RuntimeArn | None
    region: str
    qualifier: str = "DEFAULT"
    session_mode: SessionMode = SessionMode.IDENTITY
    assume_role_arn: str | None = None
    assume_role_session_name: str = "mcpAgentCoreProxy"
    profile: str | None = None
    read_timeout: float = 900.0  # AgentCore's limit for a synchronous request
    connect_timeout: float = 10.0
    ca_bundle: str | None = None  # None: botocore's own (certifi)
    sts_timeout: float = 5.0
    idle_connection_timeout: float = 4.0
    max_concurrency: int = 32
    max_attempts: int = 3
    # AgentCore's quota: 25 InvokeAgentRuntime calls a second per endpoint (0: no pacing).
    max_rate: int = 25
    shutdown_grace: float = 10.0
    keep_sessions: bool = False
    log_level: str = "WARNING"
    # How clients reach the proxy: its stdin/stdout, or MCP's Streamable HTTP on a port.
    transport: str = "stdio"
    http_host: str = "127.0.0.1"
    http_port: int = 8808
    http_max_sessions: int = 64  # client sessions at once; one more gets 503
    # A client session with no call in flight and no stream open this long is ended, with
    # its runtime session (AgentCore's own default idle timeout is the same 15 minutes).
    http_session_idle_timeout: float = 900.0
    http_max_body: int = MAX_PAYLOAD  # bytes of a POST (AgentCore's payload limit)
    http_header_timeout: float = 10.0  # seconds a request has for its headers, then its body
    # A runtime with a JWT authorizer: a bearer token instead of SigV4 (one source).
    bearer_token: str | None = None
    bearer_token_file: str | None = None
    bearer_token_command: str | None = None
    # Sent on every invocation (AgentCore forwards those its allowlist names).
    headers: tuple[tuple[str, str], ...] = ()
    runtime_user_id: str | None = None
    # The proxy's own trace context, for messages that carry none.
    traceparent: str | None = None
    tracestate: str | None = None
    baggage: str | None = None
    # Any SigV4 MCP URL instead of a runtime (AgentCore Gateway, an MCP server behind IAM),
    # and the service its signatures are for (inferred from its host, else given).
    mcp_url: str | None = None
    signing_service: str | None = None
    # Only tools annotated read-only are listed and called; `_meta` added to each request.
    read_only: bool = False
    metadata: tuple[tuple[str, str], ...] = ()
    # Seconds a tools/call may take in all before the client gets a tool error and the
    # server a cancellation; 0: no limit but the read timeout's (AgentCore's own requests
    # may take 15 minutes, so none is imposed by default).
    tool_timeout: float = 0.0
    # What the user should know about the settings as read (logged once, as warnings).
    start_notes: tuple[str, ...] = ()

    @property
    def target(self) -> str:
        """What the proxy calls, for logs and keys: the runtime ARN and qualifier, or the URL."""
        if self.mcp_url is not None:
            return self.mcp_url
        assert self.agent_arn is not None
        return f"{self.agent_arn.arn}|{self.qualifier}"

    @property
    def uses_bearer(self) -> bool:
        return bool(self.bearer_token or self.bearer_token_file or self.bearer_token_command)

    @property
    def trace(self) -> TraceContext:
        return TraceContext(self.traceparent, self.tracestate, self.baggage)

    @property
    def stop_sessions_on_exit(self) -> bool:
        # A URL has no runtime session to stop (StopRuntimeSession is a runtime's).
        return not self.keep_sessions and self.mcp_url is None
