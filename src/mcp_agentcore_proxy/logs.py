"""Logging on stderr only, one line per event, with secrets redacted."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from mcp_agentcore_proxy.redaction import redact

QUIET_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


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
