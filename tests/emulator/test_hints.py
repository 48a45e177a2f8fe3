"""What the emulator's log says when a call goes wrong: what to do, not only what failed.
The AWS error on the wire stays AWS's; the hint is a line in the emulator's log."""

from __future__ import annotations

import uuid

import boto3
import botocore.exceptions
import pytest

from tests.harness import Emulator, wait_until


def _refused(call: object) -> botocore.exceptions.ClientError:
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        call()  # type: ignore[operator]
    return caught.value


def test_an_arn_it_does_not_serve_is_logged_with_those_it_does(emulator: Emulator) -> None:
    missing = "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/typo-AbCdEf1234"
    error = _refused(
        lambda: emulator.client().invoke_agent_runtime(agentRuntimeArn=missing, payload=b"{}")
    )
    assert error.response["Error"]["Message"] == f"Runtime not found: {missing}"
    line = wait_until(
        lambda: next((ln for ln in emulator.stderr().splitlines() if missing in ln), None),
        "the hint",
    )
    assert f"demo_server={emulator.arns['demo_server']}" in line


def test_a_call_signed_for_another_region_is_logged_with_the_one_served(
    emulator: Emulator,
) -> None:
    env = emulator.env()
    client = boto3.client(
        "bedrock-agentcore",
        endpoint_url=emulator.url,
        region_name="eu-west-3",
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
    )
    error = _refused(
        lambda: client.invoke_agent_runtime(
            agentRuntimeArn=emulator.arns["demo_server"], payload=b"{}"
        )
    )
    assert error.response["Error"]["Code"] == "InvalidSignatureException"
    wait_until(
        lambda: (
            "signed for region eu-west-3; this emulator serves us-east-1: set "
            "AWS_REGION=us-east-1" in emulator.stderr()
        ),
        "the hint",
    )


def test_a_424_that_sends_you_to_cloudwatch_says_where_the_output_is(
    emulator: Emulator,
) -> None:
    # Not JSON-RPC: the MCP server answers 400, which AgentCore reports as its 424.
    error = _refused(
        lambda: emulator.client().invoke_agent_runtime(
            agentRuntimeArn=emulator.arns["demo_server"],
            runtimeSessionId=f"hint-{uuid.uuid4()}",
            payload=b"not json",
        )
    )
    assert "check your CloudWatch logs" in error.response["Error"]["Message"]
    wait_until(
        lambda: (
            "RuntimeClientError: the instance's own output (its CloudWatch logs on "
            "AgentCore) is in this emulator's stderr" in emulator.stderr()
        ),
        "the hint",
    )
