"""Read-only mode and ``_meta`` entries, in process: what the client is shown, what is let
through, and that it fails closed."""

from __future__ import annotations

import json

import pytest

from mcp_agentcore_proxy import jsonrpc
from mcp_agentcore_proxy.errors import ProxyError, ToolRefusedError
from mcp_agentcore_proxy.tool_policy import ToolPolicy

READ = {"name": "read", "annotations": {"readOnlyHint": True}}
WRITE = {"name": "write", "annotations": {"readOnlyHint": False}}
PLAIN = {"name": "plain"}


def _request(method: str, params: dict, id_: int = 1) -> jsonrpc.Message:
    return jsonrpc.parse_line(
        json.dumps({"jsonrpc": "2.0", "id": id_, "method": method, "params": params}).encode()
    )


def _reply(tools: list, id_: int = 1, cursor: str | None = None) -> jsonrpc.Message:
    result: dict = {"tools": tools}
    if cursor:
        result["nextCursor"] = cursor
    message = jsonrpc.parse_payload(
        json.dumps({"jsonrpc": "2.0", "id": id_, "result": result}).encode()
    )
    assert message is not None
    return message


def _never_asked(line: bytes) -> dict[str, object]:
    raise AssertionError("no listing of its own was needed")


def test_a_listing_shows_read_only_tools_only_and_the_others_are_refused() -> None:
    policy = ToolPolicy(read_only=True)
    shown = policy.listing(_request("tools/list", {}), _reply([READ, WRITE, PLAIN]))
    assert [t["name"] for t in json.loads(shown.raw)["result"]["tools"]] == ["read"]
    policy.check_call(_request("tools/call", {"name": "read"}), _never_asked)
    for name in ("write", "plain", "unknown"):
        with pytest.raises(ToolRefusedError):
            policy.check_call(_request("tools/call", {"name": name}), _never_asked)


def test_a_later_page_adds_to_the_first_and_a_new_first_page_starts_over() -> None:
    policy = ToolPolicy(read_only=True)
    policy.listing(_request("tools/list", {}), _reply([READ], cursor="2"))
    other = {**READ, "name": "read2"}
    policy.listing(_request("tools/list", {"cursor": "2"}), _reply([other]))
    policy.check_call(_request("tools/call", {"name": "read"}), _never_asked)
    policy.check_call(_request("tools/call", {"name": "read2"}), _never_asked)
    policy.listing(_request("tools/list", {}), _reply([other]))  # "read" is gone (or changed)
    with pytest.raises(ToolRefusedError):
        policy.check_call(_request("tools/call", {"name": "read"}), _never_asked)


def test_a_call_before_any_listing_lists_every_page_first() -> None:
    pages = {None: ([WRITE], "p2"), "p2": ([READ], None)}
    asked: list[dict] = []

    def ask(line: bytes) -> dict[str, object]:
        params = json.loads(line)["params"]
        asked.append(params)
        tools, cursor = pages[params.get("cursor")]
        return {"tools": tools, **({"nextCursor": cursor} if cursor else {})}

    policy = ToolPolicy(read_only=True)
    policy.check_call(_request("tools/call", {"name": "read", "_meta": {"k": "v"}}), ask)
    assert asked == [{"_meta": {"k": "v"}}, {"_meta": {"k": "v"}, "cursor": "p2"}]
    with pytest.raises(ToolRefusedError):
        policy.check_call(_request("tools/call", {"name": "write"}), ask)
    assert len(asked) == 2  # listed once


def test_a_listing_that_fails_refuses_the_call_it_was_for() -> None:
    def ask(line: bytes) -> dict[str, object]:
        raise ProxyError("the runtime did not answer tools/list")

    with pytest.raises(ToolRefusedError):  # fails closed: nothing unknown runs
        ToolPolicy(read_only=True).check_call(_request("tools/call", {"name": "read"}), ask)


def test_metadata_is_added_and_the_clients_own_keys_win() -> None:
    policy = ToolPolicy(metadata={"tenant": "acme", "team": "blue"})
    sent = policy.outgoing(_request("tools/call", {"name": "x", "_meta": {"team": "red"}}))
    assert json.loads(sent.raw)["params"]["_meta"] == {"tenant": "acme", "team": "red"}
    unchanged = _request("tools/list", {})
    assert ToolPolicy().outgoing(unchanged) is unchanged  # nothing configured: no copy
