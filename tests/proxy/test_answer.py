"""A runtime's answer read as it arrives, and cut off where AgentCore's payload limit is."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from agentcore_wire.sse import SseDecoder
from mcp_agentcore_proxy.answer import RuntimeAnswer
from mcp_agentcore_proxy.errors import StreamInterruptedError

LIMIT = 1000


class EndlessBody:
    """A body that never ends: what a broken or hostile runtime can send."""

    def __init__(self, first: bytes, then: bytes) -> None:
        self._next: Iterator[bytes] = iter([first])
        self._then = then
        self.read = 0
        self.closed = False
        self.ended = self.will_close = False

    def read1(self, size: int) -> bytes:
        chunk = next(self._next, self._then)
        self.read += len(chunk)
        return chunk

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def released() -> list[bool]:
    return []


def _answer(body: EndlessBody, content_type: str, released: list[bool]) -> RuntimeAnswer:
    """An answer whose head came over a socket, its body then read from ``body``."""
    ours, theirs = socket.socketpair()
    with theirs:
        theirs.sendall(
            f"HTTP/1.1 200 OK\r\nContent-Type: {content_type}\r\n"
            f"Transfer-Encoding: chunked\r\n\r\n".encode()
        )
        answer = RuntimeAnswer(ours, released.append, max_message=LIMIT)
    answer.body = body  # type: ignore[assignment]
    return answer


@pytest.mark.parametrize(
    ("content_type", "first", "then", "what", "most_read"),
    [
        ("application/json", b'{"jsonrpc": "2.0", "result": "', b"x" * 64, "its body", LIMIT + 64),
        # A line that never ends; then data lines without the blank line that ends an event
        # (each 8-byte line holds 2 bytes of data: four times the limit is read).
        ("text/event-stream", b"data: {", b"x" * 64, "an event of its stream", LIMIT + 64),
        ("text/event-stream", b"data: x\n", b"data: x\n", "an event of its stream", 4 * LIMIT + 8),
    ],
)
def test_an_answer_without_end_is_cut_off_at_the_limit(
    content_type: str, first: bytes, then: bytes, what: str, most_read: int, released
) -> None:
    body = EndlessBody(first, then)
    answer = _answer(body, content_type, released)
    with pytest.raises(StreamInterruptedError) as cut:
        list(answer.payloads())
    assert str(cut.value) == (
        f"The runtime's answer was cut off: {what} passed {LIMIT} bytes, AgentCore's payload limit"
    )
    assert body.read <= most_read  # held no more than the limit and one read
    assert released == [False]  # not read to its end: the pool lets its connection go


def test_events_under_the_limit_pass_however_long_the_stream(released) -> None:
    event = b"data: " + b"y" * (LIMIT - 10) + b"\n\n"  # each just under the limit
    body = EndlessBody(event, event)
    payloads = _answer(body, "text/event-stream", released).payloads()
    assert [next(payloads) for _ in range(5)] == [b"y" * (LIMIT - 10)] * 5
    payloads.close()


def test_the_decoder_counts_what_it_holds_for_the_event_in_the_making() -> None:
    decoder = SseDecoder()
    assert decoder.feed(b"data: abc\ndata: de") == []
    assert decoder.pending == len(b"abc") + 1 + len(b"data: de")
    assert decoder.feed(b"\n\n") == [b"abc\nde"]
    assert decoder.pending == 0
