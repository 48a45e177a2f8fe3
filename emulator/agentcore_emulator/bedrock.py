"""Amazon Bedrock Runtime's model operations on the emulator's endpoint (SigV4 service
``bedrock``): Converse, ConverseStream, InvokeModel, InvokeModelWithResponseStream and
CountTokens, in the shapes of botocore's ``bedrock-runtime`` model; streams in AWS's event
stream framing. Answers come from ``model_turns`` (deterministic, or a test's script);
every call is recorded."""

from __future__ import annotations

import asyncio
import base64
import binascii
import functools
import json
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from urllib.parse import unquote

from starlette.responses import JSONResponse, Response, StreamingResponse

from agentcore_emulator import bedrock_formats as formats
from agentcore_emulator import eventstream, openai_source
from agentcore_emulator.config import ModelSpec
from agentcore_emulator.exceptions import ValidationException
from agentcore_emulator.model_turns import (
    Conversation,
    ModelCalls,
    ScriptedTurn,
    ScriptExhausted,
    Turn,
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


@dataclass(frozen=True)
class LocalModel:
    """A model id answered by a local server speaking OpenAI's chat-completions API."""

    url: str
    name: str | None = None  # the model's name there (default: the model id)


class Models:
    """The emulator's models: where each model id's turns come from, and every call.

    As started, each model id (``"*"``: any other) answers as the config's ``[[models]]``
    say, else deterministically; a test's script replaces that until the next reset.
    """

    def __init__(self, specs: Sequence[ModelSpec] = ()) -> None:
        self.calls = ModelCalls()
        self._specs = tuple(specs)
        self._sources: dict[str, TurnSource | LocalModel] = {}
        self._default = TurnSource()
        self.error: str | None = None  # an AWS error code every call answers with, if set
        self.reset()

    def script(self, model_id: str, turns: Sequence[ScriptedTurn]) -> None:
        """Give a model id (or "*", every model) a script; an empty one: deterministic."""
        if not turns:
            self._sources.pop(model_id, None)
            return
        source = TurnSource()
        source.set_script(turns)
        self._sources[model_id] = source

    def source(self, model_id: str) -> TurnSource | LocalModel:
        return self._sources.get(model_id) or self._sources.get("*") or self._default

    def reset(self) -> None:
        """As started: the config's sources, no call recorded, no error injected."""
        self._sources.clear()
        for spec in self._specs:
            if spec.source == "openai" and spec.url is not None:
                self._sources[spec.model] = LocalModel(spec.url, spec.name)
            elif spec.source == "scripted":
                self.script(spec.model, spec.turns)
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


async def answer(models: Models, raw_path: str, body: bytes) -> Response:
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
    turn, scripted = None, None
    try:
        if models.error is not None:
            raise bedrock_error(models.error)
        source = models.source(model_id)
        if isinstance(source, LocalModel):
            turn = await _ask_local(source, model_id, conversation)
        else:
            turn, scripted = source.next_turn(conversation)
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


async def _ask_local(source: LocalModel, model_id: str, conversation: Conversation) -> Turn:
    """The local server's answer, off the event loop; its failure is the model's error."""
    try:
        return await asyncio.to_thread(
            openai_source.ask, source.url, source.name or model_id, conversation
        )
    except openai_source.LocalModelError as exc:
        raise bedrock_error("ModelErrorException", f"The local model failed: {exc}") from None


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
