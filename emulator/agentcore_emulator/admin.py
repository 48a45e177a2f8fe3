"""Endpoints for tests and tooling under /_emulator/ (unsigned: the emulator binds loopback)."""

from __future__ import annotations

import dataclasses

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agentcore_emulator.config import FaultSpec
from agentcore_emulator.errors import error_response
from agentcore_emulator.state import emulator_of
from mcp_agentcore_proxy.aws_errors import AwsError


async def health(request: Request) -> Response:
    emulator = emulator_of(request)
    return JSONResponse(
        {"status": "ok", "runtimes": [{"name": s.name, "arn": s.arn} for s in emulator.runtimes]}
    )


async def list_sessions(request: Request) -> Response:
    emulator = emulator_of(request)
    rows = [
        {
            "runtime": session.spec.name,
            "sessionId": session.session_id,
            "mcpSessionId": session.mcp_session_id,
            "pid": session.instance.process.pid,
            "stateful": session.stateful,
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


async def set_faults(request: Request) -> Response:
    emulator = emulator_of(request)
    try:
        faults = FaultSpec.from_mapping(await request.json(), "faults")
        spec = emulator.runtimes.set_faults(request.path_params["name"], faults)
    except AwsError as exc:
        return error_response(exc)
    except (ValueError, TypeError) as exc:
        return JSONResponse({"message": str(exc)}, status_code=400)
    return JSONResponse({"runtime": spec.name, "faults": dataclasses.asdict(faults)})


async def set_converse_error(request: Request) -> Response:
    emulator = emulator_of(request)
    emulator.converse_error = (await request.json()).get("error")
    return JSONResponse({"error": emulator.converse_error})


async def expire_credentials(request: Request) -> Response:
    """Expire every credential the emulator's STS has issued so far."""
    return JSONResponse({"expired": emulator_of(request).credentials.expire_issued()})


async def advance_clock(request: Request) -> Response:
    """Move the session clock forward and reap what expired, as if time had passed."""
    emulator = emulator_of(request)
    emulator.sessions.clock.advance(float((await request.json())["seconds"]))
    return JSONResponse({"ended": await emulator.sessions.reap()})
