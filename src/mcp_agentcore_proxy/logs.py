"""Logging on stderr only, one line per event, with secrets redacted."""

from __future__ import annotations

import logging
import sys
from typing import TextIO

from agentcore_wire.redaction import redact

QUIET_LOGGERS = ("botocore", "boto3", "urllib3", "s3transfer")


class RedactingFormatter(logging.Formatter):
    """One line per event, secrets redacted.

    A message of several lines (an AWS signature error quotes the canonical request) keeps
    its first line; at DEBUG the rest follows on the same line, its line breaks escaped.
    """

    def __init__(self, fmt: str, datefmt: str, detail: bool = False) -> None:
        super().__init__(fmt, datefmt)
        self._detail = detail

    def formatMessage(self, record: logging.LogRecord) -> str:
        first, _, rest = record.message.strip().partition("\n")
        if rest.strip():
            record.message = (
                first + " " + rest.strip().replace("\r", "").replace("\n", "\\n")
                if self._detail
                else f"{first} (details at LOG_LEVEL=DEBUG)"
            )
        return super().formatMessage(record)

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


def configure_logging(level: str, stream: TextIO | None = None) -> None:
    """Send every log line to stderr; keep botocore's wire trace off at any level."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(
        RedactingFormatter(
            "%(asctime)s %(levelname)s %(name)s: %(message)s",
            "%H:%M:%S",
            detail=level.upper() == "DEBUG",
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    # botocore's DEBUG log prints the Authorization header and session token in clear.
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
