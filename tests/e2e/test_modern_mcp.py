"""MCP 2026-07-28 end to end: the mcp SDK's client, pinned to the revision and in auto mode,
through the proxy (stdio and its HTTP front end) and the emulator to an SDK server of the
revision (fixtures/servers/modern_server.py): a plain tool, an ``x-mcp-header`` argument, a
non-ASCII tool name and a multi-round elicitation."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import StdioServerParameters
from mcp.client import Client
from mcp.types import ElicitRequestParams, ElicitResult

from tests.e2e.test_front_end import HttpProxy
from tests.harness import Emulator, wait_until

CALLS: list[tuple[str, dict[str, Any], str]] = [
    ("echo", {"text": "hi"}, "hi"),
    ("run_query", {"region": "us-west1", "sql": "SELECT 1"}, "SELECT 1 ran in us-west1"),
    ("grüßen", {"name": "Ana"}, "Grüß dich, Ana!"),
    ("delete", {"item": "report"}, "deleted report"),
]
MODES = ["2026-07-28", "auto"]
META = {
    "io.modelcontextprotocol/protocolVersion": "2026-07-28",
    "io.modelcontextprotocol/clientInfo": {"name": "raw-http", "version": "1"},
    "io.modelcontextprotocol/clientCapabilities": {},
}


async def _confirm(context: Any, params: ElicitRequestParams) -> ElicitResult:
    assert "Really delete report?" in params.message
    return ElicitResult(action="accept", content={"confirm": True})


async def _every_call(server: Any, mode: str) -> tuple[str, list[str], list[str]]:
    async with Client(server, mode=mode, elicitation_callback=_confirm) as client:
        tools = await client.list_tools()
        texts = []
        for name, arguments, _ in CALLS:
            result = await client.call_tool(name, arguments)
            assert not result.is_error, (name, result)
            texts.append(result.content[0].text)  # type: ignore[union-attr]
        return client.protocol_version, sorted(t.name for t in tools.tools), texts


def _expect(answer: tuple[str, list[str], list[str]]) -> None:
    version, tools, texts = answer
    assert version == "2026-07-28"
    assert tools == sorted([*(name for name, _, _ in CALLS), "wait_for"])
    assert texts == [text for _, _, text in CALLS]


@pytest.mark.parametrize("mode", MODES)
def test_every_call_over_stdio(emulator: Emulator, mode: str) -> None:
    proxy = StdioServerParameters(
        command=sys.executable,
        args=["-m", "mcp_agentcore_proxy"],
        env=emulator.env("modern_server"),
    )
    _expect(anyio.run(_every_call, proxy, mode))


def test_a_call_before_any_listing_carries_its_headers(emulator: Emulator) -> None:
    """The proxy lists the tools itself first: the server never refuses the call."""

    async def call_first() -> str:
        proxy = StdioServerParameters(
            command=sys.executable,
            args=["-m", "mcp_agentcore_proxy"],
            env=emulator.env("modern_server"),
        )
        async with Client(proxy, mode="2026-07-28") as client:
            result = await client.call_tool("run_query", {"region": "eu-west1", "sql": "SELECT 2"})
            assert not result.is_error, result
            return result.content[0].text  # type: ignore[union-attr]

    first = emulator.last_arrival()
    assert anyio.run(call_first) == "SELECT 2 ran in eu-west1"
    methods = [a["method"] for a in emulator.arrivals(first) if a["runtime"] == "modern_server"]
    # The SDK's client lists the tools itself only after the call (to check its output).
    assert methods[:2] == ["tools/list", "tools/call"]


@pytest.fixture
def front(emulator: Emulator) -> Iterator[HttpProxy]:
    proxy = HttpProxy(emulator.env("modern_server"))
    yield proxy
    assert proxy.stop() == 0


@pytest.mark.parametrize("mode", MODES)
def test_every_call_over_the_http_front_end(front: HttpProxy, mode: str) -> None:
    _expect(anyio.run(_every_call, f"{front.url}", mode))


def _modern_post(url: str, id_: Any, method: str, params: dict[str, Any], **headers: str) -> Any:
    body = {"jsonrpc": "2.0", "id": id_, "method": method, "params": {"_meta": META, **params}}
    sent = {
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": method,
        **headers,
    }
    return httpx.post(url, json=body, headers=sent, timeout=60)


def _messages(response: httpx.Response) -> list[dict[str, Any]]:
    """An answer's messages, whether one JSON body or an SSE stream."""
    if response.headers["content-type"].startswith("application/json"):
        return [response.json()]
    lines = response.text.splitlines()
    return [json.loads(text[5:]) for text in lines if text.startswith("data:")]


