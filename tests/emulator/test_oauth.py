"""Runtimes with a JWT authorizer, and the emulator's own identity provider.

Tokens are read with PyJWT's JWKS client and runtimes called with plain HTTP (httpx), as
AgentCore's guide calls an OAuth runtime: clients nobody here wrote.
"""

from __future__ import annotations

import json
import socket
import threading
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import botocore.exceptions
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.harness import ROOT, Emulator

APP = ("test-app", "test-app-secret")


def _token(emulator: Emulator, client: tuple[str, str] = APP, **form: str) -> httpx.Response:
    return httpx.post(
        f"{emulator.url}/_idp/oauth2/token",
        data={"grant_type": "client_credentials", **form},
        auth=client,
        timeout=30,
    )


def _access_token(emulator: Emulator, client: tuple[str, str] = APP, **form: str) -> str:
    answer = _token(emulator, client, **form)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def _invoke(emulator: Emulator, authorization: str | None, runtime: str = "oauth_agent") -> Any:
    headers = {
        "Content-Type": "application/json",
        "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": f"oauth-{uuid.uuid4()}",
    }
    if authorization is not None:
        headers["Authorization"] = authorization
    arn = quote(emulator.arns[runtime], safe="")
    return httpx.post(
        f"{emulator.url}/runtimes/{arn}/invocations?qualifier=DEFAULT",
        content=b'{"show_headers": true}',
        headers=headers,
        timeout=60,
    )


def test_the_identity_provider_issues_tokens_any_jwks_client_verifies(emulator: Emulator) -> None:
    token = _access_token(emulator, scope="agent/invoke")
    discovery = httpx.get(f"{emulator.url}/_idp/.well-known/openid-configuration").json()
    key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
    claims = jwt.decode(
        token, key.key, algorithms=["RS256"], audience="test-agent", issuer=discovery["issuer"]
    )
    assert claims["client_id"] == "test-app" and claims["scope"] == "agent/invoke"
    assert claims["token_use"] == "access"


@pytest.mark.parametrize(
    ("client", "form", "status", "error"),
    [
        (("test-app", "wrong"), {}, 401, "invalid_client"),
        (("nobody", "x"), {}, 401, "invalid_client"),
        (APP, {"grant_type": "password"}, 400, "unsupported_grant_type"),
        (APP, {"scope": "admin/all"}, 400, "invalid_scope"),
    ],
)
def test_the_token_endpoint_refuses_as_rfc_6749_says(
    emulator: Emulator, client: tuple[str, str], form: dict[str, str], status: int, error: str
) -> None:
    answer = _token(emulator, client, **form)
    assert answer.status_code == status
    assert answer.json()["error"] == error
    assert answer.headers["cache-control"] == "no-store"


