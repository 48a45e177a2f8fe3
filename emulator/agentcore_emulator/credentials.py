"""The keys the emulator accepts: its configured pair and those its STS (moto) issued."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime

from agentcore_emulator.sigv4 import Credential

_EXPIRED = datetime(1970, 1, 1, tzinfo=UTC)


class CredentialStore:
    """Looks up the secret (and session token) of an access key id."""

    def __init__(self, static: list[Credential]) -> None:
        self._static = {c.access_key: c for c in static}
        self._expired: set[str] = set()

    def __call__(self, access_key: str) -> Credential | None:
        return self._static.get(access_key) or self._issued_by_sts(access_key)

    def expire_issued(self) -> int:
        """Expire every temporary credential issued so far, as time eventually does."""
        keys = {c.access_key for c in self._sts_credentials()}
        self._expired |= keys
        return len(keys)

    def _issued_by_sts(self, access_key: str) -> Credential | None:
        for credential in self._sts_credentials():
            if credential.access_key == access_key:
                if access_key in self._expired:
                    return replace(credential, expires_at=_EXPIRED)
                return credential
        return None

    @staticmethod
    def _sts_credentials() -> Iterator[Credential]:
        from moto.sts.models import sts_backends

        for account in list(sts_backends.values()):
            for backend in list(account.values()):
                for role in list(backend.assumed_roles):
                    yield Credential(
                        access_key=role.access_key_id,
                        secret_key=role.secret_access_key,
                        session_token=role.session_token,
                        expires_at=role.expiration.replace(tzinfo=UTC),
                        principal=role.arn,
                    )
