"""The redactor against every form a secret takes in text the proxy writes."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from agentcore_wire.redaction import redact, redact_url

SECRET = "s3cr3t-V4LUE_x.y~z+/="
NAMES = (
    "Authorization",
    "Proxy-Authorization",
    "X-Amz-Security-Token",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "aws_secret_access_key",
    "aws_session_token",
    "AWS_SECRET_ACCESS_KEY",
    "AGENTCORE_BEARER_TOKEN",
    "SecretAccessKey",
    "SessionToken",
    "access_token",
    "refresh_token",
    "id_token",
    "client_secret",
    "token",
    # AgentCore Identity's (the emulator's token vault logs through the same redactor).
    "WorkloadAccessToken",
    "workloadIdentityToken",
    "userToken",
    "apiKey",
    "clientSecret",
)
SCHEMES = ("", "Bearer ", "bearer ", "BEARER ", "Basic ", "Token ")


def _spellings(name: str) -> set[str]:
    return {name, name.lower(), name.upper(), name.title()}


def _forms(name: str, value: str) -> list[str]:
    return [
        f"{name}: {value}",
        f"{name}:{value}",
        f"{name} = {value}",
        f"{name}={value}",
        f"?a=1&{name}={value}&b=2",
        json.dumps({name: value}),
        json.dumps({name: value}, separators=(",", ":")),
        json.dumps(json.dumps({name: value})),  # JSON inside a JSON string
        repr({name: value.encode()}),
        repr({name: value}),
        repr([(name, value)]),
        repr([(name.encode(), value.encode())]),
    ]


@pytest.mark.parametrize("scheme", SCHEMES, ids=repr)
@pytest.mark.parametrize("name", NAMES)
def test_every_spelling_and_form_of_a_named_secret_is_redacted(name: str, scheme: str) -> None:
    for spelling in _spellings(name):
        for text in _forms(spelling, scheme + SECRET):
            cleaned = redact(f"the server said: {text} (end)")
            assert SECRET not in cleaned, text
            assert "s3cr3t" not in cleaned, text
            assert spelling in cleaned, text  # what was hidden stays readable
            assert "(end)" in cleaned


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER"])
def test_a_bearer_token_is_redacted_wherever_it_stands(scheme: str) -> None:
    cleaned = redact(f"sent {scheme} {SECRET} and {scheme}  {SECRET}")
    assert "s3cr3t" not in cleaned
    assert scheme in cleaned


def test_the_header_form_keeps_its_scheme_and_loses_its_token() -> None:
    assert redact("Authorization: Bearer abc") == "Authorization: Bearer <redacted>"
    assert redact("authorization: bearer abc") == "authorization: bearer <redacted>"
    assert redact("{'Authorization': b'Bearer abc'}") == "{'Authorization': b'Bearer <redacted>'}"


def test_a_sigv4_authorization_loses_its_credential_and_signature() -> None:
    header = (
        "Authorization: AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/"
        "bedrock-agentcore/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + "ab" * 32
    )
    cleaned = redact(header)
    assert "AKIDEXAMPLE" not in cleaned and "ab" * 32 not in cleaned
    assert "SignedHeaders=host;x-amz-date" in cleaned


def test_a_presigned_url_loses_its_token_credential_and_signature() -> None:
    url = (
        "wss://h/runtimes/x/ws?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDX%2F2026"
        "&X-Amz-Security-Token=TOKENX&X-Amz-Signature=" + "cd" * 32 + "&X-Amz-Expires=300"
    )
    cleaned = redact(url)
    for secret in ("AKIDX", "TOKENX", "cd" * 32):
        assert secret not in cleaned
    assert "X-Amz-Expires=300" in cleaned


def test_sts_xml_loses_its_keys() -> None:
    xml = "<SecretAccessKey>SECRETX</SecretAccessKey><SessionToken>TOKENX</SessionToken>"
    cleaned = redact(xml)
    assert "SECRETX" not in cleaned and "TOKENX" not in cleaned


def test_the_websocket_subprotocol_that_carries_a_token_is_redacted() -> None:
    cleaned = redact("Sec-WebSocket-Protocol: base64UrlBearerAuthorization.ZXlKaGJH, x")
    assert "ZXlKaGJH" not in cleaned


def test_anything_shaped_like_a_jwt_is_redacted() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"
    assert "eyJzdWIiOiJhIn0" not in redact(f"invalid token {jwt}")


def test_ordinary_protocol_text_is_left_alone() -> None:
    line = json.dumps(
        {"jsonrpc": "2.0", "id": 1, "params": {"_meta": {"progressToken": 7}, "tokens": 3}}
    )
    assert redact(line) == line
    assert redact("Authorization method mismatch") == "Authorization method mismatch"


def test_a_name_after_an_escaped_line_break_is_found() -> None:
    cleaned = redact("'POST\\n/runtimes\\nx-amz-security-token:TOKENX\\n'")
    assert "TOKENX" not in cleaned


@pytest.mark.parametrize(
    "url",
    [
        f"https://user:{SECRET}@proxy.example:3128",
        f"http://{SECRET}@proxy.example",
        f"https://user:{SECRET}@[::1]:8443/path",
        f"https://h.example/x?X-Amz-Signature={SECRET}&a=1",
        f"wss://h.example/ws?X-Amz-Credential={SECRET}%2F20261207&X-Amz-Security-Token={SECRET}",
        f"https://h.example/ws?token={SECRET}",
    ],
)
def test_a_url_keeps_where_it_points_and_loses_what_authenticates(url: str) -> None:
    cleaned = redact_url(url)
    assert SECRET not in cleaned and SECRET.split("_", maxsplit=1)[0] not in cleaned
    assert urlsplit(cleaned).hostname in {"proxy.example", "h.example", "::1"}
    # The same URL quoted inside any other text is cleaned by redact() too.
    assert SECRET.split("_", maxsplit=1)[0] not in redact(
        f"the proxy {url} is not an http:// proxy"
    )


def test_a_netloc_with_a_password_is_redacted_where_it_stands() -> None:
    assert "pw" not in redact("The proxy user:pw@proxy.example:3128 refused")
    # What only looks similar stays: an email address, an ARN, an IPv6 endpoint.
    for text in ("bob@example.com", "arn:aws:iam::123456789012:role/x", "http://[::1]:80/a"):
        assert redact(text) == text


@pytest.mark.parametrize(
    "text", ["http://" * 100_000, "(a:" * 300_000], ids=["schemes", "netloc-like runs"]
)
def test_a_long_text_of_url_shapes_is_redacted_in_linear_time(text: str) -> None:
    # A runtime's error may quote anything. Before, 700 KB of "http://" took the URL rule
    # 456 s (each start searched the rest for an `@`); the suite's timeout catches a relapse.
    assert redact(text) == text
    assert redact_url(text[:70_000]) == text[:70_000]