def test_a_valid_bearer_token_calls_the_runtime_and_reaches_the_container(
    emulator: Emulator,
) -> None:
    token = _access_token(emulator)
    answer = _invoke(emulator, f"Bearer {token}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["headers"]["authorization"] == f"Bearer {token}"  # allowlisted


def _other_key_token(emulator: Emulator) -> str:
    issuer = httpx.get(f"{emulator.url}/_idp/.well-known/openid-configuration").json()["issuer"]
    kid = jwt.get_unverified_header(_access_token(emulator))["kid"]
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    claims = {"iss": issuer, "client_id": "test-app", "aud": "test-agent", "exp": 2**31}
    return jwt.encode(
        {**claims, "scope": "agent/invoke"}, key, algorithm="RS256", headers={"kid": kid}
    )


def _expired_token(emulator: Emulator) -> str:
    issued = emulator.admin.post(
        "/_emulator/idp/token", json={"client_id": "test-app", "expires_in": -60}
    )
    return str(issued.json()["access_token"])


@pytest.mark.parametrize(
    ("make", "error", "words"),
    [
        (lambda e: None, None, "Missing bearer token"),
        (lambda e: "Bearer not-a-jwt", "invalid_token", "Invalid bearer token"),
        (_other_key_token, "invalid_token", "Signature verification failed"),
        (_expired_token, "invalid_token", "expired"),
        (lambda e: _access_token(e, ("other-app", "other-app-secret")), "invalid_token", "client"),
        (lambda e: _access_token(e, scope="agent/read"), "insufficient_scope", "scopes"),
    ],
    ids=["missing", "malformed", "foreign key", "expired", "other client", "wrong scope"],
)
def test_a_missing_or_bad_token_is_agentcores_401_with_a_challenge(
    emulator: Emulator, make: Any, error: str | None, words: str
) -> None:
    token = make(emulator)
    authorization = token if token is None or token.startswith("Bearer") else f"Bearer {token}"
    answer = _invoke(emulator, authorization)
    assert answer.status_code == 401
    assert answer.headers["x-amzn-ErrorType"] == "UnauthorizedException"
    assert words in answer.json()["message"]
    challenge = answer.headers["www-authenticate"]
    assert challenge.startswith('Bearer realm="bedrock-agentcore"')
    if error:
        assert f'error="{error}"' in challenge


def test_sigv4_on_an_oauth_runtime_and_a_token_on_a_sigv4_runtime_are_refused(
    emulator: Emulator,
) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        emulator.client().invoke_agent_runtime(
            agentRuntimeArn=emulator.arns["oauth_agent"],
            payload=b"{}",
            runtimeSessionId=f"oauth-{uuid.uuid4()}",
        )
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "Authorization method mismatch" in refused.value.response["Error"]["Message"]

    answer = _invoke(emulator, f"Bearer {_access_token(emulator)}", runtime="http_agent")
    assert answer.status_code == 403
    assert "Authorization method mismatch" in json.loads(answer.text)["message"]


def _crafted(emulator: Emulator, **claims: Any) -> str:
    answer = emulator.admin.post(
        "/_emulator/idp/token", json={"client_id": "test-app", "claims": claims}
    )
    answer.raise_for_status()
    return str(answer.json()["access_token"])


@pytest.mark.parametrize(
    "claims",
    [
        {"aud": 123},
        {"aud": True},
        {"aud": [{}]},
        {"aud": ["test-agent", 7]},
        {"client_id": ["test-app"]},
        {"client_id": {"id": "test-app"}},
        {"scope": ["agent/invoke"]},
        {"scope": 5},
    ],
    ids=repr,
)
def test_a_signed_token_with_an_odd_claim_type_is_a_401_not_a_server_fault(
    emulator: Emulator, claims: dict[str, Any]
) -> None:
    answer = _invoke(emulator, f"Bearer {_crafted(emulator, **claims)}")
    assert answer.status_code == 401, answer.text
    assert answer.headers["x-amzn-ErrorType"] == "UnauthorizedException"
    assert "claim must be" in answer.json()["message"]


SLOW_IDP_CONFIG = """
[emulator]
requests_per_second = 0

[[oauth_clients]]
client_id = "test-app"
client_secret = "test-app-secret"
scopes = ["agent/invoke"]

[[runtimes]]
name = "own_idp"
protocol = "HTTP"
command = ["python", "{fixtures}/servers/http_agent.py"]
[runtimes.jwt_authorizer]
allowed_clients = ["test-app"]

[[runtimes]]
name = "silent_idp"
protocol = "HTTP"
command = ["python", "{fixtures}/servers/http_agent.py"]
[runtimes.jwt_authorizer]
discovery_url = "http://127.0.0.1:{port}/.well-known/openid-configuration"
"""


def test_a_silent_identity_provider_holds_up_only_its_own_runtime(tmp_path: Path) -> None:
    silent = socket.create_server(("127.0.0.1", 0))
    config = tmp_path / "emulator.toml"
    fixtures = ROOT / "fixtures"
    config.write_text(SLOW_IDP_CONFIG.format(fixtures=fixtures, port=silent.getsockname()[1]))
    slow_answers: list[int] = []
    with silent, Emulator(config) as emulator:
        token = f"Bearer {_crafted(emulator)}"
        waiting = threading.Thread(
            target=lambda: slow_answers.append(_invoke(emulator, token, "silent_idp").status_code)
        )
        waiting.start()
        fetch, _ = silent.accept()  # the emulator is now waiting on the silent provider
        with fetch:
            answer = _invoke(emulator, token, "own_idp")
            assert answer.status_code == 200, answer.text
            assert waiting.is_alive()  # still waiting for its keys
            silent.close()  # the provider goes away altogether: its keys cannot be read
        waiting.join(60)
    assert slow_answers == [401]  # the provider hung up: its keys cannot be read
