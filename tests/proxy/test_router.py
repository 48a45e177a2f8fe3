"""The router's rules, proven in-process against a fake runtime gated on events."""

from __future__ import annotations

import threading
import time

import pytest

from agentcore_wire.aws_errors import AwsError
from mcp_agentcore_proxy.errors import ReadTimedOutError, RuntimeServiceError
from mcp_agentcore_proxy.lifecycle import CallState
from tests.proxy.fakes import (
    Harness,
    Turns,
    cancel,
    line,
    notification,
    request,
)

LOST = "Received error (404) from runtime. Please check your CloudWatch logs for more information."


@pytest.fixture
def proxy() -> Harness:
    return Harness()


# -- exactly one response per id -------------------------------------------------------


def test_an_id_is_free_before_its_response_is_written() -> None:
    # A client reuses id 0 the moment it reads the response to id 0.
    reused = threading.Event()

    def reuse(message: dict) -> None:
        if message.get("id") == 0 and "result" in message and not reused.is_set():
            reused.set()
            proxy.submit(request(0, "tools/list"))

    proxy = Harness(on_line=reuse)
    proxy.submit(request(0, "initialize"))
    proxy.runtime.next().respond({"protocolVersion": "2025-06-18"})
    assert proxy.stdout.next()["id"] == 0
    again = proxy.runtime.next()
    assert again.method == "tools/list"  # accepted, not refused as a duplicate
    again.respond({"tools": []})
    assert proxy.stdout.next() == {"jsonrpc": "2.0", "id": 0, "result": {"tools": []}}


def test_a_duplicate_id_in_flight_is_ignored_and_only_the_first_answered(proxy) -> None:
    proxy.submit(request(7, "tools/call", name="slow"))
    first = proxy.runtime.next()
    proxy.submit(request(7, "tools/call", name="other"))
    notice = proxy.stdout.next()
    assert notice["method"] == "notifications/message"
    assert "still in use" in notice["params"]["data"]
    assert proxy.runtime.nothing_new()
    first.respond({"content": []})
    assert proxy.stdout.next()["id"] == 7
    assert proxy.stdout.empty()


def test_responses_in_a_stream_for_other_ids_are_dropped(proxy) -> None:
    proxy.submit(request(1, "tools/call", name="a"))
    proxy.submit(request(2, "tools/call", name="b"))
    one, two = proxy.runtime.next(), proxy.runtime.next()
    if one.body["id"] != 1:
        one, two = two, one
    stream = one.answer()
    stream.push({"jsonrpc": "2.0", "id": 2, "result": {"stray": True}})  # another call's id
    stream.push({"jsonrpc": "2.0", "id": 99, "result": {}})  # an id never sent
    stream.push({"jsonrpc": "2.0", "method": "notifications/progress", "params": {}})
    stream.push({"jsonrpc": "2.0", "id": 1, "result": {"mine": True}}).end()
    assert proxy.stdout.next()["method"] == "notifications/progress"
    assert proxy.stdout.next() == {"jsonrpc": "2.0", "id": 1, "result": {"mine": True}}
    two.respond({"own": True})
    assert proxy.stdout.next() == {"jsonrpc": "2.0", "id": 2, "result": {"own": True}}
    assert proxy.stdout.empty()


def test_a_second_response_in_the_same_stream_is_dropped(proxy) -> None:
    proxy.submit(request(1, "ping"))
    stream = proxy.runtime.next().answer()
    stream.push({"jsonrpc": "2.0", "id": 1, "result": {}})
    stream.push({"jsonrpc": "2.0", "id": 1, "result": {"again": True}}).end()
    assert proxy.stdout.next() == {"jsonrpc": "2.0", "id": 1, "result": {}}
    proxy.submit(request(2, "ping"))
    proxy.runtime.next().respond()
    assert proxy.stdout.next()["id"] == 2


def test_a_stream_that_ends_without_the_response_is_one_error(proxy) -> None:
    proxy.submit(request(3, "tools/call", name="x"))
    proxy.runtime.next().answer().end()
    error = proxy.stdout.next()
    assert error["id"] == 3 and error["error"]["code"] == -32004


def test_the_containers_error_envelope_is_answered_on_the_requests_id(proxy) -> None:
    proxy.submit(request("a", "tools/call", name="x"))
    envelope = {"jsonrpc": "2.0", "id": None, "error": {"code": -32010, "message": "boom"}}
    proxy.runtime.next().answer().push(envelope).end()
    assert proxy.stdout.next() == {
        "jsonrpc": "2.0",
        "id": "a",
        "error": {"code": -32010, "message": "boom"},
    }


