"""AgentCore Identity's operations on the wire: each operation's JSON body to the token
vault (``identity``) and back, and the client-credentials grant that GetResourceOauth2Token
makes to the provider's token endpoint."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from agentcore_emulator.config import JwtAuthorizerSpec
from agentcore_emulator.exceptions import AccessDeniedException, ValidationException
from agentcore_emulator.identity import OAuth2Provider, TokenVault
from agentcore_emulator.oauth import IdentityProvider, OAuthError
from agentcore_emulator.state import Emulator
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
    given = _json_body(body)
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
    provider, token = vault.oauth2_request(given)
    scopes = [s for s in given.get("scopes") or [] if isinstance(s, str)]
    access_token = await client_credentials(emulator, provider, scopes)
    vault.record(provider, token, scopes)
    return JSONResponse({"accessToken": access_token})


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        given = json.loads(body or b"{}")
    except ValueError:
        raise ValidationException("The request body is not valid JSON") from None
    if not isinstance(given, dict):
        raise ValidationException("The request body must be a JSON object")
    return given


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
