"""The relay's HTTP client, against instances that answer exactly as each test scripts them."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest

from agentcore_emulator.instance_http import (
    READ_HIGH_WATER,
    InstanceClient,
    InstanceHttpError,
    InstanceUnreachable,
)
from agentcore_emulator.networks import free_port

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


class Instance:
    """A scripted server on loopback; counts the connections it accepts."""

    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self.connections = 0
        self.port = 0
        self._server: asyncio.Server | None = None
        self._handlers: set[asyncio.Task[None]] = set()

    async def __aenter__(self) -> Instance:
        self._server = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for task in self._handlers:
            task.cancel()
        await asyncio.gather(*self._handlers, return_exceptions=True)
        await self._server.wait_closed()

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        assert task is not None
        self._handlers.add(task)
        try:
            with contextlib.suppress(ConnectionError):
                await self._handler(reader, writer)
        finally:
            writer.close()


async def read_request(reader: asyncio.StreamReader) -> tuple[bytes, bytes]:
    """One request's head and body (Content-Length framed, as the client sends)."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    return head, await reader.readexactly(length)


def answer(body: bytes, *headers: str) -> bytes:
    extra = "".join(f"{h}\r\n" for h in headers)
    return f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body


async def echo_forever(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    while True:
        try:
            _, body = await read_request(reader)
        except asyncio.IncompleteReadError:
            return
        writer.write(answer(body, "Content-Type: application/json"))
        await writer.drain()


@contextlib.asynccontextmanager
async def client(**kwargs: float) -> AsyncIterator[InstanceClient]:
    pool = InstanceClient(**kwargs)
    try:
        yield pool
    finally:
        await pool.close()


async def post(pool: InstanceClient, port: int, body: bytes) -> tuple[int, bytes]:
    response = await pool.request(
        "POST", ("127.0.0.1", port), "/invocations", {"X-Test": "1"}, body
    )
    try:
        return response.status, await response.read()
    finally:
        response.release()


def test_answers_are_read_whole_and_connections_kept_alive() -> None:
    async def scenario() -> None:
        async with Instance(echo_forever) as instance, client() as pool:
            for n in range(3):
                assert await post(pool, instance.port, b'{"n": %d}' % n) == (200, b'{"n": %d}' % n)
            assert instance.connections == 1

    asyncio.run(scenario())


def test_the_request_carries_host_length_and_the_given_headers() -> None:
    seen: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head, body = await read_request(reader)
        seen.append(head + body)
        writer.write(answer(b"{}"))
        await writer.drain()

    async def scenario() -> None:
        async with Instance(record) as instance, client() as pool:
            await post(pool, instance.port, b"x" * 70_000)  # past the size sent in one write

    asyncio.run(scenario())
    head, _, body = seen[0].partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    assert lines[0] == b"POST /invocations HTTP/1.1"
    assert b"Content-Length: 70000" in lines and b"X-Test: 1" in lines
    assert any(line.startswith(b"Host: 127.0.0.1:") for line in lines)
    assert body == b"x" * 70_000


def test_a_chunked_answer_arrives_chunk_by_chunk() -> None:
    first_read = asyncio.Event()

    async def stream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nfirst\r\n")
        await writer.drain()
        await first_read.wait()  # the second chunk only once the first was relayed
        writer.write(b"6\r\nsecond\r\n0\r\n\r\n")
        await writer.drain()

    async def scenario() -> list[bytes]:
        async with Instance(stream) as instance, client() as pool:
            response = await pool.request("POST", ("127.0.0.1", instance.port), "/", {}, b"")
            received = []
            async for chunk in response.chunks():
                received.append(chunk)
                first_read.set()
            response.release()
            return received

    assert asyncio.run(scenario()) == [b"first", b"second"]


def test_an_answer_without_length_ends_with_its_connection() -> None:
    async def until_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
        await writer.drain()

    async def scenario() -> None:
        async with Instance(until_close) as instance, client() as pool:
            assert await post(pool, instance.port, b"") == (200, b"all of it")
            assert await post(pool, instance.port, b"") == (200, b"all of it")  # a new one
            assert instance.connections == 2

    asyncio.run(scenario())


def test_an_answer_cut_short_is_an_error_not_a_shorter_body() -> None:
    async def truncated(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nonly this")
        await writer.drain()

    async def scenario() -> None:
        async with Instance(truncated) as instance, client() as pool:
            with pytest.raises(InstanceHttpError, match="closed the connection"):
                await post(pool, instance.port, b"")

    asyncio.run(scenario())


def test_no_answer_at_all_is_an_error() -> None:
    async def hang_up(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)

    async def scenario() -> None:
        async with Instance(hang_up) as instance, client() as pool:
            with pytest.raises(InstanceHttpError) as error:
                await post(pool, instance.port, b"{}")
            assert not isinstance(error.value, InstanceUnreachable)  # it was sent

    asyncio.run(scenario())


def test_an_answer_that_is_not_http_is_an_error() -> None:
    async def garbage(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"SSH-2.0-OpenSSH_9.6\r\n\r\n")
        await writer.drain()
        await reader.read()  # holds the connection open: the client must not wait for EOF

    async def scenario() -> None:
        async with Instance(garbage) as instance, client() as pool:
            with pytest.raises(InstanceHttpError, match="not HTTP"):
                await post(pool, instance.port, b"")

    asyncio.run(scenario())


def test_nobody_listening_is_unreachable() -> None:
    async def scenario() -> None:
        async with client() as pool:
            with pytest.raises(InstanceUnreachable, match="cannot connect"):
                await post(pool, free_port(), b"")

    asyncio.run(scenario())


def test_an_answer_released_unfinished_closes_its_connection() -> None:
    closed = asyncio.Event()

    async def half_then_echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if closed.is_set():
            await echo_forever(reader, writer)
            return
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhalf.")
        await writer.drain()
        await reader.read()  # until the client closes
        closed.set()

    async def scenario() -> None:
        async with Instance(half_then_echo) as instance, client() as pool:
            response = await pool.request("POST", ("127.0.0.1", instance.port), "/", {}, b"")
            response.release()  # its rest, were it kept, would pass for the next answer
            await asyncio.wait_for(closed.wait(), 10)
            assert await post(pool, instance.port, b"next") == (200, b"next")
            assert instance.connections == 2

    asyncio.run(scenario())


def test_a_connection_the_instance_closed_while_idle_is_not_reused() -> None:
    async def one_each(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, body = await read_request(reader)
        writer.write(answer(body))  # keep-alive by HTTP/1.1's default, then closed anyway
        await writer.drain()

    async def scenario() -> None:
        async with Instance(one_each) as instance, client() as pool:
            assert await post(pool, instance.port, b"1") == (200, b"1")
            async with asyncio.timeout(10):
                while pool._idle.get(
                    ("127.0.0.1", instance.port)
                ):  # until the close reaches the client
                    await asyncio.sleep(0.01)
            assert await post(pool, instance.port, b"2") == (200, b"2")
            assert instance.connections == 2

    asyncio.run(scenario())


def test_a_connection_idle_past_the_expiry_is_not_reused() -> None:
    async def scenario() -> None:
        async with Instance(echo_forever) as instance, client(keepalive_expiry=0.0) as pool:
            await post(pool, instance.port, b"1")
            await post(pool, instance.port, b"2")
            assert instance.connections == 2

    asyncio.run(scenario())


def test_an_unread_stream_stops_being_read_from_the_instance() -> None:
    total = 16 * READ_HIGH_WATER
    written = 0

    async def flood(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal written
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % total)
        for _ in range(total // 65536):
            writer.write(b"x" * 65536)
            await writer.drain()
            written += 65536

    async def scenario() -> None:
        async with Instance(flood) as instance, client() as pool:
            response = await pool.request("POST", ("127.0.0.1", instance.port), "/", {}, b"")
            async with asyncio.timeout(10):
                while response._buffered < READ_HIGH_WATER:  # the caller reads nothing
                    await asyncio.sleep(0.01)
            await asyncio.sleep(0.1)  # time for more to arrive, were reading not paused
            # The instance is held back by TCP, not buffered here.
            assert response._buffered < 2 * READ_HIGH_WATER
            assert written < total
            body = await response.read()
            response.release()
            assert len(body) == total

    asyncio.run(scenario())


def test_a_line_break_in_a_header_is_refused_before_anything_is_sent() -> None:
    async def scenario() -> None:
        async with Instance(echo_forever) as instance, client() as pool:
            with pytest.raises(ValueError, match="line break"):
                await pool.request(
                    "POST", ("127.0.0.1", instance.port), "/", {"X-A": "1\r\nX-B: 2"}, b""
                )
            assert instance.connections == 0

    asyncio.run(scenario())


def test_repeated_headers_are_joined_and_names_lower_cased() -> None:
    async def twice(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(answer(b"", "Vary: a", "VARY: b", "Mcp-Session-Id: s1"))
        await writer.drain()

    async def scenario() -> dict[str, str]:
        async with Instance(twice) as instance, client() as pool:
            response = await pool.request("POST", ("127.0.0.1", instance.port), "/", {}, b"")
            response.release()
            return response.headers

    headers = asyncio.run(scenario())
    assert headers["vary"] == "a, b" and headers["mcp-session-id"] == "s1"


def test_a_cancelled_request_closes_its_connection() -> None:
    received = asyncio.Event()
    closed = asyncio.Event()

    async def slow(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        received.set()
        await reader.read()  # until the client closes
        closed.set()

    async def scenario() -> None:
        async with Instance(slow) as instance, client() as pool:
            call = asyncio.ensure_future(post(pool, instance.port, b"{}"))
            await received.wait()
            call.cancel()
            await asyncio.wait_for(closed.wait(), 10)
            with pytest.raises(asyncio.CancelledError):
                await call

    asyncio.run(scenario())


def test_an_informational_answer_is_passed_over() -> None:
    async def early_hints(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>\r\n\r\n")
        writer.write(answer(b"ok", "X-Final: 1"))
        await writer.drain()

    async def scenario() -> tuple[int, dict[str, str], bytes]:
        async with Instance(early_hints) as instance, client() as pool:
            response = await pool.request("POST", ("127.0.0.1", instance.port), "/", {}, b"")
            body = await response.read()
            response.release()
            return response.status, response.headers, body

    status, headers, body = asyncio.run(scenario())
    assert (status, body) == (200, b"ok")
    assert headers["x-final"] == "1" and "link" not in headers


def test_a_second_answer_to_one_request_is_never_taken_for_the_next() -> None:
    async def answers_twice(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        _, body = await read_request(reader)
        writer.write(answer(body) + answer(b"stray"))  # one write: parsed together
        await writer.drain()
        await echo_forever(reader, writer)

    async def scenario() -> None:
        async with Instance(answers_twice) as instance, client() as pool:
            assert await post(pool, instance.port, b"first") == (200, b"first")
            assert await post(pool, instance.port, b"second") == (200, b"second")
            assert instance.connections == 2  # the first connection was closed, not reused

    asyncio.run(scenario())
