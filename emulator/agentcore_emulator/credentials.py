"""The keys the emulator accepts: its configured pair and those its STS (moto) issued."""

from __future__ import annotations

from datetime import UTC

from agentcore_emulator.sigv4 import Credential


class CredentialStore:
    """Looks up the secret (and session token) of an access key id."""

    def __init__(self, static: list[Credential]) -> None:
        self._static = {c.access_key: c for c in static}

    def __call__(self, access_key: str) -> Credential | None:
        return self._static.get(access_key) or self._issued_by_sts(access_key)

    @staticmethod
    def _issued_by_sts(access_key: str) -> Credential | None:
        from moto.sts.models import sts_backends

        for account in list(sts_backends.values()):
            for backend in list(account.values()):
                for role in list(backend.assumed_roles):
                    if role.access_key_id == access_key:
                        return Credential(
                            access_key=role.access_key_id,
                            secret_key=role.secret_access_key,
                            session_token=role.session_token,
                            expires_at=role.expiration.replace(tzinfo=UTC),
                        )
        return None
