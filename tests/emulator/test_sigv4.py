from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest

from agentcore_emulator.exceptions import (
    ExpiredTokenException,
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)
from agentcore_emulator.sigv4 import Credential, SignedRequest, verify_sigv4
from agentcore_wire.aws_errors import AwsError
from tests.emulator.sigv4_vectors import (
    ACCESS_KEY,
    REGION,
    SECRET_KEY,
    SERVICE,
    SIGNED_AT,
    load_vectors,
    lookup_for,
)

VECTORS = load_vectors()


def _verify(request: SignedRequest, **kwargs):
    options = {"now": SIGNED_AT, "region": REGION, "services": {SERVICE}, **kwargs}
    lookup = options.pop("lookup", lookup_for(request))
    return verify_sigv4(request, lookup, **options)


def _signed_names(request: SignedRequest) -> list[str]:
    authz = request.header("authorization") or ""
    return authz.split("SignedHeaders=")[1].split(",")[0].split(";")


def _with_header(request: SignedRequest, name: str, change) -> SignedRequest:
    headers = [(k, change(v) if k.lower() == name else v) for k, v in request.headers]
    return dataclasses.replace(request, headers=headers)


def _mutations(request: SignedRequest) -> dict[str, SignedRequest]:
    mutations = {
        "method": dataclasses.replace(request, method="PUT" if request.method != "PUT" else "GET"),
        "path": dataclasses.replace(request, raw_path=request.raw_path + "x"),
        "query": dataclasses.replace(request, query=request.query + "&extra=1"),
        "body": dataclasses.replace(request, body=request.body + b"!"),
    }
    for name in _signed_names(request):
        if name == "x-amz-date":
            # Still the scope's date, one second later: only the signature can tell.
            mutations[name] = _with_header(request, name, lambda v: v[:-3] + "01Z")
        else:
            mutations[name] = _with_header(request, name, lambda v: v + "x")
    signature = _with_header(
        request, "authorization", lambda v: v[:-1] + ("0" if v[-1] != "0" else "1")
    )
    mutations["signature"] = signature
    return mutations


@pytest.mark.parametrize("vector", VECTORS, ids=[v.name for v in VECTORS])
def test_official_vector_verifies(vector) -> None:
    verified = _verify(vector.request)
    assert verified.credential.access_key == ACCESS_KEY
    assert verified.scope.service == SERVICE


def test_suite_has_all_34_cases() -> None:
    assert len(VECTORS) == 34


@pytest.mark.parametrize("vector", VECTORS, ids=[v.name for v in VECTORS])
def test_any_mutation_of_a_signed_part_is_rejected(vector) -> None:
    for part, mutated in _mutations(vector.request).items():
        with pytest.raises(AwsError) as caught:
            _verify(mutated)
        assert caught.value.status == 403, (vector.name, part)


@pytest.fixture
def request_() -> SignedRequest:
    return next(v.request for v in VECTORS if v.name == "get-vanilla")


def test_missing_authorization_is_missing_authentication_token(request_) -> None:
    unsigned = _with_header(request_, "authorization", lambda v: v)
    unsigned = dataclasses.replace(
        unsigned, headers=[(k, v) for k, v in unsigned.headers if k.lower() != "authorization"]
    )
    with pytest.raises(MissingAuthenticationTokenException):
        _verify(unsigned)


@pytest.mark.parametrize(
    "authz",
    [
        "AWS4-HMAC-SHA1 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=00",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request",
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1, SignedHeaders=host, "
        "Signature=00",
    ],
    ids=["algorithm", "no-signature", "short-scope"],
)
def test_malformed_authorization_is_incomplete_signature(request_, authz) -> None:
    with pytest.raises(IncompleteSignatureException):
        _verify(_with_header(request_, "authorization", lambda _: authz))


@pytest.mark.parametrize(
    ("shift", "wording"),
    [
        (timedelta(minutes=-6), "Signature expired"),
        (timedelta(minutes=6), "Signature not yet current"),
    ],
)
def test_clock_skew_over_five_minutes_is_rejected_with_aws_wording(
    request_, shift, wording
) -> None:
    with pytest.raises(InvalidSignatureException, match=wording):
        _verify(request_, now=SIGNED_AT - shift)
    # Within the window it passes; the window is configurable.
    _verify(request_, now=SIGNED_AT - shift, max_skew=timedelta(minutes=10))


def test_wrong_region_or_service_in_scope_is_rejected(request_) -> None:
    with pytest.raises(InvalidSignatureException, match="valid region"):
        _verify(request_, region="eu-west-1")
    with pytest.raises(InvalidSignatureException, match="correct service: 'service'"):
        _verify(request_, services={"bedrock-agentcore"})


def test_unknown_access_key_is_unrecognized_client(request_) -> None:
    with pytest.raises(UnrecognizedClientException):
        _verify(request_, lookup=lambda key: None)


def test_wrong_secret_is_invalid_signature(request_) -> None:
    with pytest.raises(InvalidSignatureException, match="Canonical String"):
        _verify(request_, lookup=lambda key: Credential(key, SECRET_KEY + "x"))


def test_session_tokens_are_checked(request_) -> None:
    token_vector = next(v.request for v in VECTORS if v.name == "get-vanilla-with-session-token")
    token = token_vector.header("x-amz-security-token")
    expired = Credential(ACCESS_KEY, SECRET_KEY, token, expires_at=SIGNED_AT - timedelta(seconds=1))
    with pytest.raises(ExpiredTokenException):
        _verify(token_vector, lookup=lambda key: expired)
    other = Credential(ACCESS_KEY, SECRET_KEY, "another-token")
    with pytest.raises(UnrecognizedClientException):
        _verify(token_vector, lookup=lambda key: other)
    # A token sent along with long-term keys is refused too.
    with pytest.raises(UnrecognizedClientException):
        _verify(token_vector, lookup=lambda key: Credential(ACCESS_KEY, SECRET_KEY))


def test_host_must_be_signed(request_) -> None:
    authz = request_.header("authorization").replace(
        "SignedHeaders=host;x-amz-date", "SignedHeaders=x-amz-date"
    )
    with pytest.raises(InvalidSignatureException, match="Host"):
        _verify(_with_header(request_, "authorization", lambda _: authz))


def test_scope_date_must_match_request_date(request_) -> None:
    later = _with_header(request_, "x-amz-date", lambda _: "20150831T000000Z")
    with pytest.raises(InvalidSignatureException, match="Date in Credential scope"):
        _verify(later, now=SIGNED_AT + timedelta(hours=11, minutes=24))


def test_declared_payload_hash_must_match_body(request_) -> None:
    lying = dataclasses.replace(
        request_, headers=[*request_.headers, ("X-Amz-Content-SHA256", "0" * 64)]
    )
    with pytest.raises(InvalidSignatureException, match="x-amz-content-sha256"):
        _verify(lying)
