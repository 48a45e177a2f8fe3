"""The model wire in process: event stream frames as botocore decodes them, and each API's
body read into one conversation and written back from one turn."""

from __future__ import annotations

import json

import pytest
from botocore.eventstream import EventStreamBuffer

from agentcore_emulator import bedrock_formats as formats
from agentcore_emulator.exceptions import ValidationException
from agentcore_emulator.model_turns import (
    Conversation,
    Message,
    ScriptedTurn,
    ToolUse,
    Turn,
    TurnSource,
    deterministic_turn,
)

CLAUDE = "anthropic.claude-3-5-haiku-20241022-v1:0"
TURN = Turn(
    text="one two three four five",
    tool_uses=(ToolUse("tu_1", "get_weather", {"city": "Oslo"}),),
    stop_reason="tool_use",
    input_tokens=7,
    output_tokens=6,
)


def _decoded(frames: list[bytes]) -> list[tuple[dict[str, object], bytes]]:
    buffer = EventStreamBuffer()
    buffer.add_data(b"".join(frames))
    return [(message.headers, message.payload) for message in buffer]


def test_converse_stream_frames_decode_as_botocore_decodes_them() -> None:
    events = _decoded(list(formats.converse_stream(TURN, 5)))
    kinds = [headers[":event-type"] for headers, _ in events]
    assert kinds == [
        "messageStart",
        "contentBlockDelta",
        "contentBlockDelta",
        "contentBlockStop",
        "contentBlockStart",
        "contentBlockDelta",
        "contentBlockStop",
        "messageStop",
        "metadata",
    ]
    text = "".join(
        json.loads(p)["delta"]["text"]
        for h, p in events
        if h[":event-type"] == "contentBlockDelta" and "text" in json.loads(p)["delta"]
    )
    assert text == TURN.text
    tool_input = json.loads(json.loads(events[5][1])["delta"]["toolUse"]["input"])
    assert tool_input == {"city": "Oslo"}
    assert json.loads(events[-1][1])["usage"] == {
        "inputTokens": 7,
        "outputTokens": 6,
        "totalTokens": 13,
    }


def test_claudes_stream_is_its_own_events_in_chunks() -> None:
    events = _decoded(list(formats.invoke_stream("anthropic", CLAUDE, TURN, 5)))
    assert {h[":event-type"] for h, _ in events} == {"chunk"}
    import base64

    kinds = [json.loads(base64.b64decode(json.loads(p)["bytes"]))["type"] for _, p in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_start") == 2  # the text, then the tool call


def test_a_claude_body_with_a_tool_round_reads_into_one_conversation() -> None:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 50,
        "system": [{"type": "text", "text": "Be brief."}],
        "tools": [{"name": "get_weather", "input_schema": {"type": "object"}}],
        "messages": [
            {"role": "user", "content": "Weather in Oslo?"},
            {
                "role": "assistant",
                "content": [{"type": "tool_use", "id": "tu_1", "name": "get_weather", "input": {}}],
            },
            {
                "role": "user",
                "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": "Rain"}],
            },
        ],
    }
    kind, conversation = formats.read_invoke(CLAUDE, "InvokeModel", json.dumps(body).encode())
    assert kind == "anthropic" and conversation.system == "Be brief."
    assert conversation.tools == ("get_weather",)
    assert conversation.messages[1].tool_uses[0].name == "get_weather"
    assert conversation.last_text() == "Rain"
    answered = formats.invoke_answer(kind, CLAUDE, TURN, 5)
    assert [block["type"] for block in answered["content"]] == ["text", "tool_use"]


@pytest.mark.parametrize(
    "body",
    [
        {"prompt": "Human: hi\n\nAssistant:"},  # a legacy text-completion body
        {"anthropic_version": "2023-06-01", "max_tokens": 5, "messages": []},
        {"anthropic_version": "bedrock-2023-05-31", "messages": [{"role": "user", "content": "x"}]},
    ],
)
def test_a_body_the_emulator_cannot_read_is_a_validation_exception(body: dict) -> None:
    with pytest.raises(ValidationException):
        formats.read_invoke(CLAUDE, "InvokeModel", json.dumps(body).encode())


def test_the_deterministic_model_answers_a_conversation_the_same_way_every_time() -> None:
    one = Conversation(CLAUDE, "Converse", (Message("user", "hello"),))
    other = Conversation(CLAUDE, "Converse", (Message("user", "hello there"),))
    assert deterministic_turn(one) == deterministic_turn(one)
    assert deterministic_turn(one).text != deterministic_turn(other).text


def test_a_script_is_taken_in_order_or_by_what_the_last_message_holds() -> None:
    source = TurnSource()
    source.set_script(
        [
            ScriptedTurn(text="first"),
            ScriptedTurn(text="about rain", when="rain"),
            ScriptedTurn(text="last"),
        ]
    )
    asked = Conversation(CLAUDE, "Converse", (Message("user", "rain tomorrow?"),))
    assert source.next_turn(asked)[0].text == "first"  # in order: the first unused
    assert source.next_turn(asked)[0].text == "about rain"
    plain = Conversation(CLAUDE, "Converse", (Message("user", "anything"),))
    assert source.next_turn(plain)[0].text == "last"
