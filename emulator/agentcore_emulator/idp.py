"""The identity provider's HTTP endpoints: discovery, JWKS, the token endpoint, and the
authorization endpoint's sign-in page (a person, or a test acting as one, signs in there)."""

from __future__ import annotations

import html
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

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


_SIGN_IN = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Sign in: agentcore-emulator</title>
<style>body{{font:16px system-ui,sans-serif;max-width:26rem;margin:4rem auto;padding:0 1rem}}
input,button{{font:inherit;padding:.4rem;margin:.3rem 0;width:100%}}</style></head>
<body><h1>Sign in</h1>
<p><b>{client}</b> asks to act for you with the scopes <code>{scopes}</code>.</p>
<p>This is the emulator's own identity provider: any user name signs in.</p>
<form method="post">{hidden}
<label>User name <input name="username" autocomplete="username" required autofocus></label>
<button type="submit">Allow</button></form></body></html>
"""


async def authorize(request: Request) -> Response:
    """GET: the sign-in page for an authorization request; POST: the person allowed it,
    sent on to the client's redirect_uri with a code."""
    idp = emulator_of(request).idp
    query = dict(request.query_params)
    if request.method == "GET":
        hidden = "".join(
            f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
            for k, v in query.items()
        )
        page = _SIGN_IN.format(
            client=html.escape(query.get("client_id", "?")),
            scopes=html.escape(query.get("scope", "")),
            hidden=hidden,
        )
        return HTMLResponse(page, headers={"Cache-Control": "no-store"})
    form = dict(parse_qsl((await request.body()).decode("utf-8", "replace")))
    username = form.pop("username", "")
    try:
        target = idp.authorize({**query, **form}, username)
    except OAuthError as exc:
        return JSONResponse(
            {"error": exc.error, "error_description": exc.description}, status_code=400
        )
    return RedirectResponse(target, status_code=302)
