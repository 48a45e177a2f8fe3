"""The Streamable HTTP front end: MCP SDK clients -> proxy over HTTP -> emulator -> server."""

from __future__ import annotations

import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import ClientSession
from mcp.client.streamable_http import streamable_http_client

from tests.e2e.test_stateful import _elicit, _sample
from tests.harness import INITIALIZE_PARAMS, Emulator, wait_until

READY = re.compile(rb"serving MCP Streamable HTTP at (http://\S+)")
ACCEPT = "application/json, text/event-stream"


class HttpProxy:
    """``mcp-agentcore-proxy --transport streamable-http --port 0``, its URL read from stderr."""

    def __init__(self, env: dict[str, str]) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="http-proxy-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mcp_agentcore_proxy", "--transport", "streamable-http"],
            env={**env, "AGENTCORE_HTTP_PORT": "0"},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self.log,
        )
        self.url = self._ready_url()

    def _ready_url(self) -> str:
        for _ in range(3000):  # a readiness check, bounded at 30 s
            found = READY.search(Path(self.log.name).read_bytes())
            if found:
                return found.group(1).decode()
            if self.process.poll() is not None:
                break
            time.sleep(0.01)
        raise AssertionError(f"the HTTP front end did not start: {self.stderr()}")

    def stderr(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def stop(self) -> int:
        self.process.terminate()
        code = self.process.wait(30)
        assert self.process.stdout is not None
        self.process.stdout.close()
        return code


@pytest.fixture
def front(emulator: Emulator) -> Iterator[HttpProxy]:
    proxy = HttpProxy(emulator.env("testing_server"))
    yield proxy
    assert proxy.stop() == 0


async def _client_roundtrip(url: str, text: str) -> tuple[Any, list[float]]:
    progress: list[float] = []

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        progress.append(done)

    async with streamable_http_client(url) as (read, write), ClientSession(read, write) as session:
        await session.initialize()
        tools = await session.list_tools()
        assert "echo_size" in {tool.name for tool in tools.tools}
        sized = await session.call_tool("echo_size", {"text": text})
        await session.call_tool("stamped_progress", {"steps": 3}, progress_callback=on_progress)
        return sized.structured_content, progress


@pytest.mark.all_pythons
def test_two_sdk_clients_share_one_proxy_each_in_its_own_session(front: HttpProxy) -> None:
    async def both() -> list[tuple[Any, list[float]]]:
        results: list[tuple[Any, list[float]]] = []

        async def one(text: str) -> None:
            results.append(await _client_roundtrip(front.url, text))

        async with anyio.create_task_group() as group:
            group.start_soon(one, "a")
            group.start_soon(one, "bbb")
        return results

    results = anyio.run(both)
    assert sorted(r[0]["result"] for r in results) == [1, 3]
    assert all(progress == [1, 2, 3] for _, progress in results)  # on the request's stream


def _post(url: str, message: dict[str, Any], **headers: str) -> httpx.Response:
    return httpx.post(url, json=message, headers={"Accept": ACCEPT, **headers}, timeout=30)


def test_a_foreign_origin_or_host_is_refused(front: HttpProxy) -> None:
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE_PARAMS}
    refused = _post(front.url, initialize, Origin="https://evil.example")
    assert refused.status_code == 403
    rebound = _post(front.url, initialize, Host="evil.example")
    assert rebound.status_code == 403
    assert _post(front.url, initialize, Origin="http://localhost:6274").status_code == 200


def test_sessions_are_required_and_unknown_ones_are_404(front: HttpProxy) -> None:
    ping = {"jsonrpc": "2.0", "id": 2, "method": "ping"}
    assert _post(front.url, ping).status_code == 400
    assert _post(front.url, ping, **{"Mcp-Session-Id": "nope"}).status_code == 404
    initialize = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INITIALIZE_PARAMS}
    opened = _post(front.url, initialize)
    session = opened.headers["mcp-session-id"]
    assert '"result"' in opened.text
    closed = httpx.delete(front.url, headers={"Mcp-Session-Id": session}, timeout=30)
    assert closed.status_code == 204
    assert _post(front.url, ping, **{"Mcp-Session-Id": session}).status_code == 404


async def _stateful_round_trips(url: str, emulator: Emulator) -> tuple[str, str, set[str]]:
    async with (
        streamable_http_client(url) as (read, write),
        ClientSession(read, write, sampling_callback=_sample, elicitation_callback=_elicit) as s,
    ):
        await s.initialize()
        elicited = await s.call_tool("weather_where_i_am", {})
        sampled = await s.call_tool("weather_poem", {"city": "Reykjavik"})
        assert not elicited.is_error and not sampled.is_error
        during = {session["sessionId"] for session in emulator.sessions()}
        return elicited.content[0].text, sampled.content[0].text, during  # type: ignore[union-attr]


def test_server_requests_reach_an_http_client_and_its_answers_go_back(emulator: Emulator) -> None:
    before = {s["sessionId"] for s in emulator.sessions()}
    proxy = HttpProxy({**emulator.env("demo_stateful"), "RUNTIME_SESSION_MODE": "session"})
    try:
        elicited, sampled, during = anyio.run(_stateful_round_trips, proxy.url, emulator)
        assert elicited.startswith("Reykjavik: ")
        assert sampled == "Grey sky, cold sea,\nwind for me."
        ours = during - before
        # session mode: the client's own runtime session, stopped when it closes (DELETE).
        assert len(ours) == 1
        wait_until(lambda: not ours & {s["sessionId"] for s in emulator.sessions()}, "its stop")
    finally:
        assert proxy.stop() == 0
