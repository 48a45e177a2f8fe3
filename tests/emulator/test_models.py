"""Bedrock Runtime's model operations, called with boto3 and by a Strands agent nobody here
wrote: every operation and shape, the stream events in AWS's order, scripts, tool loops,
errors, and the record of every call."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import botocore.exceptions
import pytest
from botocore.config import Config

from tests.harness import Emulator

CLAUDE = "us.anthropic.claude-sonnet-4-20250514-v1:0"
NOVA = "amazon.nova-lite-v1:0"
ASK = [{"role": "user", "content": [{"text": "What is the weather in Paris?"}]}]


@pytest.fixture
def models(emulator: Emulator) -> Iterator[Emulator]:
    emulator.admin.delete("/_emulator/models").raise_for_status()
    yield emulator
    emulator.admin.delete("/_emulator/models").raise_for_status()


def _runtime(emulator: Emulator) -> Any:
    return emulator.client("bedrock-runtime")


def _script(emulator: Emulator, *turns: dict[str, Any], model: str = "*") -> None:
    answer = emulator.admin.put("/_emulator/models/script", json={"model": model, "turns": turns})
    answer.raise_for_status()


def _calls(emulator: Emulator) -> list[dict[str, Any]]:
    return emulator.admin.get("/_emulator/models/calls").json()["calls"]


def test_converse_answers_the_same_request_the_same_way(models: Emulator) -> None:
    first = _runtime(models).converse(modelId=CLAUDE, messages=ASK)
    again = _runtime(models).converse(modelId=CLAUDE, messages=ASK)
    text = first["output"]["message"]["content"][0]["text"]
    assert text == again["output"]["message"]["content"][0]["text"]
    assert text.startswith("[agentcore-emulator model ") and "Paris" in text
    assert first["stopReason"] == "end_turn"
    usage = first["usage"]
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"] > 0


def test_converse_stream_sends_aws_events_in_aws_order(models: Emulator) -> None:
    stream = _runtime(models).converse_stream(modelId=CLAUDE, messages=ASK)["stream"]
    events = [next(iter(event)) for event in stream]
    assert events[0] == "messageStart"
    assert set(events[1:-3]) == {"contentBlockDelta"}
    assert events[-3:] == ["contentBlockStop", "messageStop", "metadata"]


def test_a_scripted_tool_call_then_an_answer_drive_a_tool_loop(models: Emulator) -> None:
    _script(
        models,
        {"tool_calls": [{"name": "get_weather", "input": {"city": "Paris"}}]},
        {"text": "It is sunny in Paris.", "when": "22"},
    )
    client = _runtime(models)
    tools = {"tools": [{"toolSpec": {"name": "get_weather", "inputSchema": {"json": {}}}}]}
    first = client.converse(modelId=CLAUDE, messages=ASK, toolConfig=tools)
    assert first["stopReason"] == "tool_use"
    (use,) = [c["toolUse"] for c in first["output"]["message"]["content"] if "toolUse" in c]
    assert use["name"] == "get_weather" and use["input"] == {"city": "Paris"}
    result = {"toolResult": {"toolUseId": use["toolUseId"], "content": [{"text": "22 C, sun"}]}}
    messages = [*ASK, first["output"]["message"], {"role": "user", "content": [result]}]
    second = client.converse(modelId=CLAUDE, messages=messages, toolConfig=tools)
    assert second["output"]["message"]["content"][0]["text"] == "It is sunny in Paris."
    recorded = _calls(models)
    assert [c["tools"] for c in recorded] == [["get_weather"], ["get_weather"]]
    assert recorded[1]["messages"][-1]["tool_results"] == ["22 C, sun"]


def test_invoke_model_reads_and_answers_claudes_messages_api(models: Emulator) -> None:
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": "Hello Claude"}],
    }
    answer = _runtime(models).invoke_model(modelId=CLAUDE, body=json.dumps(body))
    reply = json.loads(answer["body"].read())
    assert reply["type"] == "message" and reply["role"] == "assistant"
    assert "Hello Claude" in reply["content"][0]["text"] and reply["stop_reason"] == "end_turn"
    stream = _runtime(models).invoke_model_with_response_stream(
        modelId=CLAUDE, body=json.dumps(body)
    )["body"]
    kinds = [json.loads(e["chunk"]["bytes"])["type"] for e in stream]
    assert kinds[0] == "message_start" and kinds[1] == "content_block_start"
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]


def test_invoke_model_reads_novas_format(models: Emulator) -> None:
    body = {"schemaVersion": "messages-v1", "messages": ASK}
    reply = json.loads(
        _runtime(models).invoke_model(modelId=NOVA, body=json.dumps(body))["body"].read()
    )
    assert "Paris" in reply["output"]["message"]["content"][0]["text"]


def test_count_tokens_counts_what_the_model_would_read(models: Emulator) -> None:
    counted = _runtime(models).count_tokens(modelId=CLAUDE, input={"converse": {"messages": ASK}})
    assert counted["inputTokens"] == 6


@pytest.mark.parametrize(
    ("model_id", "body", "says"),
    [
        (CLAUDE, b"not json", "not JSON"),
        (CLAUDE, b'{"prompt": "hi"}', "Anthropic Claude's Messages API"),
        ("no model at all!", b"{}", "model identifier is invalid"),
    ],
)
def test_a_clients_mistake_is_a_validation_exception_never_a_500(
    models: Emulator, model_id: str, body: bytes, says: str
) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        _runtime(models).invoke_model(modelId=model_id, body=body)
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert says in caught.value.response["Error"]["Message"]


def test_a_scripted_throttle_is_retried_by_boto3_as_aws_throttling_is(models: Emulator) -> None:
    _script(models, {"error": "ThrottlingException"}, {"text": "after the retry"})
    answer = _runtime(models).converse(modelId=CLAUDE, messages=ASK)
    assert answer["output"]["message"]["content"][0]["text"] == "after the retry"
    assert [c["error"] for c in _calls(models)] == ["ThrottlingException", None]
    _script(models, {"error": "ThrottlingException"})
    once = models.client("bedrock-runtime", config=Config(retries={"total_max_attempts": 1}))
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        once.converse(modelId=CLAUDE, messages=ASK)
    assert caught.value.response["Error"]["Code"] == "ThrottlingException"
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429


def test_a_scripted_stream_breaks_off_with_a_model_stream_error(models: Emulator) -> None:
    _script(models, {"text": "a b c d e f", "error_mid_stream": True})
    stream = _runtime(models).converse_stream(modelId=CLAUDE, messages=ASK)["stream"]
    with pytest.raises(botocore.exceptions.EventStreamError, match="modelStreamErrorException"):
        list(stream)


def test_a_strands_agent_runs_its_tool_loop_against_the_emulator(models: Emulator) -> None:
    from strands import Agent, tool
    from strands.models import BedrockModel

    ran: list[str] = []

    @tool
    def get_weather(city: str) -> str:
        """The weather in a city."""
        ran.append(city)
        return f"Sunny in {city}"

    _script(
        models,
        {"tool_calls": [{"name": "get_weather", "input": {"city": "Lyon"}}]},
        {"text": "Lyon is sunny today.", "when": "Sunny in Lyon"},
    )
    env = models.env()
    import boto3

    session = boto3.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name="us-east-1",
    )
    model = BedrockModel(model_id=CLAUDE, boto_session=session, endpoint_url=models.url)
    agent = Agent(model=model, tools=[get_weather], callback_handler=None)
    result = agent("What's the weather in Lyon?")
    assert ran == ["Lyon"]
    assert "Lyon is sunny today." in str(result)
    assert [c["operation"] for c in _calls(models)] == ["ConverseStream", "ConverseStream"]


def _ask_agent(emulator: Emulator, prompt: str) -> dict[str, Any]:
    answer = emulator.client().invoke_agent_runtime(
        agentRuntimeArn=emulator.arns["strands_agent"],
        runtimeSessionId=f"strands-{uuid.uuid4()}",
        payload=json.dumps({"prompt": prompt}),
        contentType="application/json",
    )
    return json.loads(answer["response"].read())  # type: ignore[no-any-return]


def test_a_strands_agent_in_a_runtime_calls_its_model_and_its_tool_unchanged(
    models: Emulator,
) -> None:
    # The agent is written as AgentCore's samples write one (fixtures/servers/strands_agent.py):
    # its default model reaches Bedrock at the endpoint its runtime's environment names.
    deterministic = _ask_agent(models, "Hello there")
    assert "You said: Hello there" in deterministic["result"]
    _script(
        models,
        {"tool_calls": [{"name": "get_weather", "input": {"city": "Lyon"}}]},
        {"text": "Lyon is sunny today.", "when": "Sunny in Lyon"},
    )
    scripted = _ask_agent(models, "What's the weather in Lyon?")
    assert "Lyon is sunny today." in scripted["result"]
    calls = _calls(models)[-2:]
    assert [c["operation"] for c in calls] == ["ConverseStream", "ConverseStream"]
    assert calls[0]["tools"] == ["get_weather"]
    assert calls[1]["messages"][-1]["tool_results"] == ["Sunny in Lyon"]  # the tool ran


def test_a_streaming_agent_streams_the_models_text_as_it_comes(models: Emulator) -> None:
    text = "The forecast for Lyon is sunny with a light breeze all afternoon."
    _script(models, {"text": text})
    answer = models.client().invoke_agent_runtime(
        agentRuntimeArn=models.arns["strands_streaming_agent"],
        runtimeSessionId=f"streaming-{uuid.uuid4()}",
        payload=json.dumps({"prompt": "Weather in Lyon?"}),
        contentType="application/json",
        accept="text/event-stream",
    )
    assert answer["contentType"].startswith("text/event-stream")
    lines = answer["response"].read().decode().splitlines()
    pieces = [json.loads(line[len("data: ") :]) for line in lines if line.startswith("data: ")]
    assert len(pieces) > 1  # streamed in pieces, as the model's deltas came
    assert "".join(pieces) == text


@pytest.mark.parametrize(
    ("runtime", "operation"),
    [("langgraph_agent", "InvokeModel"), ("langgraph_converse_agent", "Converse")],
    ids=["ChatBedrock", "ChatBedrockConverse"],
)
def test_a_langgraph_agent_runs_its_tool_loop_unchanged(
    models: Emulator, runtime: str, operation: str
) -> None:
    # fixtures/servers/langgraph_agent.py: a ReAct graph on langchain-aws's chat models, as
    # AgentCore's samples write one; ChatBedrock sends Claude's Messages API to InvokeModel.
    def ask(prompt: str) -> str:
        answer = models.client().invoke_agent_runtime(
            agentRuntimeArn=models.arns[runtime],
            runtimeSessionId=f"langgraph-{uuid.uuid4()}",
            payload=json.dumps({"prompt": prompt}),
            contentType="application/json",
        )
        return json.loads(answer["response"].read())["result"]  # type: ignore[no-any-return]

    assert "You said: Hello there" in str(ask("Hello there"))
    _script(
        models,
        {"tool_calls": [{"name": "get_weather", "input": {"city": "Lyon"}}]},
        {"text": "Lyon is sunny today.", "when": "Sunny in Lyon"},
    )
    assert "Lyon is sunny today." in str(ask("What's the weather in Lyon?"))
    calls = _calls(models)[-2:]
    assert [c["operation"] for c in calls] == [operation, operation]
    assert calls[0]["tools"] == ["get_weather"]
    assert calls[1]["messages"][-1]["tool_results"] == ["Sunny in Lyon"]  # the tool ran
