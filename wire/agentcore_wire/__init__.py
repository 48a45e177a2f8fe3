"""AgentCore Runtime's wire contract, shared by the proxy and the emulator: its errors, header
rules, limits, SSE framing, JSON-RPC error envelope, loopback rules, redaction and HTTP
server bounds. The standard library only (``http_server`` needs the ``server`` extra)."""

__version__ = "0.4.0"
