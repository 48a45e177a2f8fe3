"""InvokeAgentRuntimeCommand: a shell command in a runtime session's environment, streamed.

AgentCore runs the command inside the session's microVM; here it runs with the session
instance's environment and working directory (the instance's port included, so a command
may call its server), through the guard like an instance: it ends with the emulator, and
on its timeout its whole process group ends. Its output streams back as AWS event stream
messages: ``contentStart``, ``contentDelta`` (stdout or stderr, as produced), then
``contentStop`` with the exit code and ``COMPLETED`` or ``TIMED_OUT``.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import os
import signal
import sys
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentcore_emulator import eventstream
from agentcore_emulator.exceptions import ValidationException

MAX_COMMAND = 65_536  # characters, as botocore's model bounds it
TIMEOUTS = (1, 3600)  # seconds
DEFAULT_TIMEOUT = 300  # chosen: not confirmable offline
TIMED_OUT_EXIT = -1  # "a platform error", the model's word for what AgentCore reports
# Output read but not yet sent: 64 KiB chunks. Past it the pipes are not read, so a command
# whose caller reads nothing waits on its own writes (back-pressure, as the relay has).
_QUEUED_CHUNKS = 16


@dataclass(frozen=True)
class CommandRequest:
    command: str
    timeout: int

    @classmethod
    def parse(cls, body: Any) -> CommandRequest:
        """The request body, checked as AgentCore's model bounds it."""
        if not isinstance(body, dict):
            raise ValidationException("The request body must be a JSON object")
        command = body.get("command")
        if not isinstance(command, str) or not 1 <= len(command) <= MAX_COMMAND:
            raise ValidationException.for_field(
                "command", f"Member must have length between 1 and {MAX_COMMAND}"
            )
        timeout = body.get("timeout", DEFAULT_TIMEOUT)
        low, high = TIMEOUTS
        if isinstance(timeout, bool) or not isinstance(timeout, int) or not low <= timeout <= high:
            raise ValidationException.for_field(
                "timeout", f"Member must have value between {low} and {high}"
            )
        return cls(command, timeout)


def _chunk(**members: Any) -> bytes:
    return eventstream.event("chunk", members)


async def _read(
    name: str, stream: asyncio.StreamReader, queue: asyncio.Queue[tuple[str, str] | None]
) -> None:
    decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
    while chunk := await stream.read(65536):
        if text := decoder.decode(chunk):
            await queue.put((name, text))
    if tail := decoder.decode(b"", final=True):
        await queue.put((name, tail))
    await queue.put(None)


async def run_command(
    request: CommandRequest,
    environment: Mapping[str, str],
    cwd: Path,
    enter: Callable[[], None] | None = None,
) -> AsyncIterator[bytes]:
    """The framed events of one command's run; ``enter`` puts its process in the
    instance's network before it runs (as the container's own shell would be)."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agentcore_emulator.guard",
        "--",
        "/bin/sh",
        "-c",
        request.command,
        cwd=cwd,
        env=dict(environment),
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        start_new_session=True,
        preexec_fn=enter,
    )
    assert process.stdout is not None and process.stderr is not None
    queue: asyncio.Queue[tuple[str, str] | None] = asyncio.Queue(_QUEUED_CHUNKS)
    readers = [
        asyncio.ensure_future(_read("stdout", process.stdout, queue)),
        asyncio.ensure_future(_read("stderr", process.stderr, queue)),
    ]
    deadline = asyncio.get_running_loop().time() + request.timeout
    try:
        yield _chunk(contentStart={})
        open_streams = len(readers)
        while open_streams:
            remaining = deadline - asyncio.get_running_loop().time()
            try:
                item = await asyncio.wait_for(queue.get(), max(0.0, remaining))
            except TimeoutError:
                yield _chunk(contentStop={"exitCode": TIMED_OUT_EXIT, "status": "TIMED_OUT"})
                return
            if item is None:
                open_streams -= 1
            else:
                yield _chunk(contentDelta={item[0]: item[1]})
        code = await process.wait()
        yield _chunk(contentStop={"exitCode": code, "status": "COMPLETED"})
    finally:
        # Timed out, or the caller went away: the guard ends the command's whole group.
        if process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(process.wait(), 5)
            except TimeoutError:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(process.pid, signal.SIGKILL)
        for reader in readers:
            reader.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
        # Read what is left to its end: a pipe paused by back-pressure would otherwise stay
        # open, and the process's transport with it.
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(5):
                for stream in (process.stdout, process.stderr):
                    while await stream.read(65536):
                        pass
