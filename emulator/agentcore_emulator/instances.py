"""Instances of a runtime: one server process per session, like AgentCore's microVMs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import sys
import time
from collections.abc import Mapping
from typing import Any

from agentcore_emulator import guard, listeners
from agentcore_emulator.config import RuntimeSpec
from agentcore_emulator.exceptions import RuntimeClientError
from agentcore_emulator.instance_http import InstanceClient, InstanceHttpError, InstanceResponse
from agentcore_emulator.instance_logs import MAX_LINE, InstanceLogs
from agentcore_emulator.networks import InstanceNetwork

logger = logging.getLogger(__name__)

AGENT_CARD_PATH = "/.well-known/agent-card.json"
PROBE_TIMEOUT = 1.0  # seconds for a readiness probe or an agent card
INIT_TIMEOUT_MESSAGE = (
    "Runtime initialization time exceeded. Please make sure that initialization completes in {}s."
)
CHECK_LOGS = "Please check your CloudWatch logs for more information."
# A wrong listener must last this long before the start is ended: a server may open
# another socket first (a metrics port, say) and its own a moment later.
MISTAKE_GRACE = 2.0  # seconds
LISTENER_SCAN_INTERVAL = 0.25  # seconds
# What a 404 at the protocol's probe means, by protocol.
NOT_FOUND_HINTS = {
    "MCP": 'an HTTP agent? declare it protocol = "HTTP"',
    "HTTP": 'an MCP server? declare it protocol = "MCP"',
    "AGUI": 'an MCP server? declare it protocol = "MCP"',
    "A2A": "an A2A server serves its agent card there",
}


def _check_startable(spec: RuntimeSpec) -> None:
    """A command that cannot start is the container's failure: 424, naming the cause."""
    program = spec.command[0]
    if not spec.cwd.is_dir():
        problem = f"its working directory {str(spec.cwd)!r} does not exist"
    elif os.sep in program:
        path = spec.cwd / program  # exec resolves it after changing directory
        startable = path.is_file() and os.access(path, os.X_OK)
        problem = "" if startable else f"{program!r} is not an executable file"
    else:
        found = shutil.which(program) is not None
        problem = "" if found else f"command {program!r} was not found on PATH"
    if problem:
        raise RuntimeClientError(f"Runtime failed to start: {problem}. {CHECK_LOGS}")


