"""The proxy on a runtime with a JWT authorizer: bearer tokens instead of SigV4."""

from __future__ import annotations

import sys
from pathlib import Path

import httpx

from tests.harness import INITIALIZE_PARAMS, ROOT, Emulator, Proxy

TOKEN_COMMAND = ROOT / "fixtures" / "oauth_token.py"


def _without_aws_keys(emulator: Emulator) -> dict[str, str]:
    env = emulator.env("oauth_server")
    # No AWS credentials at all: a bearer runtime needs none, and STS is never asked.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name)
    return env


def _expired_token(emulator: Emulator) -> str:
    answer = emulator.admin.post(
        "/_emulator/idp/token", json={"client_id": "test-app", "expires_in": -60}
    )
    return str(answer.json()["access_token"])


def _token_command_env(emulator: Emulator, runs: Path, mode: str) -> dict[str, str]:
    """The proxy's environment with the test token command (each run counted in ``runs``)."""
    command = f"{sys.executable} {TOKEN_COMMAND} {runs} {mode}"
    return {**_without_aws_keys(emulator), "AGENTCORE_BEARER_TOKEN_COMMAND": command}


def test_a_refused_token_is_fetched_again_and_the_call_goes_once_more(
    emulator: Emulator, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    env = _token_command_env(emulator, runs, "expired-first")
    proxy = Proxy({**env, "LOG_LEVEL": "DEBUG"})  # identity mode: the token's subject
    try:
        proxy.initialize()
        answer = proxy.request(1, "tools/call", {"name": "echo_size", "arguments": {"text": "x"}})
        assert answer["result"]["structuredContent"]["result"] == 1
        assert runs.read_text().count("run") == 2  # the expired token, then a fresh one
        answer = proxy.request(2, "tools/call", {"name": "echo_size", "arguments": {"text": "yy"}})
        assert answer["result"]["structuredContent"]["result"] == 2
        assert runs.read_text().count("run") == 2  # kept while the runtime takes it
    finally:
        proxy.stop()
    assert "refused" in proxy.stderr()


def test_a_call_whose_every_token_is_refused_runs_the_command_once_more_only(
    emulator: Emulator, tmp_path: Path
) -> None:
    runs = tmp_path / "runs"
    env = _token_command_env(emulator, runs, "expired-always")
    proxy = Proxy({**env, "RUNTIME_SESSION_MODE": "session"})
    try:
        answer = proxy.request(0, "initialize", INITIALIZE_PARAMS)
        assert answer["error"]["data"]["awsErrorCode"] == "UnauthorizedException"
        assert runs.read_text().count("run") == 2  # the first token, then one refresh
        answer = proxy.request(1, "initialize", INITIALIZE_PARAMS)
        assert answer["error"]["data"]["awsErrorCode"] == "UnauthorizedException"
        assert runs.read_text().count("run") == 3  # one refresh per refused call
    finally:
        proxy.stop()


def test_a_token_that_cannot_be_renewed_is_one_error_per_call_and_never_shown(
    emulator: Emulator,
) -> None:
    token = _expired_token(emulator)
    env = {**_without_aws_keys(emulator), "AGENTCORE_BEARER_TOKEN": token, "LOG_LEVEL": "DEBUG"}
    proxy = Proxy(env)
    try:
        answer = proxy.request(0, "initialize", INITIALIZE_PARAMS)
        error = answer["error"]
        assert error["code"] == -32002
        assert error["data"]["awsErrorCode"] == "UnauthorizedException"
        assert error["data"]["httpStatus"] == 401
        assert "expired" in error["message"]
        assert "id" in proxy.request(1, "ping")  # still serving: the next call is answered
    finally:
        proxy.stop()
    assert token not in proxy.stderr()
    assert token.split(".")[2] not in proxy.stderr()


def test_a_missing_token_file_is_a_credentials_error_naming_it(
    emulator: Emulator, tmp_path: Path
) -> None:
    missing = tmp_path / "token"
    proxy = Proxy({**_without_aws_keys(emulator), "AGENTCORE_BEARER_TOKEN_FILE": str(missing)})
    try:
        error = proxy.request(0, "initialize", INITIALIZE_PARAMS)["error"]
        assert error["code"] == -32001 and str(missing) in error["message"]
        missing.write_text(_access_token(emulator))  # written later: the next call uses it
        assert "result" in proxy.request(1, "initialize", INITIALIZE_PARAMS)
    finally:
        proxy.stop()


def _access_token(emulator: Emulator) -> str:
    answer = httpx.post(
        f"{emulator.url}/_idp/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=("test-app", "test-app-secret"),
        timeout=30,
    )
    return str(answer.json()["access_token"])
