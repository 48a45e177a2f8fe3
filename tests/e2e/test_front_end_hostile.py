"""The HTTP front end under hostile and careless clients: each promise against its breaker.

Real proxy processes in front of the emulator; readiness checks, never sleeps; each test
says what it would have seen before (in the closing note of issue 17).
"""

from __future__ import annotations

import contextlib
import json
import signal
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import anyio
import httpx
import pytest

from tests.e2e.test_front_end import ACCEPT, HttpProxy, _post
from tests.harness import INITIALIZE_PARAMS, WAIT, Emulator, Proxy, wait_until

INITIALIZE = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INITIALIZE_PARAMS}
INITIALIZED = {"jsonrpc": "2.0", "method": "notifications/initialized"}


def _open_session(url: str) -> str:
    opened = _post(url, INITIALIZE)
    assert opened.status_code == 200 and '"result"' in opened.text, opened.text
    session = opened.headers["mcp-session-id"]
    assert _post(url, INITIALIZED, **{"Mcp-Session-Id": session}).status_code == 202
    return session


def _threads(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("Threads")))


def _call(id_: int, tool: str, **arguments: Any) -> dict[str, Any]:
    params = {"name": tool, "arguments": arguments, "_meta": {"progressToken": id_}}
    return {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": params}


def _last_message(body: str) -> dict[str, Any]:
    """The last message of an SSE answer, or the JSON body of a refusal."""
    data = [line[6:] for line in body.splitlines() if line.startswith("data: ")]
    return json.loads(data[-1] if data else body)  # type: ignore[no-any-return]


@pytest.fixture
def proxy_env(emulator: Emulator) -> dict[str, str]:
    return {**emulator.env("testing_server"), "RUNTIME_SESSION_MODE": "session"}


def test_a_client_flooding_long_calls_stalls_neither_another_client_nor_shutdown(
    proxy_env: dict[str, str], tmp_path: Path
) -> None:
    env = {**proxy_env, "AGENTCORE_MAX_CONCURRENCY": "4", "AGENTCORE_SHUTDOWN_GRACE": "1"}
    proxy = HttpProxy(env)
    never = str(tmp_path / "never")  # the gate of every flooding call: it never opens
    statuses: list[int] = []
    answers: list[dict[str, Any]] = []

    async def flood_then_shutdown() -> None:
        session = _open_session(proxy.url)
        headers = {"Accept": ACCEPT, "Mcp-Session-Id": session}
        limits = httpx.Limits(max_connections=None, max_keepalive_connections=0)
        async with httpx.AsyncClient(timeout=WAIT, limits=limits) as client:

            async def call(n: int) -> None:
                message = _call(n, "gated", gate=never)
                async with client.stream("POST", proxy.url, json=message, headers=headers) as r:
                    statuses.append(r.status_code)
                    answers.append(_last_message((await r.aread()).decode()))

            async with anyio.create_task_group() as group:
                for n in range(1, 111):
                    group.start_soon(call, n)
                await anyio.to_thread.run_sync(
                    lambda: wait_until(lambda: len(statuses) == 110, "every flood POST answered")
                )
                # Another client is served while the first one's intake is full.
                other = await anyio.to_thread.run_sync(_post, proxy.url, INITIALIZE)
                assert other.status_code == 200 and '"result"' in other.text
                proxy.process.send_signal(signal.SIGTERM)

    try:
        anyio.run(flood_then_shutdown)
        assert proxy.process.wait(WAIT) == 0
    finally:
        proxy.process.kill()  # a no-op once it has exited; else a failed test leaves none
    taken = statuses.count(200)
    assert taken == 4 + 64  # the session's intake: max concurrency and its headroom
    assert statuses.count(429) == 110 - taken
    busy = [a for a in answers if a["error"]["code"] == -32005]
    assert len(busy) == 110 - taken and all(isinstance(a["id"], int) for a in busy)
    cut = [a for a in answers if a["error"]["message"] == "The proxy is shutting down"]
    assert len(cut) == taken  # every call taken is answered, at the end of the grace


def test_sessions_leave_no_threads_behind(emulator: Emulator) -> None:
    proxy = HttpProxy(emulator.env("testing_server"))  # identity mode: one runtime session
    try:
        with httpx.Client(timeout=WAIT) as client:

            def open_and_close() -> None:
                opened = client.post(proxy.url, json=INITIALIZE, headers={"Accept": ACCEPT})
                session = {"Mcp-Session-Id": opened.headers["mcp-session-id"]}
                assert client.delete(proxy.url, headers=session).status_code == 204

            open_and_close()  # the process's own threads (pools, session stops) start
            before = _threads(proxy.process.pid)
            for _ in range(100):
                open_and_close()
            after = wait_until(
                lambda: (n := _threads(proxy.process.pid)) <= before + 2 and n,
                "threads of closed sessions to end",
            )
        assert after <= before + 2  # was +200: two service threads per session, never ended
    finally:
        assert proxy.stop() == 0


def test_sessions_initialized_and_abandoned_hold_no_thread(emulator: Emulator) -> None:
    # Before: 200 sessions left 190 more threads (each router's own two, waiting for work)
    # until their idle timeout, 15 minutes later.
    proxy = HttpProxy({**emulator.env("testing_server"), "AGENTCORE_HTTP_MAX_SESSIONS": "201"})
    try:
        with httpx.Client(timeout=WAIT) as client:
            _open_session(proxy.url)  # the process's own threads (pools, session stops) start
            before = _threads(proxy.process.pid)
            sessions = [_open_session(proxy.url) for _ in range(200)]
            after = wait_until(
                lambda: (n := _threads(proxy.process.pid)) <= before + 8 and n,
                "threads to belong to work in flight only",
            )
            assert after <= before + 8  # the shared pool's idle workers, at most
            # Each abandoned session still serves at once when its client comes back.
            ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
            for session in (sessions[0], sessions[-1]):
                answer = client.post(
                    proxy.url, json=ping, headers={"Accept": ACCEPT, "Mcp-Session-Id": session}
                )
                assert _last_message(answer.text)["result"] == {}
    finally:
        assert proxy.stop() == 0


def test_an_idle_session_expires_with_its_runtime_session(
    emulator: Emulator, proxy_env: dict[str, str]
) -> None:
    before = {s["sessionId"] for s in emulator.sessions()}
    proxy = HttpProxy({**proxy_env, "AGENTCORE_HTTP_SESSION_IDLE_TIMEOUT": "0.5"})
    try:
        session = _open_session(proxy.url)
        ours = {s["sessionId"] for s in emulator.sessions()} - before
        assert len(ours) == 1
        wait_until(
            lambda: not ours & {s["sessionId"] for s in emulator.sessions()},
            "its runtime session to be stopped",
        )
        ping = {"jsonrpc": "2.0", "id": 1, "method": "ping"}  # asked once: a ping is activity
        assert _post(proxy.url, ping, **{"Mcp-Session-Id": session}).status_code == 404
    finally:
        assert proxy.stop() == 0


def test_sessions_past_the_bound_get_a_clear_503(proxy_env: dict[str, str]) -> None:
    proxy = HttpProxy({**proxy_env, "AGENTCORE_HTTP_MAX_SESSIONS": "2"})
    try:
        first = _open_session(proxy.url)
        _open_session(proxy.url)
        refused = _post(proxy.url, INITIALIZE)
        assert refused.status_code == 503
        assert refused.json()["id"] == 0
        assert "at most 2 client sessions" in refused.json()["error"]["message"]
        closed = httpx.delete(proxy.url, headers={"Mcp-Session-Id": first}, timeout=WAIT)
        assert closed.status_code == 204
        _open_session(proxy.url)  # room again
    finally:
        assert proxy.stop() == 0


def test_sigterm_lets_calls_finish_within_the_grace_then_answers_the_rest(
    proxy_env: dict[str, str], tmp_path: Path
) -> None:
    proxy = HttpProxy({**proxy_env, "AGENTCORE_SHUTDOWN_GRACE": "5"})
    gate = tmp_path / "gate"
    got: dict[int, dict[str, Any]] = {}
    progressed: list[int] = []

    async def calls_then_signal() -> None:
        session = _open_session(proxy.url)
        headers = {"Accept": ACCEPT, "Mcp-Session-Id": session}
        async with httpx.AsyncClient(timeout=WAIT) as client:

            async def call(message: dict[str, Any]) -> None:
                async with client.stream("POST", proxy.url, json=message, headers=headers) as r:
                    async for line in r.aiter_lines():
                        if line.startswith("data: "):
                            body = json.loads(line[6:])
                            if "id" in body:
                                got[message["id"]] = body
                            else:
                                progressed.append(message["id"])

            async with anyio.create_task_group() as group:
                group.start_soon(call, _call(1, "gated", gate=str(gate)))  # finishes in time
                group.start_soon(call, _call(2, "hold", seconds=60))  # outlasts the grace
                await anyio.to_thread.run_sync(
                    lambda: wait_until(lambda: 1 in progressed, "the gated call to run")
                )
                proxy.process.send_signal(signal.SIGTERM)
                # No new work while draining: refused with 503 (a GET, to open nothing).
                await anyio.to_thread.run_sync(
                    lambda: wait_until(
                        lambda: httpx.get(proxy.url, timeout=WAIT).status_code == 503, "the drain"
                    )
                )
                gate.write_text("open")  # the answer comes after the signal, within the grace

    try:
        anyio.run(calls_then_signal)
        assert proxy.process.wait(WAIT) == 0
    finally:
        proxy.process.kill()  # a no-op once it has exited; else a failed test leaves none
    assert got[1]["result"]["content"][0]["text"] == "gate passed"
    assert got[2]["error"]["message"] == "The proxy is shutting down"


def test_a_body_past_the_limit_is_refused_before_it_is_read(proxy_env: dict[str, str]) -> None:
    proxy = HttpProxy({**proxy_env, "AGENTCORE_HTTP_MAX_BODY": "1048576"})
    parts = urlsplit(proxy.url)
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=WAIT) as sock:
            # Says 1 GiB, sends 5 bytes: the answer must come without the rest.
            sock.sendall(
                f"POST /mcp HTTP/1.1\r\nHost: {parts.netloc}\r\nAccept: {ACCEPT}\r\n"
                f'Content-Type: application/json\r\nContent-Length: {1 << 30}\r\n\r\n{{"a"'.encode()
            )
            assert sock.recv(65536).startswith(b"HTTP/1.1 413")

        def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
            for _ in range(3):
                yield b" " * 600_000

        refused = httpx.post(proxy.url, content=chunks(), headers={"Accept": ACCEPT}, timeout=WAIT)
        assert refused.status_code == 413
        assert _post(proxy.url, INITIALIZE).status_code == 200  # and it serves on
    finally:
        assert proxy.stop() == 0


