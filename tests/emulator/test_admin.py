"""The unsigned admin endpoints answer the developer's tools, never a web page."""

from __future__ import annotations

import subprocess
import sys

import httpx
import pytest

from tests.harness import Emulator, isolated_aws_env


def _expire(emulator: Emulator, **request: object) -> httpx.Response:
    return httpx.post(f"{emulator.url}/_emulator/credentials/expire", timeout=30, **request)


@pytest.mark.parametrize(
    ("request_options", "status"),
    [
        ({"content": b"{}", "headers": {"Content-Type": "text/plain"}}, 415),  # a CORS-simple POST
        ({"data": {"a": "1"}}, 415),  # an HTML form
        ({"json": {}, "headers": {"Host": "attacker.example:8765"}}, 403),  # DNS rebinding
        ({"json": {}, "headers": {"Origin": "https://attacker.example"}}, 403),  # CSRF
    ],
    ids=["text-plain", "form", "foreign-host", "foreign-origin"],
)
def test_what_a_web_page_could_send_is_refused(
    emulator: Emulator, request_options: dict, status: int
) -> None:
    answer = _expire(emulator, **request_options)
    assert answer.status_code == status, answer.text
    assert "message" in answer.json()


def test_the_developers_own_requests_pass(emulator: Emulator) -> None:
    assert _expire(emulator, json={}).status_code == 200
    local = {"Origin": "http://localhost:6274"}  # the MCP Inspector on this machine
    assert _expire(emulator, json={}, headers=local).status_code == 200
    assert httpx.get(f"{emulator.url}/_emulator/health", timeout=30).status_code == 200


@pytest.mark.parametrize(
    ("path", "method", "body", "reason"),
    [
        ("clock/advance", "POST", b'{"seconds": "soon"}', '"seconds" must be a number'),
        ("clock/advance", "POST", b'{"seconds": -5}', '"seconds" must be a number'),
        ("clock/advance", "POST", b"{not json", "not JSON"),
        ("clock/advance", "POST", b"[1, 2]", "must be a JSON object"),
        ("bedrock/error", "PUT", b'{"error": 7}', '"error" must be an AWS error code'),
        ("runtimes/testing_server/faults", "PUT", b'{"no_such_fault": 1}', "no_such_fault"),
    ],
)
def test_a_bad_admin_body_is_a_400_with_the_reason(
    emulator: Emulator, path: str, method: str, body: bytes, reason: str
) -> None:
    answer = httpx.request(
        method,
        f"{emulator.url}/_emulator/{path}",
        content=body,
        headers={"Content-Type": "application/json"},
        timeout=30,
    )
    assert answer.status_code == 400, answer.text
    assert reason in answer.json()["message"]


def test_serving_beyond_loopback_warns_that_the_credentials_are_public() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "agentcore_emulator", "serve", "--host", "0.0.0.0", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=isolated_aws_env(),
    )
    try:
        assert process.stderr is not None
        warning = process.stderr.readline().decode()
        assert "warning: serving on 0.0.0.0" in warning and "test credentials" in warning
    finally:
        process.terminate()
        process.wait(30)