# -- a tool never runs twice -----------------------------------------------------------


def test_a_tool_error_that_mentions_a_lost_session_is_not_replayed(proxy) -> None:
    proxy.handshake()
    proxy.submit(request(1, "tools/call", name="browse"))
    error = {"code": -32603, "message": "Browser session not found"}
    proxy.runtime.next().answer().push({"jsonrpc": "2.0", "id": 1, "error": error}).end()
    assert proxy.stdout.next()["error"] == error
    assert proxy.runtime.nothing_new()


def test_a_404_from_the_runtime_to_a_session_replays_once_and_resends(proxy) -> None:
    proxy.handshake()
    proxy.submit(request(1, "tools/call", name="get_weather"))
    lost = proxy.runtime.next()
    assert lost.headers.mcp_session_id == "mcp-1"
    lost.fail(RuntimeServiceError(AwsError(LOST, code="RuntimeClientError", status=424)))
    replay = proxy.runtime.next()
    assert replay.method == "initialize" and replay.headers.mcp_session_id is None
    replay.respond({"protocolVersion": "2025-06-18"}, mcp_session_id="mcp-2")
    initialized = proxy.runtime.next()
    assert initialized.method == "notifications/initialized"
    assert initialized.headers.mcp_session_id == "mcp-2"
    initialized.accepted()
    resent = proxy.runtime.next()
    assert resent.body["id"] == 1 and resent.headers.mcp_session_id == "mcp-2"
    resent.respond({"content": []})
    assert proxy.stdout.next()["method"] == "notifications/message"
    assert proxy.stdout.next() == {"jsonrpc": "2.0", "id": 1, "result": {"content": []}}
    assert proxy.router.replays == 1


def test_the_envelope_form_of_the_404_replays_too(proxy) -> None:
    proxy.handshake()
    proxy.submit(request(1, "tools/list"))
    envelope = {"jsonrpc": "2.0", "id": None, "error": {"code": -32010, "message": LOST}}
    proxy.runtime.next().answer().push(envelope).end()
    proxy.runtime.next().respond({}, mcp_session_id="mcp-2")
    proxy.runtime.next().accepted()
    proxy.runtime.next().respond({"tools": []})
    assert proxy.stdout.next()["method"] == "notifications/message"
    assert proxy.stdout.next()["result"] == {"tools": []}


def test_a_404_without_an_mcp_session_is_an_error_not_a_replay(proxy) -> None:
    proxy.handshake(mcp_session_id=None)  # a stateless server
    proxy.submit(request(1, "tools/call", name="x"))
    proxy.runtime.next().fail(
        RuntimeServiceError(AwsError(LOST, code="RuntimeClientError", status=424))
    )
    assert proxy.stdout.next()["error"]["code"] == -32002
    assert proxy.runtime.nothing_new()


def test_a_second_404_after_the_replay_is_reported_not_replayed_again(proxy) -> None:
    proxy.handshake()
    proxy.submit(request(1, "tools/call", name="x"))
    error = RuntimeServiceError(AwsError(LOST, code="RuntimeClientError", status=424))
    proxy.runtime.next().fail(error)
    proxy.runtime.next().respond({}, mcp_session_id="mcp-2")
    proxy.runtime.next().accepted()
    proxy.runtime.next().fail(error)
    assert proxy.stdout.next()["method"] == "notifications/message"
    assert proxy.stdout.next()["error"]["code"] == -32002
    assert proxy.runtime.nothing_new()


def test_a_read_timeout_is_reported_and_never_resent(proxy) -> None:
    proxy.submit(request(1, "tools/call", name="x"))
    proxy.runtime.next().fail(ReadTimedOutError("no answer"))
    assert proxy.stdout.next()["error"]["code"] == -32003
    assert proxy.runtime.nothing_new()


# -- order -----------------------------------------------------------------------------


def test_nothing_but_the_handshake_goes_before_initialized_has_gone(proxy) -> None:
    proxy.submit(request(0, "initialize"))
    proxy.submit(request(1, "tools/list"))  # read before initialize is answered
    init = proxy.runtime.next()
    assert init.method == "initialize" and proxy.runtime.nothing_new()
    init.respond({"protocolVersion": "2025-06-18"})
    early = proxy.runtime.next()  # read before `initialized`: waits for the answer only
    assert early.method == "tools/list"
    early.respond({"tools": []})
    proxy.submit(notification("notifications/initialized"))
    proxy.submit(request(2, "tools/call", name="x"))
    initialized = proxy.runtime.next()
    assert initialized.method == "notifications/initialized"
    assert proxy.runtime.nothing_new()  # the call waits until `initialized` is answered
    initialized.accepted()
    assert proxy.runtime.next().method == "tools/call"


