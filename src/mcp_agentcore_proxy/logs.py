"""Logging on stderr only, one line per event, with secrets redacted."""

from __future__ import annotations

import logging
import re
import sys
from typing import TextIO

# Anything that could carry a credential, whatever logged it.
_SECRET_PATTERNS = (
    (re.compile(r"(Signature=)[0-9a-f]+", re.I), r"\1<redacted>"),
    (re.compile(r"(Credential=)[^,\s'\"]+", re.I), r"\1<redacted>"),
    (
        re.compile(
            r"((?:authorization|x-amz-security-token|aws_secret_access_key|aws_session_token"
            r"|secretaccesskey|sessiontoken)['\"]?\s*[:=]\s*b?['\"]?)[^'\",}\s]+",
            re.I,
        ),
        r"\1<redacted>",
    ),
)
QUIET_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


def redact(text: str) -> str:
    """Remove signatures, credentials and tokens from ``text``."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactingFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Send every log line to stderr; keep botocore's wire trace off at any level."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        RedactingFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s", "%H:%M:%S")
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # botocore's DEBUG log prints the Authorization header and session token in clear.
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
