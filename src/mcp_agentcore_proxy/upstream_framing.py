"""HTTP/1.1 on a connected socket: a request's head written, an answer's head parsed and
its body framed (Content-Length, chunked, or up to the close).

``http.client`` parses an answer's head with the ``email`` package and validates each
request header with a regular expression: about 40 us a call, measured, a tenth of the
proxy's own CPU per call, for a head of a dozen lines. This reads the same answers into a
plain dict and raises ``http.client``'s exceptions for the same faults, so the AWS boundary
maps them as before. Connecting (TCP, a proxy's tunnel, TLS) stays ``http.client``'s.
"""

from __future__ import annotations

import http.client
import io
import re
import socket
import time
from collections.abc import Mapping

_MAX_LINE = 65536  # as http.client: a longer status, header or chunk-size line is refused
_MAX_HEADERS = 100
# Interim (1xx) answers before the final one: RFC 9110 sets no number; a server that keeps
# sending them (an endless `100 Continue`) would otherwise hold the call forever.
_MAX_INTERIM = 16
# A name or value that would end its line early or smuggle another header in.
_UNSAFE = re.compile(r"[\r\n\x00]")


class Headers(dict[str, str]):
    """An answer's headers, looked up by any spelling of their names."""

    def get(self, name: str, default: str | None = None) -> str | None:  # type: ignore[override]
        return super().get(name.lower(), default)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())


def request_head(target: str, headers: Mapping[str, str], length: int) -> bytes:
    """A POST's head: request line, headers as given, Content-Length; ``ValueError`` for a
    header that is not one line."""
    if _UNSAFE.search("".join(headers) + "".join(headers.values()) + target):
        raise ValueError("a request header or the target holds a line break or NUL")
    lines = [f"POST {target} HTTP/1.1"]
    lines.extend(f"{name}: {value}" for name, value in headers.items())
    lines.append(f"Content-Length: {length}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class FramedBody:
    """An answer's body as its head frames it (Content-Length, chunked, or up to the
    close), read as it arrives; and whether its connection may carry the next request."""

    def __init__(self, fp: io.BufferedReader, version: str, status: int, headers: Headers) -> None:
        self._fp = fp
        connection = (headers.get("connection") or "").lower()
        self._chunked = (headers.get("transfer-encoding") or "").lower() == "chunked"
        self._in_chunk = False  # a chunk's data was read: its CRLF comes before the next
        # Bytes left: of the body, or of the current chunk; None: up to the close.
        self._left: int | None = 0
        if not self._chunked and status not in (204, 304):
            self._left = _length(headers.get("content-length"))
        if version == "HTTP/1.0":
            self.will_close = "keep-alive" not in connection
        else:
            self.will_close = "close" in connection
        if not self._chunked and self._left is None:
            self.will_close = True  # the body ends where the connection does
        self.ended = self._left == 0 and not self._chunked

    def read1(self, size: int) -> bytes:
        """Up to ``size`` bytes of the body, as soon as some arrive; b"" at its end."""
        if self.ended:
            return b""
        if self._chunked:
            if self._left == 0 and not self._next_chunk():
                return b""
        elif self._left is None:  # up to the close
            data = self._fp.read1(size)
            self.ended = not data
            return data
        assert self._left is not None
        data = self._fp.read1(min(size, self._left))
        if not data:
            raise http.client.IncompleteRead(b"", self._left)
        self._left -= len(data)
        if self._left == 0 and not self._chunked:
            self.ended = True
        return data

    def read(self, size: int) -> bytes:
        """Up to ``size`` bytes of the body, waiting for them (or for its end)."""
        parts: list[bytes] = []
        wanted = size
        while wanted > 0 and (data := self.read1(wanted)):
            parts.append(data)
            wanted -= len(data)
        return b"".join(parts)

    def _next_chunk(self) -> bool:
        """Read up to the next chunk's data; False (and ended) after the last chunk."""
        if self._in_chunk and self._fp.read(2) != b"\r\n":
            raise http.client.IncompleteRead(b"")
        line = _line(self._fp, "chunk size")
        try:
            size = int(line.split(b";", 1)[0], 16)
        except ValueError:
            raise http.client.IncompleteRead(b"") from None
        if size < 0:
            raise http.client.IncompleteRead(b"")
        if size == 0:
            _header_lines(self._fp)  # trailers, unused
            self.ended = True
            return False
        self._left = size
        self._in_chunk = True
        return True

    def close(self) -> None:
        self._fp.close()


def read_head(fp: io.BufferedReader, sock: socket.socket) -> tuple[str, int, Headers]:
    """The final answer's version, status and headers; the interim ones before it,
    bounded in number and all within one read timeout (each read alone would wait that
    long)."""
    timeout = sock.gettimeout()
    deadline = None if timeout is None else time.monotonic() + timeout
    try:
        for _ in range(_MAX_INTERIM + 1):
            version, status = _status_line(_line(fp, "status line"))
            headers = _header_lines(fp)
            if not 100 <= status < 200:
                return version, status, headers
            # An interim answer (100 Continue, 103 Early Hints): the real one follows.
            if deadline is not None:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no final answer within the read timeout")
                sock.settimeout(left)
    finally:
        sock.settimeout(timeout)
    raise http.client.HTTPException(
        f"more than {_MAX_INTERIM} interim (1xx) answers before the final one"
    )


def _line(fp: io.BufferedReader, what: str) -> bytes:
    line = fp.readline(_MAX_LINE + 1)
    if len(line) > _MAX_LINE:
        raise http.client.LineTooLong(what)
    return line


def _status_line(line: bytes) -> tuple[str, int]:
    if not line:
        # The server closed the connection: a kept one it timed out, or it went away.
        raise http.client.RemoteDisconnected("Remote end closed connection without response")
    text = line.decode("iso-8859-1")
    version, _, rest = text.partition(" ")
    code = rest[:3]
    if (
        not version.startswith("HTTP/")
        or not code.isdigit()
        or rest[3:4] not in ("", " ", "\r", "\n")
    ):
        raise http.client.BadStatusLine(text)
    return version, int(code)


def _header_lines(fp: io.BufferedReader) -> Headers:
    headers = Headers()
    last = ""
    for _ in range(_MAX_HEADERS + 1):
        line = _line(fp, "header line")
        if line in (b"\r\n", b"\n", b""):
            return headers
        text = line.decode("iso-8859-1")
        if text[0] in " \t" and last:  # an obsolete folded line continues the last one
            headers[last] = f"{dict.__getitem__(headers, last)} {text.strip()}"
            continue
        name, colon, value = text.partition(":")
        if not colon:
            continue  # not a header line: left out, as http.client's parser does
        last = name.strip().lower()
        value = value.strip()
        earlier = dict.get(headers, last)
        headers[last] = value if earlier is None else f"{earlier}, {value}"
    raise http.client.HTTPException(f"got more than {_MAX_HEADERS} headers")


def _length(text: str | None) -> int | None:
    """The body's length; a field repeated with one value is that value (RFC 9110 8.6),
    different values are an error at once (RFC 9112 6.3: the framing is unknowable)."""
    if text is None:
        return None
    try:
        lengths = {int(part) for part in text.split(",")}
    except ValueError:
        return None  # not a number: read to the close, as http.client does
    if len(lengths) > 1:
        raise http.client.HTTPException(f"conflicting Content-Length values: {text[:100]}")
    length = lengths.pop()
    return length if length >= 0 else None
