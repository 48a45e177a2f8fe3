"""An OTLP/HTTP receiver for instances' traces (protobuf or JSON, gzip or not).

Each instance is given ``OTEL_EXPORTER_OTLP_ENDPOINT={emulator}/_otlp/{session id}``
(``otel_settings``), so its exporter's ``POST …/v1/traces`` names its session:
the agent's code sets nothing. Logs and metrics are accepted and dropped (the session's
log lines come from its output, as on AgentCore; chosen: metrics are not shown).
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Iterable, Mapping
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import AnyValue
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agentcore_emulator.traces import Span, bounded_attributes
from agentcore_emulator.wire import emulator_of
from agentcore_wire.limits import MAX_PAYLOAD

PROTOBUF = "application/x-protobuf"
_STATUS = {0: "UNSET", 1: "OK", 2: "ERROR"}


async def receive(request: Request) -> Response:
    """``POST /_otlp/{session}/v1/{signal}``: traces kept for the session, others dropped."""
    signal = request.path_params["signal"]
    if signal not in ("traces", "logs", "metrics"):
        return JSONResponse({"message": f"no OTLP signal {signal!r}"}, status_code=404)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        body = _decoded(await request.body(), request.headers.get("content-encoding"))
        spans = _spans(body, media) if signal == "traces" else []
    except ValueError as exc:
        return JSONResponse({"message": f"not an OTLP export: {exc}"}, status_code=400)
    if spans:
        emulator_of(request).traces.add(request.path_params["session"], spans)
        emulator_of(request).activity.publish(
            "spans", {"session": request.path_params["session"], "count": len(spans)}
        )
    if media == PROTOBUF:
        return Response(ExportTraceServiceResponse().SerializeToString(), media_type=PROTOBUF)
    return JSONResponse({})


def _decoded(body: bytes, encoding: str | None) -> bytes:
    if (encoding or "").lower() != "gzip":
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, MAX_PAYLOAD + 1)
    except zlib.error as exc:
        raise ValueError(f"bad gzip: {exc}") from None
    if len(data) > MAX_PAYLOAD:
        raise ValueError(f"over {MAX_PAYLOAD} bytes once inflated")
    return data


def _spans(body: bytes, media: str) -> list[Span]:
    if media == PROTOBUF:
        export = ExportTraceServiceRequest()
        try:
            export.ParseFromString(body)
        except Exception as exc:  # protobuf's DecodeError
            raise ValueError(str(exc)) from None
        return list(_from_protobuf(export))
    try:
        document = json.loads(body)
    except ValueError as exc:
        raise ValueError(f"bad JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ValueError("the JSON is not an object")
    return list(_from_json(document))


def _from_protobuf(export: ExportTraceServiceRequest) -> Iterable[Span]:
    for resource_spans in export.resource_spans:
        resource = {kv.key: _proto_value(kv.value) for kv in resource_spans.resource.attributes}
        service = str(resource.get("service.name", "unknown_service"))
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                yield Span(
                    span.trace_id.hex(),
                    span.span_id.hex(),
                    span.parent_span_id.hex(),
                    span.name,
                    span.start_time_unix_nano,
                    span.end_time_unix_nano,
                    service,
                    "instance",
                    _STATUS.get(span.status.code, "UNSET"),
                    bounded_attributes({kv.key: _proto_value(kv.value) for kv in span.attributes}),
                )


def _proto_value(value: AnyValue) -> Any:
    kind = value.WhichOneof("value")
    if kind == "array_value":
        return [_proto_value(v) for v in value.array_value.values]
    if kind == "kvlist_value":
        return {kv.key: _proto_value(kv.value) for kv in value.kvlist_value.values}
    if kind == "bytes_value":
        return value.bytes_value.hex()
    return getattr(value, kind) if kind else None


def _from_json(document: Mapping[str, Any]) -> Iterable[Span]:
    for resource_spans in _list(document.get("resourceSpans")):
        resource = _json_attributes(_dict(resource_spans.get("resource")).get("attributes"))
        service = str(resource.get("service.name", "unknown_service"))
        for scope_spans in _list(resource_spans.get("scopeSpans")):
            for span in _list(scope_spans.get("spans")):
                try:
                    yield Span(
                        _hex_id(span.get("traceId"), 32),
                        _hex_id(span.get("spanId"), 16),
                        _hex_id(span.get("parentSpanId") or "", 16, empty=True),
                        str(span.get("name", "")),
                        int(span.get("startTimeUnixNano", 0)),
                        int(span.get("endTimeUnixNano", 0)),
                        service,
                        "instance",
                        _STATUS.get(int(_dict(span.get("status")).get("code", 0)), "UNSET"),
                        bounded_attributes(_json_attributes(span.get("attributes"))),
                    )
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"a span is malformed: {exc}") from None


def _hex_id(value: object, digits: int, empty: bool = False) -> str:
    text = str(value or "").lower()
    if empty and not text:
        return ""
    if len(text) != digits or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"an id must be {digits} hex digits (OTLP/JSON), not {value!r}")
    return text


def _json_attributes(items: object) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in _list(items):
        value = _dict(item.get("value"))
        found[str(item.get("key"))] = _json_value(value)
    return found


def _json_value(value: Mapping[str, Any]) -> Any:
    for kind, taken in value.items():
        if kind == "arrayValue":
            return [_json_value(_dict(v)) for v in _list(_dict(taken).get("values"))]
        if kind == "kvlistValue":
            return _json_attributes(_dict(taken).get("values"))
        if kind == "intValue":
            return int(taken)
        return taken
    return None


def _list(value: object) -> list[dict[str, Any]]:
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


def _dict(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}