def test_half_sent_requests_are_closed_and_lock_nobody_out(proxy_env: dict[str, str]) -> None:
    proxy = HttpProxy({**proxy_env, "AGENTCORE_HTTP_HEADER_TIMEOUT": "1"})
    parts = urlsplit(proxy.url)
    stalled = []
    try:
        for _ in range(140):
            sock = socket.create_connection((parts.hostname, parts.port), timeout=WAIT)
            sock.sendall(b"POST /mcp HTTP/1.1\r\nHost: 127.0.0.1\r\nAcc")
            stalled.append(sock)
        assert _post(proxy.url, INITIALIZE).status_code == 200
        for sock in stalled:
            with contextlib.suppress(ConnectionResetError):
                assert sock.recv(65536) == b""  # closed by the proxy at the deadline
    finally:
        for sock in stalled:
            sock.close()
        assert proxy.stop() == 0


def test_a_burst_past_agentcores_quota_is_delayed_not_throttled(tmp_path: Path) -> None:
    fixtures = Path(__file__).resolve().parents[2] / "fixtures"
    config = tmp_path / "emulator.toml"
    config.write_text(
        "[emulator]\nrequests_per_second = 25\n[[runtimes]]\n"
        f'name = "testing_server"\ncommand = ["python", "{fixtures}/servers/testing_server.py"]\n'
    )
    with Emulator(config) as emulator:
        env = {**emulator.env("testing_server"), "RUNTIME_SESSION_MODE": "session"}
        assert env["AGENTCORE_MAX_RATE"] == "25"  # the emulator tells the proxy its quota
        proxy = HttpProxy(env)
        try:
            session = _open_session(proxy.url)
            headers = {"Accept": ACCEPT, "Mcp-Session-Id": session}
            answers: list[dict[str, Any]] = []

            async def burst() -> None:
                async with httpx.AsyncClient(timeout=WAIT) as client:

                    async def one(n: int) -> None:
                        message = _call(n, "echo_size", text=uuid.uuid4().hex)
                        answer = await client.post(proxy.url, json=message, headers=headers)
                        answers.append(_last_message(answer.text))

                    async with anyio.create_task_group() as group:
                        for n in range(1, 76):  # the conformance suite's ~75 a second
                            group.start_soon(one, n)

            anyio.run(burst)
            assert len(answers) == 75
            assert [a for a in answers if "error" in a] == []
            assert all(a["result"]["structuredContent"]["result"] == 32 for a in answers)
        finally:
            assert proxy.stop() == 0
        stdio = Proxy(env)  # the same pace over stdio
        try:
            stdio.initialize()
            for n in range(1, 76):
                stdio.send(_call(n, "echo_size", text=uuid.uuid4().hex))
            replies = [stdio.read_until(lambda m: "id" in m and "method" not in m)[0]]
            replies += [
                stdio.read_until(lambda m: "id" in m and "method" not in m)[0] for _ in range(74)
            ]
            assert [r for r in replies if "error" in r] == []
        finally:
            stdio.stop()


