"""Runtime sessions: each session id owns one instance until idle, too old, or stopped."""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from agentcore_emulator.config import RuntimeSpec
from agentcore_emulator.exceptions import (
    RetryableConflictException,
    RuntimeClientError,
    ServiceQuotaExceededException,
)
from agentcore_emulator.instance_http import InstanceClient
from agentcore_emulator.instance_logs import InstanceLogs
from agentcore_emulator.instances import RuntimeInstance
from agentcore_emulator.networks import Networks
from agentcore_emulator.traces import current_trace
from agentcore_wire.jsonrpc_errors import CONTAINER_ERROR_CODE, error_body

logger = logging.getLogger(__name__)


# How long a call waits to see whether a suspect instance is ending: its guard exits right
# after the command, but a loaded machine can take a while to reap it.
INSTANCE_EXIT_WAIT = 5.0
_T = TypeVar("_T")
HEALTHY, BUSY = "Healthy", "HealthyBusy"  # what /ping may answer
PING_INTERVAL = 2.0  # seconds between /ping polls, as AgentCore polls


class InstanceExited(Exception):
    """The instance refused the connection because its process has just ended."""


def container_error(spec: RuntimeSpec, error: RuntimeClientError) -> dict[str, Any] | None:
    """A container's failure as this runtime reports it: None for AgentCore's 424, or the
    JSON-RPC error it sends in band (HTTP 200) when its ``container_errors`` is "jsonrpc"."""
    if spec.container_errors != "jsonrpc":
        return None
    return error_body(None, CONTAINER_ERROR_CODE, error.message)


class SessionClock:
    """Monotonic time that tests may move forward, to expire sessions without waiting."""

    def __init__(self, now: Callable[[], float] = time.monotonic) -> None:
        self._now = now
        self.offset = 0.0

    def __call__(self) -> float:
        return self._now() + self.offset

    def advance(self, seconds: float) -> None:
        self.offset += seconds

    def reset(self) -> None:
        """Back to real time."""
        self.offset = 0.0


@dataclass(eq=False)
class RuntimeSession:
    """A runtime session id and the instance that serves it."""

    spec: RuntimeSpec
    session_id: str
    instance: RuntimeInstance
    created_at: float
    last_used: float
    mcp_session_id: str | None = None
    stateful: bool = False
    active_calls: int = 0
    # An answer broke off at the transport: the instance may be dying (its guard exits a
    # moment after the command), so the next call first waits to see.
    broken: bool = False
    # What the instance's /ping last said (HTTP and AG-UI runtimes): its status, and when
    # (on this session's clock) that status last changed.
    ping_status: str | None = None
    ping_changed: float | None = None
    ever_pinged: bool = False  # /ping has answered a status at least once
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def expired(self, now: float) -> str | None:
        """Why this session must end now, if it must.

        Idle is counted, as AgentCore counts it, from the later of the last call's end and
        the last change of the /ping status; ``HealthyBusy`` (background work) is never idle.
        """
        if now - self.created_at >= self.spec.max_lifetime:
            return "max lifetime"
        if self.active_calls or self.ping_status == BUSY:
            return None
        since = (
            self.last_used if self.ping_changed is None else max(self.last_used, self.ping_changed)
        )
        if now - since >= self.spec.idle_timeout:
            return "idle timeout"
        return None

    def observe_ping(self, answer: object, now: float, wall: float) -> None:
        """Take a /ping answer: ``{"status": ..., "time_of_last_update": <epoch s>}``.

        ``now`` is this session's clock and ``wall`` the epoch time, so an epoch
        ``time_of_last_update`` lands on the session's clock. An answer without one
        counts its status as changed when the status does. No answer (a /ping that hangs
        or fails, a process gone) is never busy: a session that last said HealthyBusy
        idles from its last status change, as one that says nothing does.
        """
        if not isinstance(answer, dict) or answer.get("status") not in (HEALTHY, BUSY):
            if self.ping_status == BUSY:
                self.ping_status = None
            return
        status = answer["status"]
        self.ever_pinged = True
        stamp = answer.get("time_of_last_update")
        if isinstance(stamp, int | float) and not isinstance(stamp, bool):
            changed: float | None = now - max(0.0, wall - float(stamp))
        elif status != self.ping_status:
            changed = now
        else:
            changed = self.ping_changed
        self.ping_status, self.ping_changed = status, changed

    def call_started(self) -> None:
        self.active_calls += 1

    def call_ended(self, now: float) -> None:
        """One call is over (answered, failed or cut): the idle timeout counts from now."""
        self.active_calls -= 1
        self.last_used = now

    def mcp_session_for_instance(self, caller: str | None) -> str | None:
        """The ``Mcp-Session-Id`` the instance gets, given the caller's."""
        if self.stateful:
            return caller  # the server keeps sessions: the caller speaks for itself
        return self.mcp_session_id or caller

    def mcp_session_for_caller(self, caller: str | None, server: str | None) -> str | None:
        """Learn from the instance's answer; the ``Mcp-Session-Id`` the caller gets back.

        A server that answers with its own id keeps sessions, and its ids rule. For a
        stateless one, AgentCore mints an id on the first answer and keeps it (or keeps the
        caller's), so a client can always send one back.
        """
        if server:
            self.stateful = True
            self.mcp_session_id = server
            return server
        if self.mcp_session_id is None:
            self.mcp_session_id = caller or uuid.uuid4().hex
        return caller if self.stateful else self.mcp_session_id


