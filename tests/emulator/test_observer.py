"""The session observer's states, countdowns and warnings, proven in process on a clock the
test moves, with sessions that are plain records (no instance runs)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from agentcore_emulator.activity import Activity
from agentcore_emulator.compute import ComputeMeter, group_usages
from agentcore_emulator.config import EmulatorConfig, RuntimeSpec
from agentcore_emulator.observer import SessionObserver
from agentcore_emulator.sessions import BUSY, HEALTHY, RuntimeSession
from tests.harness import wait_until


class _Process:
    pid = 2**22 + 1  # no such group: the meter reads nothing, and counts nothing


class _Instance:
    process = _Process()


class _Registry:
    """What the observer reads of a SessionRegistry."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.live: list[RuntimeSession] = []
        self.on_started: Any = None
        self.on_ended: Any = None

    def clock(self) -> float:
        return self.now

    def __iter__(self) -> Any:
        return iter(list(self.live))

    def starting(self) -> list[tuple[str, str]]:
        return []

    def start(self, spec: RuntimeSpec, session_id: str) -> RuntimeSession:
        session = RuntimeSession(spec, session_id, _Instance(), self.now, self.now)  # type: ignore[arg-type]
        self.live.append(session)
        self.on_started(session)
        return session

    def end(self, session: RuntimeSession, reason: str) -> None:
        self.live.remove(session)
        self.on_ended(session, reason)


def _setup(protocol: str = "HTTP", **config: Any) -> tuple[_Registry, SessionObserver, RuntimeSpec]:
    spec = RuntimeSpec(
        "agent",
        "arn:aws:bedrock-agentcore:us-east-1:1:runtime/agent-x",
        "agent-x",
        ("python",),
        Path("."),
        protocol=protocol,
    )
    registry = _Registry()
    settings = replace(EmulatorConfig(runtimes=(spec,)), **config)
    observer = SessionObserver(registry, Activity(), settings, wall=lambda: 5000.0)  # type: ignore[arg-type]
    return registry, observer, spec


def _tick(observer: SessionObserver) -> None:
    asyncio.run(observer.tick())


def _view(observer: SessionObserver, session_id: str) -> dict[str, Any]:
    return next(v for v in observer.views() if v["sessionId"] == session_id)


def test_states_and_countdowns_follow_the_session() -> None:
    registry, observer, spec = _setup()
    session = registry.start(spec, "s1")
    view = _view(observer, "s1")
    assert view["state"] == "Idle"
    assert view["idleEndsAt"] == 5000.0 + spec.idle_timeout  # the wall clock, now + 15 min
    assert view["lifetimeEndsAt"] == 5000.0 + spec.max_lifetime
    session.call_started()
    assert _view(observer, "s1")["state"] == "Active"
    assert _view(observer, "s1")["idleEndsAt"] is None  # the idle timeout does not run
    registry.now += 60
    session.call_ended(registry.now)
    session.observe_ping({"status": BUSY}, registry.now, 0)
    assert _view(observer, "s1")["state"] == "HealthyBusy"
    registry.end(session, "idle timeout")
    ended = _view(observer, "s1")
    assert ended["state"] == "stopped" and ended["endedReason"] == "idle timeout"


def test_a_session_kept_alive_by_ping_is_warned_about_once() -> None:
    registry, observer, spec = _setup(warn_kept_alive_after=900.0)
    session = registry.start(spec, "s1")
    session.observe_ping({"status": BUSY}, registry.now, 0)
    registry.now += 899
    _tick(observer)
    assert observer.warnings == {}  # not yet
    registry.now += 2
    _tick(observer)
    _tick(observer)
    [warning] = observer.warnings.values()
    assert warning["session"] == "s1" and "keeps it alive (HealthyBusy)" in warning["message"]


def test_a_session_that_only_idles_is_never_warned_about() -> None:
    registry, observer, spec = _setup(warn_kept_alive_after=900.0)
    session = registry.start(spec, "s1")
    session.observe_ping({"status": HEALTHY}, registry.now, 0)  # said once, never changed
    registry.now += 3600
    _tick(observer)
    assert observer.warnings == {}


def test_an_instance_that_never_answers_ping_is_warned_about() -> None:
    registry, observer, spec = _setup(warn_unpinged_after=30.0)
    registry.start(spec, "s1")
    registry.now += 31
    _tick(observer)
    [warning] = observer.warnings.values()
    assert "has not answered GET /ping in 31 s" in warning["message"]
    mcp_registry, mcp_observer, mcp = _setup(protocol="MCP", warn_unpinged_after=30.0)
    mcp_registry.start(mcp, "s2")
    mcp_registry.now += 3600
    _tick(mcp_observer)
    assert mcp_observer.warnings == {}  # AgentCore pings HTTP and AG-UI instances only


def test_sessions_started_per_request_are_warned_about_and_reuse_resets_the_count() -> None:
    registry, observer, spec = _setup(warn_sessions_per_request=3)

    def one_call_session(name: str, calls: int = 1) -> None:
        session = registry.start(spec, name)
        for _ in range(calls):
            observer.invoked("agent", name, "arn:aws:iam::1:user/dev")
        registry.end(session, "stopped")

    one_call_session("a")
    one_call_session("b", calls=2)  # reused: the count starts again
    one_call_session("c")
    one_call_session("d")
    assert observer.warnings == {}
    one_call_session("e")
    [warning] = observer.warnings.values()
    assert "3 sessions of agent in a row got one invocation each" in warning["message"]


# Uses 0.3 s of CPU, then waits for its stdin to close.
BURN = """
import sys, time
end = time.process_time() + 0.3
while time.process_time() < end:
    pass
sys.stdin.read()
"""


def test_compute_is_read_for_a_process_group_and_priced() -> None:
    burn = subprocess.Popen(
        [
            sys.executable,
            "-c",
            BURN,
        ],
        stdin=subprocess.PIPE,
        start_new_session=True,  # a group of its own, as an instance's guard has
    )
    try:
        meter = ComputeMeter(burn.pid, last_at=0.0)

        def burnt() -> bool:
            meter.sample(10.0, group_usages({burn.pid}).get(burn.pid))
            return meter.vcpu_seconds >= 0.3

        wait_until(burnt, "the process to use 0.3 s of CPU")
        assert meter.memory_bytes > 1_000_000  # a Python process's resident set
        # Held 10 s at no less than 128 MB, however little it used.
        assert meter.gb_seconds >= 128 / 1024 * 10
        expected = meter.vcpu_seconds / 3600 * 0.0895 + meter.gb_seconds / 3600 * 0.00945
        assert meter.cost() == pytest.approx(expected)
    finally:
        burn.stdin.close()  # type: ignore[union-attr]
        burn.wait(10)
    assert group_usages({burn.pid}) == {}  # gone: nothing more to count