def test_a_dropped_streams_later_messages_never_reach_another_request(
    proxy_env: dict[str, str], tmp_path: Path
) -> None:
    proxy = HttpProxy({**proxy_env, "LOG_LEVEL": "INFO"})
    gate_a, gate_b = tmp_path / "a", tmp_path / "b"
    on_b: list[dict[str, Any]] = []

    async def two_calls() -> None:
        session = _open_session(proxy.url)
        headers = {"Accept": ACCEPT, "Mcp-Session-Id": session}
        async with httpx.AsyncClient(timeout=WAIT) as client:

            async def call_b() -> None:
                message = _call(2, "gated", gate=str(gate_b))
                async with client.stream("POST", proxy.url, json=message, headers=headers) as r:
                    async for line in r.aiter_lines():
                        if line.startswith("data: "):
                            on_b.append(json.loads(line[6:]))

            async with anyio.create_task_group() as group:
                group.start_soon(call_b)
                message = _call(1, "gated", gate=str(gate_a))
                async with client.stream("POST", proxy.url, json=message, headers=headers) as r:
                    async for line in r.aiter_lines():
                        if line.startswith("data: "):
                            break  # request 1's first progress: then the client drops it
                await anyio.to_thread.run_sync(
                    lambda: wait_until(lambda: on_b, "request 2's first progress")
                )
                # Request 1 goes on in the runtime: its next progress and its answer have
                # nowhere to go now. Once the proxy has relayed all of it, request 2 ends.
                gate_a.write_text("open")
                await anyio.to_thread.run_sync(
                    lambda: wait_until(
                        lambda: "tools/call id=1 -> answered" in proxy.stderr(),
                        "request 1's answer to be relayed",
                    )
                )
                gate_b.write_text("open")

    try:
        anyio.run(two_calls)
    finally:
        assert proxy.stop() == 0
    tokens = {m["params"]["progressToken"] for m in on_b if m.get("method")}
    assert tokens == {2}  # request 1's "gate open" progress never came on request 2's stream
    assert [m["id"] for m in on_b if "id" in m] == [2]


