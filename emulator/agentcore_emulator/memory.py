"""AgentCore Memory's data plane, against the memories the control plane knows: events
(short-term memory, by actor and session, with branches and metadata), memory records
(long-term memory, by namespace), their retrieval ranked by a lexical scorer, and the
records each memory's strategies extract from conversational events.

Chosen where AWS's behaviour cannot be confirmed offline (docs/emulator.md, Memory):
retrieval scores a record by the cosine of the query's and the record's word sets
(lowercased words, no stemming), so the same records always come back in the same order;
extraction is deterministic and immediate (AWS runs a model a little later): a semantic
or user-preference strategy keeps each USER message as a record, a summary strategy one
record per session holding the conversation's lines; namespaces are the strategy's, with
``{actorId}``, ``{sessionId}`` and ``{memoryStrategyId}`` filled in.
"""

from __future__ import annotations

import hashlib
import itertools
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from agentcore_emulator.exceptions import ResourceNotFoundException, ValidationException
from agentcore_emulator.lexical import score, words
from agentcore_emulator.pages import page

_DEFAULT_PAGE = 20
_DEFAULT_TOP_K = 10


@dataclass(frozen=True)
class Strategy:
    """One of a memory's strategies, as the control plane describes it."""

    strategy_id: str
    kind: str  # SEMANTIC, USER_PREFERENCE, SUMMARIZATION, ...
    namespaces: tuple[str, ...]


@dataclass
class Event:
    memory_id: str
    actor_id: str
    session_id: str
    event_id: str
    timestamp: float
    payload: list[dict[str, Any]]
    branch: dict[str, Any] | None
    metadata: dict[str, Any]

    def describe(self, with_payload: bool = True) -> dict[str, Any]:
        described: dict[str, Any] = {
            "memoryId": self.memory_id,
            "actorId": self.actor_id,
            "sessionId": self.session_id,
            "eventId": self.event_id,
            "eventTimestamp": self.timestamp,
            "payload": self.payload if with_payload else [],
        }
        if self.branch is not None:
            described["branch"] = self.branch
        if self.metadata:
            described["metadata"] = self.metadata
        return described


@dataclass
class MemoryRecord:
    record_id: str
    text: str
    namespaces: list[str]
    strategy_id: str | None
    created: float
    metadata: dict[str, Any] = field(default_factory=dict)

    def describe(self, score: float | None = None) -> dict[str, Any]:
        described: dict[str, Any] = {
            "memoryRecordId": self.record_id,
            "content": {"text": self.text},
            "namespaces": list(self.namespaces),
            "createdAt": self.created,
        }
        if self.strategy_id is not None:
            described["memoryStrategyId"] = self.strategy_id
        if self.metadata:
            described["metadata"] = self.metadata
        if score is not None:
            described["score"] = score
        return described


# A memory id (or ARN) to its strategies; None when the control plane has no such memory.
MemoryLookup = Callable[[str], tuple[str, list[Strategy]] | None]


