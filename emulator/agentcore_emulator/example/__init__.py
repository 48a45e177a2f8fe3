"""The runtime `agentcore-emulator serve` runs when given no config: a small MCP server."""
