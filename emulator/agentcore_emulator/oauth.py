"""OAuth for runtimes with a JWT authorizer: a small identity provider, and the token check.

The identity provider lets tests and users run OAuth runtimes with no IdP of their own: an
OpenID discovery document, its JWKS, a token endpoint for the client-credentials grant, and
an authorization endpoint with a sign-in page for the code grant (Identity's user flow),
issuing RS256 access tokens shaped like Cognito's (``client_id``, ``scope``,
``token_use``). The check verifies a bearer token against the runtime's authorizer the way
AgentCore's customJWTAuthorizer does: the signature with a key of the discovery document's
JWKS (any OIDC provider), the expiry and issuer, then audience, client and scopes.
Signing and verifying are PyJWT's.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import secrets
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import aiohttp
import jwt
from cryptography.hazmat.primitives.asymmetric import rsa

from agentcore_emulator.config import JwtAuthorizerSpec, OAuthClient
from agentcore_emulator.exceptions import AccessDeniedException, UnauthorizedException
from agentcore_wire.redaction import redact_url

IDP_PATH = "/_idp"
# How long a token check waits for an identity provider's discovery document and keys.
FETCH_DEADLINE = 10.0
ALGORITHM = "RS256"
METHOD_MISMATCH = (
    "Authorization method mismatch. The agent is configured for a different authorization "
    "method than what was used in your request. Check the agent's authorization "
    "configuration and try again."
)


class OAuthError(Exception):
    """A token request refused as RFC 6749 answers it (``error``, HTTP 400 or 401)."""

    def __init__(self, error: str, description: str, status: int = 400) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status


_MAX_CODES = 1000


@dataclass(frozen=True)
class AuthorizationGrant:
    """What a person allowed at the authorization endpoint, until its code is exchanged."""

    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    username: str
    expires: float


class IdentityProvider:
    """The emulator's own OpenID provider, with one RSA key made at start."""

    def __init__(self, issuer: str, clients: Iterable[OAuthClient]) -> None:
        self.issuer = issuer
        self._clients = {client.client_id: client for client in clients}
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._kid = secrets.token_hex(8)
        # Authorization codes not yet exchanged: code -> its grant; each used once, bounded.
        self._codes: dict[str, AuthorizationGrant] = {}

    @property
    def discovery_url(self) -> str:
        return f"{self.issuer}/.well-known/openid-configuration"

    def discovery(self) -> dict[str, Any]:
        return {
            "issuer": self.issuer,
            "jwks_uri": f"{self.issuer}/.well-known/jwks.json",
            "token_endpoint": f"{self.issuer}/oauth2/token",
            "authorization_endpoint": f"{self.issuer}/authorize",
            "grant_types_supported": ["client_credentials", "authorization_code"],
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "response_types_supported": ["token", "code"],
            "subject_types_supported": ["public"],
        }

    def jwks(self) -> dict[str, Any]:
        public = jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": self._kid, "use": "sig", "alg": ALGORITHM}]}

    def token(
        self,
        form: Mapping[str, str],
        basic_auth: str | None,
        expires_in: float | None = None,
    ) -> dict[str, Any]:
        """Answer a token request: the client-credentials grant (RFC 6749, section 4.4) or
        an authorization code's (section 4.1.3)."""
        grant = form.get("grant_type")
        if grant not in ("client_credentials", "authorization_code"):
            raise OAuthError(
                "unsupported_grant_type", "client_credentials and authorization_code only"
            )
        client_id, secret = _client_credentials(form, basic_auth)
        client = self._clients.get(client_id)
        if client is None or not secrets.compare_digest(secret, client.client_secret):
            raise OAuthError("invalid_client", "unknown client or wrong secret", 401)
        if grant == "authorization_code":
            return self._exchange(client, form, expires_in)
        requested = form.get("scope", "").split() or list(client.scopes)
        if not set(requested) <= set(client.scopes):
            raise OAuthError("invalid_scope", f"{client_id} may not ask for {requested}")
        return self.issue(client, requested, expires_in)

    def issue(
        self,
        client: OAuthClient,
        scopes: Iterable[str],
        expires_in: float | None = None,
        extra_claims: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        lifetime = client.token_lifetime if expires_in is None else expires_in
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": client.client_id,
            "client_id": client.client_id,
            "token_use": "access",
            "scope": " ".join(scopes),
            "iat": now,
            "exp": now + int(lifetime),
            "jti": str(uuid.uuid4()),
        }
        if client.audience:
            claims["aud"] = client.audience
        claims.update(extra_claims or {})
        token = jwt.encode(claims, self._key, algorithm=ALGORITHM, headers={"kid": self._kid})
        return {"access_token": token, "token_type": "Bearer", "expires_in": int(lifetime)}

    def client(self, client_id: str) -> OAuthClient | None:
        return self._clients.get(client_id)

    def authorize(self, query: Mapping[str, str], username: str) -> str:
        """A person signed in as ``username`` and allowed the request: where to send them
        (``redirect_uri`` with a one-time code and the ``state``)."""
        client = self._clients.get(query.get("client_id", ""))
        redirect_uri = query.get("redirect_uri", "")
        if client is None or not redirect_uri.startswith(("http://", "https://")):
            raise OAuthError("invalid_request", "unknown client_id or no redirect_uri")
        if query.get("response_type", "code") != "code":
            raise OAuthError("unsupported_response_type", "only the code flow is supported")
        if not username.strip():
            raise OAuthError("access_denied", "no user signed in")
        scopes = query.get("scope", "").split() or list(client.scopes)
        if not set(scopes) <= set(client.scopes):
            raise OAuthError("invalid_scope", f"{client.client_id} may not ask for {scopes}")
        while len(self._codes) >= _MAX_CODES:  # the oldest unused code goes first
            del self._codes[next(iter(self._codes))]
        code = secrets.token_urlsafe(24)
        self._codes[code] = AuthorizationGrant(
            client.client_id, redirect_uri, tuple(scopes), username.strip(), time.time() + 600
        )
        separator = "&" if "?" in redirect_uri else "?"
        answer = urlencode(
            {"code": code, **({"state": query["state"]} if "state" in query else {})}
        )
        return f"{redirect_uri}{separator}{answer}"

    def _exchange(
        self, client: OAuthClient, form: Mapping[str, str], expires_in: float | None
    ) -> dict[str, Any]:
        grant = self._codes.pop(form.get("code", ""), None)
        if grant is None or grant.expires < time.time() or grant.client_id != client.client_id:
            raise OAuthError("invalid_grant", "unknown, used or expired authorization code")
        if form.get("redirect_uri") != grant.redirect_uri:
            raise OAuthError("invalid_grant", "redirect_uri differs from the authorization's")
        claims = {"sub": grant.username, "username": grant.username}
        return self.issue(client, grant.scopes, expires_in, claims)


