"""HTTP/1.1 framing on a socket: every way an answer can be framed, and every way it can
be malformed, read as http.client reads it (its exceptions, for the AWS boundary)."""

from __future__ import annotations

import contextlib
import http.client
import io
import socket
import threading
from collections.abc import Iterator

import pytest

from mcp_agentcore_proxy.answer import RuntimeAnswer
from mcp_agentcore_proxy.upstream_framing import request_head


class Pair:
    """Our end of a connection, and the server's, writing from a thread of its own (a wire
    larger than the socket's buffer waits for our reads)."""

    def __init__(self) -> None:
        self.ours, self.theirs = socket.socketpair()
        self.ours.settimeout(5)
        self.theirs.settimeout(5)
        self.senders: list[threading.Thread] = []

    def send(self, wire: bytes, close: bool = False) -> None:
        def send() -> None:
            with contextlib.suppress(OSError):  # the test ended before reading it all
                self.theirs.sendall(wire)
                if close:
                    self.theirs.shutdown(socket.SHUT_WR)

        sender = threading.Thread(target=send, daemon=True)
        self.senders.append(sender)
        sender.start()


@pytest.fixture
def pair() -> Iterator[Pair]:
    both = Pair()
    yield both
    both.ours.close()
    both.theirs.close()
    for sender in both.senders:
        sender.join(timeout=5)
        assert not sender.is_alive()


def _answer(pair: Pair, wire: bytes, close: bool = False) -> RuntimeAnswer:
    pair.send(wire, close)
    return RuntimeAnswer(pair.ours)


def _body(answer: RuntimeAnswer) -> bytes:
    parts = []
    while data := answer.body.read1(7):  # small reads: chunk and buffer edges are crossed
        parts.append(data)
    return b"".join(parts)


def test_a_chunked_answer_is_read_chunk_by_chunk_to_its_end(pair) -> None:
    wire = (
        b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n"
        b'\r\n1c;ext=1\r\ndata: {"id": 1, "x": true}\n\n\r\n3\r\nabc\r\n0\r\nTrailer: t\r\n\r\n'
    )
    answer = _answer(pair, wire)
    assert (answer.status, answer.headers.get("CONTENT-TYPE")) == (200, "text/event-stream")
    assert _body(answer) == b'data: {"id": 1, "x": true}\n\nabc'
    assert answer.body.ended and not answer.body.will_close


