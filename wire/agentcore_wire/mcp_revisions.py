"""Which MCP revision a message speaks, as both sides of AgentCore's wire must tell it."""

from __future__ import annotations

MODERN_VERSION = "2026-07-28"  # the first revision without sessions, and with header checks
META_VERSION = "io.modelcontextprotocol/protocolVersion"
# Methods whose target is named by a param, sent as the Mcp-Name header (2026-07-28):
# the proxy builds the header from it, the emulator's gateway checks it against it.
NAME_PARAMS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
HEADER_MISMATCH = -32020
UNSUPPORTED_VERSION = -32022


def is_modern(version: object) -> bool:
    """Whether a protocol version is 2026-07-28 or later (stateless, header-checked)."""
    return isinstance(version, str) and version >= MODERN_VERSION
