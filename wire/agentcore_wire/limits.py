"""AgentCore Runtime's limits that both sides of the wire enforce, each stated once."""

from __future__ import annotations

# Bytes of an InvokeAgentRuntime request's payload, and of one message of its answer: the
# `payload` member's max in botocore's bedrock-agentcore model (the guide's "100 MB").
MAX_PAYLOAD = 100_000_000
