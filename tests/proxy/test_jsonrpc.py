from __future__ import annotations

import json

import pytest

from mcp_agentcore_proxy import jsonrpc
from mcp_agentcore_proxy.jsonrpc import InvalidLine, Kind


@pytest.mark.parametrize(
    ("line", "kind"),
    [
        ({"jsonrpc": "2.0", "id": 0, "method": "initialize"}, Kind.REQUEST),
        ({"jsonrpc": "2.0", "id": "", "method": "ping"}, Kind.REQUEST),
        ({"jsonrpc": "2.0", "method": "notifications/initialized"}, Kind.NOTIFICATION),
        ({"jsonrpc": "2.0", "id": 4, "result": {}}, Kind.RESPONSE),
        ({"jsonrpc": "2.0", "id": "s", "error": {"code": 1, "message": "m"}}, Kind.RESPONSE),
        (
            {"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": {"k": 1}}},
            Kind.REQUEST,
        ),
    ],
)
def test_messages_are_classified_and_kept_byte_for_byte(line: dict, kind: Kind) -> None:
    raw = json.dumps(line).encode()
    message = jsonrpc.parse_line(raw)
    assert message.kind is kind
    assert message.raw == raw


@pytest.mark.parametrize(
    ("line", "code", "reply_id"),
    [
        (b"{not json", -32700, None),
        (b"\xff\xfe", -32700, None),
        (b"[]", -32600, None),
        (b'[{"jsonrpc":"2.0","id":1,"method":"ping"}]', -32600, None),
        (b"42", -32600, None),
        (b'"text"', -32600, None),
        (b'{"id":3,"method":"ping"}', -32600, 3),
        (b'{"jsonrpc":"1.0","id":"x","method":"ping"}', -32600, "x"),
        (b'{"jsonrpc":"2.0","id":null,"method":"ping"}', -32600, None),
        (b'{"jsonrpc":"2.0","id":1.5,"method":"ping"}', -32600, None),
        (b'{"jsonrpc":"2.0","id":NaN,"method":"ping"}', -32700, None),
        (b'{"jsonrpc":"2.0","id":-Infinity,"method":"ping"}', -32700, None),
        (b'{"jsonrpc":"2.0","id":true,"method":"ping"}', -32600, None),
        (b'{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}', -32600, None),
        (b'{"jsonrpc":"2.0","id":2,"method":7}', -32600, 2),
        (b'{"jsonrpc":"2.0","id":2,"method":"x","params":"bar"}', -32600, 2),
        (b'{"jsonrpc":"2.0","id":2}', -32600, 2),
    ],
)
def test_unforwardable_lines_get_the_json_rpc_error(
    line: bytes, code: int, reply_id: object
) -> None:
    with pytest.raises(InvalidLine) as caught:
        jsonrpc.parse_line(line)
    assert caught.value.jsonrpc_code == code
    assert caught.value.reply_id == reply_id
    answer = json.loads(jsonrpc.error_response(caught.value.reply_id, caught.value.to_jsonrpc()))
    assert answer["error"]["code"] == code and answer["id"] == reply_id


def test_ids_keep_their_json_type() -> None:
    assert jsonrpc.id_key(1) != jsonrpc.id_key("1")
    assert jsonrpc.id_key(0) != jsonrpc.id_key("")


def test_runtime_payload_with_newlines_becomes_one_line() -> None:
    message = jsonrpc.parse_payload(b'{\n "jsonrpc": "2.0",\n "id": 1, "result": {"t": "a\\nb"}}')
    assert message is not None
    assert b"\n" not in message.raw
    assert json.loads(message.raw)["result"]["t"] == "a\nb"


@pytest.mark.parametrize("data", [b"not json", b"[1]", b'{"jsonrpc":"2.0"}'])
def test_runtime_payload_that_is_not_json_rpc_is_refused(data: bytes) -> None:
    assert jsonrpc.parse_payload(data) is None
