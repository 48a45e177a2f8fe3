"""AgentCore Code Interpreter: sessions, each a sandbox of its own, and the tools invoked
in them (Python code, shell commands, files).

A sandbox is one process (``sandbox_kernel.py``) in a process group, a working folder and
a network namespace of its own (no network at all: the managed sandbox mode; where no
namespace can be made, the emulator's ``network = "shared"`` mode, it is said at start),
with its address space bounded (RLIMIT_AS), each call bounded in time (past it the
process group is killed and the next call starts a fresh interpreter) and in output. The
session ends when stopped, at its ``sessionTimeoutSeconds``, or with the emulator.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import resource
import secrets
import shutil
import signal
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agentcore_emulator import netns
from agentcore_emulator.exceptions import (
    ResourceNotFoundException,
    ServiceQuotaExceededException,
    ValidationException,
)
from agentcore_emulator.operations import NOT_EMULATED_STATUS, NotEmulatedException
from agentcore_emulator.pages import page

logger = logging.getLogger(__name__)

KERNEL = Path(__file__).with_name("sandbox_kernel.py")
SYSTEM_IDENTIFIER = "aws.codeinterpreter.v1"
DEFAULT_TIMEOUT = 900
MAX_SESSIONS = 50  # live sandboxes at once; past it, ServiceQuotaExceededException
_TASK_TOOLS = ("startCommandExecution", "getTask", "stopTask")


@dataclass(frozen=True)
class SandboxLimits:
    """What one sandbox may use: seconds a call, bytes of memory, characters of output."""

    call_timeout: float = 60.0
    memory_bytes: int = 2048 * 1024 * 1024
    max_output: int = 1_000_000
    isolated: bool = True  # a network namespace of its own (else: the host's network)


@dataclass
class Sandbox:
    """One Code Interpreter session."""

    identifier: str
    session_id: str
    name: str
    timeout: int
    created: float
    folder: Path
    status: str = "READY"
    updated: float = 0.0
    process: asyncio.subprocess.Process | None = None
    nonce: str = field(default_factory=lambda: secrets.token_hex(8))
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def describe(self) -> dict[str, Any]:
        return {
            "codeInterpreterIdentifier": self.identifier,
            "sessionId": self.session_id,
            "name": self.name,
            "createdAt": self.created,
            "sessionTimeoutSeconds": self.timeout,
            "status": self.status,
        }


class CodeInterpreters:
    """Every Code Interpreter session; each sandbox ends with its session."""

    def __init__(self, limits: SandboxLimits) -> None:
        self.limits = limits
        self._sessions: dict[str, Sandbox] = {}
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._stopping: set[asyncio.Task[None]] = set()

    # -- sessions -------------------------------------------------------------------------

    async def start(self, identifier: str, body: Mapping[str, Any]) -> dict[str, Any]:
        if identifier != SYSTEM_IDENTIFIER:
            raise ResourceNotFoundException(
                f"Code interpreter {identifier} not found (the emulator serves "
                f"{SYSTEM_IDENTIFIER}, the system one)"
            )
        timeout = body.get("sessionTimeoutSeconds", DEFAULT_TIMEOUT)
        if not isinstance(timeout, int) or not 1 <= timeout <= 28800:
            raise ValidationException.for_field(
                "sessionTimeoutSeconds", "Member must have value between 1 and 28800"
            )
        live = [s for s in self._sessions.values() if s.status == "READY"]
        if len(live) >= MAX_SESSIONS:
            raise ServiceQuotaExceededException(
                f"At most {MAX_SESSIONS} Code Interpreter sessions at once"
            )
        session_id = secrets.token_hex(13).upper()
        now = time.time()
        sandbox = Sandbox(
            identifier,
            session_id,
            str(body.get("name") or f"session-{session_id[:8]}"),
            timeout,
            now,
            Path(tempfile.mkdtemp(prefix="agentcore-code-interpreter-")),
            updated=now,
        )
        self._sessions[session_id] = sandbox
        loop = asyncio.get_running_loop()
        self._timers[session_id] = loop.call_later(timeout, self._expire, session_id)
        logger.info("code interpreter session %s started in %s", session_id, sandbox.folder)
        return {"codeInterpreterIdentifier": identifier, "sessionId": session_id, "createdAt": now}

    def _expire(self, session_id: str) -> None:
        task = asyncio.ensure_future(self._end(session_id, "its timeout"))
        self._stopping.add(task)
        task.add_done_callback(self._stopping.discard)

    def _session(self, identifier: str, session_id: object) -> Sandbox:
        sandbox = self._sessions.get(str(session_id))
        if sandbox is None or sandbox.identifier != identifier:
            raise ResourceNotFoundException(f"Session not found: {session_id}")
        return sandbox

    def get(self, identifier: str, session_id: object) -> dict[str, Any]:
        return self._session(identifier, session_id).describe()

    def list(self, identifier: str, body: Mapping[str, Any]) -> dict[str, Any]:
        wanted = body.get("status")
        items = [
            {
                "codeInterpreterIdentifier": s.identifier,
                "sessionId": s.session_id,
                "name": s.name,
                "status": s.status,
                "createdAt": s.created,
                "lastUpdatedAt": s.updated,
            }
            for s in sorted(self._sessions.values(), key=lambda s: -s.created)
            if s.identifier == identifier and (wanted is None or s.status == wanted)
        ]
        return page(body, items, "items")

    async def stop(self, identifier: str, session_id: object) -> dict[str, Any]:
        sandbox = self._session(identifier, session_id)
        if sandbox.status != "READY":
            raise ResourceNotFoundException(f"Session not found: {session_id}")
        await self._end(sandbox.session_id, "a StopCodeInterpreterSession call")
        return {
            "codeInterpreterIdentifier": identifier,
            "sessionId": sandbox.session_id,
            "lastUpdatedAt": sandbox.updated,
        }

    async def _end(self, session_id: str, why: str) -> None:
        sandbox = self._sessions.get(session_id)
        if sandbox is None or sandbox.status != "READY":
            return
        sandbox.status = "TERMINATED"
        sandbox.updated = time.time()
        timer = self._timers.pop(session_id, None)
        if timer is not None:
            timer.cancel()
        await _kill(sandbox)
        await asyncio.to_thread(shutil.rmtree, sandbox.folder, True)
        logger.info("code interpreter session %s ended by %s", session_id, why)

    async def close(self) -> None:
        """End every sandbox (the emulator is stopping)."""
        for session_id in list(self._sessions):
            await self._end(session_id, "the emulator's stop")
        await asyncio.gather(*self._stopping, return_exceptions=True)

    async def reset(self) -> None:
        await self.close()
        self._sessions.clear()

    # -- tools ----------------------------------------------------------------------------

    async def invoke(
        self, identifier: str, session_id: object, name: object, arguments: Mapping[str, Any]
    ) -> dict[str, Any]:
        """One tool call's result (``content``, ``structuredContent``, ``isError``)."""
        sandbox = self._session(identifier, session_id)
        if sandbox.status != "READY":
            raise ResourceNotFoundException(f"Session {sandbox.session_id} has ended")
        if name in _TASK_TOOLS:
            raise NotEmulatedException(
                f"The {name} tool of InvokeCodeInterpreter is not emulated yet "
                f"(executeCode, executeCommand and the file tools are)",
                status=NOT_EMULATED_STATUS,
            )
        async with sandbox.lock:  # one call at a time, as one interpreter runs them
            sandbox.updated = time.time()
            if name == "executeCode":
                return await self._code(sandbox, arguments)
            if name == "executeCommand":
                return await self._run(
                    sandbox, {"op": "command", "command": _text(arguments, "command")}
                )
            if name == "writeFiles":
                return _write_files(sandbox.folder, arguments)
            if name == "readFiles":
                return _read_files(sandbox.folder, arguments)
            if name == "listFiles":
                return _list_files(sandbox.folder, arguments)
            if name == "removeFiles":
                return _remove_files(sandbox.folder, arguments)
        raise ValidationException.for_field("name", f"Unknown tool {name!r}")

    async def _code(self, sandbox: Sandbox, arguments: Mapping[str, Any]) -> dict[str, Any]:
        language = arguments.get("language", "python")
        if language != "python":
            return _result(f"The emulator's sandbox runs python only, not {language}", True)
        request: dict[str, Any] = {"op": "code", "code": _text(arguments, "code")}
        if arguments.get("clearContext"):
            request["clear"] = True
        return await self._run(sandbox, request)

    async def _run(self, sandbox: Sandbox, request: dict[str, Any]) -> dict[str, Any]:
        process = sandbox.process
        if process is None or process.returncode is not None:
            process = sandbox.process = await self._kernel(sandbox)
        assert process.stdin is not None
        process.stdin.write(json.dumps(request).encode() + b"\n")
        try:
            async with asyncio.timeout(self.limits.call_timeout):
                await process.stdin.drain()
                answer = await _answer(process, sandbox.nonce)
        except TimeoutError:
            await _kill(sandbox)
            return _result(
                f"The call ran past {self.limits.call_timeout:g} s and was stopped; the "
                f"sandbox's interpreter starts afresh at the next call",
                True,
            )
        if answer is None:  # the interpreter died (memory, a signal)
            await _kill(sandbox)
            return _result(
                "The sandbox's interpreter ended during the call (over its memory bound?); "
                "it starts afresh at the next call",
                True,
            )
        text = answer["stdout"] + (f"\n{answer['stderr']}" if answer["stderr"] else "")
        return {
            "content": [{"type": "text", "text": text}],
            "structuredContent": answer,
            "isError": answer["exitCode"] != 0,
        }

    async def _kernel(self, sandbox: Sandbox) -> asyncio.subprocess.Process:
        limits = self.limits

        def confine() -> None:  # in the child, before exec
            resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
            if limits.isolated:
                netns.unshare_network()  # a namespace of its own, with no interface up

        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-u",
            str(KERNEL),
            sandbox.nonce,
            str(limits.max_output),
            cwd=sandbox.folder,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.DEVNULL,
            env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(sandbox.folder)},
            start_new_session=True,
            preexec_fn=confine,
            limit=4 * limits.max_output + 65536,
        )


