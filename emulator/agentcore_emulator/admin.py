"""Endpoints for tests and tooling under /_emulator/, unsigned and so kept local.

They can expire credentials and move the clock, so a web page the developer happens to
open must not reach them: every admin request needs a loopback ``Host`` (no DNS
rebinding), no foreign ``Origin``, and a JSON body where it sends one (a cross-site form
or ``text/plain`` POST cannot be sent without a CORS preflight, which is never granted).
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agentcore_emulator.config import ConfigError, FaultSpec
from agentcore_emulator.model_turns import ScriptedTurn
from agentcore_emulator.wire import emulator_of
from agentcore_wire.loopback import host_name, is_loopback, is_loopback_origin

Endpoint = Callable[[Request], Awaitable[Response]]


def _refusal(request: Request) -> Response | None:
    host = host_name(request.headers.get("host", ""))
    if not is_loopback(host):
        return JSONResponse({"message": f"admin requests need a loopback Host, not {host!r}"}, 403)
    origin = request.headers.get("origin")
    if origin is not None and not is_loopback_origin(origin):
        return JSONResponse({"message": f"admin requests from origin {origin!r} are refused"}, 403)
    if request.method in ("POST", "PUT"):
        media_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if media_type != "application/json":
            return JSONResponse({"message": "admin requests send application/json"}, 415)
    return None


def local_only(endpoint: Endpoint) -> Endpoint:
    """Refuse an admin request that could come from a web page (see the module doc)."""

    @functools.wraps(endpoint)
    async def guarded(request: Request) -> Response:
        return _refusal(request) or await endpoint(request)

    return guarded


class BadRequest(Exception):
    """An admin body that cannot be used; answered 400 with the reason."""


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(await request.body() or b"{}")
    except ValueError as exc:
        raise BadRequest(f"the body is not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequest("the body must be a JSON object")
    return body


def answers_bad_requests(endpoint: Endpoint) -> Endpoint:
    @functools.wraps(endpoint)
    async def answered(request: Request) -> Response:
        try:
            return await endpoint(request)
        except BadRequest as exc:
            return JSONResponse({"message": str(exc)}, status_code=400)

    return answered


async def health(request: Request) -> Response:
    emulator = emulator_of(request)
    return JSONResponse(
        {"status": "ok", "runtimes": [{"name": s.name, "arn": s.arn} for s in emulator.runtimes]}
    )


async def exports(request: Request) -> Response:
    """What ``agentcore-emulator env`` prints for this emulator (``?runtime=NAME``)."""
    emulator = emulator_of(request)
    try:
        found = emulator.config.exports(emulator.base_url, request.query_params.get("runtime"))
    except ConfigError as exc:
        return JSONResponse({"message": str(exc)}, status_code=404)
    return JSONResponse({"exports": found})


async def list_sessions(request: Request) -> Response:
    emulator = emulator_of(request)
    rows = [
        {
            "runtime": session.spec.name,
            "sessionId": session.session_id,
            "mcpSessionId": session.mcp_session_id,
            "pid": session.instance.process.pid,
            "address": session.instance.network.address,  # in its own network, if isolated
            "port": session.instance.port,
            "stateful": session.stateful,
            "ping": session.ping_status,  # what its /ping last said (HTTP and AG-UI)
        }
        for session in emulator.sessions
    ]
    return JSONResponse({"sessions": rows, "started": emulator.sessions.started})


async def list_arrivals(request: Request) -> Response:
    """The latest invocations, in the order they arrived."""
    return JSONResponse({"arrivals": list(emulator_of(request).arrivals)})


async def stop_all_sessions(request: Request) -> Response:
    emulator = emulator_of(request)
    count = len(emulator.sessions)
    await emulator.sessions.stop_all()
    return JSONResponse({"stopped": count})


async def reset(request: Request) -> Response:
    """Back to as started (sessions, faults, clock, invocation log): between two tests."""
    await emulator_of(request).reset()
    return JSONResponse({"reset": True})


async def set_faults(request: Request) -> Response:
    emulator = emulator_of(request)
    try:
        faults = FaultSpec.from_mapping(await json_body(request), "faults")
        spec = emulator.runtimes.set_faults(request.path_params["name"], faults)
    except (ConfigError, ValueError, TypeError) as exc:
        raise BadRequest(str(exc)) from exc
    return JSONResponse({"runtime": spec.name, "faults": dataclasses.asdict(faults)})


async def set_model_error(request: Request) -> Response:
    """Make every model call answer with an AWS error code (null: answer again)."""
    emulator = emulator_of(request)
    error = (await json_body(request)).get("error")
    if error is not None and not isinstance(error, str):
        raise BadRequest('"error" must be an AWS error code (a string) or null')
    emulator.models.error = error
    return JSONResponse({"error": emulator.models.error})


async def set_model_script(request: Request) -> Response:
    """Give a model id (``"model"``, default ``"*"``: every model) the turns it answers."""
    body = await json_body(request)
    model = body.get("model", "*")
    turns = body.get("turns")
    if not isinstance(model, str) or not isinstance(turns, list):
        raise BadRequest('a script is {"model": "*" or a model id, "turns": [...]}')
    try:
        script = [ScriptedTurn.from_mapping(t) for t in turns if isinstance(t, dict)]
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    if len(script) != len(turns):
        raise BadRequest("each scripted turn is a JSON object")
    emulator_of(request).models.script(model, script)
    return JSONResponse({"model": model, "turns": len(script)})


async def reset_models(request: Request) -> Response:
    """Models as started: deterministic, no call recorded, no error injected."""
    emulator_of(request).models.reset()
    return JSONResponse({"reset": True})


async def list_model_calls(request: Request) -> Response:
    """Every model call, in order: model id, operation, messages, tools, answer, error."""
    return JSONResponse({"calls": emulator_of(request).models.calls.list()})


async def list_identity_issued(request: Request) -> Response:
    """Every API key and OAuth2 token the token vault gave: provider, flow, workload, user
    (never the secret itself)."""
    return JSONResponse({"issued": emulator_of(request).identity.issued})


async def reset_identity(request: Request) -> Response:
    """Identity as started: each runtime's workload identity, no provider, nothing issued."""
    emulator_of(request).identity.reset()
    return JSONResponse({"reset": True})


