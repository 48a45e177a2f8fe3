"""AWS sessions: credentials re-read on every lookup, service models read once."""

from __future__ import annotations

import pytest

from mcp_agentcore_proxy.config import ProxyConfig, RuntimeArn
from mcp_agentcore_proxy.identity import AwsSessionFactory

ARN = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/demo-AbCdEf1234"


@pytest.fixture
def factory(monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> AwsSessionFactory:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DATA_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", f"{tmp_path}/config")
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", f"{tmp_path}/credentials")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDFIRST")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "first-secret")
    return AwsSessionFactory(ProxyConfig(agent_arn=RuntimeArn.parse(ARN), region="us-east-1"))


def test_each_session_reads_credentials_again(
    factory: AwsSessionFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = factory.session().get_credentials()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDSECOND")  # as after `aws sso login`
    second = factory.session().get_credentials()
    assert first is not None and second is not None
    assert (first.access_key, second.access_key) == ("AKIDFIRST", "AKIDSECOND")


def test_every_session_shares_the_first_ones_service_models(factory: AwsSessionFactory) -> None:
    first, second = factory.session(), factory.session()
    loader = first.get_component("data_loader")
    assert second.get_component("data_loader") is loader
    model = loader.load_service_model("bedrock-agentcore", "service-2")
    # Parsed once for the process: the second session's client is built from the same dict.
    assert (
        second.get_component("data_loader").load_service_model("bedrock-agentcore", "service-2")
        is model
    )


def test_the_first_session_honours_aws_data_path(
    factory: AwsSessionFactory, monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    monkeypatch.setenv("AWS_DATA_PATH", f"{tmp_path}/models")
    loader = factory.session().get_component("data_loader")
    assert f"{tmp_path}/models" in loader.search_paths
