"""Bedrock Runtime's request and answer shapes, each read into a ``Conversation`` and
written from a ``Turn``: Converse (and its stream), and InvokeModel bodies in a model
family's own format: Anthropic Claude's Messages API and Amazon Nova's ``messages-v1``."""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Iterator
from typing import Any

from agentcore_emulator import eventstream
from agentcore_emulator.exceptions import ValidationException
from agentcore_emulator.model_turns import Conversation, Message, ToolUse, Turn

ANTHROPIC_VERSION = "bedrock-2023-05-31"
FORMATS = "Anthropic Claude's Messages API (anthropic_version) and Amazon Nova's messages-v1"


def read_json(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body or b"{}")
    except ValueError:
        raise ValidationException("Malformed input request: the body is not JSON") from None
    if not isinstance(parsed, dict):
        raise ValidationException("Malformed input request: the body must be a JSON object")
    return parsed


def _text_of(content: object) -> str:
    """The text of a content list (Converse's or a tool result's), or of a string."""
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return ""
    parts = []
    for block in content:
        if isinstance(block, dict):
            if isinstance(block.get("text"), str):
                parts.append(block["text"])
            elif "json" in block:
                parts.append(json.dumps(block["json"]))
    return " ".join(parts)


def _messages(raw: object, read: Any) -> tuple[Message, ...]:
    if not isinstance(raw, list) or not raw:
        raise ValidationException("Malformed input request: messages must be a non-empty list")
    messages = []
    for item in raw:
        if not isinstance(item, dict) or item.get("role") not in ("user", "assistant"):
            raise ValidationException(
                "Malformed input request: each message needs a role of user or assistant"
            )
        messages.append(read(item))
    return tuple(messages)


# -- Converse --------------------------------------------------------------------------------


def _converse_message(item: dict[str, Any]) -> Message:
    content = item.get("content")
    if not isinstance(content, list):
        raise ValidationException("Malformed input request: a message's content must be a list")
    texts, uses, results, ids = [], [], [], []
    for block in content:
        if not isinstance(block, dict):
            continue
        if isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif isinstance(block.get("toolUse"), dict):
            use = block["toolUse"]
            uses.append(
                ToolUse(str(use.get("toolUseId")), str(use.get("name")), use.get("input") or {})
            )
        elif isinstance(block.get("toolResult"), dict):
            results.append(_text_of(block["toolResult"].get("content")))
            ids.append(str(block["toolResult"].get("toolUseId")))
    return Message(item["role"], " ".join(texts), tuple(uses), tuple(results), tuple(ids))


def read_converse(model_id: str, operation: str, body: bytes) -> Conversation:
    request = read_json(body)
    tools = (
        request.get("toolConfig", {}).get("tools", [])
        if isinstance(request.get("toolConfig"), dict)
        else []
    )
    return Conversation(
        model_id=model_id,
        operation=operation,
        messages=_messages(request.get("messages"), _converse_message),
        system=_text_of(request.get("system", [])),
        tools=tuple(
            str(t["toolSpec"].get("name"))
            for t in tools
            if isinstance(t, dict) and isinstance(t.get("toolSpec"), dict)
        ),
    )


def _converse_content(turn: Turn) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = [{"text": turn.text}] if turn.text else []
    content += [
        {"toolUse": {"toolUseId": u.tool_use_id, "name": u.name, "input": u.input}}
        for u in turn.tool_uses
    ]
    return content


def _usage(turn: Turn) -> dict[str, int]:
    return {
        "inputTokens": turn.input_tokens,
        "outputTokens": turn.output_tokens,
        "totalTokens": turn.input_tokens + turn.output_tokens,
    }


def converse_answer(turn: Turn, latency_ms: int) -> dict[str, Any]:
    return {
        "output": {"message": {"role": "assistant", "content": _converse_content(turn)}},
        "stopReason": turn.stop_reason,
        "usage": _usage(turn),
        "metrics": {"latencyMs": latency_ms},
    }


