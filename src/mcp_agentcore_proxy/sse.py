"""An incremental decoder of text/event-stream bytes into event data payloads."""

from __future__ import annotations

import re
from collections.abc import Iterator

_LINE_END = re.compile(rb"\r\n|\r|\n")


class SseDecoder:
    """Feed bytes as they arrive; get each event's data once its blank line is seen.

    Follows the WHATWG parsing rules that matter to MCP: CR, LF or CRLF line ends;
    several ``data:`` lines joined by LF; comment lines (``:``, used for pings) and
    other fields ignored; an event with no data dispatches nothing.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._data: list[bytes] = []
        self._pending_cr = False

    def feed(self, chunk: bytes) -> Iterator[bytes]:
        """Yield the data of every event completed by ``chunk``."""
        if self._pending_cr and chunk.startswith(b"\n"):
            chunk = chunk[1:]  # the LF of a CRLF split across two chunks
        self._pending_cr = False
        self._buffer += chunk
        start = 0
        view = bytes(self._buffer)
        for match in _LINE_END.finditer(view):
            if match.group() == b"\r" and match.end() == len(view):
                self._pending_cr = True  # maybe a CRLF whose LF has not arrived
            yield from self._line(view[start : match.start()])
            start = match.end()
        del self._buffer[:start]

    def close(self) -> Iterator[bytes]:
        """Dispatch what is left at the end of the stream."""
        if self._buffer:
            yield from self._line(bytes(self._buffer))
            self._buffer.clear()
        yield from self._line(b"")

    def _line(self, line: bytes) -> Iterator[bytes]:
        if not line:
            if self._data:
                data = b"\n".join(self._data)
                self._data = []
                yield data
            return
        if line.startswith(b":"):
            return
        field, _, value = line.partition(b":")
        if field == b"data":
            self._data.append(value[1:] if value.startswith(b" ") else value)