def test_a_chunk_is_handed_over_as_it_lands_not_when_the_answer_ends(pair) -> None:
    answer = _answer(pair, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
    assert answer.body.read1(65536) == b"first"  # the server has not sent the rest yet
    pair.send(b"6\r\nsecond\r\n0\r\n\r\n")
    assert _body(answer) == b"second"


def test_a_content_length_answer_ends_at_its_length(pair) -> None:
    answer = _answer(pair, b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello worldNEXT")
    assert answer.body.read(100) == b"hello world"
    assert answer.body.ended and not answer.body.will_close


def test_an_answer_without_length_runs_to_the_close_and_takes_the_connection(pair) -> None:
    answer = _answer(pair, b"HTTP/1.1 200 OK\r\n\r\nuntil the end", close=True)
    assert answer.body.will_close
    assert _body(answer) == b"until the end"
    assert answer.body.ended


@pytest.mark.parametrize(
    ("head", "will_close"),
    [
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\n", True),
        (b"HTTP/1.0 200 OK\r\n", True),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\n", False),
        (b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\n", False),
    ],
)
def test_whether_the_connection_may_carry_the_next_request(pair, head, will_close) -> None:
    answer = _answer(pair, head + b"Content-Length: 0\r\n\r\n")
    assert answer.body.will_close is will_close
    assert answer.body.read1(10) == b"" and answer.body.ended


def test_interim_answers_are_skipped(pair) -> None:
    answer = _answer(
        pair,
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nLink: </x>\r\n\r\n"
        b"HTTP/1.1 404 Not Found\r\nx-amzn-ErrorType: ResourceNotFoundException\r\n"
        b"Content-Length: 2\r\n\r\n{}",
    )
    assert answer.status == 404
    assert answer.headers["X-Amzn-Errortype"] == "ResourceNotFoundException"
    assert "link" not in answer.headers


@pytest.mark.parametrize(
    "wire",
    [
        b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok",  # no reason phrase
        b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",  # bare line feeds
        b"HTTP/1.1 200\nContent-Length: 2\n\nok",
    ],
)
def test_a_terse_head_is_read_as_http_client_reads_it(pair, wire) -> None:
    answer = _answer(pair, wire)
    assert (answer.status, answer.body.read(10)) == (200, b"ok")


def test_headers_repeated_or_folded_are_joined_and_junk_lines_left_out(pair) -> None:
    answer = _answer(
        pair,
        b"HTTP/1.1 200 OK\r\nVary: a\r\nvary: b\r\nX-Long: one\r\n  two\r\nno colon here\r\n"
        b"Content-Length: 0\r\n\r\n",
    )
    assert answer.headers.get("Vary") == "a, b"
    assert answer.headers.get("x-long") == "one two"
    assert answer.headers.get("missing", "d") == "d"


@pytest.mark.parametrize(
    ("wire", "error"),
    [
        (b"", http.client.RemoteDisconnected),
        (b"SSH-2.0-OpenSSH_9.6\r\n\r\n", http.client.BadStatusLine),
        (b"HTTP/1.1 2000 OK\r\n\r\n", http.client.BadStatusLine),
        (b"HTTP/1.1 " + b"2" * 70000 + b"\r\n", http.client.LineTooLong),
        (b"HTTP/1.1 200 OK\r\nX: " + b"y" * 70000 + b"\r\n\r\n", http.client.LineTooLong),
        (b"HTTP/1.1 200 OK\r\n" + b"X: y\r\n" * 101 + b"\r\n", http.client.HTTPException),
    ],
)
def test_a_malformed_head_is_http_clients_error(pair, wire, error) -> None:
    with pytest.raises(error):
        _answer(pair, wire, close=True)


@pytest.mark.parametrize(
    "wire",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort",  # closed before its length
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nshort",  # mid-chunk
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",  # not a size
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-1\r\n",  # a negative size
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabXY0\r\n\r\n",  # no CRLF
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n",  # no last chunk
    ],
)
def test_a_body_that_breaks_off_is_an_incomplete_read(pair, wire) -> None:
    answer = _answer(pair, wire, close=True)
    with pytest.raises(http.client.HTTPException):
        _body(answer)
    assert not answer.body.ended  # so its connection is never reused


def test_a_request_head_carries_the_headers_as_given_and_the_length() -> None:
    head = request_head("/runtimes/x/invocations?qualifier=DEFAULT", {"Host": "h", "A": "b"}, 12)
    assert head == (
        b"POST /runtimes/x/invocations?qualifier=DEFAULT HTTP/1.1\r\nHost: h\r\nA: b\r\n"
        b"Content-Length: 12\r\n\r\n"
    )


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Test": "ok\r\nInjected: yes"},
        {"X-Test\r\nInjected": "yes"},
        {"X-Test": "nul\x00"},
        {"X-Test": "bare\nnewline"},
    ],
)
def test_a_header_that_would_smuggle_a_line_is_refused(headers) -> None:
    with pytest.raises(ValueError):
        request_head("/", headers, 0)


