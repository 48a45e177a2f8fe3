"""AgentCore Identity's token vault, called with boto3 as AWS's clients call it, and used
from inside a runtime by an agent on the SDK's decorators (fixtures/servers/identity_agent.py):
workload identities, credential providers, workload access tokens, API keys and OAuth2
tokens by the client-credentials grant, against the emulator's identity provider or any."""

from __future__ import annotations

import http.server
import json
import threading
import urllib.parse
import uuid
from collections.abc import Iterator
from typing import Any, ClassVar

import botocore.exceptions
import httpx
import jwt
import pytest

from tests.harness import Emulator, JsonHandler


@pytest.fixture
def identity(emulator: Emulator) -> Iterator[Emulator]:
    emulator.admin.post("/_emulator/identity/reset", json={}).raise_for_status()
    yield emulator
    emulator.admin.post("/_emulator/identity/reset", json={}).raise_for_status()


def _refusal(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        call(**kwargs)
    return refused.value.response  # type: ignore[no-any-return]


def _own_provider(emulator: Emulator, name: str, secret: str = "test-app-secret") -> None:
    emulator.client("bedrock-agentcore-control").create_oauth2_credential_provider(
        name=name,
        credentialProviderVendor="CustomOauth2",
        oauth2ProviderConfigInput={
            "customOauth2ProviderConfig": {
                "oauthDiscovery": {
                    "discoveryUrl": f"{emulator.url}/_idp/.well-known/openid-configuration"
                },
                "clientId": "test-app",
                "clientSecret": secret,
            }
        },
    )


def _token(emulator: Emulator, workload: str, user: str | None = None) -> str:
    data = emulator.client()
    if user is None:
        answer = data.get_workload_access_token(workloadName=workload)
    else:
        answer = data.get_workload_access_token_for_user_id(workloadName=workload, userId=user)
    return answer["workloadAccessToken"]  # type: ignore[no-any-return]


def test_workload_identities_through_the_control_plane(identity: Emulator) -> None:
    control = identity.client("bedrock-agentcore-control")
    listed = control.list_workload_identities(maxResults=100)["workloadIdentities"]
    # Each runtime has one, named as its runtime id (as AgentCore gives each runtime one).
    runtime_id = identity.arns["identity_agent"].rsplit("/", 1)[-1]
    assert runtime_id in [w["name"] for w in listed]
    name = f"my-agent-{uuid.uuid4().hex[:8]}"
    created = control.create_workload_identity(
        name=name, allowedResourceOauth2ReturnUrls=["http://localhost:8081/callback"]
    )
    assert created["workloadIdentityArn"].endswith(f"/workload-identity/{name}")
    updated = control.update_workload_identity(name=name, allowedResourceOauth2ReturnUrls=[])
    assert updated["allowedResourceOauth2ReturnUrls"] == []
    assert _refusal(control.create_workload_identity, name=name)["Error"]["Code"] == (
        "ConflictException"
    )
    control.delete_workload_identity(name=name)
    missing = _refusal(control.get_workload_identity, name=name)
    assert missing["Error"]["Code"] == "ResourceNotFoundException"
    page = control.list_workload_identities(maxResults=1)
    assert len(page["workloadIdentities"]) == 1 and page["nextToken"]


def test_an_api_key_is_given_for_a_valid_workload_token_only(identity: Emulator) -> None:
    control = identity.client("bedrock-agentcore-control")
    created = control.create_api_key_credential_provider(name="search", apiKey="sk-12345")
    assert created["apiKeySecretArn"]["secretArn"].startswith("arn:aws:secretsmanager:")
    described = control.get_api_key_credential_provider(name="search")
    assert "sk-12345" not in json.dumps(described, default=str)  # the key never comes back
    workload = identity.arns["identity_agent"].rsplit("/", 1)[-1]
    data = identity.client()
    token = _token(identity, workload, user="alice")
    key = data.get_resource_api_key(
        workloadIdentityToken=token, resourceCredentialProviderName="search"
    )
    assert key["apiKey"] == "sk-12345"
    forged = _refusal(
        data.get_resource_api_key,
        workloadIdentityToken=token[:-4] + "0000",
        resourceCredentialProviderName="search",
    )
    assert forged["Error"]["Code"] == "AccessDeniedException"
    unknown = _refusal(
        data.get_resource_api_key, workloadIdentityToken=token, resourceCredentialProviderName="x"
    )
    assert unknown["Error"]["Code"] == "ResourceNotFoundException"
    (issued,) = identity.admin.get("/_emulator/identity/issued").json()["issued"]
    assert issued == {
        "provider": "search",
        "flow": "API_KEY",
        "workload": workload,
        "user": "alice",
    }


def test_an_oauth2_token_by_client_credentials_from_the_emulators_own_provider(
    identity: Emulator,
) -> None:
    _own_provider(identity, "crm")
    token = _token(identity, identity.arns["identity_agent"].rsplit("/", 1)[-1])
    answer = identity.client().get_resource_oauth2_token(
        workloadIdentityToken=token,
        resourceCredentialProviderName="crm",
        scopes=["agent/read"],
        oauth2Flow="M2M",
    )
    claims = jwt.decode(answer["accessToken"], options={"verify_signature": False})
    assert (claims["client_id"], claims["scope"]) == ("test-app", "agent/read")
    _own_provider(identity, "crm-wrong-secret", secret="not-it")
    refused = _refusal(
        identity.client().get_resource_oauth2_token,
        workloadIdentityToken=token,
        resourceCredentialProviderName="crm-wrong-secret",
        scopes=[],
        oauth2Flow="M2M",
    )
    assert refused["Error"]["Code"] == "AccessDeniedException"
    assert "invalid_client" in refused["Error"]["Message"]


class _StandInProvider(JsonHandler):
    """An OpenID provider of someone else's: discovery and the client-credentials grant."""

    granted: ClassVar[list[dict[str, list[str]]]] = []

    def do_GET(self) -> None:
        host, port = self.server.server_address[:2]
        self.json_answer(
            {"issuer": f"http://{host}:{port}", "token_endpoint": f"http://{host}:{port}/token"}
        )

    def do_POST(self) -> None:
        form = urllib.parse.parse_qs(self.rfile.read(int(self.headers["Content-Length"])).decode())
        type(self).granted.append(form)
        if form.get("client_secret") != ["their-secret"]:
            self.json_answer({"error": "invalid_client"}, 401)
            return
        self.json_answer({"access_token": "their-token", "token_type": "Bearer", "expires_in": 60})


def test_an_oauth2_token_from_any_openid_provider(identity: Emulator) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _StandInProvider)
    serving = threading.Thread(target=server.serve_forever, daemon=True)
    serving.start()
    try:
        host, port = server.server_address[:2]
        identity.client("bedrock-agentcore-control").create_oauth2_credential_provider(
            name="theirs",
            credentialProviderVendor="CustomOauth2",
            oauth2ProviderConfigInput={
                "customOauth2ProviderConfig": {
                    "oauthDiscovery": {
                        "discoveryUrl": f"http://{host}:{port}/.well-known/openid-configuration"
                    },
                    "clientId": "their-client",
                    "clientSecret": "their-secret",
                }
            },
        )
        token = _token(identity, identity.arns["identity_agent"].rsplit("/", 1)[-1])
        answer = identity.client().get_resource_oauth2_token(
            workloadIdentityToken=token,
            resourceCredentialProviderName="theirs",
            scopes=["read"],
            oauth2Flow="M2M",
        )
    finally:
        server.shutdown()
        server.server_close()
        serving.join(timeout=5)
    assert answer["accessToken"] == "their-token"
    (form,) = _StandInProvider.granted[-1:]
    assert form["grant_type"] == ["client_credentials"] and form["scope"] == ["read"]


