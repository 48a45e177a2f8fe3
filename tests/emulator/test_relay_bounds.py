"""What the relay holds of an instance's answer, against instances that never stop: bounded
by AgentCore's limits, in process, with stand-in answers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from agentcore_emulator.instance_http import InstanceAnswerTooLarge, InstanceResponse
from agentcore_emulator.relay import RelayLimits, _events
from agentcore_emulator.sessions import SessionClock


class Endless:
    """An instance's answer whose body never ends; counts what was taken of it."""

    def __init__(self, piece: bytes) -> None:
        self.piece = piece
        self.taken = 0
        self.released = False

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            self.taken += 1
            yield self.piece

    def release(self) -> None:
        self.released = True


class Session:
    session_id = "s" * 40

    def __init__(self) -> None:
        self.ended = 0

    def call_ended(self, now: float) -> None:
        self.ended += 1


@pytest.mark.parametrize(
    "piece",
    [b"data: " + b"x" * 1000 + b"\n", b"x" * 1000],
    ids=["endless data lines", "an endless line"],
)
def test_an_event_that_never_ends_ends_the_stream_at_the_chunk_limit(piece: bytes) -> None:
    # Before: the decoder held the event until memory ran out (the limit was checked only
    # on a whole event).
    async def scenario() -> None:
        upstream, session = Endless(piece), Session()
        limits = RelayLimits(chunk=100_000)
        events = [
            e
            async for e in _events(
                cast(Any, upstream), cast(Any, session), SessionClock(), None, limits
            )
        ]
        assert events == []
        assert upstream.taken * len(piece) <= limits.chunk + 2 * len(piece)
        assert upstream.released and session.ended == 1

    asyncio.run(scenario())


def test_a_json_answer_is_read_up_to_the_payload_limit_only() -> None:
    async def scenario() -> None:
        upstream = Endless(b"x" * 65536)
        with pytest.raises(InstanceAnswerTooLarge):
            await InstanceResponse.read(cast(Any, upstream), limit=1_000_000)
        assert upstream.taken * 65536 <= 1_000_000 + 65536

    asyncio.run(scenario())
