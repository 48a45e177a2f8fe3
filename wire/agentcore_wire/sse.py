"""An incremental decoder of text/event-stream bytes into event data payloads."""

from __future__ import annotations

import re

_LINE_END = re.compile(rb"\r\n|\r|\n")


class SseDecoder:
    """Feed bytes as they arrive; get each event's data once its blank line is seen.

    Follows the WHATWG parsing rules that matter to MCP: CR, LF or CRLF line ends;
    several ``data:`` lines joined by LF; comment lines (``:``, used for pings) and
    other fields ignored; an event with no data, or only empty data (the priming event
    of MCP 2025-11-25 servers: ``id:``, ``retry:``, empty ``data:``), dispatches nothing.
    Each byte is scanned
    once, so a 10 MB event arriving in small chunks costs linear time.
    """

    def __init__(self) -> None:
        self._buffer = bytearray()
        self._scanned = 0  # bytes of the buffer already known to hold no line end
        self._data: list[bytes] = []
        self._data_size = 0
        self._pending_cr = False

    @property
    def pending(self) -> int:
        """Bytes held for the event not yet complete (its data lines, its last line)."""
        return len(self._buffer) + self._data_size

    def feed(self, chunk: bytes) -> list[bytes]:
        """Return the data of every event completed by ``chunk``."""
        if self._pending_cr and chunk[:1] == b"\n":
            chunk = chunk[1:]  # the LF of a CRLF split across two chunks
        self._pending_cr = False
        buffer = self._buffer
        buffer += chunk
        events: list[bytes] = []
        start = 0
        match = _LINE_END.search(buffer, self._scanned)
        while match is not None:
            if match.group() == b"\r" and match.end() == len(buffer):
                self._pending_cr = True  # maybe a CRLF whose LF has not arrived
            self._line(bytes(buffer[start : match.start()]), events)
            start = match.end()
            match = _LINE_END.search(buffer, start)
        del buffer[:start]
        self._scanned = len(buffer)
        return events

    def close(self) -> list[bytes]:
        """Return what is left at the end of the stream."""
        events: list[bytes] = []
        if self._buffer:
            self._line(bytes(self._buffer), events)
            self._buffer.clear()
            self._scanned = 0
        self._line(b"", events)
        return events

    def _line(self, line: bytes, events: list[bytes]) -> None:
        if not line:
            if self._data:
                data = b"\n".join(self._data)
                self._data = []
                self._data_size = 0
                if data.strip():
                    events.append(data)
            return
        if line.startswith(b":"):
            return
        field, _, value = line.partition(b":")
        if field == b"data":
            value = value[1:] if value.startswith(b" ") else value
            self._data.append(value)
            self._data_size += len(value) + 1