async def _answer(process: asyncio.subprocess.Process, nonce: str) -> dict[str, Any] | None:
    """The kernel's answer line; lines that are not one (the user's code writing to the
    real stdout) are skipped. None if the kernel ended first."""
    assert process.stdout is not None
    prefix = f"{nonce} ".encode()
    while True:
        try:
            line = await process.stdout.readline()
        except ValueError:  # a line past the stream's limit: not an answer
            continue
        if not line:
            return None
        if line.startswith(prefix):
            return json.loads(line[len(prefix) :])  # type: ignore[no-any-return]


async def _kill(sandbox: Sandbox) -> None:
    process, sandbox.process = sandbox.process, None
    if process is None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)  # the group: commands it started too
    await process.wait()


def _result(text: str, error: bool = False) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": error}


def _text(arguments: Mapping[str, Any], key: str) -> str:
    value = arguments.get(key)
    if not isinstance(value, str):
        raise ValidationException.for_field(f"arguments.{key}", "Member must not be null")
    return value


def _inside(folder: Path, path: object) -> Path:
    """``path`` in the sandbox's folder (an absolute one taken from the folder's root);
    ValidationException for one that would leave it."""
    if not isinstance(path, str) or not path:
        raise ValidationException("Each path must be a non-empty string")
    root = folder.resolve()
    target = (root / path.lstrip("/")).resolve()
    if target != root and root not in target.parents:
        raise ValidationException(f"The path {path!r} leaves the sandbox's folder")
    return target


