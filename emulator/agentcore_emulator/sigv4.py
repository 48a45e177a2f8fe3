"""Server-side SigV4 verification, as AWS does it, from the request exactly as received."""

from __future__ import annotations

import email.utils
import functools
import hashlib
import hmac
import logging
import re
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import quote, unquote

from agentcore_emulator.exceptions import (
    ExpiredTokenException,
    IncompleteSignatureException,
    InvalidSignatureException,
    MissingAuthenticationTokenException,
    UnrecognizedClientException,
)

ALGORITHM = "AWS4-HMAC-SHA256"
_AMZ_DATE = "%Y%m%dT%H%M%SZ"
_AMZ_DATE_PATTERN = re.compile(r"(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z")
_WHITESPACE = re.compile(r"\s+")
_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)

logger = logging.getLogger("agentcore_emulator")


@dataclass(frozen=True)
class Credential:
    """A key pair the emulator knows; temporary ones carry a token and an expiry."""

    access_key: str
    secret_key: str
    session_token: str | None = None
    expires_at: datetime | None = None
    principal: str | None = None  # the ARN AWS would name in an AccessDenied message


@dataclass(frozen=True)
class SignedRequest:
    """The parts of an HTTP request that SigV4 covers, as they came off the wire."""

    method: str
    raw_path: str
    query: str
    headers: Sequence[tuple[str, str]]
    body: bytes

    @functools.cached_property
    def _by_name(self) -> dict[str, list[str]]:
        by_name: dict[str, list[str]] = {}
        for key, value in self.headers:
            by_name.setdefault(key.lower(), []).append(value)
        return by_name

    def header_values(self, name: str) -> list[str]:
        return self._by_name.get(name.lower(), [])

    def header(self, name: str) -> str | None:
        values = self.header_values(name)
        return values[0] if values else None