def _client_credentials(form: Mapping[str, str], basic_auth: str | None) -> tuple[str, str]:
    if basic_auth and basic_auth.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(basic_auth[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthError("invalid_client", "malformed Basic credentials", 401) from None
        client_id, _, secret = decoded.partition(":")
        return client_id, secret
    return form.get("client_id", ""), form.get("client_secret", "")


class BearerCheck:
    """Verifies bearer tokens for runtimes with a JWT authorizer; keys cached per issuer.

    A provider's keys are fetched once at a time: a caller that needs them while a fetch is
    under way joins it, and waits at most ``fetch_deadline`` from its own arrival (a hanging
    provider costs each caller one deadline, never the sum of those before it).
    """

    def __init__(
        self, own_provider: IdentityProvider, fetch_deadline: float = FETCH_DEADLINE
    ) -> None:
        self._own = own_provider
        self._deadline = fetch_deadline
        self._keys: dict[str, tuple[str, jwt.PyJWKSet]] = {}
        self._fetches: dict[str, asyncio.Task[tuple[str, jwt.PyJWKSet]]] = {}

    async def verify(
        self, client: aiohttp.ClientSession, authorizer: JwtAuthorizerSpec, header: str | None
    ) -> dict[str, Any]:
        """The token's claims; 401 (or 403 for a SigV4 signature) if it may not call."""
        if header is not None and header.startswith("AWS4-"):
            raise AccessDeniedException(METHOD_MISMATCH)
        scheme, _, token = (header or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise bearer_refused("Missing bearer token", error=None)
        discovery_url = authorizer.discovery_url or self._own.discovery_url
        try:
            kid = jwt.get_unverified_header(token).get("kid")
            issuer, keys = await self._keys_for(client, discovery_url, kid)
            key = next((k for k in keys.keys if k.key_id == kid), None)
            if key is None:
                raise jwt.InvalidKeyError(f"no key {kid!r} in the issuer's JWKS")
            claims: dict[str, Any] = jwt.decode(
                token,
                key,
                algorithms=[ALGORITHM, "RS384", "RS512", "ES256", "ES384"],
                issuer=issuer,
                options={"verify_aud": False, "require": ["exp", "iss"]},
            )
        except jwt.PyJWTError as exc:
            raise bearer_refused(f"Invalid bearer token: {exc}") from None
        _check_claims(authorizer, claims)
        return claims

    async def _keys_for(
        self, client: aiohttp.ClientSession, discovery_url: str, kid: object
    ) -> tuple[str, jwt.PyJWKSet]:
        cached = self._keys.get(discovery_url)
        if cached is not None and any(k.key_id == kid for k in cached[1].keys):
            return cached
        # Not cached, or a key may have rotated: fetch, or join the fetch under way.
        fetch = self._fetches.get(discovery_url)
        if fetch is None:
            fetch = asyncio.ensure_future(self._fetch(client, discovery_url))
            fetch.add_done_callback(_seen)  # its failure is its waiters' to report
            self._fetches[discovery_url] = fetch
        try:
            return await asyncio.wait_for(asyncio.shield(fetch), self._deadline)
        except TimeoutError:
            raise jwt.PyJWKClientConnectionError(
                f"the discovery document {redact_url(discovery_url)} did not answer "
                f"within {self._deadline:g} s"
            ) from None

    async def _fetch(
        self, client: aiohttp.ClientSession, discovery_url: str
    ) -> tuple[str, jwt.PyJWKSet]:
        """One fetch, ended by its own deadline whoever still waits for it."""
        try:
            async with asyncio.timeout(self._deadline):
                keys = await _fetch_keys(client, discovery_url)
        except TimeoutError:
            raise jwt.PyJWKClientConnectionError(
                f"the discovery document {redact_url(discovery_url)} did not answer "
                f"within {self._deadline:g} s"
            ) from None
        finally:
            del self._fetches[discovery_url]
        self._keys[discovery_url] = keys
        return keys

    async def close(self) -> None:
        """End the fetches under way (their callers have been answered or are gone)."""
        fetches = list(self._fetches.values())
        for fetch in fetches:
            fetch.cancel()
        await asyncio.gather(*fetches, return_exceptions=True)


def _seen(fetch: asyncio.Task[Any]) -> None:
    if not fetch.cancelled():
        fetch.exception()


async def _fetch_keys(
    client: aiohttp.ClientSession, discovery_url: str
) -> tuple[str, jwt.PyJWKSet]:
    try:
        async with client.get(discovery_url) as answer:
            discovery = await answer.json(content_type=None)
        async with client.get(discovery["jwks_uri"]) as answer:
            jwks = await answer.json(content_type=None)
        return str(discovery["issuer"]), jwt.PyJWKSet.from_dict(jwks)
    except (aiohttp.ClientError, ValueError, KeyError, TypeError) as exc:
        raise jwt.PyJWKClientConnectionError(
            f"could not read the discovery document {redact_url(discovery_url)}: {exc!r}"
        ) from exc


def _strings(claims: Mapping[str, Any], name: str, *, listed: bool) -> set[str]:
    """A claim that must be a string (or, if ``listed``, a list of strings); else a 401.

    A token is signed by its issuer, not checked by it: an odd claim is the caller's fault.
    """
    value = claims.get(name)
    if value is None:
        return set()
    if isinstance(value, str):
        return {value}
    if listed and isinstance(value, list) and all(isinstance(v, str) for v in value):
        return set(value)
    kind = "a string or a list of strings" if listed else "a string"
    raise bearer_refused(f"Invalid bearer token: the {name} claim must be {kind}")


def _check_claims(authorizer: JwtAuthorizerSpec, claims: Mapping[str, Any]) -> None:
    audiences = _strings(claims, "aud", listed=True)
    if authorizer.allowed_audience and not audiences & set(authorizer.allowed_audience):
        raise bearer_refused("Invalid bearer token: audience not allowed")
    clients = _strings(claims, "client_id", listed=False) or _strings(claims, "azp", listed=False)
    if authorizer.allowed_clients and not clients & set(authorizer.allowed_clients):
        raise bearer_refused("Invalid bearer token: client not allowed")
    scopes = {s for scope in _strings(claims, "scope", listed=False) for s in scope.split()}
    # Chosen (not confirmable offline): one allowed scope is enough.
    if authorizer.allowed_scopes and not scopes & set(authorizer.allowed_scopes):
        raise bearer_refused(
            "Invalid bearer token: none of the allowed scopes", "insufficient_scope"
        )


def bearer_refused(message: str, error: str | None = "invalid_token") -> UnauthorizedException:
    """AgentCore's 401 for a missing or bad token, with its ``WWW-Authenticate`` challenge."""
    challenge = 'Bearer realm="bedrock-agentcore"'
    if error is not None:
        description = message.replace('"', "'")
        challenge += f', error="{error}", error_description="{description}"'
    refused = UnauthorizedException(message)
    refused.headers["WWW-Authenticate"] = challenge
    return refused
