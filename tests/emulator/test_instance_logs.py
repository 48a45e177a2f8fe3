"""What the emulator keeps of instances' output: bounded in bytes as well as in lines."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.logs.models import logs_backends

from agentcore_emulator import instance_logs
from agentcore_emulator.config import RuntimeSpec
from agentcore_emulator.instance_logs import InstanceLogs, log_group

SPEC = RuntimeSpec("chatty", "arn", "chatty-0123456789", ("true",), cwd=Path.cwd())
LINE = b"x" * 65_535 + b"\n"  # one event of 64 KiB, as the pump cuts a longer line


@pytest.fixture
def backend() -> Iterator[Any]:
    moto_logs = logs_backends["123456789012"]["us-east-1"]
    moto_logs.reset()
    yield moto_logs
    moto_logs.reset()


def _held(backend: Any) -> dict[str, int]:
    """Bytes held per stream, counted as CloudWatch counts them."""
    return {
        name: sum(len(event.message.encode()) + 26 for event in stream.events)
        for group in backend.groups.values()
        for name, stream in group.streams.items()
    }


def _write(logs: InstanceLogs, session: str, mib: int) -> None:
    group, stream = log_group(SPEC), f"2026/12/07/[runtime-logs]{session}"
    logs._open(group, stream)
    for _ in range(mib * 16):
        logs.keep(group, stream, b"", LINE)


def test_a_stream_printing_200_mib_keeps_its_latest_bytes_only(backend: Any) -> None:
    logs = InstanceLogs(lambda: backend, echo=io.BytesIO(), clock=time.time)
    _write(logs, "one", 200)
    # Before: every line of the 200 MiB kept (10,000 lines of 64 KiB: 625 MiB allowed).
    (held,) = _held(backend).values()
    assert held <= instance_logs.MAX_STREAM_BYTES * 1.1
    assert held == logs.total_bytes
    # The latest lines are the ones kept.
    events = next(iter(next(iter(backend.groups.values())).streams.values())).events
    assert len(events) == held // (len(LINE) - 1 + 26)


def test_all_streams_together_keep_a_bounded_total_the_oldest_going_first(backend: Any) -> None:
    logs = InstanceLogs(lambda: backend, echo=io.BytesIO(), clock=time.time)
    for n in range(30):  # 30 sessions of 8 MiB each: 240 MiB written
        _write(logs, f"session-{n:02d}", 8)
    held = _held(backend)
    assert sum(held.values()) == logs.total_bytes <= instance_logs.MAX_TOTAL_BYTES * 1.1
    # The newest session kept all it wrote within its own bound; the oldest, nothing.
    assert held["2026/12/07/[runtime-logs]session-29"] > 7 * 1024 * 1024
    assert held["2026/12/07/[runtime-logs]session-00"] == 0


def test_clear_forgets_every_stream(backend: Any) -> None:
    logs = InstanceLogs(lambda: backend, echo=io.BytesIO(), clock=time.time)
    _write(logs, "one", 1)
    backend.create_log_group("/agent/own", tags={})  # what an agent's own code made
    logs.clear()
    assert backend.groups == {} and logs.total_bytes == 0
