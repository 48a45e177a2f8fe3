"""Answers from a local model server speaking OpenAI's chat-completions API: the translation
both ways in process, and a Strands agent's tool loop through the emulator to a stand-in
server written from OpenAI's published wire format (no model can be downloaded here)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import boto3
import pytest

from agentcore_emulator import openai_source
from agentcore_emulator.model_turns import Conversation, Message, ToolUse
from tests.harness import ROOT, Emulator

CLAUDE = "us.anthropic.claude-sonnet-4-20250514-v1:0"


class StandIn(ThreadingHTTPServer):
    """POST /v1/chat/completions as OpenAI documents it: a tool call when tools are offered
    and no tool has answered yet, else text about what it was told."""

    requests: list[dict[str, Any]]


class _Handler(BaseHTTPRequestHandler):
    server: StandIn

    def do_POST(self) -> None:
        if self.path != "/v1/chat/completions":
            self.send_error(404)
            return
        request = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.server.requests.append(request)
        last = request["messages"][-1]
        if request.get("tools") and last["role"] != "tool":
            message = {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Lyon"}'},
                    }
                ],
            }
            finish = "tool_calls"
        else:
            message = {"role": "assistant", "content": f"Local model heard: {last['content']}"}
            finish = "stop"
        body = json.dumps(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": request["model"],
                "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                "usage": {"prompt_tokens": 11, "completion_tokens": 5, "total_tokens": 16},
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def stand_in() -> Iterator[StandIn]:
    server = StandIn(("127.0.0.1", 0), _Handler)
    server.requests = []
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    yield server
    server.shutdown()
    server.server_close()
    serving.join(10)


def test_a_conversation_with_a_tool_round_is_a_chat_completions_request() -> None:
    conversation = Conversation(
        CLAUDE,
        "ConverseStream",
        (
            Message("user", "Weather in Lyon?"),
            Message("assistant", "", (ToolUse("tu_1", "get_weather", {"city": "Lyon"}),)),
            Message("user", "", tool_results=("Sunny",), result_ids=("tu_1",)),
        ),
        system="Be brief.",
        tools=("get_weather",),
    )
    request = openai_source.chat_request(conversation, "llama3.2")
    assert [m["role"] for m in request["messages"]] == ["system", "user", "assistant", "tool"]
    call = request["messages"][2]["tool_calls"][0]
    assert call["function"] == {"name": "get_weather", "arguments": '{"city": "Lyon"}'}
    assert request["messages"][3] == {"role": "tool", "tool_call_id": "tu_1", "content": "Sunny"}
    assert request["tools"][0]["function"]["name"] == "get_weather"


def test_a_chat_completions_answer_is_a_turn() -> None:
    answer = {
        "choices": [
            {
                "message": {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {"id": "c1", "function": {"name": "f", "arguments": '{"a": 1}'}}
                    ],
                },
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 2},
    }
    conversation = Conversation(CLAUDE, "Converse", (Message("user", "x"),))
    turn = openai_source.turn_of(answer, conversation)
    assert turn.stop_reason == "tool_use" and turn.tool_uses[0].input == {"a": 1}
    assert (turn.input_tokens, turn.output_tokens) == (3, 2)
    with pytest.raises(openai_source.LocalModelError):
        openai_source.turn_of({"choices": []}, conversation)


def _config(folder: Path, models: str) -> Path:
    """A config with one runtime and these ``[[models]]`` tables."""
    config = folder / "emulator.toml"
    config.write_text(
        f"""
[[runtimes]]
name = "server"
command = ["python", "servers/testing_server.py"]
cwd = "{ROOT / "fixtures"}"

{models}
"""
    )
    return config


@pytest.fixture(scope="module")
def local_emulator(
    stand_in: StandIn, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Emulator]:
    port = stand_in.server_address[1]
    models = f'[[models]]\nsource = "openai"\nurl = "http://127.0.0.1:{port}/v1"\nname = "llama3.2"'
    emulator = Emulator(_config(tmp_path_factory.mktemp("local-model"), models))
    yield emulator
    emulator.stop()


def test_a_strands_agents_tool_loop_runs_on_a_local_model(
    local_emulator: Emulator, stand_in: StandIn
) -> None:
    from strands import Agent, tool
    from strands.models import BedrockModel

    ran: list[str] = []

    @tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        ran.append(city)
        return f"Sunny in {city}"

    env = local_emulator.env("server")
    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    model = BedrockModel(model_id=CLAUDE, boto_session=session, endpoint_url=local_emulator.url)
    result = Agent(model=model, tools=[get_weather], callback_handler=None)("Weather in Lyon?")
    assert ran == ["Lyon"]
    assert "Local model heard: Sunny in Lyon" in str(result)
    first, second = stand_in.requests[-2:]
    assert first["model"] == "llama3.2" and first["tools"][0]["function"]["name"] == "get_weather"
    assert second["messages"][-1]["role"] == "tool"


def test_a_local_server_that_is_not_there_is_the_models_error(tmp_path: Path) -> None:
    nothing_there = '[[models]]\nsource = "openai"\nurl = "http://127.0.0.1:9/v1"'
    emulator = Emulator(_config(tmp_path, nothing_there))
    try:
        client = emulator.client("bedrock-runtime")
        with pytest.raises(client.exceptions.ModelErrorException, match="local model failed"):
            client.converse(
                modelId=CLAUDE, messages=[{"role": "user", "content": [{"text": "hi"}]}]
            )
    finally:
        emulator.stop()
