"""An AG-UI runtime: a RunAgentInput sent with boto3, the answer's SSE events validated as
AG-UI events by the ag-ui-protocol package."""

from __future__ import annotations

import json
import uuid

from ag_ui.core import Event, EventType
from pydantic import TypeAdapter

from agentcore_wire.sse import SseDecoder
from tests.harness import Emulator


def test_an_agui_run_streams_its_events_through_the_emulator(emulator: Emulator) -> None:
    run_input = {
        "threadId": "t-1",
        "runId": "r-1",
        "state": {},
        "messages": [{"id": "u-1", "role": "user", "content": "hello there"}],
        "tools": [],
        "context": [],
        "forwardedProps": {},
    }
    answer = emulator.client().invoke_agent_runtime(
        agentRuntimeArn=emulator.arns["agui_agent"],
        runtimeSessionId=f"agui-{uuid.uuid4()}",
        payload=json.dumps(run_input),
        accept="text/event-stream",
    )
    assert answer["contentType"].startswith("text/event-stream")
    decoder, adapter = SseDecoder(), TypeAdapter(Event)
    events = [
        adapter.validate_python(json.loads(data))
        for chunk in answer["response"].iter_chunks()
        for data in decoder.feed(chunk)
    ]
    kinds = [event.type for event in events]
    assert kinds[0] == EventType.RUN_STARTED and kinds[-1] == EventType.RUN_FINISHED
    text = "".join(e.delta for e in events if e.type == EventType.TEXT_MESSAGE_CONTENT)
    assert text.strip() == "echo: hello there"