def _rss_kib(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmRSS")))


def _endless_header_block(url: str, total: int = 64 * 1024 * 1024) -> bytes:
    """Send one header that never ends (up to ``total`` bytes); what the server answered."""
    parts = urlsplit(url)
    chunk = b"a" * 65536
    with socket.create_connection((parts.hostname, parts.port), timeout=WAIT) as sock:
        sock.sendall(f"POST {parts.path or '/'} HTTP/1.1\r\nHost: x\r\nX-Big: ".encode())
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            for _ in range(total // len(chunk)):
                sock.sendall(chunk)
        answer = b""
        with contextlib.suppress(ConnectionResetError):
            while data := sock.recv(65536):
                answer += data
        return answer


@pytest.mark.parametrize("server", ["emulator", "front end"])
def test_an_endless_header_block_is_refused_with_431_and_memory_stays_flat(
    server: str, emulator: Emulator, proxy_env: dict[str, str]
) -> None:
    proxy = HttpProxy(proxy_env) if server == "front end" else None
    url, pid = (proxy.url, proxy.process.pid) if proxy else (emulator.url, emulator.process.pid)
    try:
        before = _rss_kib(pid)
        answer = _endless_header_block(url)
        # Refused once past the bound, the connection closed: the rest was never read.
        assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
        assert _rss_kib(pid) - before < 8 * 1024  # of the 64 MiB sent: before, it all stayed
        # And the server serves on.
        assert httpx.get(f"{emulator.url}/_emulator/health", timeout=WAIT).status_code == 200
        if proxy:
            assert _post(proxy.url, INITIALIZE).status_code == 200
    finally:
        if proxy:
            assert proxy.stop() == 0
