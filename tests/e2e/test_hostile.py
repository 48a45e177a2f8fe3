"""Hostile runtimes, clients and credentials, through the real processes.

A JSON-response MCP server sends nothing until its tool ends; STS can hang or answer
with a gateway's HTML page; a client can stop reading stdout. The proxy must still
cancel at once, exit in bounded time, and answer every request clearly.
"""

from __future__ import annotations

import fcntl
import http.server
import json
import os
import signal
import socket
import subprocess
import sys
import termios
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.harness import INITIALIZE_PARAMS, WAIT, Emulator, Proxy, isolated_aws_env, wait_until


def arrived(emulator: Emulator, after: int, method: str) -> Callable[[], bool]:
    return lambda: any(a["method"] == method for a in emulator.arrivals(after))


def _hold(proxy: Proxy, emulator: Emulator, id_: Any = 1) -> None:
    """Start a tool that runs for a minute and answers nothing before it ends."""
    after = emulator.last_arrival()
    proxy.send_call(id_, "hold", {"seconds": 60})
    wait_until(arrived(emulator, after, "tools/call"), "the call to reach the runtime")


@pytest.fixture
def json_proxy(proxy_factory: Callable[..., Proxy]) -> Callable[..., Proxy]:
    def start(**env: str) -> Proxy:
        proxy = proxy_factory("json_server", RUNTIME_SESSION_MODE="session", **env)
        proxy.initialize()
        return proxy

    return start


