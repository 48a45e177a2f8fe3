"""MCP 2026-07-28's request headers: ``Mcp-Name`` and ``Mcp-Param-*``, built as its
Streamable HTTP transport says (basic/transports/streamable-http, "Request Metadata").

A value that is not plain printable ASCII without surrounding whitespace travels as
``=?base64?...?=``. A tool's ``inputSchema`` may mark arguments ``x-mcp-header: Name``: a
call then carries ``Mcp-Param-Name`` with that argument's value, which a 2026-07-28 server
checks against the body (-32020 ``HeaderMismatch`` if it is missing or differs). The proxy
is the HTTP client of the runtime, so it learns each tool's marks from the ``tools/list``
answers it forwards and adds the headers itself; a tool whose marks break the rules is left
out of the listing, as the transport requires of a client (``tool_headers``).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

PARAM_PREFIX = "Mcp-Param-"
X_MCP_HEADER = "x-mcp-header"

_SENTINEL = re.compile(r"=\?base64\?(.*)\?=", re.DOTALL)
_PLAIN = re.compile(r"[\x20-\x7e]*")
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 field-name token
_HEADER_TYPES = frozenset({"string", "integer", "boolean"})
_SAFE_INTEGER = 2**53 - 1  # JavaScript's safe range, which the revision requires
# Schema keywords whose values are schemas (one, a list, or a map of them): an
# x-mcp-header under any of them is off the pure ``properties`` chain the revision requires.
_ONE_SCHEMA = frozenset(
    {
        "items",
        "contains",
        "additionalProperties",
        "unevaluatedProperties",
        "unevaluatedItems",
        "propertyNames",
        "not",
        "if",
        "then",
        "else",
        "contentSchema",
    }
)
_SCHEMA_LISTS = frozenset({"prefixItems", "allOf", "anyOf", "oneOf"})
_SCHEMA_MAPS = frozenset({"patternProperties", "dependentSchemas", "$defs", "definitions"})

Declarations = dict[tuple[str, ...], str]  # argument path -> header name token


@dataclass(frozen=True)
class ClientHeaders:
    """An HTTP client's own headers that its server checks against the body: passed on as
    sent, and none added for it (a mismatch is the client's)."""

    version: str | None  # MCP-Protocol-Version
    params: tuple[tuple[str, str], ...] = ()  # Mcp-Param-*


def encode_value(value: str) -> str:
    """``value`` as an HTTP header value: as is if plain, else in the base64 sentinel."""
    if _PLAIN.fullmatch(value) and value == value.strip() and not _SENTINEL.fullmatch(value):
        return value
    return f"=?base64?{base64.b64encode(value.encode()).decode('ascii')}?="


def decode_value(value: str) -> str | None:
    """A header value as sent (the sentinel decoded); None if the sentinel is malformed."""
    found = _SENTINEL.fullmatch(value)
    if found is None:
        return value
    try:
        decoded = base64.b64decode(found.group(1), validate=True)
        if base64.b64encode(decoded).decode("ascii") != found.group(1):
            return None  # not canonical: the encoder never sends it
        return decoded.decode()
    except (ValueError, UnicodeDecodeError):
        return None


def _positions(schema: object) -> Iterator[tuple[tuple[str, ...] | None, dict[str, Any]]]:
    """Every sub-schema, with its ``properties`` path (None once off that chain); ``$ref``
    is not followed, so the walk ends on any JSON value."""
    stack: list[tuple[tuple[str, ...] | None, object]] = [((), schema)]
    while stack:
        path, node = stack.pop()
        if not isinstance(node, dict):
            continue
        yield path, node
        for keyword, value in node.items():
            if keyword == "properties" and isinstance(value, dict):
                for name, child in value.items():
                    stack.append((None if path is None else (*path, str(name)), child))
            elif keyword in _ONE_SCHEMA or keyword in _SCHEMA_LISTS:
                children = value if isinstance(value, list) else [value]
                stack.extend((None, child) for child in children)
            elif keyword in _SCHEMA_MAPS and isinstance(value, dict):
                stack.extend((None, child) for child in value.values())


def declarations(input_schema: object) -> Declarations:
    """The ``x-mcp-header`` marks of a tool's ``inputSchema``; ValueError naming what
    breaks the revision's rules."""
    found: Declarations = {}
    seen: dict[str, str] = {}
    for path, schema in _positions(input_schema):
        if X_MCP_HEADER not in schema:
            continue
        if not path:
            raise ValueError(f"{X_MCP_HEADER} off the properties chain")
        where = ".".join(path)
        token = schema[X_MCP_HEADER]
        if not isinstance(token, str) or not _TOKEN.fullmatch(token):
            raise ValueError(f"{X_MCP_HEADER} of {where!r} is not a header name")
        if schema.get("type") not in _HEADER_TYPES:
            raise ValueError(f"{X_MCP_HEADER} on {where!r}: not a string, integer or boolean")
        if (earlier := seen.get(token.lower())) is not None:
            raise ValueError(f"{X_MCP_HEADER} {token!r} of {where!r} repeats {earlier!r}'s")
        seen[token.lower()] = where
        found[path] = token
    return found


def _rendered(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int) and abs(value) <= _SAFE_INTEGER:
        return str(value)
    if isinstance(value, float) and value.is_integer() and abs(value) <= _SAFE_INTEGER:
        return str(int(value))
    return value if isinstance(value, str) else None


def param_headers(marks: Declarations, arguments: object) -> list[tuple[str, str]]:
    """The ``Mcp-Param-*`` headers of a call with ``arguments`` (absent or null: none)."""
    headers = []
    for path, token in marks.items():
        node: object = arguments
        for key in path:
            node = node.get(key) if isinstance(node, dict) else None
        rendered = _rendered(node)
        if rendered is not None:
            headers.append((f"{PARAM_PREFIX}{token}", encode_value(rendered)))
    return headers