def test_the_user_flow_end_to_end_with_a_test_acting_as_the_person(identity: Emulator) -> None:
    _own_provider(identity, "calendar")
    workload = identity.arns["identity_agent"].rsplit("/", 1)[-1]
    return_url = "http://127.0.0.1:9/app/return"
    identity.client("bedrock-agentcore-control").update_workload_identity(
        name=workload, allowedResourceOauth2ReturnUrls=[return_url]
    )
    data = identity.client()
    ask = {
        "resourceCredentialProviderName": "calendar",
        "scopes": ["agent/read"],
        "oauth2Flow": "USER_FEDERATION",
        "resourceOauth2ReturnUrl": return_url,
    }
    bob = _token(identity, workload, user="bob")
    first = data.get_resource_oauth2_token(workloadIdentityToken=bob, **ask)
    assert first["sessionStatus"] == "IN_PROGRESS" and "accessToken" not in first
    polled = data.get_resource_oauth2_token(
        workloadIdentityToken=bob, sessionUri=first["sessionUri"], **ask
    )
    assert "accessToken" not in polled  # the person has not signed in yet

    # The person: the authorization URL, the provider's sign-in page, the callback.
    with httpx.Client(follow_redirects=False, timeout=30) as browser:
        to_provider = browser.get(first["authorizationUrl"])
        assert to_provider.status_code == 302
        sign_in = browser.get(to_provider.headers["location"])
        assert sign_in.status_code == 200 and "<form" in sign_in.text
        allowed = browser.post(str(sign_in.url), data={"username": "bob"})
        assert allowed.status_code == 302
        back = browser.get(allowed.headers["location"])  # the vault's callback
        assert back.status_code == 302
    to_app = urllib.parse.urlsplit(back.headers["location"])
    assert f"{to_app.scheme}://{to_app.netloc}{to_app.path}" == return_url
    session_uri = urllib.parse.parse_qs(to_app.query)["session_id"][0]
    assert session_uri == first["sessionUri"]

    # The app, for its signed-in user: another user cannot take the session.
    wrong = _refusal(
        data.complete_resource_token_auth,
        sessionUri=session_uri,
        userIdentifier={"userId": "mallory"},
    )
    assert wrong["Error"]["Code"] == "AccessDeniedException"
    data.complete_resource_token_auth(sessionUri=session_uri, userIdentifier={"userId": "bob"})
    done = data.get_resource_oauth2_token(workloadIdentityToken=bob, sessionUri=session_uri, **ask)
    claims = jwt.decode(done["accessToken"], options={"verify_signature": False})
    assert (claims["sub"], claims["scope"]) == ("bob", "agent/read")
    # Kept for bob: the next call gets it at once; carol must sign in herself.
    again = data.get_resource_oauth2_token(workloadIdentityToken=bob, **ask)
    assert again["accessToken"] == done["accessToken"]
    carol = _token(identity, workload, user="carol")
    assert "authorizationUrl" in data.get_resource_oauth2_token(workloadIdentityToken=carol, **ask)