def _pieces(text: str, size: int = 3) -> list[str]:
    """Text as a model streams it: a few words a delta."""
    words = text.split(" ")
    return [
        " ".join(words[i : i + size]) + (" " if i + size < len(words) else "")
        for i in range(0, len(words), size)
    ]


def converse_stream(turn: Turn, latency_ms: int, break_off: bool = False) -> Iterator[bytes]:
    """ConverseStream's events, in AWS's order: messageStart, each block's deltas and stop,
    messageStop, then metadata (usage, latency); ``break_off``: a modelStreamErrorException
    after the first event."""
    yield eventstream.event("messageStart", {"role": "assistant"})
    if break_off:
        yield eventstream.exception(
            "modelStreamErrorException", "The model stream broke off (injected fault)"
        )
        return
    index = 0
    if turn.text:
        for piece in _pieces(turn.text):
            yield eventstream.event(
                "contentBlockDelta", {"delta": {"text": piece}, "contentBlockIndex": index}
            )
        yield eventstream.event("contentBlockStop", {"contentBlockIndex": index})
        index += 1
    for use in turn.tool_uses:
        start = {"toolUse": {"toolUseId": use.tool_use_id, "name": use.name}}
        yield eventstream.event("contentBlockStart", {"start": start, "contentBlockIndex": index})
        delta = {"toolUse": {"input": json.dumps(use.input)}}
        yield eventstream.event("contentBlockDelta", {"delta": delta, "contentBlockIndex": index})
        yield eventstream.event("contentBlockStop", {"contentBlockIndex": index})
        index += 1
    yield eventstream.event("messageStop", {"stopReason": turn.stop_reason})
    yield eventstream.event(
        "metadata", {"usage": _usage(turn), "metrics": {"latencyMs": latency_ms}}
    )


# -- InvokeModel: a model family's own body --------------------------------------------------


def _anthropic_message(item: dict[str, Any]) -> Message:
    content = item.get("content")
    if isinstance(content, str):
        return Message(item["role"], content)
    if not isinstance(content, list):
        raise ValidationException("Malformed input request: content must be a string or a list")
    texts, uses, results, ids = [], [], [], []
    for block in content:
        if not isinstance(block, dict):
            continue
        kind = block.get("type")
        if kind == "text":
            texts.append(str(block.get("text", "")))
        elif kind == "tool_use":
            uses.append(
                ToolUse(str(block.get("id")), str(block.get("name")), block.get("input") or {})
            )
        elif kind == "tool_result":
            results.append(_text_of(block.get("content")))
            ids.append(str(block.get("tool_use_id")))
    return Message(item["role"], " ".join(texts), tuple(uses), tuple(results), tuple(ids))


def family(model_id: str, body: dict[str, Any]) -> str:
    """Which format a body is in: "anthropic" or "nova"; else a ValidationException."""
    if "anthropic_version" in body:
        if body["anthropic_version"] != ANTHROPIC_VERSION:
            raise ValidationException(
                f"Malformed input request: anthropic_version must be {ANTHROPIC_VERSION}"
            )
        return "anthropic"
    if body.get("schemaVersion") == "messages-v1" or "nova" in model_id:
        return "nova"
    raise ValidationException(
        f"Malformed input request: the emulator reads InvokeModel bodies in {FORMATS}"
    )


def read_invoke(model_id: str, operation: str, raw: bytes) -> tuple[str, Conversation]:
    body = read_json(raw)
    kind = family(model_id, body)
    if kind == "anthropic":
        if not isinstance(body.get("max_tokens"), int):
            raise ValidationException("Malformed input request: max_tokens is required")
        system = body.get("system", "")
        tools = body.get("tools", []) if isinstance(body.get("tools"), list) else []
        return kind, Conversation(
            model_id,
            operation,
            _messages(body.get("messages"), _anthropic_message),
            _text_of(system),
            tuple(str(t.get("name")) for t in tools if isinstance(t, dict)),
        )
    conversation = read_converse(model_id, operation, raw)
    return kind, conversation


