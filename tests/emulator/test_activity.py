"""The dashboard's live events, in process: a page that stops reading is ended with a
resync once its queue is full (never more held for it), the number of live pages is
bounded, and what a page sees of an invocation is bounded and redacted."""

from __future__ import annotations

import asyncio

import pytest

from agentcore_emulator.activity import (
    MAX_QUEUED,
    MAX_SHOWN,
    MAX_SUBSCRIBERS,
    Activity,
    TooManySubscribers,
)


def test_a_page_that_stops_reading_is_ended_with_a_resync() -> None:
    async def scenario() -> list[object]:
        activity = Activity()
        subscription = activity.subscribe()
        for n in range(MAX_QUEUED * 3):  # the page reads nothing meanwhile
            activity.publish("log", {"n": n})
        await asyncio.sleep(0)  # the publishes reach the subscriber on its loop
        seen = []
        while (event := await subscription.next()) is not None:
            seen.append(event)
        subscription.close()
        assert not activity.watched  # dropped: nothing more is built or held for it
        return seen

    seen = asyncio.run(scenario())
    assert len(seen) == MAX_QUEUED + 1  # what fitted, then the resync; the rest never held
    assert seen[-1] == ("resync", {"reason": "too far behind"})
    assert seen[0] == ("log", {"n": 0})


def test_live_pages_are_bounded() -> None:
    async def scenario() -> None:
        activity = Activity()
        pages = [activity.subscribe() for _ in range(MAX_SUBSCRIBERS)]
        with pytest.raises(TooManySubscribers):
            activity.subscribe()
        pages[0].close()
        activity.subscribe().close()  # a place freed is taken again

    asyncio.run(scenario())


def test_an_invocation_is_shown_bounded_and_redacted() -> None:
    activity = Activity()
    secret = '{"api_key": "sk-live-secret"}'
    record = activity.begin("InvokeAgentRuntime", sent=secret.encode() + b"x" * 10 * MAX_SHOWN)
    activity.finish(record, 200, 1.5, b'{"ok": true}')
    view = record.view()
    assert "sk-live-secret" not in view["request"]
    assert view["request"].endswith(f"(cut at {MAX_SHOWN} bytes)")
    assert len(record.sent) == MAX_SHOWN + 1  # no more of it is kept
    assert view["answer"] == '{"ok": true}' and view["status"] == 200


def test_a_body_of_multibyte_characters_cut_short_says_so() -> None:
    activity = Activity()
    record = activity.begin("InvokeAgentRuntime", sent="é".encode() * MAX_SHOWN)  # 2x the bound
    activity.finish(record, 200, 1.0, "ü".encode() * (MAX_SHOWN // 2))  # exactly the bound
    view = record.view()
    assert view["request"] == "é" * (MAX_SHOWN // 2) + f"… (cut at {MAX_SHOWN} bytes)"
    assert view["answer"] == "ü" * (MAX_SHOWN // 2)  # whole: nothing was cut
