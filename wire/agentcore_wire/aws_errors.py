"""The AWS errors of the AgentCore data plane, modelled once: code, HTTP status, message.

The emulator raises them (its subclasses, one per code, are in
``agentcore_emulator.exceptions``) to answer like AWS; the proxy builds them from a
botocore ``ClientError`` to turn them into JSON-RPC errors. HTTP statuses and retryable
codes are botocore's ``bedrock-agentcore`` service model's, written here so this package
needs nothing beyond the standard library; a test holds them against the model, so they
cannot drift from what boto3 expects. The authentication errors are not in the model (AWS
returns them for every JSON service), so their statuses are a table of their own.
"""

from __future__ import annotations

from typing import Any, ClassVar

SERVICE_NAME = "bedrock-agentcore"

# Each error shape of the bedrock-agentcore model, with its httpStatusCode.
MODELLED_STATUS: dict[str, int] = {
    "AccessDeniedException": 403,
    "ConflictException": 409,
    "DuplicateIdException": 409,
    "InternalServerException": 500,
    "InvalidInputException": 400,
    "ResourceNotFoundException": 404,
    "RetryableConflictException": 409,
    "RuntimeClientError": 424,
    "ServiceException": 500,
    "ServiceQuotaExceededException": 402,
    "ServiceUnavailableException": 503,
    "SubscriptionRequiredException": 403,
    "ThrottledException": 429,
    "ThrottlingException": 429,
    "UnauthorizedException": 401,
    "ValidationException": 400,
}
# The error shapes the model marks retryable.
MODELLED_RETRYABLE = frozenset({"RetryableConflictException", "ServiceUnavailableException"})

# Not in the service model: AWS answers these for any SigV4 JSON service.
_AUTH_ERROR_STATUS = {
    "MissingAuthenticationTokenException": 403,
    "IncompleteSignatureException": 403,
    "InvalidSignatureException": 403,
    "UnrecognizedClientException": 403,
    "ExpiredTokenException": 403,
}

# botocore's standard retry policy also treats these codes as transient.
_RETRYABLE_CODES = frozenset(
    {"ThrottlingException", "InternalServerException", "ServiceUnavailableException"}
)


def status_for_code(code: str, default: int = 400) -> int:
    """HTTP status AWS uses for ``code``."""
    if code in _AUTH_ERROR_STATUS:
        return _AUTH_ERROR_STATUS[code]
    return MODELLED_STATUS.get(code, default)


def is_retryable_code(code: str) -> bool:
    """Whether resending the same request may succeed."""
    return code in _RETRYABLE_CODES or code in MODELLED_RETRYABLE


class AwsError(Exception):
    """An error answered by an AWS service: a code, an HTTP status and a message."""

    code: ClassVar[str] = "InternalServerException"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        status: int | None = None,
        request_id: str | None = None,
        fields: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code  # type: ignore[misc]
        self.status = status if status is not None else status_for_code(self.code)
        self.request_id = request_id
        self.fields: dict[str, Any] = dict(fields or {})

    @property
    def retryable(self) -> bool:
        return is_retryable_code(self.code) or self.status in (502, 503, 504)

    def __str__(self) -> str:
        return f"{self.code}: {self.message}" if self.message else self.code

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(code={self.code!r}, status={self.status}, message={self.message!r})"

    @classmethod
    def from_response(
        cls, code: str, message: str, status: int, request_id: str | None = None
    ) -> AwsError:
        """An error parsed off the wire."""
        return cls(message, code=code, status=status, request_id=request_id)
