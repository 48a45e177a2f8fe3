"""Which of a caller's headers reach the container, and the limits AgentCore puts on them.

AgentCore forwards its own headers (session, request id), MCP's, trace context, and, per
runtime, the headers of its request-header allowlist; it drops every other header.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping

from agentcore_emulator.exceptions import ValidationException
from agentcore_wire.header_rules import (
    CUSTOM_PREFIX,
    MAX_ALLOWLIST,
    MAX_ALLOWLISTED_VALUE,
    allowlist_problem,
)

logger = logging.getLogger(__name__)

USER_ID_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-User-Id"
# What AgentCore hands each invocation's instance: a workload access token for the
# runtime's workload identity and the caller (the SDK's BedrockAgentCoreApp reads it).
WORKLOAD_TOKEN_HEADER = "WorkloadAccessToken"  # noqa: S105 (a header name)

# Always forwarded, within botocore's modelled maximum lengths where it has one.
PROTOCOL_HEADERS: dict[str, int | None] = {
    "content-type": None,
    "accept": None,
    "mcp-protocol-version": None,
    "mcp-method": None,
    "mcp-name": None,
    "x-amzn-trace-id": 128,
    "traceparent": 128,
    "tracestate": 512,
    "baggage": 8192,
    USER_ID_HEADER.lower(): 1024,
}


def check_allowlist(names: Iterable[str], jwt_authorizer: bool) -> tuple[str, ...]:
    """The allowlist as AgentCore would accept it; ValueError naming what it refuses."""
    allowlist = tuple(names)
    if len(allowlist) > MAX_ALLOWLIST:
        raise ValueError(f"at most {MAX_ALLOWLIST} headers may be allowlisted")
    seen: set[str] = set()
    for name in allowlist:
        problem = allowlist_problem(name, jwt_authorizer)
        if problem:
            raise ValueError(problem)
        if name.lower() in seen:
            raise ValueError(f"{name!r} is listed twice (names are case-insensitive)")
        seen.add(name.lower())
    return allowlist


def forwarded(caller: Mapping[str, str], allowlist: Iterable[str]) -> dict[str, str]:
    """The caller's headers that reach the container; 400 for a value over its limit."""
    allowed = {name.lower() for name in allowlist}
    headers: dict[str, str] = {}
    for name, value in caller.items():
        lower = name.lower()
        if lower in PROTOCOL_HEADERS:
            limit = PROTOCOL_HEADERS[lower]
            if limit is not None and len(value) > limit:
                raise ValidationException.for_field(
                    name, f"Member must have length less than or equal to {limit}"
                )
        elif lower in allowed or lower.startswith(CUSTOM_PREFIX):
            # Chosen (not confirmable offline): a value past 4 KB is refused, not cut.
            if len(value.encode("latin-1")) > MAX_ALLOWLISTED_VALUE:
                raise ValidationException(
                    f"Header {name} is longer than {MAX_ALLOWLISTED_VALUE} bytes"
                )
        else:
            if lower.startswith("mcp-param-"):
                # MCP 2026-07-28's argument headers are custom headers to AgentCore (chosen:
                # not confirmable offline): a server that expects one would refuse the call.
                logger.warning(
                    "%s not passed on: add it to the runtime's request_headers (AgentCore "
                    "forwards allowlisted headers only)",
                    name,
                )
            continue
        headers[name] = value
    return headers
