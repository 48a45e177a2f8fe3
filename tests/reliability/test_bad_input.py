"""Whatever arrives on stdin, the proxy stays up, writes only JSON-RPC, and answers each id once."""

from __future__ import annotations

import itertools
import json
from collections import Counter
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.harness import Emulator, Proxy

_serial = itertools.count()

json_scalars = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
any_id = (
    json_scalars
    | st.lists(json_scalars, max_size=2)
    | st.dictionaries(st.text(max_size=4), json_scalars, max_size=2)
)
methods = st.sampled_from(["ping", "tools/list", "no/such/method", "notifications/x"]) | st.text(
    max_size=12
)


@st.composite
def messages(draw: st.DrawFn) -> dict:
    message: dict = {}
    if draw(st.booleans()):
        message["jsonrpc"] = draw(st.sampled_from(["2.0", "2.0", "1.0", 2]))
    if draw(st.booleans()):
        message["method"] = draw(methods | json_scalars)
    if draw(st.booleans()):
        message["id"] = draw(any_id)
    if draw(st.booleans()):
        message["params"] = draw(json_values)
    return message


lines = st.one_of(
    st.binary(max_size=300).map(lambda b: b.replace(b"\n", b" ").replace(b"\r", b" ")),
    json_values.map(lambda v: json.dumps(v).encode()),
    messages().map(lambda m: json.dumps(m).encode()),
)


def _not_json(name: str) -> object:
    raise ValueError(name)


def _valid_request(line: bytes) -> object | None:
    """The id a line must be answered on exactly once (an independent oracle), if any."""
    try:
        body = json.loads(line, parse_constant=_not_json)
    except ValueError:
        return None  # not JSON (RFC 8259 has no NaN or Infinity): a parse error, id null
    if (
        not isinstance(body, dict)
        or body.get("jsonrpc") != "2.0"
        or not isinstance(body.get("method"), str)
    ):
        return None
    id_ = body.get("id")
    if not isinstance(id_, str | int) or isinstance(id_, bool):
        return None
    if "params" in body and not isinstance(body["params"], dict | list):
        return None
    return id_


def _unique(line: bytes) -> bytes:
    """Give each valid request an id no other example uses, keeping its JSON type."""
    body = json.loads(line)
    id_ = body["id"]
    body["id"] = f"{id_}#{next(_serial)}" if isinstance(id_, str) else 10_000_000 + next(_serial)
    return json.dumps(body).encode()


@pytest.fixture(scope="module")
def stdin_proxy(emulator: Emulator) -> Iterator[Proxy]:
    proxy = Proxy({**emulator.env("testing_server"), "RUNTIME_SESSION_MODE": "session"})
    try:
        proxy.request("warm", "ping")
        yield proxy
    finally:
        proxy.stop()


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batch=st.lists(lines, min_size=1, max_size=8))
def test_any_stdin_gets_only_json_rpc_and_one_answer_per_id(
    stdin_proxy: Proxy, batch: list[bytes]
) -> None:
    expected = Counter()
    for raw in batch:
        line = _unique(raw) if _valid_request(raw) is not None else raw
        if (id_ := _valid_request(line)) is not None:
            expected[json.dumps(id_)] += 1
        stdin_proxy.send(line)
    sentinel = f"sentinel-{next(_serial)}"
    stdin_proxy.send({"jsonrpc": "2.0", "id": sentinel, "method": "ping"})
    answered: Counter = Counter()
    # Requests run concurrently: collect until every expected id and the sentinel arrived.
    while (
        sum(answered[k] for k in expected) < sum(expected.values())
        or not answered[json.dumps(sentinel)]
    ):
        message = stdin_proxy.read(timeout=60)  # read() asserts: one JSON-RPC object per line
        if "method" not in message:
            assert "result" in message or "error" in message
            answered[json.dumps(message["id"])] += 1
    for key, count in expected.items():
        assert answered[key] == count == 1
    assert stdin_proxy.process.poll() is None


def test_ten_megabyte_garbage_line_is_one_parse_error(stdin_proxy: Proxy) -> None:
    stdin_proxy.send(b"{" + b"x" * 10_000_000)
    answer = stdin_proxy.read()
    assert answer["id"] is None and answer["error"]["code"] == -32700
    assert stdin_proxy.request("after-garbage", "ping")["result"] == {}


def test_a_line_that_begins_with_a_byte_order_mark_is_read_as_json(stdin_proxy: Proxy) -> None:
    # Before: a parse error with id null, and the client waiting for "bom" never answered.
    message = {"jsonrpc": "2.0", "id": "bom", "method": "ping"}
    stdin_proxy.send(b"\xef\xbb\xbf" + json.dumps(message).encode())
    assert stdin_proxy.read() == {"jsonrpc": "2.0", "id": "bom", "result": {}}
    # Only where a line begins: one inside a line is the text's own, and not JSON.
    stdin_proxy.send(b' \xef\xbb\xbf{"jsonrpc": "2.0", "id": "inner", "method": "ping"}')
    answer = stdin_proxy.read()
    assert answer["id"] is None and answer["error"]["code"] == -32700
