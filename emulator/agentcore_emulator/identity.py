"""AgentCore Identity's token vault, as an agent inside a runtime uses it: workload
identities, API-key and OAuth2 credential providers (the control plane's CRUD), workload
access tokens (what each invocation hands its instance), and the resource credentials
they unlock: an API key, or an OAuth2 access token by the client-credentials grant (M2M)
from the provider's token endpoint, the emulator's own identity provider or any other.

The user flow (three-legged OAuth): GetResourceOauth2Token answers an authorization URL of
the vault's; the person's browser goes on to the provider's sign-in, back to the vault's
callback (which exchanges the code), then to the app's return URL, whose
CompleteResourceTokenAuth gives the token to the user; the agent's next call (the SDK
polls) gets it.

Chosen where AWS's behaviour cannot be confirmed offline (docs/emulator.md, Identity):
a workload access token is opaque, signed by this emulator, and valid for an hour; each
runtime has a workload identity named as its runtime id; secrets are kept in memory and
their ARNs name Secrets Manager as AWS's do, without a secret there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from agentcore_emulator.config import CredentialProviderSpec
from agentcore_emulator.exceptions import (
    AccessDeniedException,
    ConflictException,
    ResourceNotFoundException,
    ValidationException,
)
from agentcore_emulator.operations import NOT_EMULATED_STATUS, NotEmulatedException
from agentcore_emulator.pages import page

TOKEN_LIFETIME = 3600.0  # seconds a workload access token is honoured
_TOKEN_PREFIX = "agentcore-emulator-wat."  # noqa: S105 (a marker, not a secret)


@dataclass
class WorkloadIdentity:
    name: str
    arn: str
    return_urls: list[str]
    created: float
    updated: float

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "workloadIdentityArn": self.arn,
            "allowedResourceOauth2ReturnUrls": list(self.return_urls),
            "createdTime": self.created,
            "lastUpdatedTime": self.updated,
        }


@dataclass
class ApiKeyProvider:
    name: str
    arn: str
    secret_arn: str
    api_key: str = field(repr=False)
    created: float = 0.0
    updated: float = 0.0

    def describe(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "credentialProviderArn": self.arn,
            "apiKeySecretArn": {"secretArn": self.secret_arn},
            "apiKeySecretJsonKey": "api_key",
            "apiKeySecretSource": "MANAGED",
            "createdTime": self.created,
            "lastUpdatedTime": self.updated,
        }


@dataclass
class OAuth2Provider:
    name: str
    arn: str
    vendor: str
    config: dict[str, Any] = field(repr=False)  # the vendor's config, as given
    secret_arn: str = ""
    callback_url: str = ""
    created: float = 0.0
    updated: float = 0.0

    @property
    def settings(self) -> dict[str, Any]:
        """The one vendor config it was given (``customOauth2ProviderConfig``, ...)."""
        return next(iter(self.config.values()), {})

    def describe(self) -> dict[str, Any]:
        public = {
            key: {k: v for k, v in value.items() if k != "clientSecret"}
            for key, value in self.config.items()
        }
        return {
            "name": self.name,
            "credentialProviderArn": self.arn,
            "credentialProviderVendor": self.vendor,
            "clientSecretArn": {"secretArn": self.secret_arn},
            "clientSecretJsonKey": "client_secret",
            "clientSecretSource": "MANAGED",
            "callbackUrl": self.callback_url,
            "oauth2ProviderConfigOutput": public,
            "status": "READY",
            "createdTime": self.created,
            "lastUpdatedTime": self.updated,
        }


_MAX_FLOWS = 1000


@dataclass
class UserFlow:
    """A user-flow sign-in: from the authorization URL to CompleteResourceTokenAuth."""

    session_uri: str
    state: str  # what the provider hands back to the callback
    provider: str
    workload: str
    user: str
    scopes: list[str]
    return_url: str | None
    status: str = "IN_PROGRESS"  # then AUTHORIZED (token in), COMPLETE, or FAILED
    access_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class WorkloadToken:
    """What a workload access token stands for: a workload, and the user it acts for."""

    workload: str
    user: str | None


class TokenVault:
    """Workload identities, credential providers, and the tokens they issue."""

    def __init__(
        self,
        account: str,
        region: str,
        workloads: Iterable[str] = (),
        clock: Callable[[], float] = time.time,
        base_url: str = "http://127.0.0.1",
        providers: Iterable[CredentialProviderSpec] = (),
        own_discovery_url: str = "",
    ) -> None:
        self._prefix = f"arn:aws:bedrock-agentcore:{region}:{account}"
        # Where a person's browser reaches the vault: the authorization URL it hands out,
        # and the callback every OAuth2 provider is given (its callbackUrl).
        self.authorize_url = f"{base_url}/identities/oauth2/authorize"
        self.callback_url = f"{base_url}/identities/oauth2/callback"
        self._secrets_prefix = f"arn:aws:secretsmanager:{region}:{account}:secret"
        self._clock = clock
        self._key = secrets.token_bytes(32)
        self.workloads: dict[str, WorkloadIdentity] = {}
        self.api_keys: dict[str, ApiKeyProvider] = {}
        self.oauth2: dict[str, OAuth2Provider] = {}
        # What was issued, for tests: (provider, flow or "API_KEY", workload, user).
        self.issued: list[dict[str, Any]] = []
        # The user flow: sign-ins under way (by session URI and by state), and the tokens
        # people allowed, kept per provider, workload and user as AWS's vault keeps them.
        self.flows: dict[str, UserFlow] = {}
        self._by_state: dict[str, UserFlow] = {}
        self._user_tokens: dict[tuple[str, str, str], str] = {}
        self._runtime_workloads = tuple(workloads)
        self._configured = tuple(providers)
        self._own_discovery_url = own_discovery_url
        self.reset()

    def reset(self) -> None:
        """Back to each runtime's own workload identity and the config's providers."""
        self.workloads.clear()
        self.api_keys.clear()
        self.oauth2.clear()
        self.issued.clear()
        self.flows.clear()
        self._by_state.clear()
        self._user_tokens.clear()
        for name in self._runtime_workloads:
            self.create_workload_identity({"name": name})
        for spec in self._configured:
            if spec.type == "api_key":
                self.create_api_key_credential_provider({"name": spec.name, "apiKey": spec.api_key})
                continue
            custom = {
                "oauthDiscovery": {"discoveryUrl": spec.discovery_url or self._own_discovery_url},
                "clientId": spec.client_id,
                "clientSecret": spec.client_secret,
            }
            self.create_oauth2_credential_provider(
                {
                    "name": spec.name,
                    "credentialProviderVendor": "CustomOauth2",
                    "oauth2ProviderConfigInput": {"customOauth2ProviderConfig": custom},
                }
            )

    # -- the control plane ---------------------------------------------------------------

    def _arn(self, kind: str, name: str) -> str:
        return f"{self._prefix}:token-vault/default/{kind}/{name}"

    def create_workload_identity(self, body: Mapping[str, Any]) -> dict[str, Any]:
        name = _name(body)
        if name in self.workloads:
            raise ConflictException(f"Workload identity {name} already exists")
        now = self._clock()
        identity = WorkloadIdentity(
            name,
            f"{self._prefix}:workload-identity-directory/default/workload-identity/{name}",
            _strings(body, "allowedResourceOauth2ReturnUrls"),
            now,
            now,
        )
        self.workloads[name] = identity
        described = identity.describe()
        return {k: described[k] for k in ("name", "workloadIdentityArn")} | {
            "allowedResourceOauth2ReturnUrls": identity.return_urls
        }

    def get_workload_identity(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._workload(_name(body)).describe()

    def update_workload_identity(self, body: Mapping[str, Any]) -> dict[str, Any]:
        identity = self._workload(_name(body))
        identity.return_urls = _strings(body, "allowedResourceOauth2ReturnUrls")
        identity.updated = self._clock()
        return identity.describe()

    def delete_workload_identity(self, body: Mapping[str, Any]) -> dict[str, Any]:
        del self.workloads[self._workload(_name(body)).name]
        return {}

    def list_workload_identities(self, body: Mapping[str, Any]) -> dict[str, Any]:
        items = [{"name": w.name, "workloadIdentityArn": w.arn} for w in self.workloads.values()]
        return page(body, items, "workloadIdentities")

    def create_api_key_credential_provider(self, body: Mapping[str, Any]) -> dict[str, Any]:
        name = _name(body)
        if name in self.api_keys:
            raise ConflictException(f"Credential provider {name} already exists")
        api_key = body.get("apiKey")
        if not isinstance(api_key, str) or not api_key:
            raise ValidationException.for_field("apiKey", "Member must not be null")
        now = self._clock()
        provider = ApiKeyProvider(
            name,
            self._arn("apikeycredentialprovider", name),
            f"{self._secrets_prefix}:bedrock-agentcore-identity!default/apikey/{name}",
            api_key,
            now,
            now,
        )
        self.api_keys[name] = provider
        described = provider.describe()
        return {k: v for k, v in described.items() if not k.endswith("Time")}

    def get_api_key_credential_provider(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._api_key(_name(body)).describe()

    def update_api_key_credential_provider(self, body: Mapping[str, Any]) -> dict[str, Any]:
        provider = self._api_key(_name(body))
        if isinstance(body.get("apiKey"), str) and body["apiKey"]:
            provider.api_key = body["apiKey"]
        provider.updated = self._clock()
        return provider.describe()

    def delete_api_key_credential_provider(self, body: Mapping[str, Any]) -> dict[str, Any]:
        del self.api_keys[self._api_key(_name(body)).name]
        return {}

    def list_api_key_credential_providers(self, body: Mapping[str, Any]) -> dict[str, Any]:
        items = [
            {k: p.describe()[k] for k in ("name", "credentialProviderArn")}
            | {"createdTime": p.created, "lastUpdatedTime": p.updated}
            for p in self.api_keys.values()
        ]
        return page(body, items, "credentialProviders")

    def create_oauth2_credential_provider(self, body: Mapping[str, Any]) -> dict[str, Any]:
        name = _name(body)
        if name in self.oauth2:
            raise ConflictException(f"Credential provider {name} already exists")
        vendor, config = _oauth2_config(body)
        now = self._clock()
        provider = OAuth2Provider(
            name,
            self._arn("oauth2credentialprovider", name),
            vendor,
            config,
            f"{self._secrets_prefix}:bedrock-agentcore-identity!default/oauth2/{name}",
            self.callback_url,
            now,
            now,
        )
        self.oauth2[name] = provider
        described = provider.describe()
        return {k: v for k, v in described.items() if not k.endswith("Time")}

    def get_oauth2_credential_provider(self, body: Mapping[str, Any]) -> dict[str, Any]:
        return self._oauth2(_name(body)).describe()

    def update_oauth2_credential_provider(self, body: Mapping[str, Any]) -> dict[str, Any]:
        provider = self._oauth2(_name(body))
        provider.vendor, provider.config = _oauth2_config(body)
        provider.updated = self._clock()
        return provider.describe()

    def delete_oauth2_credential_provider(self, body: Mapping[str, Any]) -> dict[str, Any]:
        del self.oauth2[self._oauth2(_name(body)).name]
        return {}

    def list_oauth2_credential_providers(self, body: Mapping[str, Any]) -> dict[str, Any]:
        items = [
            {
                "name": p.name,
                "credentialProviderVendor": p.vendor,
                "credentialProviderArn": p.arn,
                "createdTime": p.created,
                "lastUpdatedTime": p.updated,
            }
            for p in self.oauth2.values()
        ]
        return page(body, items, "credentialProviders")

    def _workload(self, name: str) -> WorkloadIdentity:
        if name not in self.workloads:
            raise ResourceNotFoundException(f"Workload identity {name} not found")
        return self.workloads[name]

    def _api_key(self, name: str) -> ApiKeyProvider:
        if name not in self.api_keys:
            raise ResourceNotFoundException(f"Credential provider {name} not found")
        return self.api_keys[name]

    def _oauth2(self, name: str) -> OAuth2Provider:
        if name not in self.oauth2:
            raise ResourceNotFoundException(f"Credential provider {name} not found")
        return self.oauth2[name]

    # -- workload access tokens ----------------------------------------------------------

    def workload_access_token(self, workload: str, user: str | None = None) -> str:
        """A token for ``workload`` acting for ``user`` (None: for itself)."""
        self._workload(workload)
        claims = {"w": workload, "u": user, "exp": self._clock() + TOKEN_LIFETIME}
        payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
        return f"{_TOKEN_PREFIX}{payload}.{self._sign(payload)}"

    def invocation_token(self, workload: str, user: str | None) -> str | None:
        """The token an invocation hands its instance; None once the runtime's workload
        identity has been deleted (the instance then gets none, and its SDK says so)."""
        if workload not in self.workloads:
            return None
        return self.workload_access_token(workload, user)

    def read_token(self, token: object) -> WorkloadToken:
        """What a workload access token stands for; AccessDenied if it is not one of ours,
        has expired, or names a workload identity since deleted."""
        if not isinstance(token, str) or not token.startswith(_TOKEN_PREFIX):
            raise AccessDeniedException("The workload access token is invalid")
        payload, _, signature = token[len(_TOKEN_PREFIX) :].partition(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            raise AccessDeniedException("The workload access token is invalid")
        try:
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (binascii.Error, ValueError):
            raise AccessDeniedException("The workload access token is invalid") from None
        if float(claims["exp"]) < self._clock():
            raise AccessDeniedException("The workload access token has expired")
        if claims["w"] not in self.workloads:
            raise AccessDeniedException(f"Workload identity {claims['w']} no longer exists")
        return WorkloadToken(str(claims["w"]), claims["u"])

    def _sign(self, payload: str) -> str:
        return hmac.new(self._key, payload.encode(), hashlib.sha256).hexdigest()

    def get_workload_access_token(self, body: Mapping[str, Any]) -> dict[str, Any]:
        workload = _required(body, "workloadName")
        return {"workloadAccessToken": self.workload_access_token(workload)}

    def get_workload_access_token_for_user_id(self, body: Mapping[str, Any]) -> dict[str, Any]:
        workload = _required(body, "workloadName")
        user = _required(body, "userId")
        return {"workloadAccessToken": self.workload_access_token(workload, user)}

    def get_workload_access_token_for_jwt(
        self, body: Mapping[str, Any], subject: str
    ) -> dict[str, Any]:
        """For the user a verified JWT names (``subject``, its ``sub``)."""
        workload = _required(body, "workloadName")
        return {"workloadAccessToken": self.workload_access_token(workload, subject)}

    # -- resource credentials ------------------------------------------------------------

    def get_resource_api_key(self, body: Mapping[str, Any]) -> dict[str, Any]:
        token = self.read_token(body.get("workloadIdentityToken"))
        provider = self._api_key(_required(body, "resourceCredentialProviderName"))
        self.issued.append(
            {
                "provider": provider.name,
                "flow": "API_KEY",
                "workload": token.workload,
                "user": token.user,
            }
        )
        return {"apiKey": provider.api_key}

    def oauth2_request(self, body: Mapping[str, Any]) -> tuple[OAuth2Provider, WorkloadToken, str]:
        """A GetResourceOauth2Token call checked: its provider, token and flow (M2M or
        USER_FEDERATION; the token exchange is not emulated)."""
        token = self.read_token(body.get("workloadIdentityToken"))
        provider = self._oauth2(_required(body, "resourceCredentialProviderName"))
        flow = body.get("oauth2Flow")
        if flow not in ("M2M", "USER_FEDERATION"):
            raise NotEmulatedException(
                f"The {flow} flow of GetResourceOauth2Token is not emulated yet; M2M and "
                f"USER_FEDERATION are",
                status=NOT_EMULATED_STATUS,
            )
        return provider, token, str(flow)

    def record(
        self, provider: OAuth2Provider, token: WorkloadToken, scopes: list[str], flow: str = "M2M"
    ) -> None:
        self.issued.append(
            {
                "provider": provider.name,
                "flow": flow,
                "workload": token.workload,
                "user": token.user,
                "scopes": scopes,
            }
        )

    # -- the user flow (three-legged OAuth) ----------------------------------------------

    def user_token(
        self, provider: OAuth2Provider, token: WorkloadToken, body: Mapping[str, Any]
    ) -> dict[str, Any]:
        """USER_FEDERATION: the token the user allowed, or where they go to allow it."""
        if token.user is None:
            raise ValidationException(
                "USER_FEDERATION needs a workload access token for a user (ForUserId or "
                "ForJWT, or an invocation with a runtime user id)"
            )
        scopes = [s for s in body.get("scopes") or [] if isinstance(s, str)]
        session_uri = body.get("sessionUri")
        if session_uri is not None:
            flow = self.flows.get(str(session_uri))
            if flow is None or (flow.provider, flow.workload) != (provider.name, token.workload):
                raise ResourceNotFoundException(f"Session not found: {session_uri}")
            if flow.user != token.user:
                raise AccessDeniedException("The session belongs to another user")
            if flow.status == "COMPLETE" and flow.access_token is not None:
                self.record(provider, token, flow.scopes, "USER_FEDERATION")
                return {"accessToken": flow.access_token}
            return self._pending(flow)
        kept = self._user_tokens.get((provider.name, token.workload, token.user))
        if kept is not None and not body.get("forceAuthentication"):
            self.record(provider, token, scopes, "USER_FEDERATION")
            return {"accessToken": kept}
        return_url = body.get("resourceOauth2ReturnUrl")
        if return_url is not None and return_url not in self._workload(token.workload).return_urls:
            raise ValidationException(
                f"resourceOauth2ReturnUrl {return_url} is not one of the workload identity's "
                f"allowedResourceOauth2ReturnUrls"
            )
        while len(self.flows) >= _MAX_FLOWS:  # the oldest goes first
            self._forget(next(iter(self.flows.values())))
        flow = UserFlow(
            f"urn:ietf:params:oauth:request_uri:{secrets.token_urlsafe(18)}",
            secrets.token_urlsafe(18),
            provider.name,
            token.workload,
            token.user,
            scopes,
            return_url if isinstance(return_url, str) else None,
        )
        self.flows[flow.session_uri] = flow
        self._by_state[flow.state] = flow
        return self._pending(flow)

    def _pending(self, flow: UserFlow) -> dict[str, Any]:
        return {
            "authorizationUrl": self.authorize_url
            + "?"
            + urlencode({"request_uri": flow.session_uri}),
            "sessionUri": flow.session_uri,
            "sessionStatus": "FAILED" if flow.status == "FAILED" else "IN_PROGRESS",
        }

    def _forget(self, flow: UserFlow) -> None:
        self.flows.pop(flow.session_uri, None)
        self._by_state.pop(flow.state, None)

    def flow_by_state(self, state: str) -> UserFlow:
        flow = self._by_state.get(state)
        if flow is None:
            raise ResourceNotFoundException("No sign-in is under way for this state")
        return flow

    def authorized(self, flow: UserFlow, access_token: str) -> None:
        """The provider gave the flow's token (the person allowed it)."""
        flow.access_token = access_token
        flow.status = "AUTHORIZED"

    def complete(self, body: Mapping[str, Any], user: str) -> dict[str, Any]:
        """CompleteResourceTokenAuth for ``user`` (the userIdentifier's, checked by the
        caller): the token is theirs from here on."""
        flow = self.flows.get(_required(body, "sessionUri"))
        if flow is None:
            raise ResourceNotFoundException(f"Session not found: {body.get('sessionUri')}")
        if flow.user != user:
            raise AccessDeniedException("The session belongs to another user")
        if flow.status != "AUTHORIZED" or flow.access_token is None:
            raise ValidationException("The user has not signed in and allowed access yet")
        flow.status = "COMPLETE"
        self._user_tokens[(flow.provider, flow.workload, flow.user)] = flow.access_token
        return {}


def _name(body: Mapping[str, Any]) -> str:
    return _required(body, "name")


def _required(body: Mapping[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise ValidationException.for_field(key, "Member must not be null")
    return value


def _strings(body: Mapping[str, Any], key: str) -> list[str]:
    value = body.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationException.for_field(key, "Member must be a list of strings")
    return list(value)


def _oauth2_config(body: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
    vendor = _required(body, "credentialProviderVendor")
    config = body.get("oauth2ProviderConfigInput")
    if not isinstance(config, dict) or len(config) != 1:
        raise ValidationException.for_field(
            "oauth2ProviderConfigInput", "Member must set exactly one provider config"
        )
    settings = next(iter(config.values()))
    if not isinstance(settings, dict):
        raise ValidationException.for_field("oauth2ProviderConfigInput", "Member must be a map")
    return vendor, {key: dict(value) for key, value in config.items()}
