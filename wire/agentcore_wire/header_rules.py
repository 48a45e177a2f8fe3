"""AgentCore's rules for the headers a caller may pass to a runtime, modelled once.

The emulator applies them to a runtime's request-header allowlist; the proxy checks its
``--header`` values against them, so a header AgentCore would never forward is refused at
start-up rather than dropped in silence. (Developer guide: "Pass custom headers".)
"""

from __future__ import annotations

import re

# The runtime session a call belongs to (a microVM of its own), sent and answered.
RUNTIME_SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"
CUSTOM_PREFIX = "x-amzn-bedrock-agentcore-runtime-custom-"
MAX_ALLOWLIST = 20  # headers per runtime
MAX_ALLOWLISTED_VALUE = 4096  # bytes per value

# Never forwarded, whatever the allowlist says.
RESTRICTED = frozenset(
    name.lower()
    for name in (
        "Proxy-Authorization",
        "WWW-Authenticate",
        "Accept",
        "Accept-Charset",
        "Accept-Encoding",
        "Accept-Language",
        "Content-Type",
        "Content-Length",
        "Content-Encoding",
        "Content-Language",
        "Content-Location",
        "Content-Range",
        "Cache-Control",
        "ETag",
        "Expires",
        "If-Match",
        "If-Modified-Since",
        "If-None-Match",
        "If-Range",
        "If-Unmodified-Since",
        "Last-Modified",
        "Pragma",
        "Vary",
        "Connection",
        "Keep-Alive",
        "Proxy-Connection",
        "Upgrade",
        "Host",
        "Referer",
        "User-Agent",
        "From",
        "Range",
        "Accept-Ranges",
        "Transfer-Encoding",
        "TE",
        "Trailer",
        "Server",
        "Via",
        "Date",
        "Forwarded",
    )
)
HEADER_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_-]{0,255}")


def allowlist_problem(name: str, jwt_authorizer: bool) -> str | None:
    """Why AgentCore would refuse to forward header ``name``, or None."""
    lower = name.lower()
    if not HEADER_NAME.fullmatch(name):
        return f"{name!r} is not a valid header name (letters, digits, '-' and '_')"
    if lower in RESTRICTED:
        return f"{name!r} is a restricted header"
    if lower.startswith("x-amz-") or (
        lower.startswith("x-amzn-") and not lower.startswith(CUSTOM_PREFIX)
    ):
        return f"{name!r}: x-amz- and x-amzn- headers are reserved (except {CUSTOM_PREFIX}*)"
    if lower == "authorization" and not jwt_authorizer:
        return "Authorization is forwarded only to a runtime with a JWT authorizer"
    return None
