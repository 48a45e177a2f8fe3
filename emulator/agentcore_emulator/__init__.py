"""A local Amazon Bedrock AgentCore Runtime endpoint for offline development and tests."""