def test_the_front_end_refuses_what_a_modern_server_refuses_with_the_requests_id(
    front: HttpProxy,
) -> None:
    call = {"name": "run_query", "arguments": {"region": "eu", "sql": "1"}}
    wrong = _modern_post(front.url, 41, "tools/call", call, **{"Mcp-Name": "echo"})
    assert wrong.status_code == 400
    assert wrong.json()["id"] == 41 and wrong.json()["error"]["code"] == -32020
    missing = _modern_post(front.url, 42, "tools/call", call)
    assert missing.status_code == 400 and "Mcp-Name header is missing" in missing.text
    for method in ("GET", "DELETE"):
        refused = httpx.request(method, front.url, headers={"MCP-Protocol-Version": "2026-07-28"})
        assert refused.status_code == 405 and refused.headers["allow"] == "POST"


def test_two_clients_with_one_request_id_at_once_each_get_their_own_answer(
    front: HttpProxy,
) -> None:
    def ask(text: str) -> Any:
        answer = _modern_post(
            front.url,
            1,
            "tools/call",
            {"name": "echo", "arguments": {"text": text}},
            **{"Mcp-Name": "echo"},
        )
        assert answer.status_code == 200 and "mcp-session-id" not in answer.headers
        (message,) = _messages(answer)
        return message

    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(ask, [f"client {n}" for n in range(8)]))
    assert [a["id"] for a in answers] == [1] * 8
    assert [a["result"]["content"][0]["text"] for a in answers] == [f"client {n}" for n in range(8)]


def test_a_client_that_accepts_json_only_gets_one_json_answer(front: HttpProxy) -> None:
    answer = _modern_post(
        front.url,
        "j",
        "tools/call",
        {"name": "echo", "arguments": {"text": "plain"}},
        **{"Mcp-Name": "echo", "Accept": "application/json"},
    )
    assert answer.headers["content-type"].startswith("application/json")
    assert answer.json()["id"] == "j" and answer.json()["result"]["content"][0]["text"] == "plain"


def test_a_2025_client_keeps_its_session_beside_modern_clients(front: HttpProxy) -> None:
    async def both() -> tuple[Any, Any]:
        async def legacy() -> str:
            async with Client(front.url, mode="legacy") as client:
                result = await client.call_tool("echo", {"text": "old"})
                return f"{client.protocol_version} {result.content[0].text}"  # type: ignore[union-attr]

        results: dict[str, Any] = {}

        async def run(name: str, work: Any) -> None:
            results[name] = await work

        async with anyio.create_task_group() as group:
            group.start_soon(run, "legacy", legacy())
            group.start_soon(run, "modern", _every_call(front.url, "2026-07-28"))
        return results["legacy"], results["modern"]

    legacy, modern = anyio.run(both)
    assert legacy == "2025-11-25 old"
    _expect(modern)


# -- stateless clients are isolated from one another ---------------------------------------


def _held_call(url: str, gate: Path, id_: Any) -> Any:
    call = {"name": "wait_for", "arguments": {"gate": str(gate)}}
    return _modern_post(url, id_, "tools/call", call, **{"Mcp-Name": "wait_for"})


def _arrived(emulator: Emulator, after: int, method: str, count: int) -> bool:
    return sum(a["method"] == method for a in emulator.arrivals(after)) >= count


@pytest.fixture
def held_front(emulator: Emulator) -> Iterator[HttpProxy]:
    """A front end whose stateless requests run two at once (the sessions' bound)."""
    proxy = HttpProxy({**emulator.env("modern_server"), "AGENTCORE_HTTP_MAX_SESSIONS": "2"})
    yield proxy
    assert proxy.stop() == 0


