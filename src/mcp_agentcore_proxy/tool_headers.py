"""What the proxy knows of each tool's ``x-mcp-header`` marks (MCP 2026-07-28), and how
it learns them: from the ``tools/list`` answers it forwards, and from listings of its own.

A call to a tool whose marks it has not seen would be refused by the server (-32020), so
before such a call the proxy lists the tools once itself, every page, with the client's
``_meta``, and the client never sees it; after a HeaderMismatch it lists them again. A
tool whose marks break the revision's rules is left out of what the client is shown.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from mcp_agentcore_proxy import jsonrpc
from mcp_agentcore_proxy.errors import ProxyError
from mcp_agentcore_proxy.jsonrpc import Kind, Message
from mcp_agentcore_proxy.mcp_headers import Declarations, declarations, param_headers

logger = logging.getLogger(__name__)

LISTING_ID = "mcp-agentcore-proxy/tools-list"  # the id of the proxy's own tools/list
MAX_LISTING_PAGES = 50
# Sends a request of the proxy's own; its result (a ProxyError if it has none).
Ask = Callable[[bytes], dict[str, object]]


class ToolHeaders:
    """What the proxy knows of each tool's ``x-mcp-header`` marks, from the listings it saw."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listing = threading.Lock()  # one listing of the proxy's own at a time
        self._marks: dict[str, Declarations] = {}
        self.listed = False  # a listing has been seen (or fetched): unknown tools are unknown

    def learn(self, result: Mapping[str, Any], *, first_page: bool) -> list[tuple[str, str]]:
        """Take one ``tools/list`` result; returns the tools left out, with why."""
        tools = result.get("tools")
        if not isinstance(tools, list):
            return []
        refused: list[tuple[str, str]] = []
        learned: dict[str, Declarations] = {}
        for tool in tools:
            if not isinstance(tool, dict) or not isinstance(tool.get("name"), str):
                continue
            try:
                learned[tool["name"]] = declarations(tool.get("inputSchema"))
            except ValueError as exc:
                refused.append((tool["name"], str(exc)))
        with self._lock:
            if first_page:
                self._marks.clear()
            self._marks.update(learned)
            self.listed = True
        return refused

    def knows(self, tool: str) -> bool:
        with self._lock:
            return tool in self._marks

    def headers_for(self, params: Mapping[str, Any]) -> list[tuple[str, str]]:
        """The ``Mcp-Param-*`` headers of a ``tools/call`` with these params."""
        name = params.get("name")
        with self._lock:
            marks = self._marks.get(name) if isinstance(name, str) else None
        return param_headers(marks, params.get("arguments")) if marks else []

    def learn_reply(self, request: Message, reply: Message) -> Message:
        """Learn the tools' header marks from a listing; one whose marks break the rules is
        left out of what the client sees (the transport's rule for clients), with a warning."""
        result = reply.body.get("result")
        if not isinstance(result, dict):
            return reply
        refused = self.learn(result, first_page="cursor" not in request.params)
        if not refused:
            return reply
        for tool, why in refused:
            logger.warning("left tool %r out of tools/list: %s", tool, why)
        names = {tool for tool, _ in refused}
        kept = [t for t in result["tools"] if not (isinstance(t, dict) and t.get("name") in names)]
        body = {**reply.body, "result": {**result, "tools": kept}}
        return Message(raw=jsonrpc.dumps(body), body=body, kind=Kind.RESPONSE)

    def list_unless_known(self, ask: Ask, call: Message) -> None:
        """Before a call to a tool whose marks the proxy has not seen (no listing yet), list
        the tools once itself: a call sent without its headers would only be refused."""
        name = call.params.get("name")
        if self.listed or not isinstance(name, str) or self.knows(name):
            return
        self.list_all(ask, call, again=False)

    def list_all(self, ask: Ask, call: Message, again: bool) -> None:
        """``tools/list``, every page, sent by the proxy (invisible to the client), with the
        ``_meta`` envelope of the client's ``call``; a failure is logged, never raised."""
        with self._listing:
            if self.listed and not again:
                return  # listed by another call meanwhile
            try:
                for first, result in every_page(ask, LISTING_ID, call):
                    refused = self.learn(result, first_page=first)
                    for tool, why in refused:
                        logger.warning("tool %r cannot be called: %s", tool, why)
            except ProxyError as exc:
                logger.warning("could not list the runtime's tools: %s", exc)
            finally:
                self.listed = True


def every_page(
    ask: Ask, listing_id: str, call: Message
) -> Iterator[tuple[bool, dict[str, object]]]:
    """Each page of a ``tools/list`` of the proxy's own (whether it is the first, its
    result), with the ``_meta`` envelope of the client's ``call``; at most
    MAX_LISTING_PAGES. A failure is the ProxyError ``ask`` raises."""
    meta = call.params.get("_meta")
    cursor: str | None = None
    for _ in range(MAX_LISTING_PAGES):
        params: dict[str, object] = {"_meta": meta} if isinstance(meta, dict) else {}
        if cursor is not None:
            params["cursor"] = cursor
        result = ask(jsonrpc.request(listing_id, "tools/list", params))
        yield cursor is None, result
        following = result.get("nextCursor")
        if not isinstance(following, str):
            return
        cursor = following
