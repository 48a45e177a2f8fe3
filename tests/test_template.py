"""The SAM template: what cfn-lint cannot check about our intent."""

from __future__ import annotations

from pathlib import Path

import yaml

TEMPLATE = Path(__file__).resolve().parents[1] / "template.yaml"


class _CfnLoader(yaml.SafeLoader):
    pass


def _tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> dict:
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)
    return {suffix: value}


_CfnLoader.add_multi_constructor("!", _tag)


def _template() -> dict:
    return yaml.load(TEMPLATE.read_text(), Loader=_CfnLoader)


def test_invoke_role_names_the_runtime_and_its_endpoints() -> None:
    resources = _template()["Resources"]
    statement = resources["ProxyInvokeRole"]["Properties"]["Policies"][0]["PolicyDocument"][
        "Statement"
    ][0]
    assert "bedrock-agentcore:InvokeAgentRuntime" in statement["Action"]
    assert {"GetAtt": "McpRuntime.AgentRuntimeArn"} in statement["Resource"]
    assert {"Sub": "${McpRuntime.AgentRuntimeArn}/runtime-endpoint/*"} in statement["Resource"]


def test_runtime_is_an_mcp_runtime_trusted_only_by_agentcore() -> None:
    resources = _template()["Resources"]
    runtime = resources["McpRuntime"]["Properties"]
    assert runtime["ProtocolConfiguration"] == "MCP"
    assert runtime["NetworkConfiguration"] == {"NetworkMode": "PUBLIC"}
    trust = resources["RuntimeExecutionRole"]["Properties"]["AssumeRolePolicyDocument"][
        "Statement"
    ][0]
    assert trust["Principal"] == {"Service": "bedrock-agentcore.amazonaws.com"}
    assert set(trust["Condition"]) == {"StringEquals", "ArnLike"}


def test_outputs_give_what_the_proxy_needs() -> None:
    assert {
        "AgentRuntimeArn",
        "AgentRuntimeId",
        "AgentRuntimeVersion",
        "ProxyInvokeRoleArn",
    } <= set(_template()["Outputs"])
