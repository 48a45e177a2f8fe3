"""AgentCore Identity's operations on the wire: each operation's JSON body to the token
vault (``identity``) and back, and the client-credentials grant that GetResourceOauth2Token
makes to the provider's token endpoint."""

from __future__ import annotations

import asyncio
import html
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlencode

import aiohttp
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response

from agentcore_emulator.config import JwtAuthorizerSpec
from agentcore_emulator.exceptions import (
    AccessDeniedException,
    ResourceNotFoundException,
    ValidationException,
)
from agentcore_emulator.identity import OAuth2Provider, TokenVault
from agentcore_emulator.oauth import IdentityProvider, OAuthError
from agentcore_emulator.state import Emulator
from agentcore_emulator.wire import emulator_of, json_object
from agentcore_wire.redaction import redact_url

# How long a token endpoint (and its discovery document) may take to answer.
TOKEN_FETCH_DEADLINE = 10.0

_Handler = Callable[[TokenVault, Mapping[str, Any]], dict[str, Any]]

# Each operation the vault answers as it is, and the HTTP status of its success.
_PLAIN: dict[str, tuple[_Handler, int]] = {
    "CreateWorkloadIdentity": (TokenVault.create_workload_identity, 201),
    "GetWorkloadIdentity": (TokenVault.get_workload_identity, 200),
    "UpdateWorkloadIdentity": (TokenVault.update_workload_identity, 200),
    "DeleteWorkloadIdentity": (TokenVault.delete_workload_identity, 204),
    "ListWorkloadIdentities": (TokenVault.list_workload_identities, 200),
    "CreateApiKeyCredentialProvider": (TokenVault.create_api_key_credential_provider, 201),
    "GetApiKeyCredentialProvider": (TokenVault.get_api_key_credential_provider, 200),
    "UpdateApiKeyCredentialProvider": (TokenVault.update_api_key_credential_provider, 200),
    "DeleteApiKeyCredentialProvider": (TokenVault.delete_api_key_credential_provider, 204),
    "ListApiKeyCredentialProviders": (TokenVault.list_api_key_credential_providers, 200),
    "CreateOauth2CredentialProvider": (TokenVault.create_oauth2_credential_provider, 201),
    "GetOauth2CredentialProvider": (TokenVault.get_oauth2_credential_provider, 200),
    "UpdateOauth2CredentialProvider": (TokenVault.update_oauth2_credential_provider, 200),
    "DeleteOauth2CredentialProvider": (TokenVault.delete_oauth2_credential_provider, 204),
    "ListOauth2CredentialProviders": (TokenVault.list_oauth2_credential_providers, 200),
    "GetWorkloadAccessToken": (TokenVault.get_workload_access_token, 200),
    "GetWorkloadAccessTokenForUserId": (TokenVault.get_workload_access_token_for_user_id, 200),
    "GetResourceApiKey": (TokenVault.get_resource_api_key, 200),
}


async def answer(request: Request, emulator: Emulator, operation: str, body: bytes) -> Response:
    """One Identity operation's answer (``operations.IDENTITY_OPERATIONS``: those of
    ``_PLAIN``, the JWT exchange and the OAuth2 token); an AwsError for what AWS refuses."""
    given = json_object(body)
    vault = emulator.identity
    if operation in _PLAIN:
        handler, status = _PLAIN[operation]
        result = handler(vault, given)
        if status == 204:
            return Response(status_code=204)
        return JSONResponse(result, status_code=status)
    if operation == "GetWorkloadAccessTokenForJWT":
        claims = await _verified_user_token(emulator, given)
        return JSONResponse(vault.get_workload_access_token_for_jwt(given, str(claims["sub"])))
    if operation == "CompleteResourceTokenAuth":
        return JSONResponse(vault.complete(given, await _identified_user(emulator, given)))
    provider, token, flow = vault.oauth2_request(given)
    if flow == "USER_FEDERATION":
        return JSONResponse(vault.user_token(provider, token, given))
    scopes = [s for s in given.get("scopes") or [] if isinstance(s, str)]
    access_token = await client_credentials(emulator, provider, scopes)
    vault.record(provider, token, scopes)
    return JSONResponse({"accessToken": access_token})


async def _identified_user(emulator: Emulator, given: Mapping[str, Any]) -> str:
    """The user a CompleteResourceTokenAuth names: its ``userId``, or its ``userToken``'s
    subject."""
    identifier = given.get("userIdentifier")
    if not isinstance(identifier, dict) or len(identifier) != 1:
        raise ValidationException.for_field(
            "userIdentifier", "Member must set one of userId, userToken"
        )
    if "userId" in identifier:
        return str(identifier["userId"])
    claims = await _verified_user_token(emulator, identifier)
    return str(claims["sub"])


