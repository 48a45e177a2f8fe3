"""What the proxy lets through of a server's tools, and what it adds to each request:
read-only mode (only tools annotated ``readOnlyHint: true`` are listed or called) and the
``_meta`` entries given with ``--metadata``.

In read-only mode a ``tools/call`` to a tool the proxy has not seen listed as read-only is
refused before it is sent; if no listing has passed yet, the proxy lists the tools once
itself (every page, invisible to the client) to know.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from typing import Any

from mcp_agentcore_proxy import jsonrpc
from mcp_agentcore_proxy.errors import ProxyError, ToolRefusedError
from mcp_agentcore_proxy.jsonrpc import Kind, Message
from mcp_agentcore_proxy.tool_headers import Ask, every_page

logger = logging.getLogger(__name__)

LISTING_ID = "mcp-agentcore-proxy/read-only-tools"


def is_read_only(tool: object) -> bool:
    """Whether a listed tool says it changes nothing (MCP's ``readOnlyHint``)."""
    if not isinstance(tool, dict):
        return False
    annotations = tool.get("annotations")
    return isinstance(annotations, dict) and annotations.get("readOnlyHint") is True


class ToolPolicy:
    """One client's view of the server's tools under the proxy's settings."""

    def __init__(self, read_only: bool = False, metadata: Mapping[str, str] | None = None) -> None:
        self.read_only = read_only
        self._metadata = dict(metadata or {})
        self._lock = threading.Lock()
        self._listing = threading.Lock()
        self._allowed: set[str] = set()
        self._listed = False

    def outgoing(self, message: Message) -> Message:
        """A request with the configured ``_meta`` entries added (the client's own win)."""
        if not self._metadata or message.kind is not Kind.REQUEST:
            return message
        params = dict(message.params)
        given = params.get("_meta")
        params["_meta"] = {**self._metadata, **(given if isinstance(given, dict) else {})}
        body = {**message.body, "params": params}
        return Message(raw=jsonrpc.dumps(body), body=body, kind=message.kind)

    def listing(self, request: Message, reply: Message) -> Message:
        """A ``tools/list`` answer as the client sees it: read-only tools only."""
        result = reply.body.get("result")
        if not self.read_only or not isinstance(result, dict):
            return reply
        tools = result.get("tools")
        if not isinstance(tools, list):
            return reply
        kept = [tool for tool in tools if is_read_only(tool)]
        self._learn(kept, first_page="cursor" not in request.params)
        if len(kept) == len(tools):
            return reply
        body = {**reply.body, "result": {**result, "tools": kept}}
        return Message(raw=jsonrpc.dumps(body), body=body, kind=Kind.RESPONSE)

    def check_call(self, call: Message, ask: Ask) -> None:
        """Raise ToolRefusedError for a ``tools/call`` read-only mode does not let through."""
        if not self.read_only or call.method != "tools/call":
            return
        name = call.params.get("name")
        if not self._listed:
            self._list_all(ask, call)
        with self._lock:
            allowed = isinstance(name, str) and name in self._allowed
        if not allowed:
            raise ToolRefusedError(
                f"Tool {name!r} is not read-only (no readOnlyHint: true in its annotations), "
                f"and the proxy runs read-only: it was not called"
            )

    def _learn(self, tools: list[Any], first_page: bool) -> None:
        names = {tool["name"] for tool in tools if isinstance(tool.get("name"), str)}
        with self._lock:
            if first_page:
                self._allowed.clear()
            self._allowed |= names
            self._listed = True

    def _list_all(self, ask: Ask, call: Message) -> None:
        with self._listing:
            if self._listed:
                return  # listed by another call meanwhile
            try:
                for first, result in every_page(ask, LISTING_ID, call):
                    tools = result.get("tools")
                    listed = tools if isinstance(tools, list) else []
                    self._learn([t for t in listed if is_read_only(t)], first_page=first)
            except ProxyError as exc:
                logger.warning("could not list the tools to check them: %s", exc)
            finally:
                self._listed = True
