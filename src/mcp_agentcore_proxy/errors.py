"""Errors of the proxy, each mapped to one JSON-RPC error.

ProxyError                      -32603
├── ConfigurationError          (exits 2 at start-up; never reaches JSON-RPC)
├── InvalidMessageError         -32700 / -32600: a line on stdin the proxy cannot forward
├── CredentialsError            -32001: no usable AWS credentials
├── ToolRefusedError            -32602: a tool read-only mode does not let through
└── RuntimeCallError            a call to InvokeAgentRuntime failed
    ├── RuntimeServiceError     -32002: AgentCore answered with an AWS error
    ├── RuntimeUnreachableError -32003: no connection, or no answer in time
    │   ├── ConnectFailedError      never connected: the runtime cannot have run it
    │   ├── ReadTimedOutError       sent, then no answer within the read timeout
    │   └── ConnectionLostError     sent, then the connection closed before an answer
    └── StreamInterruptedError  -32004: the answer broke off before the response

Every message is redacted (signatures, keys, tokens) before it reaches JSON-RPC: AWS
error texts can quote a canonical request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from agentcore_wire.redaction import redact

if TYPE_CHECKING:
    from agentcore_wire.aws_errors import AwsError

PARSE_ERROR = -32700
INVALID_REQUEST = -32600
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603


def clause(error: object) -> str:
    """An error's text to stand inside a sentence: no final period of its own."""
    return str(error).rstrip().rstrip(".")


class ProxyError(Exception):
    """Base of every error the proxy reports."""

    jsonrpc_code: ClassVar[int] = INTERNAL_ERROR

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.message!r})"

    def jsonrpc_data(self) -> dict[str, Any] | None:
        return None

    def to_jsonrpc(self) -> dict[str, Any]:
        """The JSON-RPC ``error`` member for this error."""
        error: dict[str, Any] = {"code": self.jsonrpc_code, "message": redact(self.message)}
        data = self.jsonrpc_data()
        if data is not None:
            error["data"] = data
        return error


class ConfigurationError(ProxyError):
    """The proxy cannot start with this configuration."""


class InvalidMessageError(ProxyError):
    """A line on stdin that is not a JSON-RPC message the proxy can forward."""

    def __init__(self, message: str, code: int = INVALID_REQUEST) -> None:
        super().__init__(message)
        self.jsonrpc_code = code  # type: ignore[misc]


class CredentialsError(ProxyError):
    """AWS credentials are missing, expired or refused."""

    jsonrpc_code = -32001


class RuntimeCallError(ProxyError):
    """A call to the AgentCore runtime failed."""


class RuntimeServiceError(RuntimeCallError):
    """AgentCore answered with an AWS error."""

    jsonrpc_code = -32002

    def __init__(self, error: AwsError, operation: str = "InvokeAgentRuntime") -> None:
        super().__init__(f"{operation} error: {error}")
        self.aws_error = error
        self.operation = operation

    def jsonrpc_data(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "awsErrorCode": self.aws_error.code,
            "httpStatus": self.aws_error.status,
            "retryable": self.aws_error.retryable,
        }
        if self.aws_error.request_id:
            data["requestId"] = self.aws_error.request_id
        return data


class RuntimeUnreachableError(RuntimeCallError):
    """No connection to the endpoint, or no answer within the read timeout."""

    jsonrpc_code = -32003


class ConnectFailedError(RuntimeUnreachableError):
    """No connection was made: nothing reached the runtime, so resending is safe."""


class TlsError(RuntimeUnreachableError):
    """The endpoint's certificate was not trusted: resending cannot help."""


class ReadTimedOutError(RuntimeUnreachableError):
    """The request was sent and nothing came back in time; it may be running."""


class ConnectionLostError(RuntimeUnreachableError):
    """The connection closed after the request was sent; it may have run."""


class StreamInterruptedError(RuntimeCallError):
    """The runtime's answer ended before the response to the request."""

    jsonrpc_code = -32004


class ToolRefusedError(ProxyError):
    """A ``tools/call`` the proxy's read-only mode does not let through; never sent."""

    jsonrpc_code = INVALID_PARAMS
