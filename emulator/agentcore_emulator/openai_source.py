"""Turns from a local model server that speaks OpenAI's chat-completions API (Ollama,
llama.cpp's server, vLLM, LM Studio): a conversation translated into a chat-completions
request, and its answer back into a turn, tools both ways.

Written from OpenAI's published wire format and tested against a stand-in server written
from it too (no model can be downloaded here). Non-streaming upstream: the emulator streams
the turn itself, in the shapes of the Bedrock operation it answers.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from agentcore_emulator.model_turns import Conversation, ToolUse, Turn, count_tokens, input_tokens

TIMEOUT = 300.0  # seconds a local model may take for one answer (a CPU model is slow)
_STOP_REASONS = {"stop": "end_turn", "length": "max_tokens", "tool_calls": "tool_use"}


class LocalModelError(Exception):
    """The local model server could not answer; the message says why."""


def chat_request(conversation: Conversation, model: str) -> dict[str, Any]:
    """The chat-completions request for a conversation."""
    messages: list[dict[str, Any]] = []
    if conversation.system:
        messages.append({"role": "system", "content": conversation.system})
    for message in conversation.messages:
        if message.role == "assistant":
            said: dict[str, Any] = {"role": "assistant", "content": message.text or None}
            if message.tool_uses:
                said["tool_calls"] = [
                    {
                        "id": use.tool_use_id,
                        "type": "function",
                        "function": {"name": use.name, "arguments": json.dumps(use.input)},
                    }
                    for use in message.tool_uses
                ]
            messages.append(said)
            continue
        for use_id, result in zip(message.result_ids, message.tool_results, strict=False):
            messages.append({"role": "tool", "tool_call_id": use_id, "content": result})
        if message.text:
            messages.append({"role": "user", "content": message.text})
    request: dict[str, Any] = {"model": model, "messages": messages, "stream": False}
    if conversation.tools:
        request["tools"] = [
            {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}
            for name in conversation.tools
        ]
    return request


def turn_of(answer: dict[str, Any], conversation: Conversation) -> Turn:
    """A chat-completions answer as a turn."""
    try:
        choice = answer["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError):
        raise LocalModelError("the answer has no choices[0].message") from None
    uses = []
    for call in message.get("tool_calls") or []:
        function = call.get("function", {})
        try:
            arguments = json.loads(function.get("arguments") or "{}")
        except ValueError:
            arguments = {}
        uses.append(ToolUse(str(call.get("id")), str(function.get("name")), arguments))
    text = message.get("content") or ""
    usage = answer.get("usage") or {}
    return Turn(
        text=text,
        tool_uses=tuple(uses),
        stop_reason=_STOP_REASONS.get(choice.get("finish_reason"), "end_turn"),
        input_tokens=int(usage.get("prompt_tokens", input_tokens(conversation))),
        output_tokens=int(usage.get("completion_tokens", count_tokens(text))),
    )


def ask(url: str, model: str, conversation: Conversation, timeout: float = TIMEOUT) -> Turn:
    """One answer of the server at ``url`` (its base: ``.../v1``). Blocks: run it off the
    event loop."""
    body = json.dumps(chat_request(conversation, model)).encode()
    request = urllib.request.Request(  # noqa: S310 (a URL the config names)
        f"{url.rstrip('/')}/chat/completions",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as answer:  # noqa: S310
            return turn_of(json.load(answer), conversation)
    except urllib.error.HTTPError as exc:
        raise LocalModelError(f"the local model server answered {exc.code}") from None
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise LocalModelError(f"the local model server at {url} did not answer: {exc}") from None
