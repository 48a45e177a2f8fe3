"""The demo MCP server: weather, jokes and identity tools for AgentCore Runtime."""
