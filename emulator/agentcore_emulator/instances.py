"""Instances of a runtime: one server process per session, like AgentCore's microVMs."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import signal
import socket
import sys
import time
from collections.abc import Mapping
from typing import Any

from agentcore_emulator import guard
from agentcore_emulator.config import RuntimeSpec
from agentcore_emulator.exceptions import RuntimeClientError
from agentcore_emulator.instance_http import InstanceClient, InstanceHttpError, InstanceResponse
from agentcore_emulator.instance_logs import MAX_LINE, InstanceLogs

logger = logging.getLogger(__name__)

AGENT_CARD_PATH = "/.well-known/agent-card.json"
PROBE_TIMEOUT = 1.0  # seconds for a readiness probe or an agent card
INIT_TIMEOUT_MESSAGE = (
    "Runtime initialization time exceeded. Please make sure that initialization completes in {}s."
)


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
        raise RuntimeClientError(
            f"Runtime failed to start: {problem}. Please check your CloudWatch logs for more "
            "information."
        )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class RuntimeInstance:
    """One running server process of a runtime, listening on its own port."""

    def __init__(
        self,
        spec: RuntimeSpec,
        port: int,
        process: asyncio.subprocess.Process,
        environment: Mapping[str, str],
        client: InstanceClient,
    ) -> None:
        self.spec = spec
        self.port = port
        self.process = process
        self.client = client
        self.environment = environment  # what its process was given: shell commands get it too
        self.base_url = f"http://127.0.0.1:{port}"
        self._pumps: list[asyncio.Task[None]] = []  # its output's readers, ended with it

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
        logs: tuple[InstanceLogs, str] | None = None,
    ) -> RuntimeInstance:
        """Start a process and wait until it serves; 424 if it does not in time.

        With ``logs`` (where to keep output, and the session id), its output is kept
        line by line (``instance_logs``); without, it goes to the emulator's stderr as is.
        """
        port = free_port()
        process_env = {**os.environ, **spec.env, **env, "PORT": str(port), "HOST": "127.0.0.1"}
        _check_startable(spec)
        # Through the guard, in a session of its own: stopping the instance ends every
        # process it started, and so does the emulator's death. Its output goes to the
        # emulator's stderr, never its stdout.
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agentcore_emulator.guard",
            "--",
            *spec.command,
            cwd=spec.cwd,
            env=process_env,
            stdout=sys.stderr if logs is None else asyncio.subprocess.PIPE,
            stderr=sys.stderr if logs is None else asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
            start_new_session=True,
            limit=MAX_LINE,
        )
        instance = cls(spec, port, process, process_env, client)
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
        logger.info("started %s instance pid=%d port=%d", spec.name, process.pid, port)
        return instance

    async def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.spec.start_timeout
        if self.spec.faults.fail_start:
            # The injected fault: never ready. Answered at once, as the timeout would be.
            raise RuntimeClientError(INIT_TIMEOUT_MESSAGE.format(int(self.spec.start_timeout)))
        while time.monotonic() < deadline:
            if not self.alive:
                raise RuntimeClientError(
                    f"Runtime process exited with code {self.process.returncode} during "
                    f"initialization. Please check your CloudWatch logs for more information."
                )
            if await self._ready():
                return
            await asyncio.sleep(0.05)
        raise RuntimeClientError(INIT_TIMEOUT_MESSAGE.format(int(self.spec.start_timeout)))

    async def request(
        self, method: str, path: str, headers: Mapping[str, str], body: bytes = b""
    ) -> InstanceResponse:
        """Send a request to the instance; its answer once the headers are in."""
        return await self.client.request(method, self.port, path, headers, body)

    async def _get(self, path: str) -> tuple[int, bytes]:
        async with asyncio.timeout(PROBE_TIMEOUT):
            response = await self.request("GET", path, {})
            try:
                return response.status, await response.read()
            finally:
                response.release()

    async def _ready(self) -> bool:
        # HTTP and AG-UI containers answer /ping; an A2A one serves its agent card.
        probe = {"HTTP": "/ping", "AGUI": "/ping", "A2A": AGENT_CARD_PATH}.get(self.spec.protocol)
        if probe is not None:
            try:
                status, _ = await self._get(probe)
            except (InstanceHttpError, TimeoutError):
                return False
            return status == 200
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", self.port)
        except OSError:
            return False
        writer.close()
        with contextlib.suppress(OSError):
            await writer.wait_closed()
        return True

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
        # Its group is gone, so its output ends: what is left is read, then the readers go.
        if self._pumps:
            _, late = await asyncio.wait(self._pumps, timeout=1.0)
            for pump in late:
                pump.cancel()
        logger.info("stopped %s instance pid=%d", self.spec.name, self.process.pid)
