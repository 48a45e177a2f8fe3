"""MCP 2026-07-28's request headers and the router's rules for the revision, in process.

The encoding cases are the transport's own table (basic/transports/streamable-http,
"Value Encoding"); the router's rules are proven against the fake runtime.
"""

from __future__ import annotations

from typing import Any

import pytest

from agentcore_wire.aws_errors import AwsError
from mcp_agentcore_proxy.errors import RuntimeServiceError
from mcp_agentcore_proxy.front_modern import RequestIds, header_mismatch, passed_on
from mcp_agentcore_proxy.jsonrpc import parse_line
from mcp_agentcore_proxy.mcp_headers import (
    ClientHeaders,
    declarations,
    decode_value,
    encode_value,
)
from mcp_agentcore_proxy.mcp_headers import (
    param_headers as mcp_param_headers,
)
from tests.proxy.fakes import Harness, line

MODERN = "2026-07-28"
META = {"io.modelcontextprotocol/protocolVersion": MODERN}
QUERY_TOOL = {
    "name": "run_query",
    "inputSchema": {
        "type": "object",
        "properties": {
            "region": {"type": "string", "x-mcp-header": "Region"},
            "limit": {"type": "integer", "x-mcp-header": "Limit"},
            "sql": {"type": "string"},
        },
    },
}


@pytest.mark.parametrize(
    ("value", "sent"),
    [
        ("us-west1", "us-west1"),
        ("Hello, 世界", "=?base64?SGVsbG8sIOS4lueVjA==?="),
        (" padded ", "=?base64?IHBhZGRlZCA=?="),
        ("line1\nline2", "=?base64?bGluZTEKbGluZTI=?="),
        ("=?base64?literal?=", "=?base64?PT9iYXNlNjQ/bGl0ZXJhbD89?="),
        ("grüßen", "=?base64?Z3LDvMOfZW4=?="),
    ],
)
def test_values_are_encoded_as_the_revision_says_and_decode_back(value: str, sent: str) -> None:
    assert encode_value(value) == sent
    assert decode_value(sent) == value


def test_a_malformed_or_non_canonical_sentinel_decodes_to_nothing() -> None:
    assert decode_value("=?base64?not base64!?=") is None
    assert decode_value("=?base64?SGk=?=") == "Hi"
    assert decode_value("=?base64?SGl=?=") is None  # same bytes, stray bits: not canonical
    assert decode_value("=?base64?/w==?=") is None  # not UTF-8


def test_marks_are_read_along_properties_only() -> None:
    schema = {
        "type": "object",
        "properties": {
            "where": {
                "type": "object",
                "properties": {"region": {"type": "string", "x-mcp-header": "Region"}},
            },
            "dry": {"type": "boolean", "x-mcp-header": "Dry-Run"},
        },
    }
    assert declarations(schema) == {("where", "region"): "Region", ("dry",): "Dry-Run"}
    assert declarations({"type": "object"}) == {} and declarations(None) == {}


@pytest.mark.parametrize(
    ("schema", "why"),
    [
        ({"items": {"type": "string", "x-mcp-header": "A"}}, "off the properties chain"),
        ({"anyOf": [{"properties": {"a": {"type": "string", "x-mcp-header": "A"}}}]}, "off"),
        ({"x-mcp-header": "Root", "type": "string"}, "off the properties chain"),
        ({"properties": {"a": {"type": "number", "x-mcp-header": "A"}}}, "not a string"),
        ({"properties": {"a": {"type": "string", "x-mcp-header": "A B"}}}, "not a header name"),
        ({"properties": {"a": {"type": "string", "x-mcp-header": ""}}}, "not a header name"),
        (
            {
                "properties": {
                    "a": {"type": "string", "x-mcp-header": "Region"},
                    "b": {"type": "string", "x-mcp-header": "region"},
                }
            },
            "repeats",
        ),
    ],
)
def test_marks_that_break_the_rules_are_refused(schema: dict[str, Any], why: str) -> None:
    with pytest.raises(ValueError, match=why):
        declarations(schema)