def invoke_answer(kind: str, model_id: str, turn: Turn, latency_ms: int) -> dict[str, Any]:
    if kind == "nova":
        return converse_answer(turn, latency_ms)
    content: list[dict[str, Any]] = [{"type": "text", "text": turn.text}] if turn.text else []
    content += [
        {"type": "tool_use", "id": u.tool_use_id, "name": u.name, "input": u.input}
        for u in turn.tool_uses
    ]
    return {
        "id": f"msg_bdrk_{uuid.uuid4().hex[:24]}",
        "type": "message",
        "role": "assistant",
        "model": model_id,
        "content": content,
        "stop_reason": turn.stop_reason,
        "stop_sequence": None,
        "usage": {"input_tokens": turn.input_tokens, "output_tokens": turn.output_tokens},
    }


def _chunk(event: dict[str, Any]) -> bytes:
    data = base64.b64encode(json.dumps(event).encode()).decode()
    return eventstream.event("chunk", {"bytes": data})


def invoke_stream(
    kind: str, model_id: str, turn: Turn, latency_ms: int, break_off: bool = False
) -> Iterator[bytes]:
    """InvokeModelWithResponseStream's chunks, each an event of the family's own stream."""
    if kind == "nova":
        events = _nova_events(turn, latency_ms)
    else:
        events = _anthropic_events(model_id, turn, latency_ms)
    for number, event in enumerate(events):
        if break_off and number == 1:
            yield eventstream.exception(
                "modelStreamErrorException", "The model stream broke off (injected fault)"
            )
            return
        yield _chunk(event)


def _anthropic_events(model_id: str, turn: Turn, latency_ms: int) -> Iterator[dict[str, Any]]:
    start = invoke_answer("anthropic", model_id, Turn(input_tokens=turn.input_tokens), 0)
    start["content"], start["stop_reason"] = [], None
    start["usage"] = {"input_tokens": turn.input_tokens, "output_tokens": 1}
    yield {"type": "message_start", "message": start}
    index = 0
    if turn.text:
        yield {
            "type": "content_block_start",
            "index": index,
            "content_block": {"type": "text", "text": ""},
        }
        for piece in _pieces(turn.text):
            yield {
                "type": "content_block_delta",
                "index": index,
                "delta": {"type": "text_delta", "text": piece},
            }
        yield {"type": "content_block_stop", "index": index}
        index += 1
    for use in turn.tool_uses:
        block = {"type": "tool_use", "id": use.tool_use_id, "name": use.name, "input": {}}
        yield {"type": "content_block_start", "index": index, "content_block": block}
        delta = {"type": "input_json_delta", "partial_json": json.dumps(use.input)}
        yield {"type": "content_block_delta", "index": index, "delta": delta}
        yield {"type": "content_block_stop", "index": index}
        index += 1
    yield {
        "type": "message_delta",
        "delta": {"stop_reason": turn.stop_reason, "stop_sequence": None},
        "usage": {"output_tokens": turn.output_tokens},
    }
    yield {
        "type": "message_stop",
        "amazon-bedrock-invocationMetrics": {
            "inputTokenCount": turn.input_tokens,
            "outputTokenCount": turn.output_tokens,
            "invocationLatency": latency_ms,
            "firstByteLatency": latency_ms,
        },
    }


def _nova_events(turn: Turn, latency_ms: int) -> Iterator[dict[str, Any]]:
    yield {"messageStart": {"role": "assistant"}}
    if turn.text:
        for piece in _pieces(turn.text):
            yield {"contentBlockDelta": {"delta": {"text": piece}, "contentBlockIndex": 0}}
        yield {"contentBlockStop": {"contentBlockIndex": 0}}
    yield {"messageStop": {"stopReason": turn.stop_reason}}
    yield {"metadata": {"usage": _usage(turn), "metrics": {"latencyMs": latency_ms}}}