def _write_files(folder: Path, arguments: Mapping[str, Any]) -> dict[str, Any]:
    files = arguments.get("content")
    if not isinstance(files, list):
        raise ValidationException.for_field("arguments.content", "Member must be a list")
    for item in files:
        target = _inside(folder, (item or {}).get("path"))
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(item.get("blob"), bytes | str) and "text" not in item:
            blob = item["blob"]
            target.write_bytes(base64.b64decode(blob) if isinstance(blob, str) else blob)
        else:
            target.write_text(str(item.get("text", "")))
    return _result(f"Successfully wrote all {len(files)} files")


def _read_files(folder: Path, arguments: Mapping[str, Any]) -> dict[str, Any]:
    content = []
    for path in arguments.get("paths") or []:
        target = _inside(folder, path)
        if not target.is_file():
            return _result(f"File not found: {path}", True)
        data = target.read_bytes()
        resource_: dict[str, Any] = {"type": "text", "uri": f"file://{path}"}
        try:
            resource_["text"] = data.decode()
            resource_["mimeType"] = "text/plain"
        except UnicodeDecodeError:
            resource_["blob"] = base64.b64encode(data).decode()
            resource_["mimeType"] = "application/octet-stream"
        content.append({"type": "resource", "resource": resource_})
    return {"content": content, "isError": False}


def _list_files(folder: Path, arguments: Mapping[str, Any]) -> dict[str, Any]:
    directory = _inside(folder, arguments.get("directoryPath") or ".")
    if not directory.is_dir():
        return _result(f"Directory not found: {arguments.get('directoryPath')}", True)
    root = folder.resolve()
    content = []
    for entry in sorted(directory.iterdir()):
        relative = entry.relative_to(root).as_posix()
        content.append(
            {
                "type": "resource_link",
                "uri": f"file://{relative}",
                "name": entry.name,
                "description": "Directory" if entry.is_dir() else "File",
                "size": entry.stat().st_size if entry.is_file() else 0,
            }
        )
    return {"content": content, "isError": False}


def _remove_files(folder: Path, arguments: Mapping[str, Any]) -> dict[str, Any]:
    paths = arguments.get("paths") or []
    for path in paths:
        target = _inside(folder, path)
        if target.is_dir():
            shutil.rmtree(target)
        else:
            target.unlink(missing_ok=True)
    return _result(f"Successfully removed {len(paths)} files")
