"""The emulator's HTTP application: AgentCore's data plane, plus moto and Bedrock behind it."""

from __future__ import annotations

import collections
import contextlib
import json
import logging
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from agentcore_emulator import bedrock
from agentcore_emulator.aws_services import MotoServices
from agentcore_emulator.config import EmulatorConfig, FaultSpec, RuntimeSpec
from agentcore_emulator.credentials import CredentialStore
from agentcore_emulator.errors import error_response, new_request_id
from agentcore_emulator.relay import SESSION_HEADER, relay
from agentcore_emulator.runtimes import RuntimeRegistry
from agentcore_emulator.sessions import SessionClock, SessionRegistry
from agentcore_emulator.sigv4 import Credential, SignedRequest, Verified, verify_sigv4
from mcp_agentcore_proxy.aws_errors import AwsError, ResourceNotFoundException, ValidationException

logger = logging.getLogger("agentcore_emulator")

DATA_PLANE = "bedrock-agentcore"
SIGNING_SERVICES = frozenset({DATA_PLANE, "sts", "bedrock"})
MAX_BODY = 100_000_000


class Emulator:
    """The emulator's state: runtimes, sessions, credentials, and the services behind it."""

    def __init__(
        self, config: EmulatorConfig, base_url: str, clock: SessionClock | None = None
    ) -> None:
        self.config = config
        self.base_url = base_url
        self.runtimes = RuntimeRegistry(config.runtimes, config.account)
        self.credentials = CredentialStore([Credential(config.access_key, config.secret_key)])
        self.client = httpx.AsyncClient(timeout=httpx.Timeout(None, connect=5.0))
        self.sessions = SessionRegistry(self.client, self.instance_env, config.max_sessions, clock)
        self.moto = MotoServices(config)
        self.converse_error: str | None = None
        self.invocations: collections.Counter[str] = collections.Counter()

    def instance_env(self, spec: RuntimeSpec, session_id: str) -> dict[str, str]:
        """What an instance sees, as a runtime's execution role would give it."""
        return {
            "AWS_ENDPOINT_URL": self.base_url,
            "AWS_REGION": self.config.region,
            "AWS_DEFAULT_REGION": self.config.region,
            "AWS_ACCESS_KEY_ID": self.config.access_key,
            "AWS_SECRET_ACCESS_KEY": self.config.secret_key,
            "AGENTCORE_RUNTIME_ARN": spec.arn,
        }

    async def verify(self, request: Request, body: bytes) -> Verified:
        signed = SignedRequest(
            method=request.method,
            raw_path=request.scope.get("raw_path", request.url.path.encode()).decode("latin-1"),
            query=request.scope.get("query_string", b"").decode("latin-1"),
            headers=[
                (k.decode("latin-1"), v.decode("latin-1")) for k, v in request.scope["headers"]
            ],
            body=body,
        )
        return verify_sigv4(
            signed,
            self.credentials,
            now=datetime.now(UTC),
            region=self.config.region,
            services=SIGNING_SERVICES,
            max_skew=timedelta(seconds=self.config.max_skew_seconds),
        )


def _emulator(request: Request) -> Emulator:
    return request.app.state.emulator  # type: ignore[no-any-return]


def _method_of(body: bytes) -> str:
    if len(body) > 1_000_000:
        return "?"
    try:
        message = json.loads(body)
    except ValueError:
        return "?"
    return str(message.get("method", "response")) if isinstance(message, dict) else "?"


async def invocations(request: Request) -> Response:
    """InvokeAgentRuntime: route to the session's instance, starting one if needed."""
    emulator = _emulator(request)
    request_id = new_request_id()
    started = time.monotonic()
    body = await request.body()
    session_id = request.headers.get(SESSION_HEADER)
    status: int | str = "?"
    try:
        await emulator.verify(request, body)
        if request.method != "POST":
            status = 405
            return Response("Method Not Allowed", 405, headers={"Allow": "POST"})
        spec = emulator.runtimes.resolve(
            request.path_params["arn"], request.query_params.get("accountId")
        )
        emulator.invocations[spec.name] += 1
        if session_id is not None and not 33 <= len(session_id) <= 256:
            raise ValidationException.for_field(
                "runtimeSessionId", "Member must have length between 33 and 256"
            )
        mcp_session_id = request.headers.get("mcp-session-id")
        if session_id is None and mcp_session_id:
            known = emulator.sessions.by_mcp_session(spec, mcp_session_id)
            session_id = known.session_id if known else None
        session_id = session_id or emulator.sessions.new_session_id()
        emulator.runtimes.admit(spec)
        session = await emulator.sessions.acquire(spec, session_id)
        response = await relay(
            emulator.client,
            session,
            body,
            request.headers,
            request_id,
            emulator.sessions.clock,
            spec.faults,  # the runtime's current faults, which tests switch while serving
        )
        status = response.status_code
        return response
    except AwsError as exc:
        status = exc.code
        return error_response(exc, request_id)
    finally:
        logger.info(
            "invoke runtime=%s session=%s method=%s status=%s %.0fms",
            request.path_params.get("arn", "?").rsplit("/", 1)[-1],
            session_id,
            _method_of(body),
            status,
            (time.monotonic() - started) * 1000,
        )