class _Wire:
    """What http.client's response reads from: the same bytes, as a socket file."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def makefile(self, mode: str) -> io.BufferedReader:
        return io.BufferedReader(io.BytesIO(self._data))


CORPUS = [
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\n{}{}",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nabcd\r\n1;x=y\r\ne\r\n0\r\n\r\n",
    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 99\r\n\r\n"
    b"2\r\nok\r\n0\r\n\r\n",
    b"HTTP/1.1 202 Accepted\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
    b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n",
    b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok",
    b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nto the close",
    b"HTTP/1.1 200 OK\r\nContent-Length: nonsense\r\n\r\nto the close",
    b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 500 Oops\r\nContent-Length: 1\r\n\r\nx",
    b"HTTP/1.1 424 Failed Dependency\r\nX-Amzn-ErrorType: RuntimeClientError:http://x/\r\n"
    b"x-amzn-errortype: again\r\nContent-Length: 0\r\n\r\n",
    b"HTTP/1.1 200 OK\nContent-Length: 2\n\nok",
    b"HTTP/1.1 200 OK\r\nMcp-Session-Id:   spaced\r\nContent-Length: 0\r\n\r\n",
]
NAMES = ["content-type", "Content-Length", "mcp-session-id", "X-AMZN-ERRORTYPE", "connection"]


@pytest.mark.parametrize("wire", CORPUS)
def test_every_answer_reads_as_http_client_reads_it(pair, wire) -> None:
    theirs = http.client.HTTPResponse(_Wire(wire))  # type: ignore[arg-type]
    theirs.begin()
    expected = (
        theirs.status,
        [theirs.getheader(name) for name in NAMES],
        theirs.read(),
        theirs.will_close,
    )
    ours = _answer(pair, wire, close=True)
    assert (
        ours.status,
        [ours.headers.get(n) for n in NAMES],
        _body(ours),
        ours.body.will_close,
    ) == (expected)


def test_whitespace_after_a_value_is_not_part_of_it(pair) -> None:
    # RFC 9110 5.5; http.client keeps it (a session id would not match its own echo).
    answer = _answer(
        pair, b"HTTP/1.1 200 OK\r\nMcp-Session-Id: abc \t\r\nContent-Length: 0\r\n\r\n"
    )
    assert answer.headers.get("Mcp-Session-Id") == "abc"


@pytest.mark.parametrize(
    "lengths",
    [b"Content-Length: 5\r\nContent-Length: 5\r\n", b"Content-Length: 5, 5\r\n"],
    ids=["two fields", "a list"],
)
def test_a_content_length_repeated_with_one_value_is_that_length(pair, lengths) -> None:
    # Before: "5, 5" was no length at all, and the body was read to a close that never came.
    answer = _answer(pair, b"HTTP/1.1 200 OK\r\n" + lengths + b"\r\nhello")
    assert answer.body.read(100) == b"hello"
    assert answer.body.ended and not answer.body.will_close


@pytest.mark.parametrize(
    "lengths",
    [b"Content-Length: 5\r\nContent-Length: 6\r\n", b"Content-Length: 5, 6\r\n"],
    ids=["two fields", "a list"],
)
def test_content_lengths_that_disagree_are_an_error_at_once(pair, lengths) -> None:
    with pytest.raises(http.client.HTTPException, match="conflicting Content-Length"):
        _answer(pair, b"HTTP/1.1 200 OK\r\n" + lengths + b"\r\nhello")


def test_endless_interim_answers_end_at_a_bound(pair) -> None:
    pair.send(b"HTTP/1.1 100 Continue\r\n\r\n" * 1000)
    with pytest.raises(http.client.HTTPException, match="interim"):
        RuntimeAnswer(pair.ours)


def test_interim_answers_share_one_read_timeout(pair) -> None:
    # Each interim answer comes in time for a read of its own, but together they pass the
    # read timeout (15 of them take 0.75 s at least): the call ends there. Before, each read
    # had the whole timeout again, and the final answer after them was read.
    pair.ours.settimeout(0.2)
    sent_all = threading.Event()

    def trickle() -> None:
        with contextlib.suppress(OSError):
            for _ in range(15):
                pair.theirs.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
                if sent_all.wait(0.05):
                    return
            pair.theirs.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")

    sender = threading.Thread(target=trickle, daemon=True)
    pair.senders.append(sender)
    sender.start()
    with pytest.raises(TimeoutError):
        RuntimeAnswer(pair.ours)
    sent_all.set()
    assert pair.ours.gettimeout() == 0.2  # the connection's own timeout is back
