"""What a model answers, whatever the wire: a conversation in, one turn out.

A turn is text, tool calls, a stop reason and token counts; the Bedrock wire modules
(``bedrock_converse``, ``bedrock_invoke``) read a request into a ``Conversation`` and write a
``Turn`` back in each API's shapes. Where the turn comes from is a ``TurnSource``:

- ``deterministic`` (the default): the same conversation always gets the same answer,
  derived from it and plainly the emulator's; it never asks for a tool;
- ``scripted``: turns a test gives (the config, the admin API, the pytest fixture), taken in
  order, or the first whose ``when`` the conversation's last message contains; a turn may
  call tools, set the stop reason, or be an error.

Every call is recorded (bounded), so a test can assert what an agent sent.
"""

from __future__ import annotations

import collections
import hashlib
import itertools
import json
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

MAX_RECORDED = 1000  # model calls kept for the admin API, the oldest going first


@dataclass(frozen=True)
class ToolUse:
    """A model's request to run a tool."""

    tool_use_id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True)
class Message:
    """One message of a conversation, reduced to what a turn source reads."""

    role: str  # "user" or "assistant"
    text: str
    tool_uses: tuple[ToolUse, ...] = ()
    tool_results: tuple[str, ...] = ()  # the text of each tool result it carries
    result_ids: tuple[str, ...] = ()  # the tool use each result answers, in the same order


@dataclass(frozen=True)
class Conversation:
    """A model call as the emulator reads it, whatever API it came by."""

    model_id: str
    operation: str
    messages: tuple[Message, ...]
    system: str = ""
    tools: tuple[str, ...] = ()  # the names of the tools offered

    @property
    def last(self) -> Message | None:
        return self.messages[-1] if self.messages else None

    def last_text(self) -> str:
        """The last message's words: its text, or its tool results'."""
        last = self.last
        if last is None:
            return ""
        return " ".join([last.text, *last.tool_results]).strip()


@dataclass(frozen=True)
class Turn:
    """A model's answer: what it says, the tools it calls, why it stopped."""

    text: str = ""
    tool_uses: tuple[ToolUse, ...] = ()
    stop_reason: str = "end_turn"
    input_tokens: int = 0
    output_tokens: int = 0


@dataclass(frozen=True)
class ScriptedTurn:
    """A turn a test wrote: matched in order, or by ``when`` (a text the conversation's
    last message contains); ``error`` (an AWS error code) makes the call fail instead,
    ``error_mid_stream`` makes a streamed answer break off after its first event."""

    text: str = ""
    tool_calls: tuple[tuple[str, dict[str, Any]], ...] = ()
    stop_reason: str | None = None
    when: str | None = None
    error: str | None = None
    error_mid_stream: bool = False

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any]) -> ScriptedTurn:
        """A turn as JSON or TOML writes it; ValueError naming what is wrong."""
        known = {"text", "tool_calls", "stop_reason", "when", "error", "error_mid_stream"}
        unknown = set(raw) - known
        if unknown:
            raise ValueError(f"a scripted turn has no key {sorted(unknown)[0]!r} ({sorted(known)})")
        calls = raw.get("tool_calls", [])
        if not isinstance(calls, list) or not all(
            isinstance(c, dict) and isinstance(c.get("name"), str) for c in calls
        ):
            raise ValueError('tool_calls must be a list of {"name": ..., "input": {...}}')
        for key in ("text", "stop_reason", "when", "error"):
            if raw.get(key) is not None and not isinstance(raw[key], str):
                raise ValueError(f"a scripted turn's {key} must be a string")
        return cls(
            text=raw.get("text", ""),
            tool_calls=tuple((c["name"], dict(c.get("input", {}))) for c in calls),
            stop_reason=raw.get("stop_reason"),
            when=raw.get("when"),
            error=raw.get("error"),
            error_mid_stream=bool(raw.get("error_mid_stream", False)),
        )


class ScriptExhausted(Exception):
    """A scripted model was called once more than its script has turns."""


def count_tokens(text: str) -> int:
    """Tokens as the emulator counts them: words (chosen; documented, not any model's)."""
    return len(text.split())


def input_tokens(conversation: Conversation) -> int:
    """The tokens of what the model reads: its system prompt, messages and tool results."""
    words = [conversation.system, *(m.text for m in conversation.messages)]
    words += [r for m in conversation.messages for r in m.tool_results]
    return sum(count_tokens(w) for w in words)


def deterministic_turn(conversation: Conversation) -> Turn:
    """The same conversation always gets this answer; plainly the emulator's."""
    said = conversation.last_text()
    digest = hashlib.sha256(
        json.dumps([conversation.system, [asdict(m) for m in conversation.messages]]).encode()
    ).hexdigest()[:8]
    quoted = said if len(said) <= 200 else said[:197] + "..."
    text = f"[agentcore-emulator model {digest}] You said: {quoted}"
    return Turn(
        text=text,
        input_tokens=input_tokens(conversation),
        output_tokens=count_tokens(text),
    )


class ModelCalls:
    """Every model call's record, numbered, the latest ``MAX_RECORDED``."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_RECORDED)
        self._numbers = itertools.count(1)
        self.listener: Callable[[dict[str, Any]], None] = lambda _: None

    def record(self, conversation: Conversation, turn: Turn | None, error: str | None) -> None:
        entry = {
            "seq": next(self._numbers),
            "time": time.time(),
            "modelId": conversation.model_id,
            "operation": conversation.operation,
            "system": conversation.system,
            "messages": [asdict(m) for m in conversation.messages],
            "tools": list(conversation.tools),
            "answer": asdict(turn) if turn is not None else None,
            "error": error,
        }
        with self._lock:
            self._calls.append(entry)
        self.listener(entry)

    def list(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()


@dataclass
class TurnSource:
    """Where a model's turns come from: deterministic, unless a script is set."""

    script: list[ScriptedTurn] = field(default_factory=list)
    _used: set[int] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _ids: itertools.count[int] = field(default_factory=lambda: itertools.count(1))

    def set_script(self, turns: Sequence[ScriptedTurn]) -> None:
        with self._lock:
            self.script = list(turns)
            self._used = set()

    def next_turn(self, conversation: Conversation) -> tuple[Turn, ScriptedTurn | None]:
        """The turn for this conversation, and the scripted turn it came from (if any).

        ScriptExhausted if a script is set and no turn of it is left to match.
        """
        with self._lock:
            if not self.script:
                return deterministic_turn(conversation), None
            scripted = self._match(conversation)
            if scripted is None:
                raise ScriptExhausted(
                    f"the script of {conversation.model_id} has no turn left for this call "
                    f"({len(self.script)} scripted, all used or none matching)"
                )
            uses = tuple(
                ToolUse(f"tooluse_emulator_{next(self._ids):04d}", name, args)
                for name, args in scripted.tool_calls
            )
        stop = scripted.stop_reason or ("tool_use" if uses else "end_turn")
        turn = Turn(
            text=scripted.text,
            tool_uses=uses,
            stop_reason=stop,
            input_tokens=input_tokens(conversation),
            output_tokens=count_tokens(scripted.text) + sum(len(u.input) for u in uses),
        )
        return turn, scripted

    def _match(self, conversation: Conversation) -> ScriptedTurn | None:
        said = conversation.last_text()
        for index, scripted in enumerate(self.script):
            if index in self._used:
                continue
            if scripted.when is not None and scripted.when not in said:
                continue
            self._used.add(index)
            return scripted
        return None