async def _verified_user_token(emulator: Emulator, given: Mapping[str, Any]) -> dict[str, Any]:
    """The claims of ``userToken``, a JWT of the emulator's identity provider (401 if it
    is not one, as a runtime's authorizer answers)."""
    token = given.get("userToken")
    if not isinstance(token, str) or not token:
        raise ValidationException.for_field("userToken", "Member must not be null")
    # As a runtime's authorizer with no limits of its own: the emulator's identity provider.
    claims = await emulator.bearer.verify(emulator.web, JwtAuthorizerSpec(), f"Bearer {token}")
    if not claims.get("sub"):
        raise AccessDeniedException("The user token names no subject (sub)")
    return claims


async def client_credentials(
    emulator: Emulator, provider: OAuth2Provider, scopes: list[str]
) -> str:
    """An access token for ``provider``'s client by the client-credentials grant."""
    settings = provider.settings
    client_id = str(settings.get("clientId") or "")
    secret = str(settings.get("clientSecret") or "")
    discovery = settings.get("oauthDiscovery") or {}
    discovery_url = discovery.get("discoveryUrl")
    if discovery_url == emulator.idp.discovery_url:
        return _from_own(emulator.idp, client_id, secret, scopes)
    try:
        async with asyncio.timeout(TOKEN_FETCH_DEADLINE):
            endpoint = await _token_endpoint(emulator.web, settings, discovery_url)
            return await _grant(emulator.web, endpoint, client_id, secret, scopes)
    except TimeoutError:
        raise AccessDeniedException(
            f"The token endpoint of {provider.name} did not answer within "
            f"{TOKEN_FETCH_DEADLINE:g} s"
        ) from None
    except (aiohttp.ClientError, ValueError, KeyError, TypeError) as exc:
        where = redact_url(str(discovery_url or settings.get("tokenEndpoint") or ""))
        raise AccessDeniedException(
            f"Could not get a token from {provider.name}'s provider ({where}): {exc}"
        ) from None


def _from_own(idp: IdentityProvider, client_id: str, secret: str, scopes: list[str]) -> str:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    if scopes:
        form["scope"] = " ".join(scopes)
    try:
        return str(idp.token(form, None)["access_token"])
    except OAuthError as exc:
        raise AccessDeniedException(
            f"The identity provider refused the client credentials: {exc.error}: {exc.description}"
        ) from None


async def _token_endpoint(
    web: aiohttp.ClientSession, settings: Mapping[str, Any], discovery_url: object
) -> str:
    metadata = (settings.get("oauthDiscovery") or {}).get("authorizationServerMetadata") or {}
    endpoint = settings.get("tokenEndpoint") or metadata.get("tokenEndpoint")
    if endpoint:
        return str(endpoint)
    if not isinstance(discovery_url, str):
        raise ValidationException("The credential provider names no token endpoint")
    async with web.get(discovery_url) as found:
        document = await found.json(content_type=None)
    return str(document["token_endpoint"])


async def _grant(
    web: aiohttp.ClientSession, endpoint: str, client_id: str, secret: str, scopes: list[str]
) -> str:
    form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
    if scopes:
        form["scope"] = " ".join(scopes)
    async with web.post(endpoint, data=form) as granted:
        answer = await granted.json(content_type=None)
        if granted.status != 200 or "access_token" not in answer:
            error = answer.get("error", granted.status) if isinstance(answer, dict) else ""
            raise ValueError(f"the token endpoint refused the client credentials ({error})")
    return str(answer["access_token"])


# -- the user flow's browser side: where a person is sent, not AWS API operations ----------


