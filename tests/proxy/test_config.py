from __future__ import annotations

import subprocess
import sys

import pytest

from mcp_agentcore_proxy.cli import parse_config
from mcp_agentcore_proxy.config import RuntimeArn, SessionMode
from mcp_agentcore_proxy.errors import ConfigurationError
from tests.harness import isolated_aws_env

ARN = "arn:aws:bedrock-agentcore:eu-west-1:123456789012:runtime/my_server-AbCdEf1234"


def test_region_comes_from_the_arn_when_unset() -> None:
    config = parse_config([], {"AGENTCORE_AGENT_ARN": ARN})
    assert config.region == "eu-west-1"
    assert config.session_mode is SessionMode.IDENTITY
    assert config.read_timeout == 900
    assert config.max_concurrency >= 16


def test_flags_and_environment() -> None:
    env = {
        "AGENT_ARN": ARN,
        "AWS_REGION": "us-west-2",
        "RUNTIME_SESSION_MODE": "REQUEST",
        "AGENTCORE_ASSUME_ROLE_ARN": "arn:aws:iam::123456789012:role/r",
        "AGENTCORE_QUALIFIER": "prod",
    }
    config = parse_config(["--max-concurrency", "4"], env)
    assert (config.region, config.session_mode, config.qualifier) == (
        "us-west-2",
        SessionMode.REQUEST,
        "prod",
    )
    assert config.assume_role_arn == "arn:aws:iam::123456789012:role/r"
    assert config.assume_role_session_name == "mcpAgentCoreProxy"
    assert config.max_concurrency == 4


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:agent/x",
        "arn:aws:bedrock-agentcore:us-east-1:1234:runtime/my_server-AbCdEf1234",
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/my-server-AbCdEf1234",
        "my_server-AbCdEf1234",
    ],
)
def test_malformed_arn_is_refused_with_the_expected_format(arn: str) -> None:
    with pytest.raises(ConfigurationError, match=r"runtime/<name>-<10 characters>"):
        RuntimeArn.parse(arn)


def test_missing_arn_exits_2_with_a_message_on_stderr() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_agentcore_proxy"],
        check=False,
        capture_output=True,
        env=isolated_aws_env(),
        timeout=60,
        input=b"",
    )
    assert done.returncode == 2
    assert done.stdout == b""
    assert b"Set AGENTCORE_AGENT_ARN (or AGENT_ARN)" in done.stderr


def test_malformed_arn_exits_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_agentcore_proxy", "--agent-arn", "nope"],
        check=False,
        capture_output=True,
        env=isolated_aws_env(),
        timeout=60,
    )
    assert done.returncode == 2
    assert b"Invalid AgentCore runtime ARN 'nope'" in done.stderr


def test_help_documents_every_variable() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_agentcore_proxy", "--help"],
        check=False,
        capture_output=True,
        env=isolated_aws_env(),
        timeout=60,
    )
    for name in (
        "AGENTCORE_AGENT_ARN",
        "RUNTIME_SESSION_MODE",
        "AGENTCORE_ASSUME_ROLE_ARN",
        "LOG_LEVEL",
        "AWS_ENDPOINT_URL",
    ):
        assert name.encode() in done.stdout
