"""The AWS errors the emulator raises, one class per code (status from botocore's model).

AwsError (agentcore_wire.aws_errors: the value shared with the proxy)
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

from typing import Any

from agentcore_wire.aws_errors import AwsError

__all__ = ["ERROR_CLASSES", "AwsError"]


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

    def __init__(self, message: str, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        self.headers: dict[str, str] = {}  # the WWW-Authenticate challenge, for a bearer


class RuntimeClientError(AwsError):
    code = "RuntimeClientError"

    @classmethod
    def from_container(cls, status: int) -> RuntimeClientError:
        """AgentCore's 424 for a container that answered ``status`` (or none: 502)."""
        return cls(
            f"Received error ({status}) from runtime. Please check your CloudWatch logs for "
            "more information."
        )


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
