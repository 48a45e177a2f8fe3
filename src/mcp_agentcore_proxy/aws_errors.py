"""The AWS errors of the AgentCore data plane, modelled once.

The emulator raises these to answer like AWS; the proxy builds them from a botocore
``ClientError`` to turn them into JSON-RPC errors. HTTP statuses come from botocore's
``bedrock-agentcore`` service model, so they cannot drift from what boto3 expects. The
authentication errors are not in the model (AWS returns them for every JSON service),
so their statuses are the one table kept here.

    AwsError
    ├── ValidationException               400
    ├── ServiceQuotaExceededException     402
    ├── AccessDeniedException             403
    ├── ResourceNotFoundException         404
    ├── UnauthorizedException             401  (StopRuntimeSession)
    ├── RetryableConflictException        409  (retryable)
    ├── ConflictException                 409  (StopRuntimeSession)
    ├── RuntimeClientError                424
    ├── ThrottlingException               429  (retryable)
    ├── InternalServerException           500  (retryable)
    └── AuthenticationError               403
        ├── MissingAuthenticationTokenException
        ├── IncompleteSignatureException
        ├── InvalidSignatureException
        ├── UnrecognizedClientException
        └── ExpiredTokenException
"""

from __future__ import annotations

import functools
from typing import Any, ClassVar

SERVICE_NAME = "bedrock-agentcore"

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


@functools.cache
def modelled_error_status() -> dict[str, int]:
    """Map each error code of the bedrock-agentcore model to its HTTP status."""
    import botocore.session

    model = botocore.session.get_session().get_service_model(SERVICE_NAME)
    statuses: dict[str, int] = {}
    for shape_name in model.error_shapes:
        shape = model.shape_for(shape_name.name)
        status = shape.metadata.get("error", {}).get("httpStatusCode")
        if status is not None:
            statuses[shape.name] = int(status)
    return statuses


@functools.cache
def modelled_retryable_codes() -> frozenset[str]:
    """Error codes that the service model marks as retryable."""
    import botocore.session

    model = botocore.session.get_session().get_service_model(SERVICE_NAME)
    return frozenset(s.name for s in model.error_shapes if s.metadata.get("retryable"))


def status_for_code(code: str, default: int = 400) -> int:
    """HTTP status AWS uses for ``code``."""
    if code in _AUTH_ERROR_STATUS:
        return _AUTH_ERROR_STATUS[code]
    return modelled_error_status().get(code, default)


def is_retryable_code(code: str) -> bool:
    """Whether resending the same request may succeed."""
    return code in _RETRYABLE_CODES or code in modelled_retryable_codes()


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
        """Build the most specific subclass for an error parsed off the wire."""
        error_class = ERROR_CLASSES.get(code, AwsError)
        return error_class(message, code=code, status=status, request_id=request_id)


class ValidationException(AwsError):
    code = "ValidationException"

    @classmethod
    def for_field(cls, name: str, problem: str) -> ValidationException:
        """A FieldValidationFailed error naming one field, as AWS reports it."""
        message = (
            f"1 validation error detected: Value at '{name}' failed to satisfy constraint: "
            f"{problem}"
        )
        return cls(
            message,
            fields={
                "reason": "FieldValidationFailed",
                "fieldList": [{"name": name, "message": problem}],
            },
        )


class ServiceQuotaExceededException(AwsError):
    code = "ServiceQuotaExceededException"


class AccessDeniedException(AwsError):
    code = "AccessDeniedException"


class ResourceNotFoundException(AwsError):
    code = "ResourceNotFoundException"


class RetryableConflictException(AwsError):
    code = "RetryableConflictException"


class ConflictException(AwsError):
    code = "ConflictException"


class UnauthorizedException(AwsError):
    code = "UnauthorizedException"


class RuntimeClientError(AwsError):
    code = "RuntimeClientError"


class ThrottlingException(AwsError):
    code = "ThrottlingException"


class InternalServerException(AwsError):
    code = "InternalServerException"


class AuthenticationError(AwsError):
    """The request's credentials or signature were refused."""


class MissingAuthenticationTokenException(AuthenticationError):
    code = "MissingAuthenticationTokenException"


class IncompleteSignatureException(AuthenticationError):
    code = "IncompleteSignatureException"


class InvalidSignatureException(AuthenticationError):
    code = "InvalidSignatureException"


class UnrecognizedClientException(AuthenticationError):
    code = "UnrecognizedClientException"


class ExpiredTokenException(AuthenticationError):
    code = "ExpiredTokenException"


ERROR_CLASSES: dict[str, type[AwsError]] = {
    cls.code: cls
    for cls in (
        ValidationException,
        ServiceQuotaExceededException,
        AccessDeniedException,
        ResourceNotFoundException,
        RetryableConflictException,
        ConflictException,
        UnauthorizedException,
        RuntimeClientError,
        ThrottlingException,
        InternalServerException,
        MissingAuthenticationTokenException,
        IncompleteSignatureException,
        InvalidSignatureException,
        UnrecognizedClientException,
        ExpiredTokenException,
    )
}