def test_a_notification_waits_until_earlier_requests_have_left(proxy) -> None:
    proxy.submit(request(1, "tools/call", name="a"))
    proxy.submit(notification("notifications/roots/list_changed"))
    call = proxy.runtime.next()
    assert proxy.runtime.nothing_new()  # the request is still being written
    call.left()
    assert proxy.runtime.next().method == "notifications/roots/list_changed"


def test_a_notification_waits_until_earlier_notifications_are_answered(proxy) -> None:
    proxy.submit(notification("notifications/roots/list_changed"))
    proxy.submit(notification("notifications/progress", progressToken=1))
    first = proxy.runtime.next()
    first.left()
    assert proxy.runtime.nothing_new()  # the first notification is not known to arrive yet
    first.accepted()
    assert proxy.runtime.next().method == "notifications/progress"


def test_replies_to_the_servers_requests_wait_for_nothing(proxy) -> None:
    proxy.submit(request(1, "tools/call", name="a"))
    proxy.runtime.next()  # in flight, not even written
    proxy.submit(line({"jsonrpc": "2.0", "id": "srv-1", "result": {"action": "accept"}}))
    assert proxy.runtime.next().body["id"] == "srv-1"


def test_requests_go_at_once_up_to_the_concurrency(proxy) -> None:
    for i in range(8):
        proxy.submit(request(i, "tools/call", name="slow"))
    held = [proxy.runtime.next() for _ in range(8)]  # all 8 in flight together
    proxy.submit(request(8, "tools/call", name="slow"))
    assert proxy.runtime.nothing_new()  # the ninth waits for a slot
    held[0].respond()
    assert proxy.runtime.next().body["id"] == 8


# -- cancellation ----------------------------------------------------------------------


def test_a_cancellation_goes_once_its_request_left_before_any_answer(proxy) -> None:
    proxy.submit(request(1, "tools/call", name="slow"))
    call = proxy.runtime.next()
    call.left()  # a JSON-response server: no headers until the tool ends
    proxy.submit(cancel(1))
    forwarded = proxy.runtime.next()
    assert forwarded.method == "notifications/cancelled"
    assert forwarded.body["params"]["requestId"] == 1
    forwarded.accepted()
    call.respond({"late": True})  # the tool's answer after all: not for the client
    proxy.submit(request(2, "ping"))
    proxy.runtime.next().respond()
    assert proxy.stdout.next()["id"] == 2
    assert proxy.stdout.empty()


def test_slow_notifications_do_not_hold_up_a_cancellation(proxy) -> None:
    proxy.submit(request(1, "tools/call", name="slow"))
    call = proxy.runtime.next()
    call.left()
    for _ in range(4):
        proxy.submit(notification("notifications/roots/list_changed"))
    stuck = proxy.runtime.next()  # the first notification; never answered
    stuck.left()
    proxy.submit(cancel(1))
    assert proxy.runtime.next().method == "notifications/cancelled"


def test_a_cancellation_closes_the_answer_being_read(proxy) -> None:
    proxy.submit(request(1, "tools/call", name="slow"))
    answer = proxy.runtime.next().answer()
    answer.push({"jsonrpc": "2.0", "method": "notifications/progress", "params": {}})
    assert proxy.stdout.next()["method"] == "notifications/progress"
    proxy.submit(cancel(1))
    assert answer.closed.wait(5)
    proxy.runtime.next().accepted()
    assert proxy.stdout.empty()


def test_a_request_cancelled_before_it_left_is_never_sent(proxy) -> None:
    proxy.submit(request(0, "initialize"))
    init = proxy.runtime.next()
    proxy.submit(request(1, "tools/call", name="x"))  # held behind initialize
    proxy.submit(cancel(1))
    init.respond({})
    assert proxy.stdout.next()["id"] == 0
    assert proxy.runtime.nothing_new()  # neither the call nor its cancellation


def test_a_cancelled_call_frees_its_slot_at_once() -> None:
    proxy = Harness(max_concurrency=1)
    proxy.submit(request(1, "tools/call", name="stuck"))
    proxy.runtime.next().left()  # never answered
    proxy.submit(cancel(1))
    proxy.runtime.next().accepted()
    proxy.submit(request(2, "ping"))
    proxy.runtime.next().respond()
    assert proxy.stdout.next()["id"] == 2


