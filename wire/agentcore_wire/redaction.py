"""Secrets out of every text the proxy writes: logs on stderr and errors on stdout.

A secret is found by what names it, in every form text takes here: a header line
(``Authorization: Bearer x``), ``key=value`` (an environment, a query string), JSON
(also escaped inside another JSON string), the repr of a dict or of bytes
(``{'Authorization': b'Bearer x'}``), a pair (``('x-amz-security-token', 'x')``) and
STS's XML; then by its own shape wherever it stands (``Bearer x``, a JWT, a SigV4
signature, the WebSocket subprotocol that carries a token, a URL's ``user:password@``).

A URL quoted on purpose (a proxy, an endpoint, a presigned URL) goes through
``redact_url``, which keeps what locates it (scheme, host, port, path) and drops what
authenticates (userinfo; a signature, credential or token in its query).
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "<redacted>"

# Names whose value is a secret, in any case; `_` and `-` spellings alike.
_SECRET_NAMES = (
    r"(?:proxy[-_])?authorization",
    r"x[-_]amz[-_](?:security[-_]token|signature|credential)",
    r"(?:\w*[-_])?(?:secret[-_]access[-_]key|session[-_]token|bearer[-_]token"
    r"|access[-_]token|refresh[-_]token|id[-_]token|client[-_]secret|api[-_]key|password)",
    r"secretaccesskey|sessiontoken|accesstoken|refreshtoken|idtoken|clientsecret|apikey",
    # AgentCore Identity's: the token an instance is handed, and those exchanged for it.
    r"workload[-_]?(?:access|identity)[-_]?token|user[-_]?token",
    r"token|x-api-key|(?:set-)?cookie",
)
_QUOTE = r"(?:\\?['\"])"
_NAMED = re.compile(
    # A name starts a word, or follows an escaped line break (`\\n` in a quoted text).
    rf"(?:(?<![\w-])|(?<=\\[nrt]))(?P<name>{'|'.join(_SECRET_NAMES)})(?![\w-])"
    # What joins a name to its value: `: `, `=`, `": "`, `': b'`, `', '` (a pair).
    rf"(?P<join>{_QUOTE}?\s*[:=]\s*|{_QUOTE}\s*,\s*)(?P<open>b?{_QUOTE})?"
    # An auth scheme stays readable; the value after it does not.
    r"(?P<scheme>(?:bearer|basic|token|aws4-hmac-sha256)\s+)?"
    r"(?P<value>[^'\",}\s&;\\<]+)",
    re.I,
)
_SHAPED = (
    (re.compile(r"(Signature=)[0-9a-f]+", re.I), rf"\1{REDACTED}"),
    (re.compile(r"(Credential=)[^,\s'\"&\\]+", re.I), rf"\1{REDACTED}"),
    (re.compile(r"(<(SecretAccessKey|SessionToken)>)[^<]*", re.I), rf"\1{REDACTED}"),
    (re.compile(r"(base64UrlBearerAuthorization\.)[A-Za-z0-9._~+/=-]+", re.I), rf"\1{REDACTED}"),
    (re.compile(r"(\bbearer\s+)(?!<redacted)[A-Za-z0-9._~+/=-]+", re.I), rf"\1{REDACTED}"),
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "<redacted-jwt>"),
    # Userinfo in a URL (`http://user:pw@host`), and a bare `user:pw@host` (a netloc): to
    # the last `@` before a query (a password may hold an unescaped `/` or `@`). Each run is
    # bounded, so a long text of `http://` without an `@` costs linear time, not quadratic.
    (
        re.compile(r"(\b[a-z][a-z0-9+.-]*://)(?:[^\s'\"<>?#@]{0,256}@){1,4}", re.I),
        rf"\1{REDACTED}@",
    ),
    (
        re.compile(r"(?<![\w.%+:/-])[^\s/@:'\"<>(),]{1,256}:[^\s/@'\"<>]{0,256}@(?=[\w\[])"),
        rf"{REDACTED}@",
    ),
)
_SECRET_QUERY = re.compile(
    rf"^(?:{'|'.join(_SECRET_NAMES)}|x-amz-signature|signature|sig|key)$", re.I
)


def _named(match: re.Match[str]) -> str:
    if match.group("value").lower() == REDACTED.lower():
        return match.group(0)
    kept = match.group(0)[: match.start("value") - match.start(0)]
    return kept + REDACTED


def redact(text: str) -> str:
    """Remove signatures, credentials and tokens from ``text``."""
    text = _NAMED.sub(_named, text)
    for pattern, replacement in _SHAPED:
        text = pattern.sub(replacement, text)
    return text


def redact_url(url: str) -> str:
    """``url`` without its userinfo and without the values of secret query parameters."""
    scheme, sep, rest = url.partition("://")
    authority_and_path = re.split(r"[?#]", rest, maxsplit=1)[0]
    if sep and "@" in authority_and_path:  # a password may hold an unescaped `/`
        url = f"{scheme}://{REDACTED}@{rest[authority_and_path.rindex('@') + 1 :]}"
    try:
        parts = urlsplit(url)
        netloc = parts.netloc
        query = parts.query
        if query:
            pairs = parse_qsl(query, keep_blank_values=True)
            query = urlencode(
                [(k, REDACTED if _SECRET_QUERY.match(k) else v) for k, v in pairs], safe="<>"
            )
        return redact(urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment)))
    except ValueError:  # not a URL urlsplit can read (a bad port, brackets): no part kept
        return redact(url)