async def stop_runtime_session(request: Request) -> Response:
    """StopRuntimeSession: end the session's instance now."""
    emulator = _emulator(request)
    request_id = new_request_id()
    body = await request.body()
    try:
        await emulator.verify(request, body)
        spec = emulator.runtimes.resolve(
            request.path_params["arn"], request.query_params.get("accountId")
        )
        session_id = request.headers.get(SESSION_HEADER)
        if session_id is None or not 33 <= len(session_id) <= 256:
            raise ValidationException.for_field(
                "runtimeSessionId", "Member must have length between 33 and 256"
            )
        if not await emulator.sessions.stop(spec, session_id):
            raise ResourceNotFoundException(f"Session not found: {session_id}")
        logger.info("stopped session %s of %s", session_id, spec.name)
        return JSONResponse(
            {}, headers={SESSION_HEADER: session_id, "x-amzn-RequestId": request_id}
        )
    except AwsError as exc:
        return error_response(exc, request_id)


async def aws_services(request: Request) -> Response:
    """Any other AWS call: dispatched by the service of its SigV4 credential scope."""
    emulator = _emulator(request)
    request_id = new_request_id()
    body = await request.body()
    try:
        verified = await emulator.verify(request, body)
        service = verified.scope.service
        path = request.url.path
        if service == "bedrock":
            if not path.endswith("/converse"):
                raise ValidationException(f"The emulator answers Converse only, not {path}")
            model_id = path.removeprefix("/model/").removesuffix("/converse")
            answer = bedrock.converse(model_id, body, emulator.converse_error)
            return JSONResponse(answer, headers={"x-amzn-RequestId": request_id})
        raw = request.scope.get("raw_path", path.encode()).decode("latin-1")
        query = request.scope.get("query_string", b"").decode("latin-1")
        return await emulator.moto.forward(
            emulator.client,
            request.method,
            raw + (f"?{query}" if query else ""),
            request.headers,
            body,
        )
    except AwsError as exc:
        return error_response(exc, request_id)


# -- endpoints for tests and tooling (unsigned; the emulator binds loopback) --------------


async def health(request: Request) -> Response:
    emulator = _emulator(request)
    return JSONResponse(
        {"status": "ok", "runtimes": [{"name": s.name, "arn": s.arn} for s in emulator.runtimes]}
    )


async def list_sessions(request: Request) -> Response:
    emulator = _emulator(request)
    rows = []
    for spec in emulator.runtimes:
        for session_id in emulator.sessions.ids(spec):
            session = emulator.sessions.get(spec, session_id)
            if session is not None:
                rows.append(
                    {
                        "runtime": spec.name,
                        "sessionId": session_id,
                        "mcpSessionId": session.mcp_session_id,
                        "pid": session.instance.process.pid,
                        "stateful": session.stateful,
                    }
                )
    return JSONResponse(
        {
            "sessions": rows,
            "started": emulator.sessions.started,
            "invocations": emulator.invocations,
        }
    )


async def stop_all_sessions(request: Request) -> Response:
    emulator = _emulator(request)
    count = len(emulator.sessions)
    await emulator.sessions.stop_all()
    return JSONResponse({"stopped": count})


async def set_faults(request: Request) -> Response:
    emulator = _emulator(request)
    try:
        faults = FaultSpec.from_mapping(await request.json(), "faults")
        spec = emulator.runtimes.set_faults(request.path_params["name"], faults)
    except AwsError as exc:
        return error_response(exc)
    except (ValueError, TypeError) as exc:
        return JSONResponse({"message": str(exc)}, status_code=400)
    return JSONResponse({"runtime": spec.name, "faults": faults.__dict__})


async def set_converse_error(request: Request) -> Response:
    emulator = _emulator(request)
    emulator.converse_error = (await request.json()).get("error")
    return JSONResponse({"error": emulator.converse_error})


async def expire_credentials(request: Request) -> Response:
    """Expire every credential the emulator's STS has issued so far."""
    return JSONResponse({"expired": _emulator(request).credentials.expire_issued()})


async def advance_clock(request: Request) -> Response:
    """Move the session clock forward and reap what expired, as if time had passed."""
    emulator = _emulator(request)
    emulator.sessions.clock.advance(float((await request.json())["seconds"]))
    return JSONResponse({"ended": await emulator.sessions.reap()})


ROUTES = [
    Route("/runtimes/{arn:path}/invocations", invocations, methods=["POST", "GET", "DELETE"]),
    Route("/runtimes/{arn:path}/stopruntimesession", stop_runtime_session, methods=["POST"]),
    Route("/_emulator/health", health, methods=["GET"]),
    Route("/_emulator/sessions", list_sessions, methods=["GET"]),
    Route("/_emulator/sessions", stop_all_sessions, methods=["DELETE"]),
    Route("/_emulator/runtimes/{name}/faults", set_faults, methods=["PUT"]),
    Route("/_emulator/bedrock/error", set_converse_error, methods=["PUT"]),
    Route("/_emulator/clock/advance", advance_clock, methods=["POST"]),
    Route("/_emulator/credentials/expire", expire_credentials, methods=["POST"]),
    Route("/{path:path}", aws_services, methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
]


def build_app(
    config: EmulatorConfig, base_url: str, clock: SessionClock | None = None
) -> Starlette:
    """The emulator as an ASGI app; ``base_url`` is where instances reach it."""
    emulator = Emulator(config, base_url, clock)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        import asyncio

        emulator.moto.start()
        reaper = asyncio.ensure_future(emulator.sessions.run_reaper(config.reap_interval))
        try:
            yield
        finally:
            reaper.cancel()
            await emulator.sessions.stop_all()
            await emulator.client.aclose()
            emulator.moto.stop()

    app = Starlette(routes=ROUTES, lifespan=lifespan, max_body_size=MAX_BODY)
    app.state.emulator = emulator
    return app
