from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from agentcore_emulator.cli import env_lines
from agentcore_emulator.config import ConfigError, load_config, parse_config, runtime_id_for
from agentcore_emulator.exceptions import ThrottlingException
from agentcore_emulator.runtimes import RuntimeRegistry
from tests.harness import TEST_CONFIG, isolated_aws_env

MINIMAL = {"name": "svc", "command": ["python", "-m", "server"]}


def test_runtime_ids_are_stable_and_valid() -> None:
    assert runtime_id_for("demo_server") == runtime_id_for("demo_server")
    assert runtime_id_for("demo_server") != runtime_id_for("demo_server2")
    name, suffix = runtime_id_for("demo_server").rsplit("-", 1)
    assert name == "demo_server" and len(suffix) == 10 and suffix.isalnum()


def test_config_resolves_paths_and_python(tmp_path: Path) -> None:
    config = parse_config({"runtimes": [{**MINIMAL, "cwd": "sub", "env": {"A": 1}}]}, tmp_path)
    spec = config.runtimes[0]
    assert spec.cwd == tmp_path / "sub"
    assert spec.command[0] == sys.executable
    assert spec.env == {"A": "1"}
    assert spec.arn == f"arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/{spec.runtime_id}"


@pytest.mark.parametrize(
    ("data", "complaint"),
    [
        ({"runtimes": [{**MINIMAL, "name": "has-hyphen"}]}, "name must match"),
        ({"runtimes": [{**MINIMAL, "protocol": "GRPC"}]}, "protocol must be"),
        (
            {"runtimes": [{**MINIMAL, "command": "python -m server"}]},
            "command = .*: expected a non-empty list",
        ),
        ({"runtimes": [{**MINIMAL, "idle_timeout": 100, "max_lifetime": 50}]}, "max_lifetime"),
        ({"runtimes": [{**MINIMAL, "env": ["A"]}]}, "env = .*: expected a table"),
        ({"runtimes": [{**MINIMAL, "faults": {"explode": True}}]}, "unknown key"),
        ({"runtimes": [MINIMAL, MINIMAL]}, "unique"),
        ({"emulator": {"account": "42"}}, "12 digits"),
    ],
)
def test_bad_config_says_what_is_wrong(data: dict, complaint: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=complaint):
        parse_config(data, tmp_path)


def test_unreadable_config_files(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")
    broken = tmp_path / "broken.toml"
    broken.write_text("[[runtimes]\nname=")
    with pytest.raises(ConfigError, match=r"broken\.toml"):
        load_config(broken)


def test_env_lines_point_aws_tools_at_the_emulator() -> None:
    config = load_config(TEST_CONFIG)
    lines = env_lines(config, "http://127.0.0.1:8765", "testing_server")
    assert lines[0] == "unset AWS_SESSION_TOKEN AWS_PROFILE"
    exports = dict(line.removeprefix("export ").split("=", 1) for line in lines[1:])
    assert exports["AWS_ENDPOINT_URL"] == "http://127.0.0.1:8765"
    assert exports["AGENTCORE_AGENT_ARN"].endswith(runtime_id_for("testing_server"))
    assert exports["AWS_DEFAULT_REGION"] == exports["AWS_REGION"] == "us-east-1"


def test_cli_env_and_errors() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "agentcore_emulator", *args],
            check=False,
            capture_output=True,
            text=True,
            env=isolated_aws_env(),
            timeout=60,
        )

    # With --config: that config's exports, for an emulator on that port (running or not).
    shown = run("env", "--port", "9999", "--config", str(TEST_CONFIG))
    assert shown.returncode == 0 and "export AWS_ENDPOINT_URL=http://127.0.0.1:9999" in shown.stdout
    missing = run("serve", "--config", "/nonexistent.toml")
    assert missing.returncode == 2 and "not found" in missing.stderr
    taken = run("serve", "--host", "192.0.2.1", "--port", "1")  # an address this machine lacks
    assert taken.returncode == 2 and "cannot bind" in taken.stderr


def test_idle_connections_stay_open_as_long_as_aws_keeps_them(tmp_path: Path) -> None:
    assert parse_config({"runtimes": [MINIMAL]}, tmp_path).keep_alive == 60
    shorter = parse_config({"emulator": {"keep_alive": 5}, "runtimes": [MINIMAL]}, tmp_path)
    assert shorter.keep_alive == 5


@pytest.mark.parametrize(
    ("protocol", "path"),
    [("MCP", "/mcp"), ("HTTP", "/invocations"), ("AGUI", "/invocations"), ("A2A", "/")],
)
def test_each_protocol_has_agentcores_path_and_it_may_be_overridden(
    protocol: str, path: str, tmp_path: Path
) -> None:
    runtime = {**MINIMAL, "protocol": protocol}
    assert parse_config({"runtimes": [runtime]}, tmp_path).runtimes[0].path == path
    moved = parse_config({"runtimes": [{**runtime, "path": "/agent"}]}, tmp_path)
    assert moved.runtimes[0].path == "/agent"
    with pytest.raises(ConfigError, match="path must start"):
        parse_config({"runtimes": [{**runtime, "path": "agent"}]}, tmp_path)


def test_agentcores_lifecycle_bounds_and_rate_limit(tmp_path: Path) -> None:
    spec = parse_config({"runtimes": [MINIMAL]}, tmp_path).runtimes[0]
    assert spec.requests_per_second == 25  # AgentCore's, unless configured
    unlimited = {"emulator": {"requests_per_second": 0}, "runtimes": [MINIMAL]}
    assert parse_config(unlimited, tmp_path).runtimes[0].requests_per_second is None
    own = {"runtimes": [{**MINIMAL, "requests_per_second": 2}]}
    assert parse_config(own, tmp_path).runtimes[0].requests_per_second == 2
    for key, value in (("idle_timeout", 59), ("max_lifetime", 1_209_601)):
        with pytest.raises(ConfigError, match=f"{key} must be between 60 and 1209600"):
            parse_config({"runtimes": [{**MINIMAL, key: value}]}, tmp_path)


def test_past_the_rate_calls_are_throttled_for_the_rest_of_that_second() -> None:
    spec = replace(
        parse_config({"runtimes": [MINIMAL]}, Path(".")).runtimes[0], requests_per_second=2
    )
    registry = RuntimeRegistry([spec], "123456789012")
    registry.admit(spec, now=10.0)
    registry.admit(spec, now=10.5)
    with pytest.raises(ThrottlingException, match="Rate exceeded"):
        registry.admit(spec, now=10.9)
    registry.admit(spec, now=11.0)  # the first call has left the window
