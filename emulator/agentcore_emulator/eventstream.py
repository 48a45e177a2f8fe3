"""AWS event stream framing (``application/vnd.amazon.eventstream``), as boto3 decodes it.

Each message: total length, headers length, prelude CRC32, headers, payload, message
CRC32 (big-endian). Headers here are all strings (type 7). botocore decodes these frames;
nothing in it encodes them, so this does.
"""

from __future__ import annotations

import json
import struct
import zlib
from typing import Any

CONTENT_TYPE = "application/vnd.amazon.eventstream"
_STRING = 7


def _headers(headers: dict[str, str]) -> bytes:
    out = bytearray()
    for name, value in headers.items():
        raw_name, raw_value = name.encode(), value.encode()
        out += struct.pack(">B", len(raw_name)) + raw_name
        out += struct.pack(">BH", _STRING, len(raw_value)) + raw_value
    return bytes(out)


def message(headers: dict[str, str], payload: bytes) -> bytes:
    """One framed message."""
    encoded = _headers(headers)
    total = 12 + len(encoded) + len(payload) + 4
    prelude = struct.pack(">II", total, len(encoded))
    prelude += struct.pack(">I", zlib.crc32(prelude))
    body = prelude + encoded + payload
    return body + struct.pack(">I", zlib.crc32(body))


def event(event_type: str, body: dict[str, Any]) -> bytes:
    """An event of the stream's union member ``event_type``, its members as JSON."""
    headers = {
        ":event-type": event_type,
        ":content-type": "application/json",
        ":message-type": "event",
    }
    return message(headers, json.dumps(body).encode())


def exception(code: str, text: str) -> bytes:
    """A modelled error inside the stream (botocore raises it as the operation's error)."""
    headers = {
        ":exception-type": code,
        ":content-type": "application/json",
        ":message-type": "exception",
    }
    return message(headers, json.dumps({"message": text}).encode())
