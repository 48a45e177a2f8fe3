"""Runtime sessions as the dashboard shows them: their state (starting, Active, Idle,
HealthyBusy, stopped and why), the time left before their idle timeout and max lifetime,
the compute they have held, and the warnings users need (a session kept alive by /ping,
sessions started per request, an instance that never answers /ping).

``tick`` runs every ``TICK`` seconds while the emulator serves: it samples each session's
compute, looks for warnings and pushes the sessions to live pages.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agentcore_emulator.activity import Activity
from agentcore_emulator.compute import ComputeMeter, group_usages
from agentcore_emulator.config import EmulatorConfig
from agentcore_emulator.sessions import BUSY, RuntimeSession, SessionRegistry

logger = logging.getLogger(__name__)

TICK = 2.0
MAX_ENDED = 100  # stopped sessions kept for the page
MAX_WARNINGS = 100
MAX_CALLERS = 1000  # (runtime, caller) pairs followed for the per-request warning
PINGED = ("HTTP", "AGUI")  # the protocols whose instances AgentCore pings


@dataclass
class _Tracked:
    """What the observer knows of a session beyond the registry's own record."""

    meter: ComputeMeter
    invocations: int = 0
    caller: str | None = None


class SessionObserver:
    """Sessions, live and ended, with their compute and the warnings they raise."""

    def __init__(
        self,
        sessions: SessionRegistry,
        activity: Activity,
        config: EmulatorConfig,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._sessions = sessions
        self._activity = activity
        self._config = config
        self._wall = wall
        self._tracked: dict[tuple[str, str], _Tracked] = {}
        self.ended: collections.deque[dict[str, Any]] = collections.deque(maxlen=MAX_ENDED)
        self.warnings: collections.OrderedDict[str, dict[str, Any]] = collections.OrderedDict()
        # Per runtime and caller: its latest session, and how many in a row got one call.
        self._last: dict[tuple[str, str], _Tracked] = {}
        self._streak: collections.Counter[tuple[str, str]] = collections.Counter()
        sessions.on_started = self._started
        sessions.on_ended = self._ended

    # -- the registry's and the data plane's news ------------------------------------------

    def _started(self, session: RuntimeSession) -> None:
        key = (session.spec.name, session.session_id)
        meter = ComputeMeter(session.instance.process.pid, session.created_at)
        self._tracked[key] = _Tracked(meter)
        self.publish()

    def _ended(self, session: RuntimeSession, reason: str) -> None:
        key = (session.spec.name, session.session_id)
        tracked = self._tracked.pop(key, None)  # its compute as of the last tick
        view = self._view(session, tracked, self._sessions.clock())
        view.update(state="stopped", endedReason=reason, endedAt=self._wall())
        self.ended.appendleft(view)
        self.publish()

    def invoked(self, runtime: str, session_id: str, caller: str | None) -> None:
        """An invocation reached a session. A caller whose sessions each get one
        invocation, one after another, pays a cold start each time: past
        ``warn_sessions_per_request`` in a row, a warning."""
        tracked = self._tracked.get((runtime, session_id))
        if tracked is None:
            return
        tracked.invocations += 1
        tracked.caller = tracked.caller or caller
        if self._activity.watched:  # the count and the state (Active) at once
            self.publish()
        if tracked.invocations != 1:
            return
        key = (runtime, caller or "anonymous")
        previous = self._last.pop(key, None)
        single = previous is not None and previous.invocations == 1
        self._streak[key] = self._streak[key] + 1 if single else 1
        self._last[key] = tracked
        while len(self._last) > MAX_CALLERS:
            oldest = next(iter(self._last))
            del self._last[oldest]
            self._streak.pop(oldest, None)
        if self._streak[key] >= self._config.warn_sessions_per_request:
            self._warn(
                f"per-request:{runtime}:{key[1]}",
                runtime,
                session_id,
                f"{self._streak[key]} sessions of {runtime} in a row got one invocation "
                f"each from {key[1]}: each pays a cold start; send one runtimeSessionId "
                "for a conversation to reuse its session",
            )

    # -- every tick --------------------------------------------------------------------------

    async def run(self, interval: float = TICK) -> None:
        """Tick every ``interval`` seconds until cancelled; a failure is logged, not fatal."""
        while True:
            await asyncio.sleep(interval)
            try:
                await self.tick()
            except Exception:
                logger.exception("the session observer failed")

    async def tick(self) -> None:
        """Sample every session's compute (one pass over /proc, off the event loop), look
        for warnings, and push the sessions to live pages."""
        groups = {tracked.meter.group for tracked in self._tracked.values()}
        usages = await asyncio.to_thread(group_usages, groups)
        now = self._sessions.clock()
        for session in self._sessions:
            tracked = self._tracked.get((session.spec.name, session.session_id))
            if tracked is not None:
                tracked.meter.sample(now, usages.get(tracked.meter.group))
            self._check(session, now)
        self.publish()

    def _check(self, session: RuntimeSession, now: float) -> None:
        name, sid = session.spec.name, session.session_id
        quiet = now - session.last_used
        pinged_alive = session.ping_status == BUSY or (
            session.ping_changed is not None and session.ping_changed > session.last_used
        )
        if (
            not session.active_calls
            and pinged_alive
            and quiet >= self._config.warn_kept_alive_after
        ):
            self._warn(
                f"kept-alive:{name}:{sid}",
                name,
                sid,
                f"session {sid[:8]} of {name} has had no call for {quiet / 60:.0f} min but "
                f"/ping keeps it alive ({session.ping_status or 'a changing status'}): it is "
                "billed all that time; answer Healthy once background work is done",
            )
        age = now - session.created_at
        if (
            session.spec.protocol in PINGED
            and not session.ever_pinged
            and age >= self._config.warn_unpinged_after
        ):
            self._warn(
                f"unpinged:{name}:{sid}",
                name,
                sid,
                f"the instance of session {sid[:8]} of {name} has not answered GET /ping in "
                f"{age:.0f} s: AgentCore checks it; serve /ping with "
                '{"status": "Healthy"}',
            )

    def _warn(self, key: str, runtime: str, session: str | None, message: str) -> None:
        if key in self.warnings:
            return
        warning = {
            "key": key,
            "at": self._wall(),
            "runtime": runtime,
            "session": session,
            "message": message,
        }
        self.warnings[key] = warning
        while len(self.warnings) > MAX_WARNINGS:
            self.warnings.popitem(last=False)
        logger.warning("%s", message)
        self._activity.publish("warning", warning)

    # -- views -----------------------------------------------------------------------------

    def views(self) -> list[dict[str, Any]]:
        """Every session: starting, live, then the latest stopped ones."""
        now = self._sessions.clock()
        sessions = list(self._sessions)
        live = [
            self._view(s, self._tracked.get((s.spec.name, s.session_id)), now) for s in sessions
        ]
        # A start's task ends a moment after its session is live: shown once, as live.
        known = {(s.spec.name, s.session_id) for s in sessions}
        starting = [
            {"runtime": runtime, "sessionId": sid, "state": "starting"}
            for runtime, sid in self._sessions.starting()
            if (runtime, sid) not in known
        ]
        return [*starting, *live, *self.ended]

    def _view(
        self, session: RuntimeSession, tracked: _Tracked | None, now: float
    ) -> dict[str, Any]:
        wall = self._wall()

        def epoch(at: float) -> float:  # a session-clock time, as epoch seconds
            return wall - (now - at)

        state = "Idle"
        if session.active_calls:
            state = "Active"
        elif session.ping_status == BUSY:
            state = "HealthyBusy"
        idle_from = max(session.last_used, session.ping_changed or session.last_used)
        meter = tracked.meter if tracked is not None else None
        return {
            "runtime": session.spec.name,
            "sessionId": session.session_id,
            "state": state,
            "startedAt": epoch(session.created_at),
            # None while the idle timeout does not run (a call, or HealthyBusy).
            "idleEndsAt": None if state != "Idle" else epoch(idle_from + session.spec.idle_timeout),
            "lifetimeEndsAt": epoch(session.created_at + session.spec.max_lifetime),
            "idleTimeout": session.spec.idle_timeout,
            "maxLifetime": session.spec.max_lifetime,
            "ping": session.ping_status,
            "invocations": tracked.invocations if tracked is not None else None,
            "vcpuSeconds": round(meter.vcpu_seconds, 3) if meter else 0.0,
            "gbSeconds": round(meter.gb_seconds, 3) if meter else 0.0,
            "memoryBytes": meter.memory_bytes if meter else 0,
            "costUsd": round(
                meter.cost(self._config.price_vcpu_hour, self._config.price_gb_hour), 6
            )
            if meter
            else 0.0,
        }

    def publish(self) -> None:
        self._activity.publish("sessions", self.views())

    def clear(self) -> None:
        self.ended.clear()
        self.warnings.clear()
        self._last.clear()
        self._streak.clear()
