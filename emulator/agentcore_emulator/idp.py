"""The identity provider's HTTP endpoints: discovery, JWKS and the token endpoint."""

from __future__ import annotations

from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agentcore_emulator.oauth import OAuthError
from agentcore_emulator.wire import emulator_of

_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}  # RFC 6749, section 5.1


async def discovery(request: Request) -> Response:
    return JSONResponse(emulator_of(request).idp.discovery())


async def jwks(request: Request) -> Response:
    return JSONResponse(emulator_of(request).idp.jwks())


async def token(request: Request) -> Response:
    """The client-credentials grant; errors as RFC 6749 words them."""
    # An urlencoded form (RFC 6749 allows no other), read without a multipart parser.
    fields = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    try:
        issued = emulator_of(request).idp.token(fields, request.headers.get("authorization"))
    except OAuthError as exc:
        headers = dict(_NO_STORE)
        if exc.status == 401:
            headers["WWW-Authenticate"] = 'Basic realm="agentcore-emulator"'
        return JSONResponse(
            {"error": exc.error, "error_description": exc.description},
            status_code=exc.status,
            headers=headers,
        )
    return JSONResponse(issued, headers=_NO_STORE)
