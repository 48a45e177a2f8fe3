"""A stdio MCP proxy to MCP servers hosted on Amazon Bedrock AgentCore Runtime."""

__version__ = "0.4.0"
