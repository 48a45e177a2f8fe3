"""The user's token command: run bounded in time and output, and ended with the proxy.

The command runs in a process group of its own, so whatever it starts (a browser
login helper, a shell pipeline) ends with it: at its timeout, when it prints more than
a token could be, and when the proxy closes.
"""

from __future__ import annotations

import collections
import contextlib
import os
import shlex
import signal
import subprocess
import threading
from dataclasses import dataclass
from typing import IO

from agentcore_wire.redaction import redact
from mcp_agentcore_proxy.threads import start_daemon

# A JWT is a few KB; past this the output is not a token, and is not held in memory.
OUTPUT_LIMIT = 16 * 1024
_STDERR_KEPT = 4096  # the tail of stderr, for the last line of a failure
_CHUNK = 4096
_POSIX = os.name == "posix"


class TokenCommandError(Exception):
    """The command did not print a token; ``str()`` says why, with nothing secret."""


@dataclass(frozen=True)
class _Outcome:
    status: int
    stdout: bytes
    last_error_line: str


class TokenCommand:
    """Runs one command line at a time; ``close`` ends a run in progress."""

    def __init__(self, command: str, timeout: float, limit: int = OUTPUT_LIMIT) -> None:
        self.command = command
        self._timeout = timeout
        self._limit = limit
        self._lock = threading.Lock()
        self._running: subprocess.Popen[bytes] | None = None
        self._closed = False

    def run(self) -> str:
        """The token the command printed (stdout, as text)."""
        try:
            argv = shlex.split(self.command)
        except ValueError as exc:
            raise TokenCommandError(f"cannot run: {exc}") from None
        if not argv:
            raise TokenCommandError("cannot run: the command is empty")
        try:
            process = subprocess.Popen(
                argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=_POSIX,
            )
        except OSError as exc:
            raise TokenCommandError(f"cannot run: {exc.strerror or exc}") from None
        with self._lock:
            self._running = process
            closed = self._closed
        if closed:
            _end_group(process)
        try:
            outcome = self._wait(process)
        finally:
            with self._lock:
                self._running = None
        if closed or self._closed:
            raise TokenCommandError("stopped: the proxy is closing")
        if outcome.status != 0:
            raise TokenCommandError(
                f"exited with status {outcome.status}: {outcome.last_error_line or 'no message'}"
            )
        try:
            return outcome.stdout.decode("utf-8")
        except UnicodeDecodeError:
            raise TokenCommandError("printed no usable token (not UTF-8 text)") from None

    def close(self) -> None:
        """End a run in progress, with every process it started; no run starts after."""
        with self._lock:
            self._closed = True
            process = self._running
        if process is not None:
            _end_group(process)

    def _wait(self, process: subprocess.Popen[bytes]) -> _Outcome:
        assert process.stdout is not None and process.stderr is not None
        timed_out = threading.Event()

        def expire() -> None:
            timed_out.set()
            _end_group(process)

        timer = threading.Timer(self._timeout, expire)
        timer.daemon = True
        stderr_tail: collections.deque[bytes] = collections.deque()
        draining = start_daemon(_drain, process.stderr, stderr_tail, name="token-stderr")
        timer.start()
        try:
            stdout = _read_at_most(process.stdout, self._limit + 1)
            if len(stdout) > self._limit:
                _end_group(process)
                raise TokenCommandError(f"printed more than {self._limit // 1024} KiB: not a token")
            status = process.wait()  # bounded: the timer ends the group
            draining.join()
        finally:
            timer.cancel()
            process.stdout.close()
        if timed_out.is_set():
            raise TokenCommandError(f"printed no token within {self._timeout:g}s")
        lines = b"".join(stderr_tail).decode("utf-8", "replace").strip().splitlines()
        last = redact(lines[-1].strip())[:200] if lines else ""
        return _Outcome(status, stdout, last)


def _read_at_most(pipe: IO[bytes], limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    while size < limit and (chunk := pipe.read1(min(_CHUNK, limit - size))):  # type: ignore[attr-defined]
        chunks.append(chunk)
        size += len(chunk)
    return b"".join(chunks)


def _drain(pipe: IO[bytes], tail: collections.deque[bytes]) -> None:
    """Read stderr to its end, keeping only its last few KB."""
    kept = 0
    try:
        while chunk := pipe.read1(_CHUNK):  # type: ignore[attr-defined]
            tail.append(chunk)
            kept += len(chunk)
            while kept - len(tail[0]) >= _STDERR_KEPT:
                kept -= len(tail.popleft())
    finally:
        pipe.close()


def _end_group(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None and not _POSIX:
        return
    with contextlib.suppress(ProcessLookupError, PermissionError):
        if _POSIX:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
