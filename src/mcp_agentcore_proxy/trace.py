"""W3C trace context for an invocation: the client's (in ``_meta``), else the proxy's own.

MCP clients that trace put ``traceparent``, ``tracestate`` and ``baggage`` in a request's
``params._meta`` (OpenTelemetry's MCP conventions); a proxy started inside a trace gets them
from ``TRACEPARENT``, ``TRACESTATE`` and ``BAGGAGE`` (OpenTelemetry's environment carriers).
AgentCore passes them to the container, so one trace spans client, proxy and runtime.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

_KEYS = ("traceparent", "tracestate", "baggage")


@dataclass(frozen=True)
class TraceContext:
    traceparent: str | None = None
    tracestate: str | None = None
    baggage: str | None = None

    def for_params(self, params: Mapping[str, Any]) -> TraceContext:
        """The context of a message: its ``_meta``'s if it carries any, else this one."""
        meta = params.get("_meta")
        if not isinstance(meta, dict) or not any(key in meta for key in _KEYS):
            return self
        values = [meta.get(key) for key in _KEYS]
        return TraceContext(*(value if isinstance(value, str) else None for value in values))


NO_TRACE = TraceContext()