def test_no_stateless_client_can_cancel_another_clients_call(
    front: HttpProxy, emulator: Emulator, tmp_path: Path
) -> None:
    # Before: the proxy's own ids (mcp-agentcore-proxy/1, /2, ...) are easy to guess, and
    # any client's notifications/cancelled naming one ended another client's call.
    gate, first = tmp_path / "gate", emulator.last_arrival()
    with ThreadPoolExecutor(1) as pool:
        held = pool.submit(_held_call, front.url, gate, "mine")
        wait_until(lambda: _arrived(emulator, first, "tools/call", 1), "the call to arrive")
        for n in range(1, 6):
            cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled"}
            cancel["params"] = {"requestId": f"mcp-agentcore-proxy/{n}", "_meta": META}
            sent = httpx.post(
                front.url,
                json=cancel,
                headers={
                    "Accept": "application/json, text/event-stream",
                    "MCP-Protocol-Version": "2026-07-28",
                },
                timeout=30,
            )
            assert sent.status_code == 202
        gate.touch()
        answer = _messages(held.result(timeout=60))[-1]
    assert answer["id"] == "mine"
    assert answer["result"]["content"][0]["text"] == "gate passed"
    assert not _arrived(emulator, first, "notifications/cancelled", 1)


def test_one_client_holding_calls_stalls_no_other(emulator: Emulator, tmp_path: Path) -> None:
    # Before: every stateless client shared one router's AGENTCORE_MAX_CONCURRENCY slots,
    # and a quick call waited behind another client's long ones (7 s in the hostile pass).
    env_concurrency = {"AGENTCORE_MAX_CONCURRENCY": "1"}
    proxy = HttpProxy({**emulator.env("modern_server"), **env_concurrency})
    gate, first = tmp_path / "gate", emulator.last_arrival()
    try:
        with ThreadPoolExecutor(1) as pool:
            held = pool.submit(_held_call, proxy.url, gate, "long")
            wait_until(lambda: _arrived(emulator, first, "tools/call", 1), "the long call")
            quick = _modern_post(
                proxy.url,
                "quick",
                "tools/call",
                {"name": "echo", "arguments": {"text": "now"}},
                **{"Mcp-Name": "echo"},
            )
            # Answered while the long call still holds its slot: nobody waited behind it.
            assert _messages(quick)[-1]["result"]["content"][0]["text"] == "now"
            assert not held.done()
            gate.touch()
            assert _messages(held.result(timeout=60))[-1]["id"] == "long"
    finally:
        assert proxy.stop() == 0


def test_past_the_bound_a_stateless_request_is_refused_at_once_not_queued(
    held_front: HttpProxy, emulator: Emulator, tmp_path: Path
) -> None:
    gate, first = tmp_path / "gate", emulator.last_arrival()
    with ThreadPoolExecutor(2) as pool:
        held = [pool.submit(_held_call, held_front.url, gate, n) for n in (1, 2)]
        wait_until(lambda: _arrived(emulator, first, "tools/call", 2), "both calls")
        refused = _held_call(held_front.url, gate, 3)
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert refused.json()["id"] == 3
        gate.touch()
        assert sorted(_messages(h.result(timeout=60))[-1]["id"] for h in held) == [1, 2]


def test_closing_its_stream_cancels_a_stateless_request(
    front: HttpProxy, emulator: Emulator, tmp_path: Path
) -> None:
    # The revision's rule: on Streamable HTTP, closing the response stream is the
    # cancellation. Before: the call ran on, and nothing told the runtime.
    gate, first = tmp_path / "never", emulator.last_arrival()
    call = {"name": "wait_for", "arguments": {"gate": str(gate)}}
    body = {"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {"_meta": META, **call}}
    headers = {
        "Accept": "text/event-stream",
        "MCP-Protocol-Version": "2026-07-28",
        "Mcp-Method": "tools/call",
        "Mcp-Name": "wait_for",
    }
    with httpx.stream("POST", front.url, json=body, headers=headers, timeout=60) as answer:
        assert answer.status_code == 200
        wait_until(lambda: _arrived(emulator, first, "tools/call", 1), "the call to arrive")
    # The stream closed with the call in flight: the proxy cancels it upstream.
    wait_until(
        lambda: _arrived(emulator, first, "notifications/cancelled", 1),
        "the cancellation to reach the runtime",
    )
    gate.touch()
