"""Who the proxy calls as: AWS sessions, assumed roles, caller identity, session ids."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import botocore
import botocore.config
import botocore.credentials
import botocore.session

from mcp_agentcore_proxy.aws_boundary import translate_errors
from mcp_agentcore_proxy.config import ProxyConfig
from mcp_agentcore_proxy.data_path import AwsConnection
from mcp_agentcore_proxy.errors import CredentialsError, ProxyError, clause

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
    """Builds AWS sessions from the default chain, through an assumed role if asked.

    botocore, not boto3: the same clients and credential chain, and importing boto3
    (with s3transfer) would add about 0.2 s to every start.

    A new session re-reads credentials (environment, profiles, SSO cache), which is how
    `aws sso login` takes effect without restarting the proxy. The service models are read
    once: every session shares the first one's data loader, so the second session (the STS
    lookup's, then the data path's) does not list every service and parse the endpoints
    file again (25 ms of a 0.26 s start, measured end to end).
    """

    def __init__(self, config: ProxyConfig) -> None:
        self._config = config
        self._loader_lock = threading.Lock()
        self._loader: object | None = None

    @property
    def config(self) -> ProxyConfig:
        return self._config

    def session(self) -> botocore.session.Session:
        base = botocore.session.Session(profile=self._config.profile)
        with self._loader_lock:
            if self._loader is None:
                self._loader = base.get_component("data_loader")  # AWS_DATA_PATH honoured
            else:
                base.register_component("data_loader", self._loader)
        base.set_config_variable("region", self._config.region)  # for the role's STS calls too
        if self._config.ca_bundle:
            base.set_config_variable("ca_bundle", self._config.ca_bundle)  # every client
        if self._config.assume_role_arn:
            self._assume_role(base, self._config.assume_role_arn)
        return base

    def _assume_role(self, base: botocore.session.Session, role_arn: str) -> None:
        """Swap the session's credentials for the role's, refreshed before they expire."""
        source = base.get_credentials()
        if source is None:
            raise CredentialsError(
                "No AWS credentials found to assume "
                f"{role_arn}: set AWS_PROFILE or AWS_ACCESS_KEY_ID"
            )
        # botocore's fetcher caches, and refreshes before expiry, the role's credentials.
        fetcher = botocore.credentials.AssumeRoleCredentialFetcher(
            client_creator=base.create_client,
            source_credentials=source,
            role_arn=role_arn,
            extra_args={"RoleSessionName": self._config.assume_role_session_name},
        )
        # botocore has no public setter for refreshable credentials; this is the
        # attribute its own credential resolver fills in.
        credentials = botocore.credentials.DeferredRefreshableCredentials(
            refresh_using=fetcher.fetch_credentials, method="assume-role"
        )
        base._credentials = credentials  # type: ignore[attr-defined]

    def agentcore(self) -> AwsConnection:
        """A fresh credential lookup: the session, and the AgentCore client made from it."""
        cfg = self._config
        session = self.session()
        client = session.create_client(
            "bedrock-agentcore",
            region_name=cfg.region,
            config=botocore.config.Config(
                # A runtime with a JWT authorizer refuses SigV4: the bearer goes instead.
                signature_version=botocore.UNSIGNED if cfg.uses_bearer else None,
                read_timeout=cfg.read_timeout,
                connect_timeout=cfg.connect_timeout,
                # A slot frees when the response is written, a little before its stream
                # is closed; room for those, notifications and replies, without urllib3
                # discarding connections (and warning) under full load.
                max_pool_connections=2 * cfg.max_concurrency + 8,
                # RetryPolicy in runtime.py decides what is safe to resend.
                retries={"mode": "standard", "total_max_attempts": 1},
                user_agent_extra="mcp-agentcore-proxy",
            ),
        )
        return AwsConnection(client=client, session=session)

    def caller_identity(self, while_waiting: Callable[[], None] = lambda: None) -> CallerIdentity:
        """Who the credentials belong to; waits for STS at most its own short timeouts.

        ``while_waiting`` runs just before the call goes: work to start meanwhile.
        """
        cfg = self._config
        with translate_errors("sts:GetCallerIdentity", sso_hint(cfg)):
            sts: Any = self.session().create_client(
                "sts",
                region_name=cfg.region,
                config=botocore.config.Config(
                    connect_timeout=cfg.sts_timeout,
                    read_timeout=cfg.sts_timeout,
                    retries={"mode": "standard", "total_max_attempts": 1},
                    user_agent_extra="mcp-agentcore-proxy",
                ),
            )
            while_waiting()
            answer = sts.get_caller_identity()
        return CallerIdentity(
            account=answer["Account"], arn=answer["Arn"], user_id=answer["UserId"]
        )


class IdentityCheck:
    """Resolves the caller identity, again on each use until it succeeds.

    ``while_waiting`` starts work that need not wait for the answer (the data path's
    opening) while STS answers: a round trip to AWS is tens of ms that would otherwise
    add to the start.
    """

    def __init__(
        self, factory: AwsSessionFactory, while_waiting: Callable[[], None] = lambda: None
    ) -> None:
        self._factory = factory
        self._while_waiting = while_waiting
        self._lock = threading.Lock()
        self._identity: CallerIdentity | None = None

    def __call__(self) -> CallerIdentity:
        with self._lock:
            if self._identity is None:
                try:
                    self._identity = self._factory.caller_identity(self._while_waiting)
                except ProxyError as exc:
                    raise CredentialsError(
                        f"Unable to call sts:GetCallerIdentity: {clause(exc)}. Check AWS_PROFILE, "
                        f"AWS_REGION and your credentials; for SSO profiles "
                        f"{sso_hint(self._factory.config)}"
                    ) from exc
                logger.info("calling as %s", self._identity.arn)
            return self._identity
