"""AgentCore Memory against memories the control plane knows, with code nobody here wrote:
the SDK's MemoryClient, Strands' AgentCore memory session manager, and boto3 for the
errors. Events by actor and session (newest first), branches, records, retrieval."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import botocore.exceptions
import pytest

from tests.harness import Emulator


@pytest.fixture
def memory_env(emulator: Emulator) -> Iterator[Emulator]:
    """The environment an agent gets from the emulator (the SDK's clients read it)."""
    with mock.patch.dict(os.environ, emulator.env(), clear=True):
        yield emulator


def _client() -> Any:
    from bedrock_agentcore.memory import MemoryClient

    return MemoryClient(region_name="us-east-1")


def _memory(strategies: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return _client().create_memory_and_wait(  # type: ignore[no-any-return]
        name=f"mem_{uuid.uuid4().hex[:8]}", strategies=strategies or [], poll_interval=0
    )


def test_events_are_kept_by_actor_and_session_and_read_newest_first(memory_env: Emulator) -> None:
    client = _client()
    memory_id = _memory()["id"]
    for number in range(3):
        client.create_event(
            memory_id=memory_id,
            actor_id="alice",
            session_id="s-1",
            messages=[(f"question {number}", "USER"), (f"answer {number}", "ASSISTANT")],
        )
    client.create_event(
        memory_id=memory_id, actor_id="bob", session_id="s-2", messages=[("hi", "USER")]
    )
    events = client.list_events(memory_id=memory_id, actor_id="alice", session_id="s-1")
    texts = [e["payload"][0]["conversational"]["content"]["text"] for e in events]
    assert texts == ["question 2", "question 1", "question 0"]
    turns = client.get_last_k_turns(memory_id=memory_id, actor_id="alice", session_id="s-1", k=2)
    assert len(turns) == 2
    data = client.gmdp_client
    sessions = data.list_sessions(memoryId=memory_id, actorId="alice")["sessionSummaries"]
    assert [s["sessionId"] for s in sessions] == ["s-1"]
    actors = data.list_actors(memoryId=memory_id)["actorSummaries"]
    assert [a["actorId"] for a in actors] == ["alice", "bob"]
    page = data.list_events(memoryId=memory_id, actorId="alice", sessionId="s-1", maxResults=2)
    assert len(page["events"]) == 2 and page["nextToken"]
    rest = data.list_events(
        memoryId=memory_id, actorId="alice", sessionId="s-1", nextToken=page["nextToken"]
    )
    assert len(rest["events"]) == 1
    one = events[-1]
    got = data.get_event(
        memoryId=memory_id, actorId="alice", sessionId="s-1", eventId=one["eventId"]
    )["event"]
    assert got["eventId"] == one["eventId"]
    data.delete_event(memoryId=memory_id, actorId="alice", sessionId="s-1", eventId=one["eventId"])
    assert len(client.list_events(memory_id=memory_id, actor_id="alice", session_id="s-1")) == 2


def test_a_branch_holds_its_own_events_and_can_include_its_parents(memory_env: Emulator) -> None:
    client = _client()
    memory_id = _memory()["id"]
    root = client.create_event(
        memory_id=memory_id, actor_id="a", session_id="s", messages=[("main one", "USER")]
    )
    client.fork_conversation(
        memory_id=memory_id,
        actor_id="a",
        session_id="s",
        root_event_id=root["eventId"],
        branch_name="what-if",
        new_messages=[("on the branch", "USER")],
    )

    def texts(**kwargs: Any) -> list[str]:
        events = client.list_events(memory_id=memory_id, actor_id="a", session_id="s", **kwargs)
        return [e["payload"][0]["conversational"]["content"]["text"] for e in events]

    assert texts() == ["main one"]
    assert texts(branch_name="what-if") == ["on the branch"]
    assert texts(branch_name="what-if", include_parent_branches=True) == [
        "on the branch",
        "main one",
    ]


def test_records_are_extracted_by_strategy_and_retrieved_by_relevance(
    memory_env: Emulator,
) -> None:
    client = _client()
    memory = _memory([{"semanticMemoryStrategy": {"name": "facts"}}])
    memory_id = memory["id"]
    strategy_id = memory["strategies"][0]["strategyId"]
    client.create_event(
        memory_id=memory_id,
        actor_id="alice",
        session_id="s-1",
        messages=[
            ("I love hiking in the Alps every summer", "USER"),
            ("That sounds wonderful", "ASSISTANT"),
            ("My favourite food is sushi with tuna", "USER"),
        ],
    )
    namespace = f"/strategies/{strategy_id}/actors/alice"
    found = client.retrieve_memories(
        memory_id=memory_id, namespace=namespace, query="where does alice go hiking?", top_k=3
    )
    assert [r["content"]["text"] for r in found] == ["I love hiking in the Alps every summer"]
    listed = client.gmdp_client.list_memory_records(memoryId=memory_id, namespace=namespace)
    assert len(listed["memoryRecordSummaries"]) == 2  # the USER messages, not the ASSISTANT's


def test_records_written_directly_are_read_updated_and_deleted(memory_env: Emulator) -> None:
    data = _client().gmdp_client
    memory_id = _memory()["id"]
    created = data.batch_create_memory_records(
        memoryId=memory_id,
        records=[
            {
                "requestIdentifier": "r1",
                "namespaces": ["/facts/alice"],
                "content": {"text": "alice likes green tea"},
                "timestamp": 1_750_000_000,
            }
        ],
    )
    (done,) = created["successfulRecords"]
    assert done["requestIdentifier"] == "r1" and done["memoryRecordId"].startswith("mem-")
    record_id = done["memoryRecordId"]
    data.batch_update_memory_records(
        memoryId=memory_id,
        records=[
            {
                "memoryRecordId": record_id,
                "content": {"text": "alice likes oolong tea"},
                "timestamp": 1_750_000_001,
            }
        ],
    )
    record = data.get_memory_record(memoryId=memory_id, memoryRecordId=record_id)["memoryRecord"]
    assert record["content"]["text"] == "alice likes oolong tea"
    data.delete_memory_record(memoryId=memory_id, memoryRecordId=record_id)
    with pytest.raises(botocore.exceptions.ClientError) as gone:
        data.get_memory_record(memoryId=memory_id, memoryRecordId=record_id)
    assert gone.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_memory_that_does_not_exist_is_not_found_as_aws_answers(memory_env: Emulator) -> None:
    # Before: moto stored events against any memory id, so this passed locally and failed
    # on deploy.
    with pytest.raises(botocore.exceptions.ClientError) as missing:
        _client().create_event(
            memory_id="nosuchmemory-0123456789",
            actor_id="a",
            session_id="s",
            messages=[("hello", "USER")],
        )
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_strands_agent_keeps_its_conversation_in_agentcore_memory(memory_env: Emulator) -> None:
    from bedrock_agentcore.memory.integrations.strands.config import AgentCoreMemoryConfig
    from bedrock_agentcore.memory.integrations.strands.session_manager import (
        AgentCoreMemorySessionManager,
    )
    from strands import Agent

    memory_id = _memory()["id"]
    session = f"chat-{uuid.uuid4().hex[:8]}"

    def agent() -> Any:
        config = AgentCoreMemoryConfig(memory_id=memory_id, session_id=session, actor_id="alice")
        manager = AgentCoreMemorySessionManager(config, region_name="us-east-1")
        return Agent(session_manager=manager, callback_handler=None)

    first = agent()
    first("I like sushi with tuna")
    resumed = agent()  # a new process's agent, the same session: its history comes back
    assert [m["content"][0]["text"] for m in resumed.messages][:1] == ["I like sushi with tuna"]
    assert len(resumed.messages) == 2
