"""Loads the official AWS SigV4 test suite (fixtures/aws4_testsuite) as SignedRequests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from agentcore_emulator.sigv4 import Credential, SignedRequest

SUITE = Path(__file__).resolve().parents[2] / "fixtures" / "aws4_testsuite"
ACCESS_KEY = "AKIDEXAMPLE"
SECRET_KEY = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
REGION = "us-east-1"
SERVICE = "service"
SIGNED_AT = datetime(2015, 8, 30, 12, 36, tzinfo=UTC)


@dataclass(frozen=True)
class Vector:
    name: str
    request: SignedRequest


def _parse(text: str) -> tuple[str, str, str, list[tuple[str, str]], bytes]:
    head, _, body = text.partition("\n\n")
    lines = head.split("\n")
    request_line = lines[0].rsplit(" ", 1)[0]  # the path may hold a space
    method, _, target = request_line.partition(" ")
    path, _, query = target.partition("?")
    headers: list[tuple[str, str]] = []
    for line in lines[1:]:
        if line[:1] in (" ", "\t") and headers:
            name, value = headers[-1]
            headers[-1] = (name, f"{value} {line.strip()}")
            continue
        name, _, value = line.partition(":")
        headers.append((name, value))
    return method, path, query, headers, body.encode()


def load_vectors() -> list[Vector]:
    vectors = []
    for req in sorted(SUITE.rglob("*.req")):
        # The .sreq is the request as sent (one case's token is only there); its
        # Authorization is replaced by the .authz, as ERRATA.txt advises.
        method, path, query, headers, body = _parse(req.with_suffix(".sreq").read_text())
        headers = [(k, v) for k, v in headers if k.lower() != "authorization"]
        headers.append(("Authorization", req.with_suffix(".authz").read_text().strip()))
        request = SignedRequest(method, path, query, headers, body)
        vectors.append(Vector(str(req.parent.relative_to(SUITE)), request))
    return vectors


def lookup_for(request: SignedRequest):
    """The suite's one key pair, with the session token the request carries."""
    token = request.header("x-amz-security-token")

    def lookup(access_key: str) -> Credential | None:
        if access_key != ACCESS_KEY:
            return None
        return Credential(ACCESS_KEY, SECRET_KEY, session_token=token)

    return lookup
