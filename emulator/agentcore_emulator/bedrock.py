"""A deterministic stand-in for Bedrock Runtime's Converse, so agents run offline."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from agentcore_wire.aws_errors import AwsError

JOKES = (
    "Why do programmers prefer dark mode? Because light attracts bugs.",
    "A SQL query walks into a bar, walks up to two tables and asks: 'Can I join you?'",
    "There are 10 kinds of people: those who understand binary and those who don't.",
    "Why did the developer go broke? Because he used up all his cache.",
    "How many programmers does it take to change a light bulb? None, that's a hardware problem.",
)
# Errors a test can make Converse answer with, by code.
CONVERSE_ERRORS = {
    "ThrottlingException": "Too many requests, please wait before trying again.",
    "AccessDeniedException": "You don't have access to the model with the specified model ID.",
}


def _last_user_text(request: dict[str, Any]) -> str:
    for message in reversed(request.get("messages", [])):
        if message.get("role") == "user":
            return " ".join(str(c.get("text", "")) for c in message.get("content", []))
    return ""


def converse(model_id: str, body: bytes, injected_error: str | None = None) -> dict[str, Any]:
    """Answer a Converse request: the same prompt always gets the same reply."""
    if injected_error is not None:
        message = CONVERSE_ERRORS.get(injected_error, "Injected error")
        raise AwsError(message, code=injected_error)
    request = json.loads(body or b"{}")
    prompt = _last_user_text(request)
    index = int.from_bytes(hashlib.sha256(prompt.encode()).digest()[:4], "big") % len(JOKES)
    text = JOKES[index]
    tokens_in, tokens_out = len(prompt.split()), len(text.split())
    return {
        "output": {"message": {"role": "assistant", "content": [{"text": text}]}},
        "stopReason": "end_turn",
        "usage": {
            "inputTokens": tokens_in,
            "outputTokens": tokens_out,
            "totalTokens": tokens_in + tokens_out,
        },
        "metrics": {"latencyMs": 1},
    }
