"""A local Amazon Bedrock AgentCore Runtime endpoint for offline development and tests."""

__version__ = "0.4.0"
