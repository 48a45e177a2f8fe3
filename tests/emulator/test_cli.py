"""`agentcore-emulator serve` as a script uses it: it says where it is, in one line each."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

from agentcore_emulator.process import READY
from tests.harness import TEST_CONFIG, Emulator, isolated_aws_env


def test_serve_on_a_free_port_prints_where_and_the_exports_and_writes_them(
    tmp_path: Path,
) -> None:
    exports = tmp_path / "emulator.env"
    command = [sys.executable, "-m", "agentcore_emulator", "serve", "--port", "0"]
    command += ["--config", str(TEST_CONFIG), "--print-env", str(exports)]
    serving = subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=isolated_aws_env(),
        text=True,
    )
    try:
        assert serving.stdout is not None
        ready, shell = serving.stdout.readline(), serving.stdout.readline()
        assert ready.startswith(READY)
        url = ready.split(READY, 1)[1].strip()
        assert url.startswith("http://127.0.0.1:") and not url.endswith(":0")
        assert shell.startswith("unset AWS_SESSION_TOKEN AWS_PROFILE; export AWS_ENDPOINT_URL=")
        assert f"export AWS_ENDPOINT_URL={url};" in shell
        written = exports.read_text().splitlines()  # there once the ready line is
        assert written == shell.strip().split("; ")
        sourced = subprocess.run(
            ["bash", "-c", f"source {exports} && echo $AWS_ENDPOINT_URL $AGENTCORE_AGENT_ARN"],
            capture_output=True,
            text=True,
            check=True,
            timeout=30,
        )
        endpoint, arn = sourced.stdout.split()
        assert endpoint == url and arn.startswith("arn:aws:bedrock-agentcore:us-east-1:")
    finally:
        serving.terminate()
        serving.wait(30)


def test_with_no_config_it_serves_an_example_the_proxy_can_call_at_once() -> None:
    from agentcore_emulator.process import EmulatorProcess
    from tests.harness import Proxy

    with EmulatorProcess() as emulator:  # no config: the packaged example
        assert list(emulator.arns) == ["example"]
        proxy = Proxy({**emulator.environment("example"), "PYTHONUNBUFFERED": "1"})
        try:
            assert (
                proxy.initialize()["result"]["serverInfo"]["name"] == "agentcore-emulator-example"
            )
            listed = proxy.request(1, "tools/list")["result"]["tools"]
            assert [tool["name"] for tool in listed] == ["echo"]
            called = proxy.request(2, "tools/call", {"name": "echo", "arguments": {"text": "hi"}})
            assert called["result"]["content"] == [{"type": "text", "text": "hi"}]
        finally:
            proxy.stop()


def test_a_missing_dependency_is_one_line_and_status_2_never_a_traceback() -> None:
    # None in sys.modules makes the import fail, as a package that is not installed does.
    code = (
        "import sys; sys.modules['uvicorn'] = None; sys.modules['moto'] = None;"
        "sys.argv = ['agentcore-emulator', 'serve', '--port', '0'];"
        "from agentcore_emulator.console import main; raise SystemExit(main())"
    )
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        env=isolated_aws_env(),
        timeout=60,
    )
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "the module 'uvicorn' is missing" in lines[0]
    assert "pip install agentcore-emulator" in lines[0] and "Traceback" not in done.stderr


def _env(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agentcore_emulator", "env", *args],
        capture_output=True,
        text=True,
        check=False,
        env=isolated_aws_env(),
        timeout=60,
    )


def test_env_with_a_port_describes_the_emulator_serving_there(emulator: Emulator) -> None:
    # Before: the built-in example's runtime and quota, whatever served on the port.
    port = str(urlsplit(emulator.url).port)
    lines = _env("--port", port, "--runtime", "testing_server").stdout.splitlines()
    exports = dict(line.removeprefix("export ").split("=", 1) for line in lines[1:])
    assert exports["AWS_ENDPOINT_URL"] == emulator.url
    assert exports["AGENTCORE_AGENT_ARN"] == emulator.arns["testing_server"]
    assert exports["AGENTCORE_MAX_RATE"] == emulator.env("testing_server")["AGENTCORE_MAX_RATE"]
    unknown = _env("--port", port, "--runtime", "no_such")
    assert unknown.returncode == 2 and "no runtime 'no_such' in the config" in unknown.stderr


def test_env_with_a_port_where_nothing_serves_says_so() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))  # bound, not listening: nothing answers there
        done = _env("--port", str(sock.getsockname()[1]))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.startswith("agentcore-emulator: no emulator answers on 127.0.0.1:")