async def authorize_redirect(request: Request) -> Response:
    """The authorization URL GetResourceOauth2Token hands out: on to the provider's
    sign-in, with the vault's callback as the redirect URI."""
    emulator = emulator_of(request)
    vault = emulator.identity
    flow = vault.flows.get(request.query_params.get("request_uri", ""))
    if flow is None or flow.status != "IN_PROGRESS":
        return HTMLResponse(_page("This sign-in link is unknown or already used."), 404)
    provider = vault.oauth2.get(flow.provider)
    if provider is None:
        return HTMLResponse(_page("The credential provider no longer exists."), 404)
    settings = provider.settings
    discovery_url = (settings.get("oauthDiscovery") or {}).get("discoveryUrl")
    if discovery_url == emulator.idp.discovery_url:
        endpoint = f"{emulator.idp.issuer}/authorize"
    else:
        try:
            async with asyncio.timeout(TOKEN_FETCH_DEADLINE):
                endpoint = await _authorization_endpoint(emulator.web, settings, discovery_url)
        except (TimeoutError, aiohttp.ClientError, ValueError, KeyError, TypeError) as exc:
            return HTMLResponse(_page(f"The provider's sign-in could not be found: {exc}"), 502)
    query = {
        "response_type": "code",
        "client_id": str(settings.get("clientId") or ""),
        "redirect_uri": vault.callback_url,
        "state": flow.state,
    }
    if flow.scopes:
        query["scope"] = " ".join(flow.scopes)
    return RedirectResponse(f"{endpoint}?{urlencode(query)}", status_code=302)


async def callback(request: Request) -> Response:
    """The provider sends the person back here with a code: it is exchanged for the token,
    and the person goes on to the app's return URL (or, without one, the sign-in ends
    here, the token given to the user the flow was started for)."""
    emulator = emulator_of(request)
    vault = emulator.identity
    try:
        flow = vault.flow_by_state(request.query_params.get("state", ""))
    except ResourceNotFoundException:
        return HTMLResponse(_page("This sign-in is unknown or already finished."), 400)
    provider = vault.oauth2.get(flow.provider)
    code = request.query_params.get("code")
    if provider is None or code is None:
        flow.status = "FAILED"
        reason = request.query_params.get("error", "no code")
        return HTMLResponse(_page(f"The sign-in did not finish ({reason})."), 400)
    try:
        access_token = await authorization_code(emulator, provider, code)
    except AccessDeniedException as exc:
        flow.status = "FAILED"
        return HTMLResponse(_page(f"The provider refused the sign-in: {exc.message}"), 400)
    vault.authorized(flow, access_token)
    if flow.return_url is None:
        vault.complete({"sessionUri": flow.session_uri}, flow.user)
        return HTMLResponse(_page("Signed in. You may close this page and return to the agent."))
    separator = "&" if "?" in flow.return_url else "?"
    target = f"{flow.return_url}{separator}{urlencode({'session_id': flow.session_uri})}"
    return RedirectResponse(target, status_code=302)


async def authorization_code(emulator: Emulator, provider: OAuth2Provider, code: str) -> str:
    """The access token for an authorization code, from the provider's token endpoint."""
    settings = provider.settings
    form = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": emulator.identity.callback_url,
        "client_id": str(settings.get("clientId") or ""),
        "client_secret": str(settings.get("clientSecret") or ""),
    }
    discovery_url = (settings.get("oauthDiscovery") or {}).get("discoveryUrl")
    if discovery_url == emulator.idp.discovery_url:
        try:
            return str(emulator.idp.token(form, None)["access_token"])
        except OAuthError as exc:
            raise AccessDeniedException(f"{exc.error}: {exc.description}") from None
    try:
        async with asyncio.timeout(TOKEN_FETCH_DEADLINE):
            endpoint = await _token_endpoint(emulator.web, settings, discovery_url)
            async with emulator.web.post(endpoint, data=form) as granted:
                answer = await granted.json(content_type=None)
    except (TimeoutError, aiohttp.ClientError, ValueError, KeyError, TypeError) as exc:
        raise AccessDeniedException(f"the token endpoint could not be reached: {exc}") from None
    if not isinstance(answer, dict) or "access_token" not in answer:
        raise AccessDeniedException(f"the token endpoint answered no token ({answer})")
    return str(answer["access_token"])


async def _authorization_endpoint(
    web: aiohttp.ClientSession, settings: Mapping[str, Any], discovery_url: object
) -> str:
    metadata = (settings.get("oauthDiscovery") or {}).get("authorizationServerMetadata") or {}
    endpoint = settings.get("authorizationEndpoint") or metadata.get("authorizationEndpoint")
    if endpoint:
        return str(endpoint)
    if not isinstance(discovery_url, str):
        raise ValueError("the credential provider names no authorization endpoint")
    async with web.get(discovery_url) as found:
        document = await found.json(content_type=None)
    return str(document["authorization_endpoint"])


def _page(text: str) -> str:
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        "<title>agentcore-emulator: Identity</title></head>"
        f"<body><p>{html.escape(text)}</p></body></html>"
    )