# -- shutdown --------------------------------------------------------------------------


def test_close_ends_what_is_in_flight_by_the_deadline(proxy) -> None:
    proxy.submit(request(1, "tools/call", name="stuck"))
    call = proxy.runtime.next()
    answer = call.answer()  # headers came, the rest never will
    answer.push({"jsonrpc": "2.0", "method": "notifications/progress", "params": {}})
    assert proxy.stdout.next()["method"] == "notifications/progress"  # it is being read
    proxy.submit(request(2, "tools/call", name="never-sent"))
    proxy.runtime.next()  # not even written
    cut = proxy.router.close(time.monotonic())
    assert sorted(c.id for c in cut) == [1, 2]
    assert all(c.state is CallState.FAILED for c in cut)
    assert answer.closed.is_set()
    answer.push({"jsonrpc": "2.0", "id": 1, "result": {}}).end()  # too late
    assert proxy.stdout.empty()


def test_close_waits_for_calls_that_finish_within_the_grace(proxy) -> None:
    proxy.submit(request(1, "ping"))
    call = proxy.runtime.next()
    threading.Thread(target=call.respond, daemon=True).start()
    assert proxy.router.close(time.monotonic() + 30) == []
    assert proxy.stdout.next()["id"] == 1


# -- what reaches stdout ---------------------------------------------------------------


def test_secrets_in_an_aws_error_never_reach_stdout(proxy) -> None:
    message = (
        "The request signature we calculated does not match. The Canonical String for this "
        "request should have been 'POST\\n/runtimes\\nx-amz-security-token:SECRETTOKEN\\n' "
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIDSECRET/20261125, Signature=abcdef0123"
    )
    proxy.submit(request(1, "ping"))
    proxy.runtime.next().fail(
        RuntimeServiceError(AwsError(message, code="InvalidSignatureException", status=403))
    )
    text = proxy.stdout.next()["error"]["message"]
    assert "SECRETTOKEN" not in text and "AKIDSECRET" not in text and "abcdef0123" not in text
    assert "InvalidSignatureException" in text


def test_non_json_and_non_strict_json_from_the_runtime_is_dropped(proxy) -> None:
    proxy.submit(request(1, "ping"))
    answer = proxy.runtime.next().answer()
    answer.push(b'{"jsonrpc":"2.0","method":"notifications/progress","params":{"p":NaN}}')
    answer.push(b"not json at all")
    answer.push({"jsonrpc": "2.0", "id": 1, "result": {}}).end()
    assert proxy.stdout.next() == {"jsonrpc": "2.0", "id": 1, "result": {}}


def test_a_nan_id_from_the_client_is_answered_with_a_null_id(proxy) -> None:
    proxy.submit(b'{"jsonrpc":"2.0","id":NaN,"method":"ping"}')
    assert proxy.stdout.next()["id"] is None  # Stdout.next parses strictly


# -- sessions --------------------------------------------------------------------------


def test_every_runtime_session_used_is_reported_done(proxy) -> None:
    proxy.submit(request(1, "ping"))
    proxy.runtime.next().respond()
    proxy.stdout.next()
    proxy.submit(notification("notifications/roots/list_changed"))
    proxy.runtime.next().accepted()
    proxy.submit(request(2, "ping"))
    proxy.runtime.next().fail(ReadTimedOutError("x"))
    proxy.stdout.next()
    done = [proxy.sessions_done.get(timeout=10) for _ in range(3)]
    assert done == ["mcp-session-0123456789abcdef0123456789abcdef"] * 3
    assert proxy.sessions_done.empty()


# -- pacing to the endpoint's quota ----------------------------------------------------


def test_a_cancellation_never_waits_its_turn_while_requests_and_notifications_do() -> None:
    turns = Turns()
    proxy = Harness(pace=turns)
    try:
        proxy.handshake()
        proxy.submit(request(1, "tools/call", name="slow"))
        sent = proxy.runtime.next().left()  # it went while turns were free
        turns.open.clear()  # the quota is used up: calls now wait their turn
        proxy.submit(request(2, "tools/call", name="later"))
        proxy.submit(cancel(1))
        cancelled = proxy.runtime.next()  # at once, ahead of request 2
        assert b"notifications/cancelled" in cancelled.payload
        assert proxy.runtime.nothing_new()  # request 2 still waits its turn
        turns.open.set()
        assert b'"later"' in proxy.runtime.next().payload
        cancelled.accepted()
        sent.answer().end()
    finally:
        turns.open.set()
