"""Bearer token sources, in process: when a token is fetched again, and what it says."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path

import pytest

from mcp_agentcore_proxy.bearer import BearerTokens
from mcp_agentcore_proxy.errors import CredentialsError


def _jwt(claims: dict[str, str]) -> str:
    body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    return f"eyJhbGciOiJSUzI1NiJ9.{body}.c2ln"


def test_a_static_token_is_never_refreshed() -> None:
    tokens = BearerTokens(token="abc")
    assert tokens.current() == "abc"
    assert not tokens.refresh("abc")


def test_a_file_is_read_again_only_after_its_token_was_refused(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_text("Bearer first\n")
    tokens = BearerTokens(file=path)
    assert tokens.current() == "first"
    path.write_text("second")
    assert tokens.current() == "first"  # kept while the runtime takes it
    assert tokens.refresh("first") and tokens.current() == "second"
    assert not tokens.refresh("second")  # the same token again: no retry


def test_a_failing_command_names_itself_and_shows_no_token(tmp_path: Path) -> None:
    script = tmp_path / "fail.py"
    script.write_text("import sys; print('s3cret'); sys.exit('no session: run login')")
    tokens = BearerTokens(command=f"{sys.executable} {script}")
    with pytest.raises(CredentialsError) as caught:
        tokens.current()
    message = str(caught.value)
    assert "AGENTCORE_BEARER_TOKEN_COMMAND exited with status 1: no session" in message
    assert "s3cret" not in message


def test_a_hung_command_is_given_up_on(tmp_path: Path) -> None:
    script = tmp_path / "hang.py"
    script.write_text("import time; time.sleep(60)")
    tokens = BearerTokens(command=f"{sys.executable} {script}", command_timeout=0.5)
    with pytest.raises(CredentialsError, match="no token within"):
        tokens.current()


def test_identity_is_the_tokens_issuer_and_subject() -> None:
    tokens = BearerTokens(token=_jwt({"iss": "https://idp.example", "sub": "client-1"}))
    assert tokens.identity().arn == "https://idp.example#client-1"
    opaque = BearerTokens(token="opaque-token").identity()
    assert opaque.arn.startswith("#token-") and "opaque" not in opaque.arn
