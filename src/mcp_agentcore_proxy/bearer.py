"""Bearer tokens for runtimes with a JWT authorizer: from a variable, a file or a command.

A runtime with a JWT authorizer refuses SigV4; callers send ``Authorization: Bearer``
instead. The token comes from ``AGENTCORE_BEARER_TOKEN``, from a file (re-read when the
runtime refuses the token, so a sidecar may rotate it), or from a command that prints one
(run again on refusal, like ``credential_process``). The token is never logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import logging
import threading
from pathlib import Path

from mcp_agentcore_proxy.config import ProxyConfig
from mcp_agentcore_proxy.errors import CredentialsError
from mcp_agentcore_proxy.identity import CallerIdentity
from mcp_agentcore_proxy.token_command import OUTPUT_LIMIT, TokenCommand, TokenCommandError

logger = logging.getLogger(__name__)

COMMAND_TIMEOUT = 30.0  # seconds a token command may take


class BearerTokens:
    """The current token, and a fresh one when the runtime refuses it."""

    def __init__(
        self,
        token: str | None = None,
        file: Path | None = None,
        command: str | None = None,
        command_timeout: float = COMMAND_TIMEOUT,
    ) -> None:
        self._static = token
        self._file = file
        self._command = TokenCommand(command, command_timeout) if command else None
        self._lock = threading.Lock()
        self._token: str | None = token

    @classmethod
    def from_config(cls, config: ProxyConfig) -> BearerTokens | None:
        """The configured source, or None when the proxy signs with SigV4."""
        if not config.uses_bearer:
            return None
        file = Path(config.bearer_token_file) if config.bearer_token_file else None
        return cls(config.bearer_token, file, config.bearer_token_command)

    @property
    def source(self) -> str:
        if self._file is not None:
            return "AGENTCORE_BEARER_TOKEN_FILE"
        if self._command is not None:
            return "AGENTCORE_BEARER_TOKEN_COMMAND"
        return "AGENTCORE_BEARER_TOKEN"

    def current(self) -> str:
        with self._lock:
            if self._token is None:
                self._token = self._fetch()
            return self._token

    def refresh(self, refused: str) -> bool:
        """Fetch the token again after ``refused`` was refused; True if it changed."""
        if self._static is not None:
            return False
        with self._lock:
            if self._token == refused:
                self._token = self._fetch()
            return self._token != refused

    def identity(self) -> CallerIdentity:
        """Who the token speaks for (its issuer and subject), for identity-mode sessions.

        Read without verifying: the runtime verifies the token; this only names a session.
        """
        claims = _claims(self.current())
        issuer, subject = str(claims.get("iss", "")), str(claims.get("sub", ""))
        if not subject:
            digest = hashlib.sha256(self.current().encode()).hexdigest()[:32]
            subject = f"token-{digest}"
        return CallerIdentity(account="", arn=f"{issuer}#{subject}", user_id=subject)

    def _fetch(self) -> str:
        if self._file is not None:
            token = _read_file(self._file)
        elif self._command is not None:
            try:
                token = self._command.run()
            except TokenCommandError as exc:
                raise CredentialsError(f"AGENTCORE_BEARER_TOKEN_COMMAND {exc}") from None
            logger.info("bearer token fetched by AGENTCORE_BEARER_TOKEN_COMMAND")
        else:
            raise CredentialsError("No bearer token: set AGENTCORE_BEARER_TOKEN")
        return _checked(token, self.source)

    def close(self) -> None:
        """End a token command still running, with what it started."""
        if self._command is not None:
            self._command.close()


def _read_file(path: Path) -> str:
    unreadable = f"Cannot read the bearer token file {path}"
    try:
        with path.open("rb") as file:
            data = file.read(OUTPUT_LIMIT + 1)
    except OSError as exc:
        raise CredentialsError(f"{unreadable}: {exc.strerror}") from None
    if len(data) > OUTPUT_LIMIT:
        raise CredentialsError(
            f"The bearer token file {path} holds more than {OUTPUT_LIMIT // 1024} KiB: not a token"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise CredentialsError(f"{unreadable}: not UTF-8 text") from None


def _checked(raw: str, source: str) -> str:
    token = raw.strip()
    if token.lower().startswith("bearer "):
        token = token[7:].strip()
    if not token or not (token.isascii() and token.isprintable()) or " " in token:
        raise CredentialsError(f"{source} gave no usable token (one line of printable ASCII)")
    return token


def _claims(token: str) -> dict[str, object]:
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}