async def expire_credentials(request: Request) -> Response:
    """Expire every credential the emulator's STS has issued so far."""
    return JSONResponse({"expired": emulator_of(request).credentials.expire_issued()})


async def advance_clock(request: Request) -> Response:
    """Move the session clock forward and reap what expired, as if time had passed."""
    emulator = emulator_of(request)
    seconds = (await json_body(request)).get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not seconds >= 0:
        raise BadRequest('"seconds" must be a number, 0 or more')
    emulator.sessions.clock.advance(float(seconds))
    return JSONResponse({"ended": await emulator.sessions.reap()})


async def issue_token(request: Request) -> Response:
    """A token from the identity provider, for tests: ``expires_in`` may be in the past."""
    body = await json_body(request)
    emulator = emulator_of(request)
    client = emulator.idp.client(str(body.get("client_id", "")))
    if client is None:
        raise BadRequest(f"no OAuth client {body.get('client_id')!r} in the config")
    expires_in = body.get("expires_in")
    if expires_in is not None and not isinstance(expires_in, int | float):
        raise BadRequest("expires_in must be a number of seconds")
    scopes = body.get("scopes", list(client.scopes))
    if not isinstance(scopes, list) or not all(isinstance(s, str) for s in scopes):
        raise BadRequest("scopes must be a list of strings")
    claims = body.get("claims", {})  # set or replace claims, to test what a runtime refuses
    if not isinstance(claims, dict):
        raise BadRequest("claims must be an object")
    return JSONResponse(emulator.idp.issue(client, scopes, expires_in, claims))
