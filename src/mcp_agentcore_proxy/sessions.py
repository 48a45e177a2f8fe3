"""Runtime session ids (the microVM each call reaches), chosen per mode, and ending them."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import queue
import threading
import time
import uuid
from collections.abc import Callable

from mcp_agentcore_proxy.config import ProxyConfig, SessionMode
from mcp_agentcore_proxy.identity import CallerIdentity
from mcp_agentcore_proxy.threads import start_daemon

logger = logging.getLogger(__name__)


class RuntimeSessionIds:
    """Chooses the runtime session id for each call, per ``SessionMode``."""

    def __init__(self, config: ProxyConfig, identity: Callable[[], CallerIdentity]) -> None:
        self._config = config
        self._identity = identity
        self._lock = threading.Lock()
        self._fixed: str | None = None

    def for_client(self) -> RuntimeSessionIds:
        """Ids for one more client of this proxy: a session of its own in session mode."""
        return RuntimeSessionIds(self._config, self._identity)

    @property
    def per_request(self) -> bool:
        return self._config.session_mode is SessionMode.REQUEST

    def current(self) -> str:
        """The id for the next call; every id is at least 33 characters.

        In identity mode the first call looks the caller up (STS, short timeouts).
        """
        mode = self._config.session_mode
        if mode is SessionMode.REQUEST:
            return f"mcp-request-{uuid.uuid4().hex}"
        with self._lock:
            if self._fixed is None:
                if mode is SessionMode.SESSION:
                    self._fixed = f"mcp-session-{uuid.uuid4().hex}"
                else:
                    who = self._identity()
                    digest = hashlib.sha256(f"{who.arn}|{self._config.target}".encode()).hexdigest()
                    self._fixed = f"mcp-identity-{digest}"
            return self._fixed

    def fixed(self) -> str | None:
        """The one id of session mode, if a call used it."""
        with self._lock:
            return self._fixed if self._config.session_mode is SessionMode.SESSION else None


class SessionStops:
    """Calls StopRuntimeSession in the background, so no caller waits on the network.

    In request mode each session is stopped as soon as its message is done: AgentCore
    keeps (and bills) an idle session for its idle timeout, and stopping them one by
    one at exit would make exit time grow with the history.
    """

    def __init__(
        self, stop: Callable[[str], None], workers: int = 4, max_pending: int = 1024
    ) -> None:
        self._stop = stop
        # Bounded: past it a stop is left to AgentCore's idle timeout, never waited for.
        self._queue: queue.Queue[str | None] = queue.Queue(max_pending)
        self._idle = threading.Condition()
        self._pending = 0
        self._workers = workers
        self._started = False
        self._closed = False

    def stop(self, session_id: str) -> None:
        with self._idle:
            if self._closed:
                return
            if not self._started:
                self._started = True
                for _ in range(self._workers):
                    start_daemon(self._work, name="session-stop")
            try:
                self._queue.put_nowait(session_id)
            except queue.Full:
                logger.warning(
                    "%d runtime session stops pending; session %s is left to AgentCore's "
                    "idle timeout",
                    self._queue.maxsize,
                    session_id,
                )
                return
            self._pending += 1

    def close(self) -> None:
        """Take no more stops; the workers end once those asked for are done."""
        with self._idle:
            self._closed = True
            started = self._started
        if started:
            for _ in range(self._workers):
                # Behind every stop asked for; with the queue full, the workers are stuck on
                # the network and end with the process (daemons): never wait for them here.
                with contextlib.suppress(queue.Full):
                    self._queue.put_nowait(None)

    def _work(self) -> None:
        while True:
            session_id = self._queue.get()
            if session_id is None:
                return
            try:
                self._stop(session_id)
            finally:
                with self._idle:
                    self._pending -= 1
                    self._idle.notify_all()

    def wait(self, deadline: float) -> bool:
        """Wait until every stop asked for is done, or ``deadline`` (monotonic) passes."""
        with self._idle:
            done = self._idle.wait_for(
                lambda: self._pending == 0, max(0.0, deadline - time.monotonic())
            )
            if not done:
                logger.warning(
                    "%d runtime session(s) not stopped in time; AgentCore ends them when idle",
                    self._pending,
                )
            return done
