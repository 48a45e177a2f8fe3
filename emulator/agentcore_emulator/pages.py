"""One page of a list operation's items: ``maxResults`` and ``nextToken`` as AgentCore's
list operations take them (the token is opaque to callers; here, an offset)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agentcore_emulator.exceptions import ValidationException


def page(
    body: Mapping[str, Any],
    items: list[dict[str, Any]],
    key: str,
    *,
    default: int = 10,
    most: int = 100,
) -> dict[str, Any]:
    """``{key: items on this page}``, with ``nextToken`` while more follow."""
    size = body.get("maxResults", default)
    if not isinstance(size, int) or isinstance(size, bool) or not 1 <= size <= most:
        raise ValidationException.for_field(
            "maxResults", f"Member must have value between 1 and {most}"
        )
    token = body.get("nextToken")
    try:
        start = int(str(token)) if token is not None else 0
    except ValueError:
        raise ValidationException("Invalid nextToken") from None
    if start < 0:
        raise ValidationException("Invalid nextToken")
    found: dict[str, Any] = {key: items[start : start + size]}
    if start + size < len(items):
        found["nextToken"] = str(start + size)
    return found