class MemoryStore:
    """Every memory's events and records, kept in process."""

    def __init__(self, lookup: MemoryLookup, clock: Callable[[], float] = time.time) -> None:
        self._lookup = lookup
        self._clock = clock
        self._numbers = itertools.count(1)
        self._events: dict[str, dict[tuple[str, str], list[Event]]] = {}
        self._sessions: dict[str, dict[tuple[str, str], float]] = {}
        self._records: dict[str, dict[str, MemoryRecord]] = {}

    def reset(self) -> None:
        self._events.clear()
        self._sessions.clear()
        self._records.clear()

    def _memory(self, memory_id: str) -> tuple[str, list[Strategy]]:
        found = self._lookup(memory_id)
        if found is None:
            raise ResourceNotFoundException(f"Memory not found: {memory_id}")
        return found

    # -- events ---------------------------------------------------------------------------

    def create_event(self, memory_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        memory_id, strategies = self._memory(memory_id)
        actor = _bounded(body, "actorId", 255)
        session = _bounded(body, "sessionId", 100)
        payload = body.get("payload")
        if not isinstance(payload, list) or not 1 <= len(payload) <= 100:
            raise ValidationException.for_field("payload", "Member must have length 1 to 100")
        timestamp = body.get("eventTimestamp")
        if not isinstance(timestamp, int | float):
            raise ValidationException.for_field("eventTimestamp", "Member must not be null")
        branch = body.get("branch")
        events = self._events.setdefault(memory_id, {}).setdefault((actor, session), [])
        root = branch.get("rootEventId") if isinstance(branch, dict) else None
        if root is not None and not any(e.event_id == root for e in events):
            raise ResourceNotFoundException(f"Event not found: {root}")
        number = next(self._numbers)
        digest = hashlib.sha256(f"{memory_id}/{actor}/{session}/{number}".encode()).hexdigest()
        event = Event(
            memory_id,
            actor,
            session,
            f"{int(timestamp * 1000):013d}#{digest[:16]}",
            float(timestamp),
            list(payload),
            dict(branch) if isinstance(branch, dict) else None,
            dict(body.get("metadata") or {}),
        )
        events.append(event)
        self._sessions.setdefault(memory_id, {}).setdefault((actor, session), self._clock())
        if body.get("extractionMode") != "SKIP":
            self._extract(memory_id, strategies, event)
        return {"event": event.describe()}

    def _session_events(self, memory_id: str, actor: str, session: str) -> list[Event]:
        memory_id, _ = self._memory(memory_id)
        return self._events.get(memory_id, {}).get((actor, session), [])

    def _event(self, memory_id: str, params: Mapping[str, str]) -> Event:
        events = self._session_events(memory_id, params["actorId"], params["sessionId"])
        for event in events:
            if event.event_id == params["eventId"]:
                return event
        raise ResourceNotFoundException(f"Event not found: {params['eventId']}")

    def get_event(self, memory_id: str, params: Mapping[str, str]) -> dict[str, Any]:
        return {"event": self._event(memory_id, params).describe()}

    def delete_event(self, memory_id: str, params: Mapping[str, str]) -> dict[str, Any]:
        event = self._event(memory_id, params)
        self._session_events(memory_id, event.actor_id, event.session_id).remove(event)
        return {"eventId": event.event_id}

    def list_events(
        self, memory_id: str, params: Mapping[str, str], body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """A session's events, newest first (as the SDK's readers expect)."""
        events = self._session_events(memory_id, params["actorId"], params["sessionId"])
        wanted = body.get("filter") or {}
        chosen = _on_branch(events, wanted.get("branch"))
        chosen = [e for e in chosen if _metadata_matches(e, wanted.get("eventMetadata") or [])]
        chosen.sort(key=lambda e: (e.timestamp, e.event_id), reverse=True)
        with_payload = body.get("includePayloads", True) is not False
        described = [e.describe(with_payload) for e in chosen]
        return _page(body, described, "events")

    def list_sessions(
        self, memory_id: str, params: Mapping[str, str], body: Mapping[str, Any]
    ) -> dict[str, Any]:
        memory_id, _ = self._memory(memory_id)
        actor = params["actorId"]
        sessions = [
            {"sessionId": session, "actorId": actor, "createdAt": created}
            for (who, session), created in self._sessions.get(memory_id, {}).items()
            if who == actor
        ]
        sessions.sort(key=lambda s: (s["createdAt"], s["sessionId"]), reverse=True)
        return _page(body, sessions, "sessionSummaries")

    def list_actors(self, memory_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        memory_id, _ = self._memory(memory_id)
        actors = sorted({actor for actor, _ in self._sessions.get(memory_id, {})})
        return page(
            body, [{"actorId": actor} for actor in actors], "actorSummaries", default=_DEFAULT_PAGE
        )

    # -- records --------------------------------------------------------------------------

    def _record_store(self, memory_id: str) -> dict[str, MemoryRecord]:
        memory_id, _ = self._memory(memory_id)
        return self._records.setdefault(memory_id, {})

    def _new_record_id(self, seed: str) -> str:
        number = next(self._numbers)
        return "mem-" + hashlib.sha256(f"{seed}/{number}".encode()).hexdigest()[:40]

    def batch_create_records(self, memory_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        store = self._record_store(memory_id)
        done, failed = [], []
        for item in _records(body):
            text = (item.get("content") or {}).get("text")
            namespaces = item.get("namespaces")
            if not isinstance(text, str) or not isinstance(namespaces, list) or not namespaces:
                failed.append(_failure(item, "a record needs content.text and namespaces"))
                continue
            record = MemoryRecord(
                self._new_record_id(memory_id),
                text,
                [str(n) for n in namespaces],
                item.get("memoryStrategyId"),
                float(item.get("timestamp") or self._clock()),
                dict(item.get("metadata") or {}),
            )
            store[record.record_id] = record
            done.append(_success(item, record.record_id))
        return {"successfulRecords": done, "failedRecords": failed}

    def batch_update_records(self, memory_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        store = self._record_store(memory_id)
        done, failed = [], []
        for item in _records(body):
            record = store.get(str(item.get("memoryRecordId")))
            if record is None:
                failed.append(
                    _failure(item, "Memory record not found", "ResourceNotFoundException")
                )
                continue
            text = (item.get("content") or {}).get("text")
            if isinstance(text, str):
                record.text = text
            if isinstance(item.get("namespaces"), list):
                record.namespaces = [str(n) for n in item["namespaces"]]
            done.append(_success(item, record.record_id))
        return {"successfulRecords": done, "failedRecords": failed}

    def batch_delete_records(self, memory_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        store = self._record_store(memory_id)
        done, failed = [], []
        for item in _records(body):
            record_id = str(item.get("memoryRecordId"))
            if store.pop(record_id, None) is None:
                failed.append(
                    _failure(item, "Memory record not found", "ResourceNotFoundException")
                )
            else:
                done.append({"memoryRecordId": record_id, "status": "SUCCEEDED"})
        return {"successfulRecords": done, "failedRecords": failed}

    def _record(self, memory_id: str, record_id: str) -> MemoryRecord:
        record = self._record_store(memory_id).get(record_id)
        if record is None:
            raise ResourceNotFoundException(f"Memory record not found: {record_id}")
        return record

    def get_record(self, memory_id: str, params: Mapping[str, str]) -> dict[str, Any]:
        return {"memoryRecord": self._record(memory_id, params["memoryRecordId"]).describe()}

    def delete_record(self, memory_id: str, params: Mapping[str, str]) -> dict[str, Any]:
        record = self._record(memory_id, params["memoryRecordId"])
        del self._record_store(memory_id)[record.record_id]
        return {"memoryRecordId": record.record_id}

    def list_records(self, memory_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        chosen = self._in_namespace(memory_id, body, body.get("memoryStrategyId"))
        chosen.sort(key=lambda r: (r.created, r.record_id), reverse=True)
        return page(
            body, [r.describe() for r in chosen], "memoryRecordSummaries", default=_DEFAULT_PAGE
        )

    def retrieve_records(self, memory_id: str, body: Mapping[str, Any]) -> dict[str, Any]:
        criteria = body.get("searchCriteria")
        if not isinstance(criteria, dict) or not isinstance(criteria.get("searchQuery"), str):
            raise ValidationException.for_field(
                "searchCriteria.searchQuery", "Member must not be null"
            )
        query = words(criteria["searchQuery"])
        scored = [
            (relevance, record)
            for record in self._in_namespace(memory_id, body, criteria.get("memoryStrategyId"))
            if (relevance := score(query, words(record.text))) > 0
        ]
        scored.sort(key=lambda pair: (-pair[0], -pair[1].created, pair[1].record_id))
        top = scored[: int(criteria.get("topK") or _DEFAULT_TOP_K)]
        described = [record.describe(round(relevance, 6)) for relevance, record in top]
        return _page(body, described, "memoryRecordSummaries")

    def _in_namespace(
        self, memory_id: str, body: Mapping[str, Any], strategy: object
    ) -> list[MemoryRecord]:
        prefix = body.get("namespace") or body.get("namespacePath") or ""
        if not isinstance(prefix, str):
            raise ValidationException.for_field("namespace", "Member must be a string")
        return [
            record
            for record in self._record_store(memory_id).values()
            if any(namespace.startswith(prefix) for namespace in record.namespaces)
            and (strategy is None or record.strategy_id == strategy)
        ]

    # -- extraction -----------------------------------------------------------------------

    def _extract(self, memory_id: str, strategies: Iterable[Strategy], event: Event) -> None:
        lines = [
            (str(item["conversational"].get("role")), text)
            for item in event.payload
            if isinstance(item, dict) and isinstance(item.get("conversational"), dict)
            if isinstance(text := (item["conversational"].get("content") or {}).get("text"), str)
        ]
        if not lines:
            return
        store = self._records.setdefault(memory_id, {})
        for strategy in strategies:
            namespaces = [
                _fill(n, event, strategy)
                for n in strategy.namespaces or ("/strategies/{memoryStrategyId}/actors/{actorId}",)
            ]
            if strategy.kind == "SUMMARIZATION":
                self._summarise(store, strategy, namespaces, event, lines)
                continue
            for role, text in lines:
                if role == "USER":
                    record = MemoryRecord(
                        self._new_record_id(memory_id),
                        text,
                        namespaces,
                        strategy.strategy_id,
                        event.timestamp,
                    )
                    store[record.record_id] = record

    def _summarise(
        self,
        store: dict[str, MemoryRecord],
        strategy: Strategy,
        namespaces: list[str],
        event: Event,
        lines: list[tuple[str, str]],
    ) -> None:
        added = "\n".join(f"{role}: {text}" for role, text in lines)
        for record in store.values():
            if record.strategy_id == strategy.strategy_id and record.namespaces == namespaces:
                record.text = f"{record.text}\n{added}"
                return
        record = MemoryRecord(
            self._new_record_id(event.memory_id),
            added,
            namespaces,
            strategy.strategy_id,
            event.timestamp,
        )
        store[record.record_id] = record


def _fill(namespace: str, event: Event, strategy: Strategy) -> str:
    return (
        namespace.replace("{actorId}", event.actor_id)
        .replace("{sessionId}", event.session_id)
        .replace("{memoryStrategyId}", strategy.strategy_id)
    )


def _on_branch(events: list[Event], branch: object) -> list[Event]:
    """The events of a branch (the main one: those with no branch), with the main events up
    to its root when ``includeParentBranches``."""
    if not isinstance(branch, dict) or branch.get("name") in (None, "main"):
        return [e for e in events if e.branch is None or e.branch.get("name") == "main"]
    name = branch["name"]
    on_it = [e for e in events if e.branch is not None and e.branch.get("name") == name]
    if not branch.get("includeParentBranches") or not on_it:
        return on_it
    root = (on_it[0].branch or {}).get("rootEventId")
    parents = []
    for event in events:
        if event.branch is None:
            parents.append(event)
        if event.event_id == root:
            break
    return parents + on_it


def _metadata_matches(event: Event, filters: list[Any]) -> bool:
    for wanted in filters:
        key = ((wanted or {}).get("left") or {}).get("metadataKey")
        operator = (wanted or {}).get("operator")
        present = key in event.metadata
        if operator == "EXISTS" and not present:
            return False
        if operator == "NOT_EXISTS" and present:
            return False
        if operator == "EQUALS_TO":
            right = ((wanted.get("right") or {}).get("metadataValue") or {}).get("stringValue")
            if (event.metadata.get(str(key)) or {}).get("stringValue") != right:
                return False
    return True


def _page(body: Mapping[str, Any], items: list[dict[str, Any]], key: str) -> dict[str, Any]:
    return page(body, items, key, default=_DEFAULT_PAGE)


def _bounded(body: Mapping[str, Any], key: str, most: int) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not 1 <= len(value) <= most:
        raise ValidationException.for_field(key, f"Member must have length between 1 and {most}")
    return value


def _records(body: Mapping[str, Any]) -> list[dict[str, Any]]:
    records = body.get("records")
    if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
        raise ValidationException.for_field("records", "Member must be a list of records")
    return records


def _success(item: Mapping[str, Any], record_id: str) -> dict[str, Any]:
    done = {"memoryRecordId": record_id, "status": "SUCCEEDED"}
    if item.get("requestIdentifier") is not None:
        done["requestIdentifier"] = item["requestIdentifier"]
    return done


def _failure(
    item: Mapping[str, Any], message: str, code: str = "ValidationException"
) -> dict[str, Any]:
    failed = {
        "memoryRecordId": str(item.get("memoryRecordId") or ""),
        "status": "FAILED",
        "errorCode": 404 if code == "ResourceNotFoundException" else 400,
        "errorMessage": message,
    }
    if item.get("requestIdentifier") is not None:
        failed["requestIdentifier"] = item["requestIdentifier"]
    return failed
