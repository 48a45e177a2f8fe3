"""Secrets out of every text the proxy writes: logs on stderr and errors on stdout."""

from __future__ import annotations

import re

# Anything that could carry a credential, whoever wrote it (botocore, AWS, a server).
_SECRET_PATTERNS = (
    (re.compile(r"(Signature=)[0-9a-f]+", re.I), r"\1<redacted>"),
    (re.compile(r"(Credential=)[^,\s'\"]+", re.I), r"\1<redacted>"),
    (
        re.compile(
            r"((?:authorization|x-amz-security-token|x-amz-signature|aws_secret_access_key"
            r"|aws_session_token|secretaccesskey|sessiontoken)['\"]?\s*[:=]\s*b?['\"]?)"
            r"(?:bearer\s+)?[^'\",}\s]+",
            re.I,
        ),
        r"\1<redacted>",
    ),
    # OAuth: a bearer token anywhere, and anything shaped like a JWT.
    (re.compile(r"(bearer\s+)[A-Za-z0-9._~+/=-]+", re.I), r"\1<redacted>"),
    (re.compile(r"eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), "<redacted-jwt>"),
)


def redact(text: str) -> str:
    """Remove signatures, credentials and tokens from ``text``."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text
