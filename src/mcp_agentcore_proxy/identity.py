"""Who the proxy calls as: AWS sessions, assumed roles, caller identity, session ids."""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import boto3
import botocore.config
import botocore.credentials
import botocore.session

from mcp_agentcore_proxy.config import ProxyConfig, SessionMode
from mcp_agentcore_proxy.errors import CredentialsError, ProxyError
from mcp_agentcore_proxy.runtime import translate_errors

if TYPE_CHECKING:
    from collections.abc import Callable

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CallerIdentity:
    account: str
    arn: str
    user_id: str


def sso_hint(config: ProxyConfig) -> str:
    """What to run when SSO credentials have expired."""
    profile = f" --profile {config.profile}" if config.profile else ""
    return f"Run `aws sso login{profile}` and try again."


class AwsSessionFactory:
    """Builds boto3 sessions from the default chain, through an assumed role if asked.

    A new session re-reads credentials (environment, profiles, SSO cache), which is how
    `aws sso login` takes effect without restarting the proxy.
    """

    def __init__(self, config: ProxyConfig) -> None:
        self._config = config

    @property
    def config(self) -> ProxyConfig:
        return self._config

    def session(self) -> boto3.Session:
        base = botocore.session.Session(profile=self._config.profile)
        base.set_config_variable("region", self._config.region)  # for the role's STS calls too
        if self._config.assume_role_arn:
            self._assume_role(base)
        return boto3.Session(botocore_session=base, region_name=self._config.region)

    def _assume_role(self, base: botocore.session.Session) -> None:
        """Swap the session's credentials for the role's, refreshed before they expire."""
        source = base.get_credentials()
        if source is None:
            raise CredentialsError(
                "No AWS credentials found to assume "
                f"{self._config.assume_role_arn}: set AWS_PROFILE or AWS_ACCESS_KEY_ID"
            )
        # botocore's fetcher caches, and refreshes before expiry, the role's credentials.
        fetcher = botocore.credentials.AssumeRoleCredentialFetcher(
            client_creator=base.create_client,
            source_credentials=source,
            role_arn=self._config.assume_role_arn,
            extra_args={"RoleSessionName": self._config.assume_role_session_name},
        )
        # botocore has no public setter for refreshable credentials; this is the
        # attribute its own credential resolver fills in.
        base._credentials = botocore.credentials.DeferredRefreshableCredentials(
            refresh_using=fetcher.fetch_credentials, method="assume-role"
        )

    def agentcore_client(self) -> Any:
        cfg = self._config
        return self.session().client(
            "bedrock-agentcore",
            region_name=cfg.region,
            config=botocore.config.Config(
                read_timeout=cfg.read_timeout,
                connect_timeout=cfg.connect_timeout,
                max_pool_connections=cfg.max_concurrency + 4,
                # RetryPolicy in runtime.py decides what is safe to resend.
                retries={"mode": "standard", "total_max_attempts": 1},
                user_agent_extra="mcp-agentcore-proxy",
            ),
        )

    def caller_identity(self) -> CallerIdentity:
        with translate_errors("sts:GetCallerIdentity", sso_hint(self._config)):
            answer = (
                self.session().client("sts", region_name=self._config.region).get_caller_identity()
            )
        return CallerIdentity(
            account=answer["Account"], arn=answer["Arn"], user_id=answer["UserId"]
        )


class RuntimeSessionIds:
    """Chooses the runtime session id (the microVM) for each call, per ``SessionMode``."""

    def __init__(self, config: ProxyConfig, identity: Callable[[], CallerIdentity]) -> None:
        self._config = config
        self._identity = identity
        self._lock = threading.Lock()
        self._fixed: str | None = None
        self.opened: set[str] = set()

    def current(self) -> str:
        """The id for the next call; every id is at least 33 characters."""
        mode = self._config.session_mode
        if mode is SessionMode.REQUEST:
            return self._remember(f"mcp-request-{uuid.uuid4().hex}")
        with self._lock:
            if self._fixed is None:
                if mode is SessionMode.SESSION:
                    self._fixed = f"mcp-session-{uuid.uuid4().hex}"
                else:
                    who = self._identity()
                    digest = hashlib.sha256(
                        f"{who.arn}|{self._config.agent_arn.arn}|{self._config.qualifier}".encode()
                    ).hexdigest()
                    self._fixed = f"mcp-identity-{digest}"
            return self._remember(self._fixed)

    def renew(self) -> str:
        """Drop the fixed id (its session is gone) and pick the next one."""
        with self._lock:
            if self._config.session_mode is SessionMode.SESSION:
                self._fixed = None
        return self.current()

    def _remember(self, session_id: str) -> str:
        self.opened.add(session_id)
        return session_id


class IdentityCheck:
    """Resolves the caller identity, again on each use until it succeeds."""

    def __init__(self, factory: AwsSessionFactory) -> None:
        self._factory = factory
        self._lock = threading.Lock()
        self._identity: CallerIdentity | None = None

    def __call__(self) -> CallerIdentity:
        with self._lock:
            if self._identity is None:
                try:
                    self._identity = self._factory.caller_identity()
                except ProxyError as exc:
                    raise CredentialsError(
                        f"Unable to call sts:GetCallerIdentity: {exc}. Check AWS_PROFILE, "
                        f"AWS_REGION and your credentials; for SSO profiles "
                        f"{sso_hint(self._factory.config)}"
                    ) from exc
                logger.info("calling as %s", self._identity.arn)
            return self._identity
