"""tell_joke runs the real Strands and boto3 code (Strands' default model: ConverseStream);
the emulator answers it."""

from __future__ import annotations

from tests.harness import Emulator, Proxy

JOKE = {"name": "tell_joke", "arguments": {"topic": "programmers"}}


def test_joke_comes_from_the_emulated_model(proxy: Proxy, emulator: Emulator) -> None:
    answer = proxy.request(1, "tools/call", JOKE)
    assert answer["result"]["isError"] is False
    joke = answer["result"]["structuredContent"]["result"]
    assert "[agentcore-emulator model" in joke and "programmers" in joke  # deterministic
    calls = emulator.admin.get("/_emulator/models/calls").json()["calls"]
    assert calls[-1]["operation"] == "ConverseStream"


def test_bedrock_errors_reach_the_client_as_tool_errors(proxy: Proxy, emulator: Emulator) -> None:
    try:
        for code in ("AccessDeniedException", "ThrottlingException"):
            emulator.admin.put("/_emulator/bedrock/error", json={"error": code}).raise_for_status()
            answer = proxy.request(code, "tools/call", JOKE)
            assert answer["result"]["isError"] is True, answer
            assert (
                code in answer["result"]["content"][0]["text"]
                or "throttled" in answer["result"]["content"][0]["text"]
            )
    finally:
        emulator.admin.put("/_emulator/bedrock/error", json={"error": None})
    assert proxy.request("again", "tools/call", JOKE)["result"]["isError"] is False