def test_the_user_flow_needs_a_token_for_a_user_and_a_known_return_url(
    identity: Emulator,
) -> None:
    _own_provider(identity, "calendar")
    workload = identity.arns["identity_agent"].rsplit("/", 1)[-1]
    data = identity.client()
    ask = {
        "resourceCredentialProviderName": "calendar",
        "scopes": ["agent/read"],
        "oauth2Flow": "USER_FEDERATION",
    }
    no_user = _refusal(
        data.get_resource_oauth2_token, workloadIdentityToken=_token(identity, workload), **ask
    )
    assert no_user["Error"]["Code"] == "ValidationException"
    unknown_url = _refusal(
        data.get_resource_oauth2_token,
        workloadIdentityToken=_token(identity, workload, user="bob"),
        resourceOauth2ReturnUrl="https://evil.example/steal",
        **ask,
    )
    assert unknown_url["Error"]["Code"] == "ValidationException"
    exchange = _refusal(
        data.get_resource_oauth2_token,
        workloadIdentityToken=_token(identity, workload, user="bob"),
        **{**ask, "oauth2Flow": "ON_BEHALF_OF_TOKEN_EXCHANGE"},
    )
    assert exchange["Error"]["Code"] == "NotEmulatedException"


def test_a_workload_token_for_a_jwt_is_for_its_subject(identity: Emulator) -> None:
    user_token = identity.admin.post("/_emulator/idp/token", json={"client_id": "test-app"}).json()[
        "access_token"
    ]
    workload = identity.arns["identity_agent"].rsplit("/", 1)[-1]
    data = identity.client()
    token = data.get_workload_access_token_for_jwt(workloadName=workload, userToken=user_token)
    identity.client("bedrock-agentcore-control").create_api_key_credential_provider(
        name="k", apiKey="v"
    )
    data.get_resource_api_key(
        workloadIdentityToken=token["workloadAccessToken"], resourceCredentialProviderName="k"
    )
    issued = identity.admin.get("/_emulator/identity/issued").json()["issued"]
    assert issued[-1]["user"] == "test-app"  # the token's sub
    refused = _refusal(
        data.get_workload_access_token_for_jwt, workloadName=workload, userToken="not.a.jwt"
    )
    assert refused["Error"]["Code"] == "UnauthorizedException"


def _invoke(emulator: Emulator, payload: dict[str, Any], **extra: Any) -> dict[str, Any]:
    answer = emulator.client().invoke_agent_runtime(
        agentRuntimeArn=emulator.arns["identity_agent"],
        runtimeSessionId=f"identity-{uuid.uuid4()}",
        payload=json.dumps(payload),
        contentType="application/json",
        **extra,
    )
    return json.loads(answer["response"].read())  # type: ignore[no-any-return]


def test_an_agent_gets_its_api_key_and_oauth2_token_through_the_sdks_decorators(
    identity: Emulator,
) -> None:
    # Both providers come from the config (fixtures/emulator-test.toml), as a project's would.
    assert _invoke(identity, {"use": "api_key"}, runtimeUserId="carol") == {"api_key": "wk-777"}
    token = _invoke(identity, {"use": "oauth"})["access_token"]
    assert jwt.decode(token, options={"verify_signature": False})["scope"] == "agent/read"
    issued = identity.admin.get("/_emulator/identity/issued").json()["issued"]
    workload = identity.arns["identity_agent"].rsplit("/", 1)[-1]
    assert [(i["provider"], i["workload"], i["user"]) for i in issued] == [
        ("weather-api-key", workload, "carol"),  # the caller's user id, as AgentCore passes it
        ("weather-oauth", workload, None),  # no user id: a token for the workload alone
    ]


def test_a_caller_cannot_hand_the_instance_a_workload_token_of_its_own(identity: Emulator) -> None:
    client = identity.client()

    def forge(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Bedrock-AgentCore-Runtime-Custom-WorkloadAccessToken"] = "x"
        request.headers["WorkloadAccessToken"] = "forged"

    client.meta.events.register_first("before-sign.bedrock-agentcore.InvokeAgentRuntime", forge)
    answer = client.invoke_agent_runtime(
        agentRuntimeArn=identity.arns["identity_agent"],
        runtimeSessionId=f"identity-{uuid.uuid4()}",
        payload=json.dumps({"use": "api_key"}),
    )
    assert json.loads(answer["response"].read()) == {"api_key": "wk-777"}  # the vault's token
