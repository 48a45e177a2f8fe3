"""How a gateway authenticates to a target, as its ``credentialProviderConfigurations`` say:

- ``GATEWAY_IAM_ROLE``: SigV4 with the gateway's role, here the emulator's own keys, for
  ``iamCredentialProvider.service`` (a runtime's MCP endpoint: ``bedrock-agentcore``); with
  no service named, an emulator runtime's URL is signed for ``bedrock-agentcore`` and any
  other URL is sent unsigned (chosen: AWS infers the name from the endpoint's host);
- ``API_KEY``: the key of an Identity API-key provider, in a header (default
  ``Authorization``) or a query parameter, after its prefix;
- ``OAUTH``: a token of an Identity OAuth2 provider by the client-credentials grant, as
  ``Authorization: Bearer``;
- ``JWT_PASSTHROUGH``: the caller's own bearer token, passed on.

``CALLER_IAM_CREDENTIALS`` (forward access sessions) and the OAuth user flows are not
emulated: such a target answers an error naming them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlencode, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from agentcore_emulator.exceptions import AwsError
from agentcore_emulator.gateway_targets import Authenticate, TargetError, no_auth
from agentcore_emulator.identity_api import client_credentials
from agentcore_emulator.state import Emulator


def outbound_auth(
    emulator: Emulator,
    configurations: Sequence[Mapping[str, Any]],
    caller_authorization: str | None,
) -> Authenticate:
    """The authentication of a target's requests; raises TargetError for what is not
    emulated (the call answers it)."""
    if not configurations:
        return no_auth
    configuration = configurations[0]  # AWS takes exactly one
    kind = configuration.get("credentialProviderType")
    provider = configuration.get("credentialProvider") or {}
    if kind == "GATEWAY_IAM_ROLE":
        return _sigv4(emulator, provider.get("iamCredentialProvider") or {})
    if kind == "API_KEY":
        return _api_key(emulator, provider.get("apiKeyCredentialProvider") or {})
    if kind == "OAUTH":
        return _oauth(emulator, provider.get("oauthCredentialProvider") or {})
    if kind == "JWT_PASSTHROUGH":
        return _passthrough(caller_authorization)
    raise TargetError(f"the outbound credential type {kind} is not emulated")


def _sigv4(emulator: Emulator, iam: Mapping[str, Any]) -> Authenticate:
    region = str(iam.get("region") or emulator.config.region)
    credentials = Credentials(emulator.config.access_key, emulator.config.secret_key)

    async def sign(
        method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[str, dict[str, str]]:
        service = iam.get("service") or _inferred_service(emulator, url)
        if service is None:
            return url, dict(headers)
        request = AWSRequest(method=method, url=url, data=body, headers=dict(headers))
        SigV4Auth(credentials, str(service), region).add_auth(request)
        return url, dict(request.headers.items())

    return sign


def _inferred_service(emulator: Emulator, url: str) -> str | None:
    """The signing name of a URL with no service given: an emulator runtime's."""
    base = urlsplit(emulator.base_url)
    target = urlsplit(url)
    if target.netloc == base.netloc and target.path.startswith("/runtimes/"):
        return "bedrock-agentcore"
    return None


def _api_key(emulator: Emulator, api: Mapping[str, Any]) -> Authenticate:
    arn = api.get("providerArn")
    provider = next((p for p in emulator.identity.api_keys.values() if p.arn == arn), None)
    if provider is None:
        raise TargetError(f"no API-key credential provider {arn}")
    name = str(api.get("credentialParameterName") or "Authorization")
    prefix = api.get("credentialPrefix")
    value = f"{prefix} {provider.api_key}" if prefix else provider.api_key
    in_query = api.get("credentialLocation") == "QUERY_PARAMETER"

    async def add(
        method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[str, dict[str, str]]:
        if in_query:
            joiner = "&" if urlsplit(url).query else "?"
            return f"{url}{joiner}{urlencode({name: value})}", dict(headers)
        return url, {**headers, name: value}

    return add


def _oauth(emulator: Emulator, oauth: Mapping[str, Any]) -> Authenticate:
    arn = oauth.get("providerArn")
    provider = next((p for p in emulator.identity.oauth2.values() if p.arn == arn), None)
    if provider is None:
        raise TargetError(f"no OAuth2 credential provider {arn}")
    if oauth.get("grantType", "CLIENT_CREDENTIALS") != "CLIENT_CREDENTIALS":
        raise TargetError(f"the OAuth grant {oauth.get('grantType')} is not emulated")
    scopes = [str(scope) for scope in oauth.get("scopes") or []]

    async def add(
        method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[str, dict[str, str]]:
        try:
            token = await client_credentials(emulator, provider, scopes)
        except AwsError as exc:  # the provider refused: the target's call fails, saying why
            raise TargetError(f"no token from {provider.name}: {exc.message}") from None
        return url, {**headers, "Authorization": f"Bearer {token}"}

    return add


def _passthrough(authorization: str | None) -> Authenticate:
    async def add(
        method: str, url: str, headers: Mapping[str, str], body: bytes
    ) -> tuple[str, dict[str, str]]:
        if authorization is None or not authorization.lower().startswith("bearer "):
            raise TargetError("JWT_PASSTHROUGH needs the caller's bearer token")
        return url, {**headers, "Authorization": authorization}

    return add
