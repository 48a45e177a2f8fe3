"""The MCP session the proxy keeps with the runtime on behalf of its one client."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from agentcore_wire.mcp_revisions import META_VERSION, NAME_PARAMS, is_modern
from mcp_agentcore_proxy.jsonrpc import Message
from mcp_agentcore_proxy.mcp_headers import encode_value

INITIALIZED = b'{"jsonrpc":"2.0","method":"notifications/initialized"}'


def is_handshake(message: Message) -> bool:
    return message.method == "initialize"


@dataclass(frozen=True)
class StandardHeaders:
    """MCP's own headers of one message, as the proxy sends them to the runtime."""

    version: str | None  # MCP-Protocol-Version
    method: str | None  # Mcp-Method
    name: str | None  # Mcp-Name, encoded as MCP's transport says

    @property
    def modern(self) -> bool:
        """Whether the message speaks 2026-07-28 or later (no sessions, checked headers)."""
        return is_modern(self.version)


@dataclass(frozen=True)
class SessionSnapshot:
    mcp_session_id: str | None
    protocol_version: str | None
    generation: int


class McpSession:
    """Mcp-Session-Id, protocol version and the cached handshake, shared by all calls."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._session_id: str | None = None
        self._protocol_version: str | None = None
        self._generation = 0
        self.handshake: bytes | None = None
        self.replay_lock = threading.Lock()

    def snapshot(self) -> SessionSnapshot:
        with self._lock:
            return SessionSnapshot(self._session_id, self._protocol_version, self._generation)

    def begin_handshake(self, message: Message) -> None:
        """A client initialize starts a new session; remember it for replays."""
        with self._lock:
            self.handshake = message.raw
            self._session_id = None
            self._generation += 1

    def observe(self, mcp_session_id: str | None, generation: int) -> None:
        """Adopt the session id an answer carried, unless a newer session began."""
        if not mcp_session_id:
            return
        with self._lock:
            if generation == self._generation and self._session_id is None:
                self._session_id = mcp_session_id

    def adopt_protocol_version(self, version: object) -> None:
        if isinstance(version, str) and version:
            with self._lock:
                self._protocol_version = version

    def restart(self, mcp_session_id: str | None) -> int:
        """Start a new generation after a replayed handshake."""
        with self._lock:
            self._generation += 1
            self._session_id = mcp_session_id
            return self._generation

    def headers_for(self, message: Message) -> StandardHeaders:
        """Protocol version, Mcp-Method and Mcp-Name for a message (the name encoded as
        MCP's transport says; none of them checked against the header limits)."""
        meta = message.params.get("_meta")
        protocol = meta.get(META_VERSION) if isinstance(meta, dict) else None
        if not isinstance(protocol, str):
            with self._lock:
                protocol = self._protocol_version
        name_param = NAME_PARAMS.get(message.method or "")
        name = message.params.get(name_param) if name_param else None
        encoded = encode_value(name) if isinstance(name, str) else None
        return StandardHeaders(protocol, message.method, encoded)