def test_param_headers_carry_present_values_only_rendered_as_the_revision_says() -> None:
    marks = {("region",): "Region", ("limit",): "Limit", ("dry",): "Dry", ("n", "x"): "X"}
    assert mcp_param_headers(marks, {"region": "Zürich", "limit": 42.0, "dry": False}) == [
        ("Mcp-Param-Region", "=?base64?WsO8cmljaA==?="),
        ("Mcp-Param-Limit", "42"),
        ("Mcp-Param-Dry", "false"),
    ]
    assert mcp_param_headers(marks, {"region": None, "n": {"x": 7}}) == [("Mcp-Param-X", "7")]
    assert mcp_param_headers(marks, {"limit": 2**60}) == []  # past JavaScript's safe range
    assert mcp_param_headers(marks, None) == []


# -- the HTTP front end's checks, as a 2026-07-28 server makes them ----------------------


def _call(name: str = "grüßen", method: str = "tools/call") -> Any:
    params = {"_meta": META, "name": name, "arguments": {}}
    return parse_line(line({"jsonrpc": "2.0", "id": 7, "method": method, "params": params}))


def test_the_front_end_checks_version_method_and_name_against_the_body() -> None:
    good = {"mcp-protocol-version": MODERN, "mcp-method": "tools/call"}
    assert header_mismatch({**good, "mcp-name": "=?base64?Z3LDvMOfZW4=?="}, _call()) is None
    assert "Mcp-Name header is missing" in str(header_mismatch(good, _call()))
    assert "does not match" in str(header_mismatch({**good, "mcp-name": "greet"}, _call()))
    wrong_method = {**good, "mcp-method": "tools/list", "mcp-name": "x"}
    assert "Mcp-Method" in str(header_mismatch(wrong_method, _call("x")))
    old = {**good, "mcp-protocol-version": "2025-11-25", "mcp-name": "x"}
    assert "MCP-Protocol-Version" in str(header_mismatch(old, _call("x")))


def test_the_clients_param_headers_are_passed_on_as_sent() -> None:
    sent = {"mcp-param-region": "us-west1", "mcp-method": "tools/call", "accept": "*/*"}
    assert passed_on(sent) == ClientHeaders(None, (("Mcp-Param-region", "us-west1"),))
    with_version = {**sent, "mcp-protocol-version": " 2026-07-28 "}
    assert passed_on(with_version).version == "2026-07-28"


def test_requests_of_many_clients_get_ids_of_their_own_and_answers_the_clients() -> None:
    ids = RequestIds()
    one, two = _call("x"), _call("x")  # two clients, one id (7)
    key_one, sent_one = ids.own(one)
    key_two, sent_two = ids.own(two)
    assert key_one != key_two and parse_line(sent_one.raw).id != parse_line(sent_two.raw).id
    answer = line({"jsonrpc": "2.0", "id": parse_line(sent_two.raw).id, "result": {}})
    assert parse_line(ids.restore(key_two, answer)).id == 7
    progress = line({"jsonrpc": "2.0", "method": "notifications/progress", "params": {}})
    assert ids.restore(key_two, progress) == progress
    ids.drop(key_two)
    assert ids.restore(key_two, answer) == answer


# -- the router ---------------------------------------------------------------------------


def _modern(id_: Any, method: str, **params: Any) -> bytes:
    return line(
        {"jsonrpc": "2.0", "id": id_, "method": method, "params": {"_meta": META, **params}}
    )


def test_a_call_before_any_listing_lists_the_tools_first_then_carries_its_headers() -> None:
    proxy = Harness()
    proxy.submit(_modern(1, "tools/call", name="run_query", arguments={"region": "eu", "sql": "1"}))
    listing = proxy.runtime.next()
    assert listing.method == "tools/list" and listing.body["params"]["_meta"] == META
    assert (
        listing.headers.mcp_method == "tools/list"
        and listing.headers.mcp_protocol_version == MODERN
    )
    listing.respond({"tools": [QUERY_TOOL], "nextCursor": "page-2"})
    second_page = proxy.runtime.next()
    assert second_page.body["params"]["cursor"] == "page-2"
    second_page.respond({"tools": []})
    call = proxy.runtime.next()
    assert call.method == "tools/call" and call.body["id"] == 1
    assert call.headers.extra == (("Mcp-Param-Region", "eu"),)
    call.respond({"content": []})
    assert proxy.stdout.next() == {"jsonrpc": "2.0", "id": 1, "result": {"content": []}}
    # Listed once: the next call to an unknown tool goes at once.
    proxy.submit(_modern(2, "tools/call", name="other", arguments={}))
    assert proxy.runtime.next().method == "tools/call"


