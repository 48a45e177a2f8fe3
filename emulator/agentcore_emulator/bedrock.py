"""Amazon Bedrock Runtime's model operations on the emulator's endpoint (SigV4 service
``bedrock``): Converse, ConverseStream, InvokeModel, InvokeModelWithResponseStream and
CountTokens, in the shapes of botocore's ``bedrock-runtime`` model; streams in AWS's event
stream framing. Answers come from ``model_turns`` (deterministic, or a test's script);
every call is recorded."""

from __future__ import annotations

import base64
import binascii
import functools
import json
import re
import time
from collections.abc import Iterator, Sequence
from urllib.parse import unquote

from starlette.responses import JSONResponse, Response, StreamingResponse

from agentcore_emulator import bedrock_formats as formats
from agentcore_emulator import eventstream
from agentcore_emulator.exceptions import ValidationException
from agentcore_emulator.model_turns import (
    ModelCalls,
    ScriptedTurn,
    ScriptExhausted,
    TurnSource,
    input_tokens,
)
from agentcore_wire.aws_errors import AwsError

OPERATIONS = {
    "converse": "Converse",
    "converse-stream": "ConverseStream",
    "invoke": "InvokeModel",
    "invoke-with-response-stream": "InvokeModelWithResponseStream",
    "count-tokens": "CountTokens",
}
# Model ids as users write them: a base model id (provider.model), a cross-region inference
# profile (us.provider.model), or an ARN of a model or a profile.
_MODEL_ID = re.compile(
    r"(arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{0,12}:(foundation-model|inference-profile|"
    r"application-inference-profile|custom-model|provisioned-model|imported-model)/\S+)"
    r"|(([a-z]{2,4}|global)\.)?[a-z0-9-]+\.[a-z0-9][a-z0-9-.:]*"
)
# What a test's injected error says, by code (as Bedrock says it).
ERROR_TEXT = {
    "ThrottlingException": "Too many requests, please wait before trying again.",
    "AccessDeniedException": "You don't have access to the model with the specified model ID.",
    "ServiceUnavailableException": "The service is unavailable. Try again later.",
    "ModelTimeoutException": "The model took too long to answer.",
}


@functools.cache
def _statuses() -> dict[str, int]:
    import botocore.session

    model = botocore.session.get_session().get_service_model("bedrock-runtime")
    statuses = {}
    for shape in model.error_shapes:
        status = shape.metadata.get("error", {}).get("httpStatusCode")
        if status is not None:
            statuses[shape.name] = int(status)
    return statuses


def bedrock_error(code: str, message: str | None = None) -> AwsError:
    """An error of Bedrock Runtime's, with the status its model gives the code."""
    return AwsError(
        message or ERROR_TEXT.get(code, f"Injected {code}"),
        code=code,
        status=_statuses().get(code, 400),
    )


class Models:
    """The emulator's models: where each model id's turns come from, and every call."""

    def __init__(self) -> None:
        self.calls = ModelCalls()
        self._sources: dict[str, TurnSource] = {}
        self._default = TurnSource()
        self.error: str | None = None  # an AWS error code every call answers with, if set

    def script(self, model_id: str, turns: Sequence[ScriptedTurn]) -> None:
        """Give a model id (or "*", every model) a script; an empty one: deterministic."""
        if not turns:
            self._sources.pop(model_id, None)
            return
        source = self._sources.setdefault(model_id, TurnSource())
        source.set_script(turns)

    def source(self, model_id: str) -> TurnSource:
        return self._sources.get(model_id) or self._sources.get("*") or self._default

    def reset(self) -> None:
        self._sources.clear()
        self.calls.clear()
        self.error = None


def _target(raw_path: str) -> tuple[str, str]:
    """The model id and the operation of ``/model/{modelId}/{operation}``."""
    parts = raw_path.split("/")
    if len(parts) != 4 or parts[1] != "model" or parts[3] not in OPERATIONS:
        raise ValidationException(
            f"The emulator answers Bedrock Runtime's {', '.join(OPERATIONS.values())} "
            f"(POST /model/{{modelId}}/...), not {unquote(raw_path)}"
        )
    model_id = unquote(parts[2])
    if not _MODEL_ID.fullmatch(model_id):
        raise ValidationException("The provided model identifier is invalid.")
    return model_id, OPERATIONS[parts[3]]


def answer(models: Models, raw_path: str, body: bytes) -> Response:
    """One model operation's answer (an AwsError for what AWS refuses)."""
    started = time.monotonic()
    model_id, operation = _target(raw_path)
    if operation == "CountTokens":
        return _count_tokens(model_id, body)
    kind = "converse"
    if operation.startswith("Invoke"):
        kind, conversation = formats.read_invoke(model_id, operation, body)
    else:
        conversation = formats.read_converse(model_id, operation, body)
    turn = None
    try:
        if models.error is not None:
            raise bedrock_error(models.error)
        turn, scripted = models.source(model_id).next_turn(conversation)
        if scripted is not None and scripted.error is not None:
            raise bedrock_error(scripted.error)
    except ScriptExhausted as exc:
        models.calls.record(conversation, None, "ValidationException")
        raise ValidationException(str(exc)) from None
    except AwsError as exc:
        models.calls.record(conversation, None, exc.code)
        raise
    break_off = scripted is not None and scripted.error_mid_stream
    models.calls.record(conversation, turn, "ModelStreamErrorException" if break_off else None)
    latency = max(1, int((time.monotonic() - started) * 1000))
    if operation == "Converse":
        return JSONResponse(formats.converse_answer(turn, latency))
    if operation == "ConverseStream":
        return _stream(formats.converse_stream(turn, latency, break_off))
    if operation == "InvokeModel":
        answered = formats.invoke_answer(kind, model_id, turn, latency)
        return Response(json.dumps(answered), media_type="application/json")
    return _stream(formats.invoke_stream(kind, model_id, turn, latency, break_off))


def _stream(frames: Iterator[bytes]) -> StreamingResponse:
    return StreamingResponse(frames, media_type=eventstream.CONTENT_TYPE)


def _count_tokens(model_id: str, body: bytes) -> Response:
    request = formats.read_json(body)
    given = request.get("input")
    if not isinstance(given, dict) or len(given) != 1:
        raise ValidationException(
            "Malformed input request: input must hold invokeModel or converse"
        )
    if "converse" in given:
        conversation = formats.read_converse(
            model_id, "CountTokens", json.dumps(given["converse"]).encode()
        )
    elif "invokeModel" in given:
        try:  # a blob in a JSON body travels base64-encoded
            raw = base64.b64decode(str(given["invokeModel"].get("body", "")), validate=True)
        except (binascii.Error, ValueError):
            raise ValidationException("Malformed input request: invokeModel.body") from None
        _, conversation = formats.read_invoke(model_id, "CountTokens", raw)
    else:
        raise ValidationException(
            "Malformed input request: input must hold invokeModel or converse"
        )
    return JSONResponse({"inputTokens": input_tokens(conversation)})
