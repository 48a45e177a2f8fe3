"""Bearer token sources, in process: when a token is fetched again, and what it says."""

from __future__ import annotations

import base64
import json
import sys
import threading
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


def test_a_failing_commands_last_line_is_quoted_only_after_redaction(tmp_path: Path) -> None:
    script = tmp_path / "fail.py"
    script.write_text(
        'import sys; sys.stderr.write(\'{"access_token": "tok-CANARY", "expires_in": 1}\\n\');'
        " sys.exit(3)"
    )
    with pytest.raises(CredentialsError) as caught:
        BearerTokens(command=f"{sys.executable} {script}").current()
    message = str(caught.value)
    assert "exited with status 3" in message and "access_token" in message
    assert "CANARY" not in message


def test_a_command_that_prints_more_than_a_token_is_stopped_at_the_limit(tmp_path: Path) -> None:
    script = tmp_path / "flood.py"
    # 120 MB if it were all read; the proxy reads 16 KiB and ends the command.
    script.write_text("import sys\nfor _ in range(120 * 1024): sys.stdout.write('x' * 1024)")
    with pytest.raises(CredentialsError, match="more than 16 KiB: not a token"):
        BearerTokens(command=f"{sys.executable} {script}").current()


def test_a_token_file_larger_than_a_token_is_refused_unread(tmp_path: Path) -> None:
    path = tmp_path / "token"
    path.write_bytes(b"x" * (1024 * 1024))
    with pytest.raises(CredentialsError, match="more than 16 KiB"):
        BearerTokens(file=path).current()


def test_closing_ends_a_hung_command_and_everything_it_started(tmp_path: Path) -> None:
    pids = tmp_path / "pids"
    script = tmp_path / "hang.py"
    script.write_text(
        "import os, subprocess, sys, time\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(300)'])\n"
        f"open({str(pids)!r}, 'w').write(f'{{os.getpid()}} {{child.pid}}')\n"
        "time.sleep(300)\n"
    )
    tokens = BearerTokens(command=f"{sys.executable} {script}", command_timeout=300)
    failures: list[Exception] = []

    def fetch() -> None:
        try:
            tokens.current()
        except CredentialsError as exc:
            failures.append(exc)

    fetching = threading.Thread(target=fetch)
    fetching.start()
    while not (pids.exists() and " " in pids.read_text()):
        fetching.join(0.01)
    started = [int(pid) for pid in pids.read_text().split()]
    tokens.close()
    fetching.join(10)
    assert not fetching.is_alive()
    assert "closing" in str(failures[0])
    for pid in started:
        _wait_gone(pid)


def _wait_gone(pid: int) -> None:
    """Until ``pid`` is gone or a zombie (its parent may not have reaped it)."""
    for _ in range(1000):
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except FileNotFoundError:
            return
        if state == "Z":
            return
        threading.Event().wait(0.01)
    raise AssertionError(f"process {pid} still runs")