@dataclass(frozen=True)
class Scope:
    access_key: str
    date: str
    region: str
    service: str

    def __str__(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


@dataclass(frozen=True)
class Verified:
    """Who signed a request that passed verification, and for what."""

    credential: Credential
    scope: Scope


@dataclass(frozen=True)
class Authorization:
    scope: Scope
    signed_headers: tuple[str, ...]
    signature: str


_AUTH_FIELDS = frozenset({"Credential", "SignedHeaders", "Signature"})


def parse_authorization(value: str) -> Authorization:
    """Split an Authorization header into scope, signed headers and signature."""
    algorithm, _, rest = value.strip().partition(" ")
    if algorithm != ALGORITHM:
        raise IncompleteSignatureException(
            f"Unsupported AWS 'algorithm': '{algorithm}'. Use {ALGORITHM}."
        )
    fields: dict[str, str] = {}
    for part in rest.split(","):
        key, sep, val = part.strip().partition("=")
        if not sep:
            raise IncompleteSignatureException(
                f"'{part.strip()}' not a valid key=value pair (missing equal-sign) in "
                f"Authorization header: '{ALGORITHM} {rest[:80]}'."
            )
        if key not in _AUTH_FIELDS or key in fields:
            # Chosen (AWS's answer could not be checked offline): a header with any other,
            # or a repeated, field is not one a SigV4 signer writes; refuse it.
            raise IncompleteSignatureException(
                f"Authorization header has an unexpected or repeated field '{key}'; expected "
                f"exactly Credential, SignedHeaders and Signature."
            )
        fields[key] = val
    missing = [f for f in ("Credential", "SignedHeaders", "Signature") if not fields.get(f)]
    if missing:
        raise IncompleteSignatureException(
            " ".join(f"Authorization header requires '{f}' parameter." for f in missing)
            + f" Authorization={ALGORITHM} {rest[:80]}"
        )
    parts = fields["Credential"].split("/")
    if len(parts) != 5 or parts[4] != "aws4_request":
        raise IncompleteSignatureException(
            f"Credential should be scoped to a valid region, service and 'aws4_request' "
            f"terminator: '{fields['Credential']}'."
        )
    scope = Scope(access_key=parts[0], date=parts[1], region=parts[2], service=parts[3])
    signed = tuple(fields["SignedHeaders"].split(";"))
    return Authorization(scope=scope, signed_headers=signed, signature=fields["Signature"])


# A runtime's path and query repeat on every call to it: encoded once, not per request.
@functools.lru_cache(maxsize=1024)
def canonical_uri(raw_path: str) -> str:
    """Normalize the path as received (RFC 3986 dot segments, no empty segments), encode once."""
    segments: list[str] = []
    for segment in raw_path.split("/"):
        if segment in ("", "."):
            continue
        if segment == "..":
            if segments:
                segments.pop()
            continue
        segments.append(segment)
    path = "/" + "/".join(segments)
    if raw_path.endswith("/") and segments:
        path += "/"
    return quote(path, safe="/~")


@functools.lru_cache(maxsize=1024)
def canonical_query(query: str) -> str:
    pairs = []
    for item in query.split("&"):
        if not item:
            continue
        key, _, value = item.partition("=")
        pairs.append((quote(unquote(key), safe="-_.~"), quote(unquote(value), safe="-_.~")))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def canonical_headers(request: SignedRequest, signed: Sequence[str]) -> str:
    lines = []
    for name in signed:
        values = [_WHITESPACE.sub(" ", v.strip()) for v in request.header_values(name)]
        lines.append(f"{name}:{','.join(values)}\n")
    return "".join(lines)


def payload_hash(request: SignedRequest) -> str:
    """The body's SHA-256, always computed here: outside S3, AWS hashes the body itself.

    A declared ``x-amz-content-sha256`` must match it; ``UNSIGNED-PAYLOAD`` (an S3
    feature) would let a body be swapped after signing, so it is refused too.
    """
    declared = request.header("x-amz-content-sha256")
    actual = hashlib.sha256(request.body).hexdigest()
    if declared is not None and not hmac.compare_digest(declared.lower(), actual):
        raise InvalidSignatureException(
            "The provided 'x-amz-content-sha256' header does not match what was computed."
        )
    return actual


def canonical_request(request: SignedRequest, signed: Sequence[str]) -> str:
    return "\n".join(
        (
            request.method.upper(),
            canonical_uri(request.raw_path),
            canonical_query(request.query),
            canonical_headers(request, signed),
            ";".join(signed),
            payload_hash(request),
        )
    )


def string_to_sign(amz_date: str, scope: Scope, creq: str) -> str:
    digest = hashlib.sha256(creq.encode("utf-8")).hexdigest()
    return f"{ALGORITHM}\n{amz_date}\n{scope}\n{digest}"


@functools.lru_cache(maxsize=256)
def signing_key(secret: str, scope: Scope) -> bytes:
    """The day's key for a scope (cached, as AWS's signers cache it: it changes daily)."""
    key = f"AWS4{secret}".encode()
    for part in (scope.date, scope.region, scope.service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def _parse_amz_date(value: str) -> datetime:
    """``20150830T123600Z`` as a datetime (strptime is several times slower)."""
    match = _AMZ_DATE_PATTERN.fullmatch(value)
    if match is None:
        raise ValueError(value)
    year, month, day, hour, minute, second = map(int, match.groups())
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def signature(secret: str, scope: Scope, sts: str) -> str:
    return hmac.new(signing_key(secret, scope), sts.encode(), hashlib.sha256).hexdigest()


def _request_time(request: SignedRequest) -> tuple[str, datetime, str]:
    """The signing time as SigV4 writes it, as a datetime, and the header that gave it.

    ``X-Amz-Date`` (ISO 8601 basic) wins; without it, an HTTP ``Date`` header (RFC 7231)
    is accepted, as AWS's error text says, and then it must be signed instead.
    """
    amz_date = request.header("x-amz-date")
    if amz_date is not None:
        try:
            return amz_date, _parse_amz_date(amz_date), "x-amz-date"
        except ValueError as exc:
            raise IncompleteSignatureException(
                f"Date must be in ISO-8601 'basic format'. Got '{amz_date}'."
            ) from exc
    http_date = request.header("date")
    if http_date is None:
        raise IncompleteSignatureException(
            "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header."
        )
    try:
        signed_at = email.utils.parsedate_to_datetime(http_date).astimezone(UTC)
    except (TypeError, ValueError) as exc:
        raise IncompleteSignatureException(
            f"Date must be an HTTP date (RFC 7231). Got '{http_date}'."
        ) from exc
    return signed_at.strftime(_AMZ_DATE), signed_at, "date"


def _check_skew(amz_date: str, signed_at: datetime, now: datetime, max_skew: timedelta) -> None:
    minutes = int(max_skew.total_seconds() // 60)
    fmt = _AMZ_DATE
    if signed_at < now - max_skew:
        raise InvalidSignatureException(
            f"Signature expired: {amz_date} is now earlier than "
            f"{(now - max_skew).strftime(fmt)} ({now.strftime(fmt)} - {minutes} min.)"
        )
    if signed_at > now + max_skew:
        raise InvalidSignatureException(
            f"Signature not yet current: {amz_date} is still later than "
            f"{(now + max_skew).strftime(fmt)} ({now.strftime(fmt)} + {minutes} min.)"
        )


def _check_token(token: str | None, credential: Credential, now: datetime) -> None:
    if credential.session_token is None:
        if token is not None:
            raise UnrecognizedClientException(
                "The security token included in the request is invalid."
            )
        return
    if token is None or not hmac.compare_digest(token.encode(), credential.session_token.encode()):
        raise UnrecognizedClientException("The security token included in the request is invalid.")
    if credential.expires_at is not None and credential.expires_at <= now:
        raise ExpiredTokenException("The security token included in the request is expired")


def verify_sigv4(
    request: SignedRequest,
    lookup: Callable[[str], Credential | None],
    *,
    now: datetime,
    region: str | None = None,
    services: Collection[str] | None = None,
    max_skew: timedelta = timedelta(minutes=5),
) -> Verified:
    """Check a request's SigV4 signature; raise the AWS error a real endpoint would."""
    header = request.header("authorization")
    if header is None:
        raise MissingAuthenticationTokenException("Missing Authentication Token")
    auth = parse_authorization(header)
    scope = auth.scope
    amz_date, signed_at, date_header = _request_time(request)
    if "host" not in auth.signed_headers:
        raise InvalidSignatureException(
            "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization."
        )
    if date_header not in auth.signed_headers:
        shown = "X-Amz-Date" if date_header == "x-amz-date" else "Date"
        raise InvalidSignatureException(
            f"'{shown}' must be a 'SignedHeader' in the AWS Authorization."
        )
    if list(auth.signed_headers) != sorted(auth.signed_headers):
        raise InvalidSignatureException("SignedHeaders must be lower-case and sorted.")
    if scope.date != amz_date[:8]:
        raise InvalidSignatureException(
            f"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date "
            f"from HTTP: '{scope.date}' != '{amz_date[:8]}', from '{amz_date}'."
        )
    if region is not None and scope.region != region:
        logger.warning(
            "a call signed for region %s; this emulator serves %s: set AWS_REGION=%s "
            "(agentcore-emulator env prints it)",
            scope.region,
            region,
            region,
        )
        raise InvalidSignatureException(
            f"Credential should be scoped to a valid region: '{scope.region}' "
            f"(expected '{region}')."
        )
    if services is not None and scope.service not in services:
        raise InvalidSignatureException(
            f"Credential should be scoped to correct service: '{scope.service}'."
        )
    _check_skew(amz_date, signed_at, now, max_skew)
    token = request.header("x-amz-security-token")
    return _check_signature(request, lookup, auth, amz_date, token, now)


def _check_signature(
    request: SignedRequest,
    lookup: Callable[[str], Credential | None],
    auth: Authorization,
    amz_date: str,
    token: str | None,
    now: datetime,
) -> Verified:
    credential = lookup(auth.scope.access_key)
    if credential is None:
        raise UnrecognizedClientException("The security token included in the request is invalid.")
    _check_token(token, credential, now)
    creq = canonical_request(request, auth.signed_headers)
    sts = string_to_sign(amz_date, auth.scope, creq)
    expected = signature(credential.secret_key, auth.scope, sts)
    if not hmac.compare_digest(expected.encode(), auth.signature.encode()):
        raise InvalidSignatureException(
            f"{_SIGNATURE_MISMATCH}\n\nThe Canonical String for this request should have been\n"
            f"'{creq}'\n\nThe String-to-Sign should have been\n'{sts}'\n"
        )
    return Verified(credential=credential, scope=auth.scope)


def is_presigned(request: SignedRequest) -> bool:
    """Whether the signature travels in the query string (a presigned URL)."""
    return request.header("authorization") is None and "X-Amz-Signature=" in request.query


def verify_presigned(
    request: SignedRequest,
    lookup: Callable[[str], Credential | None],
    *,
    now: datetime,
    region: str | None = None,
    services: Collection[str] | None = None,
    max_expires: int = 300,
    max_skew: timedelta = timedelta(minutes=5),
) -> Verified:
    """Check a presigned URL's signature (SigV4 in the query), valid ``max_expires`` at most."""
    params: dict[str, str] = {}
    kept: list[str] = []
    for item in request.query.split("&"):
        key, _, value = item.partition("=")
        params[unquote(key)] = unquote(value)
        if unquote(key) != "X-Amz-Signature":
            kept.append(item)
    missing = [
        name
        for name in (
            "X-Amz-Algorithm",
            "X-Amz-Credential",
            "X-Amz-Date",
            "X-Amz-Expires",
            "X-Amz-SignedHeaders",
            "X-Amz-Signature",
        )
        if not params.get(name)
    ]
    if missing:
        raise IncompleteSignatureException(
            " ".join(f"AWS query-string parameters must include '{name}'." for name in missing)
        )
    header = (
        f"{params['X-Amz-Algorithm']} Credential={params['X-Amz-Credential']}, "
        f"SignedHeaders={params['X-Amz-SignedHeaders']}, Signature={params['X-Amz-Signature']}"
    )
    auth = parse_authorization(header)
    amz_date = params["X-Amz-Date"]
    try:
        signed_at = _parse_amz_date(amz_date)
        expires = int(params["X-Amz-Expires"])
    except ValueError:
        raise IncompleteSignatureException(
            "X-Amz-Date must be ISO-8601 basic format and X-Amz-Expires a number of seconds."
        ) from None
    if not 1 <= expires <= max_expires:
        raise InvalidSignatureException(
            f"X-Amz-Expires must be between 1 and {max_expires} seconds (got {expires})."
        )
    if "host" not in auth.signed_headers:
        raise InvalidSignatureException("'Host' must be a 'SignedHeader' in the AWS query.")
    if auth.scope.date != amz_date[:8]:
        raise InvalidSignatureException("Date in Credential scope does not match X-Amz-Date.")
    if region is not None and auth.scope.region != region:
        raise InvalidSignatureException(
            f"Credential should be scoped to a valid region: '{auth.scope.region}' "
            f"(expected '{region}')."
        )
    if services is not None and auth.scope.service not in services:
        raise InvalidSignatureException(
            f"Credential should be scoped to correct service: '{auth.scope.service}'."
        )
    if signed_at > now + max_skew:
        raise InvalidSignatureException(f"Signature not yet current: {amz_date}.")
    if now > signed_at + timedelta(seconds=expires):
        raise InvalidSignatureException(
            f"Signature expired: {amz_date} + {expires}s is now earlier than "
            f"{now.strftime(_AMZ_DATE)}."
        )
    unsigned = replace(request, query="&".join(kept))
    return _check_signature(
        unsigned, lookup, auth, amz_date, params.get("X-Amz-Security-Token"), now
    )
