"""An instance's output, kept where AgentCore keeps it, and shown with whose it is.

Each line an instance writes (stdout or stderr) goes to CloudWatch Logs, in moto's backend
inside this process, so ``aws logs tail`` and boto3's ``logs`` client read it from the
emulator: the runtime's log group ``/aws/bedrock-agentcore/runtimes/{runtime id}-DEFAULT``
(AgentCore's name for it), one stream per runtime session, named
``YYYY/MM/DD/[runtime-logs]{session id}`` (chosen; AgentCore's stream naming could not be
confirmed offline). On the emulator's own stderr each line is prefixed with the runtime's
name and the session id's first 8 characters. What moto keeps is bounded, in lines and in
bytes (each event counted as CloudWatch counts it: its UTF-8 message and 26 bytes): a
stream holds its latest ``MAX_EVENTS`` lines and ``MAX_STREAM_BYTES``; all streams together
hold ``MAX_TOTAL_BYTES``, the oldest streams' events going first (a tenth more of each
bound between trims, so a trim is not paid per line).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import sys
import time
from collections.abc import Callable
from typing import Any, BinaryIO

from agentcore_emulator.config import RuntimeSpec

logger = logging.getLogger(__name__)

ENDPOINT = "DEFAULT"
MAX_LINE = 65_536  # bytes; a longer line is cut into pieces of this size
MAX_EVENTS = 10_000  # lines a stream keeps
MAX_STREAM_BYTES = 8 * 1024 * 1024  # bytes a stream keeps
MAX_TOTAL_BYTES = 64 * 1024 * 1024  # bytes all streams keep together
EVENT_OVERHEAD = 26  # bytes CloudWatch Logs counts for each event beside its message


class _Kept:
    """The sizes of one stream's kept events, oldest first, and their sum."""

    def __init__(self) -> None:
        self.sizes: collections.deque[int] = collections.deque()
        self.bytes = 0


def log_group(spec: RuntimeSpec) -> str:
    return f"/aws/bedrock-agentcore/runtimes/{spec.runtime_id}-{ENDPOINT}"


def log_stream(session_id: str, now: float) -> str:
    return f"{time.strftime('%Y/%m/%d', time.gmtime(now))}/[runtime-logs]{session_id}"


class InstanceLogs:
    """Where every instance's output goes: moto's CloudWatch Logs and this stderr."""

    def __init__(
        self,
        backend: Callable[[], Any],
        echo: BinaryIO | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._backend = backend  # moto's logs backend of the emulator's account and region
        self._echo = echo if echo is not None else sys.stderr.buffer
        self._clock = clock
        self._kept: dict[tuple[str, str], _Kept] = {}  # by (group, stream), oldest first
        self.total_bytes = 0
        # Told of each line (runtime, session id, text): the dashboard's live tail.
        self.listener: Callable[[str, str, str], None] = lambda _r, _s, _l: None

    async def pump(self, spec: RuntimeSpec, session_id: str, output: asyncio.StreamReader) -> None:
        """Read ``output`` to its end, line by line, keeping each line."""
        group, stream = log_group(spec), log_stream(session_id, self._clock())
        prefix = f"[{spec.name} {session_id[:8]}] ".encode()
        self._open(group, stream)
        while True:
            try:
                line = await output.readuntil(b"\n")
            except asyncio.IncompleteReadError as end:
                line = end.partial
            except asyncio.LimitOverrunError as over:
                line = await output.readexactly(min(over.consumed, MAX_LINE))
            if not line:
                return
            self.keep(group, stream, prefix, line)
            self.listener(spec.name, session_id, line.rstrip(b"\r\n").decode("utf-8", "replace"))

    def keep(self, group: str, stream: str, prefix: bytes, line: bytes) -> None:
        """One line: echoed with its prefix, and stored as a log event."""
        with contextlib.suppress(OSError, ValueError):
            self._echo.write(prefix + (line if line.endswith(b"\n") else line + b"\n"))
            self._echo.flush()
        message = line.rstrip(b"\r\n").decode("utf-8", "replace")
        try:
            backend = self._backend()
            backend.put_log_events(
                group, stream, [{"timestamp": int(self._clock() * 1000), "message": message}]
            )
        except Exception as exc:  # moto's internals: a log line is never worth a failure
            logger.debug("could not store a log line of %s: %r", stream, exc)
            return
        kept = self._kept.setdefault((group, stream), _Kept())
        size = len(message.encode()) + EVENT_OVERHEAD
        kept.sizes.append(size)
        kept.bytes += size
        self.total_bytes += size
        # Trimmed now and then (past a tenth over a bound), not per line.
        if len(kept.sizes) > MAX_EVENTS * 1.1 or kept.bytes > MAX_STREAM_BYTES * 1.1:
            self._trim(group, stream, MAX_EVENTS, MAX_STREAM_BYTES)
        if self.total_bytes > MAX_TOTAL_BYTES * 1.1:
            for oldest_group, oldest_stream in list(self._kept):
                if self.total_bytes <= MAX_TOTAL_BYTES:
                    break
                over = self.total_bytes - MAX_TOTAL_BYTES
                oldest = self._kept[(oldest_group, oldest_stream)]
                self._trim(oldest_group, oldest_stream, MAX_EVENTS, max(0, oldest.bytes - over))

    def _trim(self, group: str, stream: str, events: int, size: int) -> None:
        """Drop a stream's oldest events until it holds ``events`` and ``size`` at most."""
        kept = self._kept[(group, stream)]
        dropped = 0
        while kept.sizes and (len(kept.sizes) > events or kept.bytes > size):
            gone = kept.sizes.popleft()
            kept.bytes -= gone
            self.total_bytes -= gone
            dropped += 1
        if not kept.sizes:
            del self._kept[(group, stream)]
        with contextlib.suppress(Exception):  # moto's internals, as above
            del self._backend().groups[group].streams[stream].events[:dropped]

    def clear(self) -> None:
        """CloudWatch Logs as new (the emulator's reset, between tests): no group, stream
        or event of an instance's, nor of what an agent's own code logged there."""
        self._backend().reset()
        self._kept.clear()
        self.total_bytes = 0

    def _open(self, group: str, stream: str) -> None:
        backend = self._backend()
        with contextlib.suppress(Exception):  # already there
            backend.create_log_group(group, tags={})
        with contextlib.suppress(Exception):
            backend.create_log_stream(group, stream)