def test_a_cancellation_reaches_a_json_server_while_its_tool_runs(
    json_proxy: Callable[..., Proxy], emulator: Emulator
) -> None:
    proxy = json_proxy()
    _hold(proxy, emulator)
    after = emulator.last_arrival()
    proxy.send({"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}})
    # The tool runs for 60 s: the cancellation arrives now, or the test times out.
    wait_until(arrived(emulator, after, "notifications/cancelled"), "the cancellation")
    assert proxy.request(2, "ping") == {"jsonrpc": "2.0", "id": 2, "result": {}}
    assert proxy.close_stdin() == 0
    assert all(json.loads(line).get("id") != 1 for line in proxy.rest())


def test_stdin_closing_exits_within_the_grace_while_the_runtime_is_silent(
    json_proxy: Callable[..., Proxy], emulator: Emulator
) -> None:
    proxy = json_proxy(AGENTCORE_SHUTDOWN_GRACE="0.5")
    _hold(proxy, emulator)
    assert proxy.process.stdin is not None
    proxy.process.stdin.close()
    assert proxy.process.wait(WAIT) == 0  # not the tool's 60 s
    answer = proxy.read()
    assert answer["id"] == 1 and answer["error"]["message"] == "The proxy is shutting down"


def test_a_second_signal_exits_at_once(
    json_proxy: Callable[..., Proxy], emulator: Emulator
) -> None:
    proxy = json_proxy(AGENTCORE_SHUTDOWN_GRACE="300", LOG_LEVEL="INFO")
    _hold(proxy, emulator)
    proxy.process.send_signal(signal.SIGTERM)
    wait_until(lambda: "SIGTERM received" in proxy.stderr(), "the proxy to begin its shutdown")
    proxy.process.send_signal(signal.SIGINT)
    assert proxy.process.wait(WAIT) == 128 + signal.SIGINT  # not the 300 s grace


def _unread_bytes(pipe: Any) -> int:
    buffer = bytearray(4)
    fcntl.ioctl(pipe.fileno(), termios.FIONREAD, buffer)
    return int.from_bytes(buffer, sys.byteorder)


def test_sigterm_exits_within_the_grace_while_the_client_reads_nothing(
    emulator: Emulator,
) -> None:
    env = {**emulator.env("testing_server"), "AGENTCORE_SHUTDOWN_GRACE": "0.5"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mcp_agentcore_proxy"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    try:
        assert process.stdin is not None and process.stdout is not None
        line = {"jsonrpc": "2.0", "method": "tools/call", "params": {}}
        calls = b"".join(
            json.dumps(
                {**line, "id": i, "params": {"name": "blob", "arguments": {"size": 20_000}}}
            ).encode()
            + b"\n"
            for i in range(40)
        )
        writer = threading.Thread(target=_write_quietly, args=(process.stdin, calls), daemon=True)
        writer.start()
        # 40 answers of 20 KB cannot fit in a 64 KiB pipe: wait until it is full.
        wait_until(lambda: _unread_bytes(process.stdout) >= 60_000, "stdout to fill up")
        process.send_signal(signal.SIGTERM)
        assert process.wait(WAIT) == 0
    finally:
        process.kill()
        process.wait()


def _write_quietly(pipe: Any, data: bytes) -> None:
    try:
        pipe.write(data)
        pipe.flush()  # and keep stdin open: the proxy must stop on the signal alone
    except (BrokenPipeError, ValueError, OSError):
        pass  # the proxy exited first


# -- STS that misbehaves ---------------------------------------------------------------


class _Canned(http.server.BaseHTTPRequestHandler):
    """An endpoint that reads a POST and gives one canned answer (``answer`` decides it)."""

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        raise NotImplementedError

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        status, headers, body = self.answer()
        self.send_response(status)
        for name, value in {**headers, "Content-Length": str(len(body))}.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


class _Sts(_Canned):
    """An STS endpoint behind a broken corporate gateway."""

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        body = (
            b"<html><body>502 Bad Gateway. Request was: POST / x-amz-security-token: "
            b"CANARYTOKEN Authorization: AWS4-HMAC-SHA256 Credential=AKIACANARY</body></html>"
        )
        return 502, {"Content-Type": "text/html"}, body


@pytest.fixture
def gateway_sts() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Sts)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def silent_sts() -> Iterator[str]:
    """Accepts connections and never answers."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        listener.close()
        for connection in accepted:
            connection.close()


def test_sts_answering_a_gateway_page_is_a_clear_error_and_the_proxy_serves_on(
    proxy_factory: Callable[..., Proxy], gateway_sts: str
) -> None:
    proxy = proxy_factory(
        AWS_ENDPOINT_URL_STS=gateway_sts, AWS_SESSION_TOKEN="CANARYTOKEN", LOG_LEVEL="DEBUG"
    )
    for id_ in (1, 2):  # identity mode needs the caller; each request says why it cannot
        error = proxy.request(id_, "tools/list")["error"]
        assert error["code"] == -32001
        assert "sts:GetCallerIdentity error" in error["message"]
        assert "CANARY" not in json.dumps(error)
    assert proxy.close_stdin() == 0
    log = proxy.stderr()
    assert "Traceback" not in log and "CANARY" not in log


def test_a_silent_sts_delays_identity_mode_by_its_timeout_only(
    proxy_factory: Callable[..., Proxy], silent_sts: str
) -> None:
    proxy = proxy_factory(AWS_ENDPOINT_URL_STS=silent_sts, AGENTCORE_STS_TIMEOUT="0.5")
    error = proxy.request(1, "tools/list", {})["error"]
    assert error["code"] == -32001 and "sts:GetCallerIdentity" in error["message"]


def test_session_mode_never_waits_for_sts(
    proxy_factory: Callable[..., Proxy], silent_sts: str
) -> None:
    # The default STS timeout (5 s) would show here; the call does not wait for it at all.
    proxy = proxy_factory(
        AWS_ENDPOINT_URL_STS=silent_sts, RUNTIME_SESSION_MODE="session", LOG_LEVEL="INFO"
    )
    assert "tools" in proxy.request(1, "tools/list", {})["result"]
    assert proxy.close_stdin() == 0


def _blocked_signals(pid: int, tid: int) -> int:
    status = open(f"/proc/{pid}/task/{tid}/status").read()  # noqa: SIM115
    return int(
        next(line.split()[1] for line in status.splitlines() if line.startswith("SigBlk:")), 16
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_only_the_main_thread_can_take_a_stop_signal(
    json_proxy: Callable[..., Proxy], emulator: Emulator
) -> None:
    # Linux gives a process's signal to any thread that does not block it; Python runs the
    # handler only when the main thread wakes, and it sleeps reading stdin. So every
    # other thread must block SIGTERM and SIGINT, or a signal can be lost for good.
    proxy = json_proxy(AGENTCORE_SHUTDOWN_GRACE="0.5")
    _hold(proxy, emulator)  # worker threads exist, one waiting on the runtime
    pid = proxy.process.pid
    threads = [int(tid) for tid in os.listdir(f"/proc/{pid}/task")]
    assert len(threads) >= 2  # the main thread and the worker waiting on the runtime, at least
    stop = (1 << (signal.SIGTERM - 1)) | (1 << (signal.SIGINT - 1))
    for tid in threads:
        blocked = _blocked_signals(pid, tid) & stop
        assert blocked == (0 if tid == pid else stop), tid


# -- a runtime whose error quotes the request's Authorization header -------------------


class _Quoting(_Canned):
    """An AgentCore endpoint whose AWS error repeats the Authorization header it got."""

    def answer(self) -> tuple[int, dict[str, str], bytes]:
        quoted = f"Invalid header: Authorization: {self.headers['Authorization']}"
        headers = {"Content-Type": "application/json", "x-amzn-ErrorType": "ValidationException"}
        return 400, headers, json.dumps({"message": quoted}).encode()


QUOTING_ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/q-ABCDE12345"


def test_a_bearer_token_quoted_in_an_aws_error_reaches_neither_stdout_nor_the_log() -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quoting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    token = "opaque-CANARY-t0ken"
    env = isolated_aws_env(
        {
            "AGENTCORE_AGENT_ARN": QUOTING_ARN,
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.server_address[1]}",
            "AGENTCORE_BEARER_TOKEN": token,
            "RUNTIME_SESSION_MODE": "session",
            "LOG_LEVEL": "DEBUG",
        }
    )
    proxy = Proxy(env)
    try:
        answer = proxy.request(0, "initialize", INITIALIZE_PARAMS)
        assert answer["error"]["data"]["awsErrorCode"] == "ValidationException"
        assert "Authorization: Bearer <redacted>" in answer["error"]["message"]
        proxy.close_stdin()
    finally:
        proxy.stop()
        server.shutdown()
        server.server_close()
    assert "CANARY" not in json.dumps(answer)
    assert "CANARY" not in proxy.stderr()
    assert "ValidationException" in proxy.stderr()