def test_a_listing_the_client_asked_for_teaches_the_marks_and_drops_broken_tools() -> None:
    proxy = Harness()
    broken = {"name": "bad", "inputSchema": {"items": {"type": "string", "x-mcp-header": "A"}}}
    proxy.submit(_modern(1, "tools/list"))
    proxy.runtime.next().respond({"tools": [QUERY_TOOL, broken]})
    assert [t["name"] for t in proxy.stdout.next()["result"]["tools"]] == ["run_query"]
    proxy.submit(_modern(2, "tools/call", name="run_query", arguments={"limit": 5, "region": "x"}))
    call = proxy.runtime.next()  # no listing of its own: it knows the tool
    assert call.method == "tools/call"
    assert set(call.headers.extra) == {("Mcp-Param-Region", "x"), ("Mcp-Param-Limit", "5")}


def test_a_header_mismatch_lists_again_and_resends_once_then_answers() -> None:
    proxy = Harness()
    proxy.submit(_modern(1, "tools/list"))
    proxy.runtime.next().respond({"tools": [{"name": "run_query", "inputSchema": {}}]})
    proxy.stdout.next()
    proxy.submit(_modern(2, "tools/call", name="run_query", arguments={"region": "eu"}))
    first = proxy.runtime.next()
    assert first.headers.extra == ()
    mismatch = {"code": -32020, "message": "Header mismatch: Mcp-Param-Region is missing"}
    first.answer().push({"jsonrpc": "2.0", "id": 2, "error": mismatch}).end()
    relisting = proxy.runtime.next()
    assert relisting.method == "tools/list"
    relisting.respond({"tools": [QUERY_TOOL]})  # the tool changed: it now has a mark
    resent = proxy.runtime.next()
    assert resent.body["id"] == 2 and resent.headers.extra == (("Mcp-Param-Region", "eu"),)
    resent.answer().push({"jsonrpc": "2.0", "id": 2, "error": mismatch}).end()
    assert proxy.stdout.next()["error"] == mismatch  # once only: then it is the answer
    assert proxy.runtime.nothing_new()


def test_a_404_to_a_modern_request_is_the_answer_never_a_replay() -> None:
    proxy = Harness()
    proxy.submit(_modern(1, "tools/list"))
    proxy.runtime.next().respond({"tools": []}, mcp_session_id="minted-by-a-gateway")
    proxy.stdout.next()
    proxy.submit(_modern(2, "resources/read", uri="file:///x"))
    lost = "Received error (404) from runtime. Please check your CloudWatch logs."
    call = proxy.runtime.next()
    assert call.headers.mcp_session_id is None and call.headers.mcp_name == "file:///x"
    call.fail(RuntimeServiceError(AwsError(lost, code="RuntimeClientError", status=424)))
    assert proxy.stdout.next()["error"]["code"] == -32002
    assert proxy.runtime.nothing_new() and proxy.router.replays == 0


def test_a_2025_era_call_gets_no_listing_of_the_proxys_own() -> None:
    proxy = Harness()
    proxy.handshake()
    proxy.submit(line({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "x"}}))
    call = proxy.runtime.next()
    assert call.method == "tools/call" and call.headers.extra == ()


def test_an_http_clients_own_headers_go_as_sent_and_its_mismatch_is_its_own() -> None:
    proxy = Harness()
    body = {"name": "run_query", "arguments": {"region": "eu"}}  # no _meta: the header says
    client = ClientHeaders("2026-07-28", (("Mcp-Param-Region", "us"),))
    proxy.router.submit(
        line({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": body}),
        headers=client,
    )
    call = proxy.runtime.next()  # no listing of the proxy's own first
    assert call.method == "tools/call"
    assert call.headers.mcp_protocol_version == "2026-07-28"
    assert call.headers.extra == (("Mcp-Param-Region", "us"),)
    mismatch = {"code": -32020, "message": "Header mismatch: Mcp-Param-Region"}
    call.answer().push({"jsonrpc": "2.0", "id": 1, "error": mismatch}).end()
    assert proxy.stdout.next()["error"] == mismatch  # not relisted, not resent
    assert proxy.runtime.nothing_new()
