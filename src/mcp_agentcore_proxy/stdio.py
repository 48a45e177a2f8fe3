"""Line framing on stdin and stdout: one JSON-RPC message per line."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import BinaryIO, Protocol

_BOM = b"\xef\xbb\xbf"  # UTF-8's byte order mark


class Output(Protocol):
    """Where a router writes its client's messages: stdout, or an HTTP client's streams.

    ``call`` is the id key of the request whose answer carried the message (its response,
    its progress, a server request about it), or None for a message of no request's.
    """

    def write(self, line: bytes, call: str | None = None) -> bool: ...

    def end(self, call: str) -> None:
        """Request ``call`` has had its last message: its response, or none (cancelled)."""


class LineWriter:
    """Writes whole lines from any thread, flushed one message at a time."""

    def __init__(self, stream: BinaryIO) -> None:
        self._stream = stream
        self._lock = threading.Lock()
        self.closed = False

    def write(self, line: bytes, call: str | None = None) -> bool:
        """Write one message; False when the reader has gone away."""
        with self._lock:
            if self.closed:
                return False
            try:
                self._stream.write(line + b"\n")
                self._stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                self.closed = True
                return False
            return True

    def end(self, call: str) -> None:
        """Nothing to do: one stream carries every request's messages."""

    def close(self, timeout: float) -> bool:
        """Refuse later writes; False if a write is still blocked (the client stopped reading)."""
        if not self._lock.acquire(timeout=max(0.0, timeout)):
            return False
        try:
            self.closed = True
            return True
        finally:
            self._lock.release()


def read_lines(
    stream: BinaryIO, admit: Callable[[], Callable[[], None]]
) -> Iterator[tuple[bytes, Callable[[], None]]]:
    """Yield each line of ``stream`` (without its line end) with the release of its place.

    ``admit`` is called before each read and blocks while too many messages are
    unfinished, so a client that stops reading stdout stops the intake too. Blank lines
    are skipped. A byte order mark that begins a line (some Windows tools write one before
    each message) is dropped, as RFC 8259 lets a parser do.
    """
    # readline() has no length cap: a 100 MB request is one line.
    while True:
        release = admit()
        line = stream.readline()
        if not line:
            release()
            return
        line = line.rstrip(b"\r\n")
        if line.startswith(_BOM):
            line = line[len(_BOM) :]
        if line.strip():
            yield line, release
        else:
            release()
