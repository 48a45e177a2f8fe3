from __future__ import annotations

import io
import logging

from agentcore_wire.redaction import redact
from mcp_agentcore_proxy.logs import configure_logging


def test_redact_removes_signatures_credentials_and_tokens() -> None:
    line = (
        "headers={'Authorization': b'AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261124/us-east-1/"
        "bedrock-agentcore/aws4_request, SignedHeaders=host, Signature=" + "ab" * 32 + "', "
        "'X-Amz-Security-Token': b'SESSIONTOKENDONOTLOG'} aws_secret_access_key=SECRETDONOTLOG"
    )
    cleaned = redact(line)
    for secret in ("AKIDEXAMPLE", "ab" * 32, "SESSIONTOKENDONOTLOG", "SECRETDONOTLOG"):
        assert secret not in cleaned


def test_redact_removes_bearer_tokens_and_anything_shaped_like_a_jwt() -> None:
    jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2lnbmF0dXJl"
    cleaned = redact(f"sent Bearer opaque-t0ken; server said: invalid token {jwt}")
    assert "opaque-t0ken" not in cleaned and "eyJzdWIiOiJhIn0" not in cleaned


def test_botocore_stays_quiet_at_debug_and_our_lines_are_redacted() -> None:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging("DEBUG", stream)
        logging.getLogger("botocore.endpoint").debug("Authorization: AWS4 Credential=AKIDLEAK/x")
        logging.getLogger("mcp_agentcore_proxy.test").debug("token x-amz-security-token: TOKENLEAK")
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    output = stream.getvalue()
    assert "AKIDLEAK" not in output
    assert "TOKENLEAK" not in output
    assert "mcp_agentcore_proxy.test" in output


SIGNATURE_ERROR = (
    "InvokeAgentRuntime error: InvalidSignatureException: The request signature we calculated "
    "does not match.\n\nThe Canonical String for this request should have been\n'POST\n/x\n"
    "x-amz-security-token:TOKENLEAK\n'\n\nThe String-to-Sign should have been\n'AWS4'\n"
)


def _logged(level: str, *messages: str) -> str:
    stream = io.StringIO()
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    try:
        configure_logging(level, stream)
        for message in messages:
            logging.getLogger("mcp_agentcore_proxy.router").warning("request failed: %s", message)
    finally:
        root.handlers[:], _ = saved[0], root.setLevel(saved[1])
    return stream.getvalue()


def test_a_multi_line_aws_error_is_one_log_line() -> None:
    output = _logged("WARNING", SIGNATURE_ERROR)
    assert output.count("\n") == 1
    assert "does not match. (details at LOG_LEVEL=DEBUG)" in output
    assert "Canonical" not in output


def test_at_debug_the_details_stay_on_the_same_line_and_redacted() -> None:
    output = _logged("DEBUG", SIGNATURE_ERROR)
    assert output.count("\n") == 1
    assert "The Canonical String" in output and "TOKENLEAK" not in output