class SessionRegistry:
    """All live runtime sessions, keyed by (runtime, session id)."""

    def __init__(
        self,
        instance_env: Callable[[RuntimeSpec, str], Mapping[str, str]],
        max_sessions: int,
        client: InstanceClient,
        clock: SessionClock | None = None,
        logs: InstanceLogs | None = None,
        networks: Networks | None = None,
    ) -> None:
        self._instance_env = instance_env
        self._client = client
        self._networks = networks or Networks("shared", "http://127.0.0.1")
        self._logs = logs
        self._max_sessions = max_sessions
        self.clock = clock or SessionClock()
        self._sessions: dict[tuple[str, str], RuntimeSession] = {}
        self._starting: dict[tuple[str, str], asyncio.Task[RuntimeSession]] = {}
        self._stopping: set[tuple[str, str]] = set()
        self.started = 0
        # Told of each session's start and end (the dashboard's observer); set once, by
        # the emulator's state, before serving.
        self.on_started: Callable[[RuntimeSession], None] = lambda _: None
        self.on_ended: Callable[[RuntimeSession, str], None] = lambda _s, _r: None

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self) -> Iterator[RuntimeSession]:
        return iter(list(self._sessions.values()))

    def starting(self) -> list[tuple[str, str]]:
        """The (runtime, session id) of each instance still starting."""
        return list(self._starting)

    def by_mcp_session(self, spec: RuntimeSpec, mcp_session_id: str) -> RuntimeSession | None:
        for session in self._sessions.values():
            if session.spec.name == spec.name and session.mcp_session_id == mcp_session_id:
                return session
        return None

    @staticmethod
    def new_session_id() -> str:
        return str(uuid.uuid4())

    def session_id_for_call(
        self, spec: RuntimeSpec, runtime_session_id: str | None, mcp_session_id: str | None
    ) -> str:
        """The runtime session a call goes to: the one it names; else the one whose MCP
        session it carries (a client that keeps only ``Mcp-Session-Id``); else a new one."""
        if runtime_session_id is not None:
            return runtime_session_id
        if mcp_session_id:
            known = self.by_mcp_session(spec, mcp_session_id)
            if known is not None:
                return known.session_id
        return self.new_session_id()

    async def call(
        self,
        spec: RuntimeSpec,
        session_id: str,
        attempt: Callable[[RuntimeSession], Awaitable[_T]],
    ) -> _T:
        """``attempt`` on the session's instance, started if need be.

        An instance found dead as the call reached it (``InstanceExited``: nothing reached
        it) is replaced once and the call goes to the new one; a second is the container's
        failure, AgentCore's 424.
        """
        for replaced in (False, True):
            session = await self.acquire(spec, session_id)
            try:
                return await attempt(session)
            except InstanceExited:
                if replaced:
                    raise RuntimeClientError.from_container(502) from None
                logger.warning("instance of session %s had exited; replacing it", session_id)
        raise AssertionError("unreachable")  # pragma: no cover

    async def acquire(self, spec: RuntimeSpec, session_id: str) -> RuntimeSession:
        """The live session for this id, starting a fresh instance if there is none.

        A session being stopped cannot take a call: 409 RetryableConflictException, which
        clients retry (chosen: the conflict AgentCore's model names as retryable).
        """
        key = (spec.name, session_id)
        if key in self._stopping:
            raise RetryableConflictException(
                f"Runtime session {session_id} is being stopped; retry the request"
            )
        session = self._sessions.get(key)
        if session is not None and session.broken:
            session.broken = False
            await session.instance.exited(INSTANCE_EXIT_WAIT)
        if session is not None and not session.instance.alive:
            logger.warning("instance of session %s had exited; replacing it", session_id)
            await self._end(key, "crashed")
            session = None
        if session is not None:
            return session
        task = self._starting.get(key)
        if task is None:
            if len(self._sessions) + len(self._starting) >= self._max_sessions:
                raise ServiceQuotaExceededException(
                    f"The number of active runtime sessions has reached its limit "
                    f"({self._max_sessions})."
                )
            task = asyncio.ensure_future(self._start(spec, session_id))
            self._starting[key] = task
            task.add_done_callback(lambda _: self._starting.pop(key, None))
        return await asyncio.shield(task)

    async def _start(self, spec: RuntimeSpec, session_id: str) -> RuntimeSession:
        trace = current_trace.get()  # the invocation this start is for, if any
        if trace is None:
            return await self._start_instance(spec, session_id)
        with trace.step("start session", **{"session.id": session_id}):
            return await self._start_instance(spec, session_id)

    async def _start_instance(self, spec: RuntimeSpec, session_id: str) -> RuntimeSession:
        env = self._instance_env(spec, session_id)
        logs = (self._logs, session_id) if self._logs is not None else None
        network = await self._networks.place(spec)
        instance = await RuntimeInstance.start(spec, env, self._client, network, logs)
        now = self.clock()
        session = RuntimeSession(spec, session_id, instance, created_at=now, last_used=now)
        self._sessions[(spec.name, session_id)] = session
        self.started += 1
        self.on_started(session)
        return session

    async def stop(self, spec: RuntimeSpec, session_id: str) -> bool:
        """End a session now; False if there was none.

        Calls for it while it stops are refused (409), so none races the stop it asked
        for; after an idle or lifetime expiry, a call simply starts a fresh instance.
        """
        return await self._end((spec.name, session_id), "stopped", refuse_calls=True)

    async def _end(self, key: tuple[str, str], reason: str, refuse_calls: bool = False) -> bool:
        session = self._sessions.pop(key, None)
        if session is None:
            return False
        logger.info("ending session %s of %s: %s", key[1], key[0], reason)
        self.on_ended(session, reason)
        if refuse_calls:
            self._stopping.add(key)
        try:
            await session.instance.stop()
        finally:
            self._stopping.discard(key)
        return True

    async def reap(self) -> int:
        """End every session past its idle timeout or lifetime, or whose instance has
        exited (its slot, network and relay freed at once, not at the next call); return
        how many."""
        now = self.clock()
        due = [
            (key, why)
            for key, s in self._sessions.items()
            if (why := "instance exited" if not s.instance.alive else s.expired(now))
        ]
        for key, why in due:
            await self._end(key, why)
        return len(due)

    async def ping(self) -> None:
        """Ask each HTTP and AG-UI instance's /ping for its status, all at once."""
        polled = [s for s in self._sessions.values() if s.spec.protocol in ("HTTP", "AGUI")]
        answers = await asyncio.gather(*(s.instance.ping() for s in polled), return_exceptions=True)
        now, wall = self.clock(), time.time()
        for session, answer in zip(polled, answers, strict=True):
            session.observe_ping(answer, now, wall)

    async def run_pinger(self, interval: float = PING_INTERVAL) -> None:
        await _every(interval, self.ping, "/ping poll")

    async def run_reaper(self, interval: float) -> None:
        await _every(interval, self.reap, "session reaper")

    async def stop_all(self) -> None:
        """End every session, and every instance still starting (awaited: none is left)."""
        starting = list(self._starting.values())
        for task in starting:
            task.cancel()
        await asyncio.gather(*starting, return_exceptions=True)
        await asyncio.gather(
            *(self._end(key, "shutdown") for key in list(self._sessions)), return_exceptions=True
        )


async def _every(interval: float, work: Callable[[], Awaitable[object]], what: str) -> None:
    """Run ``work`` every ``interval`` seconds until cancelled; a failure is logged, not fatal."""
    while True:
        await asyncio.sleep(interval)
        try:
            await work()
        except Exception:
            logger.exception("%s failed", what)
