"""What the proxy resends, decided at the boto3 boundary."""

from __future__ import annotations

import botocore.exceptions
import botocore.parsers
import pytest

from agentcore_wire.aws_errors import AwsError
from mcp_agentcore_proxy.aws_boundary import translate_errors
from mcp_agentcore_proxy.errors import (
    ConnectFailedError,
    ConnectionLostError,
    CredentialsError,
    ReadTimedOutError,
    RuntimeServiceError,
    RuntimeUnreachableError,
)
from mcp_agentcore_proxy.retry_policy import RetryPolicy


def _translated(exc: Exception) -> Exception:
    with pytest.raises(Exception) as caught, translate_errors("Op", "Run `aws sso login`."):
        raise exc
    return caught.value


def _client_error(code: str, status: int) -> botocore.exceptions.ClientError:
    response = {
        "Error": {"Code": code, "Message": "m"},
        "ResponseMetadata": {"HTTPStatusCode": status, "RequestId": "r"},
    }
    return botocore.exceptions.ClientError(response, "InvokeAgentRuntime")


@pytest.mark.parametrize(
    ("code", "status", "retry"),
    [
        ("ThrottlingException", 429, True),
        ("InternalServerException", 500, True),
        ("RetryableConflictException", 409, True),
        ("ServiceUnavailableException", 503, True),
        ("RuntimeClientError", 424, False),
        ("ValidationException", 400, False),
        ("AccessDeniedException", 403, False),
    ],
)
def test_aws_errors_retry_only_when_nothing_ran(code: str, status: int, retry: bool) -> None:
    error = _translated(_client_error(code, status))
    assert isinstance(error, RuntimeServiceError)
    assert error.aws_error.code == code and error.aws_error.status == status
    assert RetryPolicy(max_attempts=3).should_retry(error, 0) is retry
    assert RetryPolicy(max_attempts=3).should_retry(error, 2) is False  # attempts used up


def test_connect_failures_are_retried_but_read_timeouts_never() -> None:
    refused = _translated(botocore.exceptions.EndpointConnectionError(endpoint_url="http://x"))
    timed_out = _translated(botocore.exceptions.ReadTimeoutError(endpoint_url="http://x"))
    dropped = _translated(botocore.exceptions.ConnectionClosedError(endpoint_url="http://x"))
    assert all(isinstance(e, RuntimeUnreachableError) for e in (refused, timed_out, dropped))
    assert isinstance(refused, ConnectFailedError)
    assert isinstance(timed_out, ReadTimedOutError)
    assert isinstance(dropped, ConnectionLostError)
    policy = RetryPolicy(max_attempts=3)
    assert policy.should_retry(refused, 0)
    assert not policy.should_retry(timed_out, 0)  # the tool may be running already
    assert not policy.should_retry(dropped, 0)


def test_the_decision_is_made_on_the_proxys_own_types_alone() -> None:
    # No botocore exception behind it: the type says the runtime cannot have run it.
    policy = RetryPolicy(max_attempts=3)
    assert policy.should_retry(ConnectFailedError("never connected"), 0)
    assert not policy.should_retry(ConnectionLostError("closed after sending"), 0)
    assert not policy.should_retry(ConnectFailedError("never connected"), 2)  # attempts used up


def test_a_gateway_page_instead_of_an_aws_answer_is_an_aws_style_error() -> None:
    parser_error = botocore.parsers.ResponseParserError("Unable to parse: b'<html>token</html>'")
    error = _translated(parser_error)
    assert isinstance(error, RuntimeServiceError)
    assert error.aws_error.code == "InvalidResponse" and "token" not in str(error)


def test_credential_problems_say_what_to_do() -> None:
    sso = _translated(botocore.exceptions.TokenRetrievalError(provider="sso", error_msg="expired"))
    assert isinstance(sso, CredentialsError) and "aws sso login" in str(sso)
    none = _translated(botocore.exceptions.NoCredentialsError())
    assert isinstance(none, CredentialsError) and "AWS_PROFILE" in str(none)


def test_backoff_grows_and_is_capped() -> None:
    policy = RetryPolicy(base_delay=0.05, throttle_base_delay=0.5, max_delay=2.0)
    assert all(0 <= policy.delay(a, throttled=False) <= 0.05 * 2**a for a in range(4))
    assert all(1.0 <= policy.delay(a, throttled=True) <= 1.0 + 2.0 for a in range(10))


def test_a_throttled_retry_waits_out_agentcores_one_second_window() -> None:
    policy = RetryPolicy()
    delays = [policy.delay(0, throttled=True) for _ in range(200)]
    assert min(delays) >= 1.0  # never inside the window that throttled it
    assert max(delays) - min(delays) > 0.1  # jittered: retries of a burst spread out


def test_unmodelled_codes_keep_their_status() -> None:
    error = AwsError.from_response("418", "teapot", 418)
    assert (error.code, error.status, error.retryable) == ("418", 418, False)
    assert AwsError.from_response("ServiceUnavailable", "", 503).retryable
