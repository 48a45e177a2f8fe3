"""Which headers reach a container: the allowlist, AgentCore's limits, the runtime user id.

Every call is made with boto3, unchanged; extra headers go on with botocore's own
``before-sign`` event, as any boto3 user would add them.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import botocore.exceptions
import pytest

from agentcore_emulator.config import ConfigError, parse_config
from tests.harness import Emulator

CUSTOM = "X-Amzn-Bedrock-AgentCore-Runtime-Custom-Flavour"


def _with_headers(client: Any, extra: dict[str, str]) -> Any:
    def add(request: Any, **_: Any) -> None:
        for name, value in extra.items():
            request.headers[name] = value

    client.meta.events.register("before-sign.bedrock-agentcore.InvokeAgentRuntime", add)
    return client


def _seen(emulator: Emulator, client: Any | None = None, **kwargs: Any) -> dict[str, str]:
    answer = (client or emulator.client()).invoke_agent_runtime(
        agentRuntimeArn=emulator.arns["http_agent"],
        payload=b'{"show_headers": true}',
        runtimeSessionId=f"headers-{uuid.uuid4()}",
        **kwargs,
    )
    return json.loads(answer["response"].read())["headers"]  # type: ignore[no-any-return]


def test_allowlisted_and_custom_headers_reach_the_container_and_no_others(
    emulator: Emulator,
) -> None:
    client = _with_headers(
        emulator.client(),
        {"X-Api-Key": "k-1", "x-tenant-id": "acme", CUSTOM: "vanilla", "X-Other": "dropped"},
    )
    seen = _seen(emulator, client)
    assert seen["x-api-key"] == "k-1"
    assert seen["x-tenant-id"] == "acme"
    assert seen[CUSTOM.lower()] == "vanilla"
    assert "x-other" not in seen
    assert not {"authorization", "x-amz-date", "x-amz-content-sha256"} & set(seen)


def test_an_allowlisted_value_past_4_kb_is_refused(emulator: Emulator) -> None:
    client = _with_headers(emulator.client(), {"X-Api-Key": "k" * 4097})
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        _seen(emulator, client)
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "x-api-key" in refused.value.response["Error"]["Message"].lower()


@pytest.mark.parametrize(
    ("parameter", "limit"), [("traceParent", 128), ("traceState", 512), ("baggage", 8192)]
)
def test_trace_context_past_its_modelled_length_is_refused(
    emulator: Emulator, parameter: str, limit: int
) -> None:
    assert _seen(emulator, **{parameter: "a" * limit})  # at the limit: forwarded
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        _seen(emulator, **{parameter: "a" * (limit + 1)})
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_a_runtime_user_id_needs_invoke_for_user(emulator: Emulator) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        _seen(emulator, runtimeUserId="alice")
    error = refused.value.response["Error"]
    assert error["Code"] == "AccessDeniedException"
    assert "bedrock-agentcore:InvokeAgentRuntimeForUser" in error["Message"]
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403

    role = "arn:aws:iam::123456789012:role/agent-users"
    keys = emulator.client("sts").assume_role(RoleArn=role, RoleSessionName="front-end")
    credentials = keys["Credentials"]
    allowed = emulator.client(
        aws_access_key_id=credentials["AccessKeyId"],
        aws_secret_access_key=credentials["SecretAccessKey"],
        aws_session_token=credentials["SessionToken"],
    )
    seen = _seen(emulator, allowed, runtimeUserId="alice")
    assert seen["x-amzn-bedrock-agentcore-runtime-user-id"] == "alice"


def test_the_control_plane_shows_the_allowlist(emulator: Emulator) -> None:
    control = emulator.client("bedrock-agentcore-control")
    runtime_id = emulator.arns["http_agent"].rsplit("/", 1)[1]
    runtime = control.get_agent_runtime(agentRuntimeId=runtime_id)
    allowlist = runtime["requestHeaderConfiguration"]["requestHeaderAllowlist"]
    assert allowlist == ["X-Api-Key", "X-Tenant-Id"]


@pytest.mark.parametrize(
    ("allowlist", "complaint"),
    [
        (["Content-Type"], "restricted"),
        (["X-Amz-Anything"], "reserved"),
        (["X-Amzn-Other"], "reserved"),
        (["Authorization"], "JWT authorizer"),
        (["X-A", "x-a"], "twice"),
        ([f"X-H{i}" for i in range(21)], "at most 20"),
        (["Bad Name"], "not a valid header name"),
    ],
)
def test_an_allowlist_agentcore_would_refuse_is_a_config_error(
    allowlist: list[str], complaint: str, tmp_path: Path
) -> None:
    runtime = {"name": "r", "command": ["python", "x.py"], "request_headers": allowlist}
    with pytest.raises(ConfigError, match=complaint):
        parse_config({"runtimes": [runtime]}, tmp_path)