class RuntimeInstance:
    """One running server process of a runtime, in its own network (``networks``)."""

    def __init__(
        self,
        spec: RuntimeSpec,
        network: InstanceNetwork,
        process: asyncio.subprocess.Process,
        environment: Mapping[str, str],
        client: InstanceClient,
    ) -> None:
        self.spec = spec
        self.network = network
        self.target = (network.address, network.port)
        self.process = process
        self.client = client
        self.environment = environment  # what its process was given: shell commands get it too
        self._pumps: list[asyncio.Task[None]] = []  # its output's readers, ended with it

    @property
    def port(self) -> int:
        return self.network.port

    @property
    def base_url(self) -> str:
        return self.network.url

    @property
    def alive(self) -> bool:
        return self.process.returncode is None

    async def exited(self, within: float) -> bool:
        """Whether the process ends within ``within`` seconds (or has already)."""
        try:
            await asyncio.wait_for(asyncio.shield(self.process.wait()), within)
        except TimeoutError:
            return False
        return True

    @classmethod
    async def start(
        cls,
        spec: RuntimeSpec,
        env: Mapping[str, str],
        client: InstanceClient,
        network: InstanceNetwork,
        logs: tuple[InstanceLogs, str] | None = None,
    ) -> RuntimeInstance:
        """Start a process in ``network`` and wait until it serves; 424 if it does not in
        time, or at once if it listens where AgentCore would not reach it. The instance
        owns ``network`` from here: it goes when the instance stops (or fails to start).

        With ``logs`` (where to keep output, and the session id), its output is kept
        line by line (``instance_logs``); without, it goes to the emulator's stderr as is.
        """
        process_env = {**os.environ, **env, **network.env}
        if network.isolated:
            # As the starter toolkit's images set it: the bedrock-agentcore SDK then binds
            # 0.0.0.0, as in a container (a runtime's env may set it to "" to opt out).
            process_env["DOCKER_CONTAINER"] = "1"
        process_env.update(spec.env)
        try:
            _check_startable(spec)
            process = await cls._spawn(spec, process_env, network, logs is not None)
        except BaseException:
            await network.close()
            raise
        instance = cls(spec, network, process, process_env, client)
        if logs is not None:
            keeper, session_id = logs
            for output in (process.stdout, process.stderr):
                assert output is not None
                instance._pumps.append(asyncio.ensure_future(keeper.pump(spec, session_id, output)))
        try:
            await instance._wait_ready()
        except BaseException:
            await instance.stop()
            raise
        logger.info("started %s instance pid=%d at %s:%d", spec.name, process.pid, *instance.target)
        return instance

    @staticmethod
    async def _spawn(
        spec: RuntimeSpec, env: Mapping[str, str], network: InstanceNetwork, piped: bool
    ) -> asyncio.subprocess.Process:
        # Through the guard, in a session of its own: stopping the instance ends every
        # process it started, and so does the emulator's death. Its output goes to the
        # emulator's stderr (or to ``instance_logs`` through pipes), never its stdout.
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agentcore_emulator.guard",
            "--",
            *spec.command,
            cwd=spec.cwd,
            env=env,
            stdout=asyncio.subprocess.PIPE if piped else sys.stderr,
            stderr=asyncio.subprocess.PIPE if piped else sys.stderr,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=network.enter if network.isolated else None,
            limit=MAX_LINE,
        )

    async def _wait_ready(self) -> None:
        now = time.monotonic()
        deadline = now + self.spec.start_timeout
        if self.spec.faults.fail_start:
            # The injected fault: never ready. Answered at once, as the timeout would be.
            raise RuntimeClientError(INIT_TIMEOUT_MESSAGE.format(int(self.spec.start_timeout)))
        next_scan, wrong_since = now, None
        while (now := time.monotonic()) < deadline:
            if not self.alive:
                raise RuntimeClientError(
                    f"Runtime process exited with code {self.process.returncode} during "
                    f"initialization. {CHECK_LOGS}"
                )
            if await self._ready():
                return
            if now >= next_scan:
                next_scan = now + LISTENER_SCAN_INTERVAL
                found = self.listening_mistake()
                if found is None:
                    wrong_since = None
                elif wrong_since is None:
                    wrong_since = now
                elif now - wrong_since >= MISTAKE_GRACE:
                    self._fail_start(found)
            await asyncio.sleep(0.05)
        raise RuntimeClientError(INIT_TIMEOUT_MESSAGE.format(int(self.spec.start_timeout)))

    def listening_mistake(self) -> str | None:
        """Where the instance listens, if AgentCore would not reach it there (Linux only)."""
        if not sys.platform.startswith("linux"):
            return None
        if self.network.isolated:
            found = listeners.in_namespace_of(self.process.pid, self.network.own_sockets)
        else:
            found = listeners.of_session(self.process.pid)  # the guard leads its session
        spec = self.spec
        return listeners.mistake(found, self.port, spec.protocol, spec.path, self.network.isolated)

    def _fail_start(self, problem: str) -> None:
        spec, pid = self.spec, self.process.pid
        logger.warning("%s instance pid=%d did not start: %s", spec.name, pid, problem)
        raise RuntimeClientError(f"Runtime initialization failed: {problem}. {CHECK_LOGS}")

    async def request(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes = b""
    ) -> InstanceResponse:
        """Send a request to the instance; its answer once the headers are in."""
        return await self.client.request(method, self.target, path, headers, body)

    async def _get(self, path: str, read: bool = True) -> tuple[int, bytes]:
        async with asyncio.timeout(PROBE_TIMEOUT):
            response = await self.request("GET", path, {"Accept": "application/json"})
            try:
                return response.status, await response.read() if read else b""
            finally:
                response.release()

    async def _ready(self) -> bool:
        """Whether the instance serves; a 424 if it answers 404 where its protocol serves.

        HTTP and AG-UI containers answer /ping; an A2A one serves its agent card; an MCP
        one answers a GET of its path with anything but 404 (a 405 or 406 mostly: the GET
        asks for JSON, so no server opens a stream for it).
        """
        probe = {"HTTP": "/ping", "AGUI": "/ping", "A2A": AGENT_CARD_PATH}.get(self.spec.protocol)
        try:
            status, _ = await self._get(probe or self.spec.path, read=False)
        except (InstanceHttpError, TimeoutError):
            return False
        if status == 404:
            self._fail_start(
                f"the server answers 404 to GET {probe or self.spec.path} on port {self.port} "
                f"({NOT_FOUND_HINTS[self.spec.protocol]})"
            )
        return status == 200 if probe is not None else True

    async def ping(self) -> object:
        """What the instance's /ping answers (parsed JSON), or None if it answers no JSON."""
        try:
            status, body = await self._get("/ping")
            return json.loads(body) if status == 200 else None
        except (InstanceHttpError, TimeoutError, ValueError):
            return None

    async def agent_card(self) -> dict[str, Any]:
        """The agent card an A2A instance serves; 424 if it serves none."""
        try:
            status, body = await self._get(AGENT_CARD_PATH)
            if status == 200:
                card = json.loads(body)
                if isinstance(card, dict):
                    return card
        except (InstanceHttpError, TimeoutError, ValueError):
            status = 502
        raise RuntimeClientError.from_container(status)

    async def stop(self, grace: float = guard.GRACE) -> None:
        """Stop the instance's whole process group: TERM, then KILL if it lingers."""
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()  # the guard TERMs the group, then KILLs it
            try:
                await asyncio.wait_for(self.process.wait(), grace + 1.0)
            except TimeoutError:
                # The guard itself hangs: end its group from here.
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(self.process.pid, signal.SIGKILL)
        await self.process.wait()
        # A guard that died (killed, crashed) left its group behind: end what is left of it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        await self.network.close()
        # Its group is gone, so its output ends: what is left is read, then the readers go.
        if self._pumps:
            _, late = await asyncio.wait(self._pumps, timeout=1.0)
            for pump in late:
                pump.cancel()
        logger.info("stopped %s instance pid=%d", self.spec.name, self.process.pid)
