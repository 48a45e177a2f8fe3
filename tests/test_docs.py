"""The docs hold: generated tables are current, and every code block that can run offline
runs (a config parses as a config, a client config names real settings, a script runs)."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from botocore.credentials import Credentials

from agentcore_emulator.config import parse_config
from agentcore_emulator.networks import free_port
from mcp_agentcore_proxy.settings import SETTINGS
from tests.harness import ROOT, Emulator

DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.S | re.M)
# What cannot run here: it installs from the package index, or acts on AWS itself; and the
# README's two commands, which CI runs as they are (`make test` is .ci/run).
ONLINE = ("uvx --from", "pip install", "git clone", "sam deploy", "make deploy", "aws ", "docker ")
RUN_BY_CI = "make demo"
KNOWN_VARIABLES = {name for s in SETTINGS for name in s.variables}
STANDARD_VARIABLES = {"HTTPS_PROXY", "HTTP_PROXY", "NO_PROXY"}  # read by botocore and urllib3


def _blocks(language: str) -> Iterator[tuple[str, str]]:
    for path in DOCS:
        for number, found in enumerate(BLOCK.finditer(path.read_text()), 1):
            if found.group(1) == language:
                yield f"{path.relative_to(ROOT)}#{number}", found.group(2)


def _ids(language: str) -> list[str]:
    return [where for where, _ in _blocks(language)]


def test_the_generated_tables_are_current() -> None:
    done = subprocess.run(
        [sys.executable, "scripts/docs.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr


@pytest.mark.parametrize(("where", "text"), list(_blocks("toml")), ids=_ids("toml"))
def test_every_config_block_is_a_config_the_emulator_takes(where: str, text: str) -> None:
    config = parse_config(tomllib.loads(text), ROOT / "emulator")
    assert config.runtimes or config.oauth_clients, where


@pytest.mark.parametrize(("where", "text"), list(_blocks("json")), ids=_ids("json"))
def test_every_client_config_block_names_real_settings(where: str, text: str) -> None:
    # A fragment (`"env": {...}`) is the env member of a client's config.
    document = json.loads("{" + text + "}" if text.lstrip().startswith('"') else text)
    servers = document.get("servers", document.get("mcpServers", {}))
    for env in [s.get("env", {}) for s in servers.values()] + [document.get("env", {})]:
        unknown = set(env) - KNOWN_VARIABLES - STANDARD_VARIABLES
        assert not {n for n in unknown if not n.startswith("AWS_")}, (where, unknown)


def _offline_shell() -> list[tuple[str, str]]:
    return [
        (where, text)
        for where, text in _blocks("sh")
        if not any(m in text for m in ONLINE) and RUN_BY_CI not in text
    ]


def test_every_shell_block_either_runs_below_or_needs_the_internet_or_aws() -> None:
    offline = {text for _, text in _offline_shell()}
    assert len(offline) == 1  # the quickstart (in the README and docs/emulator.md alike)


def test_the_emulator_quickstart_runs_as_written(tmp_path: Path) -> None:
    (quickstart,) = {text for _, text in _offline_shell()}
    port = str(free_port())
    script = quickstart.replace("8765", port)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AGENTCORE_"))}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    # The script leaves the emulator in the background: its process group ends it after.
    wrapped = f"set -e\ncd {tmp_path}\n{script}\nkill %1\nwait\n"
    shell = subprocess.Popen(
        ["bash", "-c", wrapped],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = shell.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(shell.pid, signal.SIGKILL)
    done = subprocess.CompletedProcess(shell.args, shell.returncode, stdout, stderr)
    assert '"tools"' in done.stdout, done.stdout + done.stderr
    assert '"echo"' in done.stdout  # the built-in example's tool


# Each Python block of the docs, known by a line of its own: all of them run below.
PYTHON_BLOCKS = {
    "plugin": "def test_my_server_lists_its_tools(agentcore_emulator):",
    "traces": "def test_every_invocation_leaves_its_spans(agentcore_emulator):",
    "process": "with EmulatorProcess(",
    "http_a2a_command": "agentcore.get_agent_card(",
    "websocket": "SigV4QueryAuth(credentials",
    "models": "turns = [",
    "services": 'ssm.put_parameter(Name="/agent/api-url"',
    "identity": 'control.create_api_key_credential_provider(name="search-api-key"',
    "code_interpreter": 'with code_session("us-east-1") as sandbox:',
    "client": 'async with open_session(os.environ["AGENTCORE_AGENT_ARN"]) as mcp:',
    "gateway": 'async with open_session(gateway["gatewayUrl"], service="bedrock-agentcore")',
}


def _python_block(name: str) -> str:
    (block,) = [text for _, text in _blocks("python") if PYTHON_BLOCKS[name] in text]
    return block


def test_every_python_block_is_run_below() -> None:
    blocks = [text for _, text in _blocks("python")]
    assert sorted(blocks) == sorted(_python_block(name) for name in PYTHON_BLOCKS)


def test_the_pytest_plugin_block_is_a_test_that_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_from_the_docs=_python_block("plugin"))
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_traces_block_is_a_test_that_passes(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_from_the_docs=_python_block("traces"))
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)


def test_the_process_helper_block_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "runtimes.toml").write_text(
        f'[[runtimes]]\nname = "my_server"\ncommand = ["python", "-m", "server"]\ncwd = "{ROOT}"\n'
    )
    monkeypatch.chdir(tmp_path)
    printed = _run(_python_block("process"), {})
    assert printed[0].startswith("arn:aws:bedrock-agentcore:us-east-1:")


def test_the_http_a2a_and_command_block_runs(emulator: Emulator) -> None:
    names = {
        "HTTP_ARN": emulator.arns["http_agent"],
        "A2A_ARN": emulator.arns["a2a_agent"],
        "SESSION": "docs-" + "d" * 40,
    }
    with mock.patch.dict(os.environ, emulator.env("http_agent"), clear=True):
        printed = _run(_python_block("http_a2a_command"), names)
    chunks = [str(line) for line in printed]
    assert "contentStart" in chunks[0] and "contentStop" in chunks[-1]


def test_the_websocket_block_runs(emulator: Emulator) -> None:
    env = emulator.env("http_agent")
    names = {
        "endpoint": emulator.url,
        "arn": emulator.arns["http_agent"],
        "session": "docs-" + "w" * 40,
        "credentials": Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]),
        "region": "us-east-1",
    }
    assert _run(_python_block("websocket"), names) == ["echo: hello"]


def test_the_models_block_runs(emulator: Emulator) -> None:
    env = emulator.env()
    names = {
        "endpoint": emulator.url,
        "key": env["AWS_ACCESS_KEY_ID"],
        "secret": env["AWS_SECRET_ACCESS_KEY"],
    }
    try:
        printed = _run(_python_block("models"), names)
    finally:
        emulator.admin.delete("/_emulator/models").raise_for_status()
    assert "Lyon is sunny today." in printed[0]
    assert printed[1][-2:] == ["ConverseStream", "ConverseStream"]


def test_the_services_block_runs(emulator: Emulator) -> None:
    # As an agent runs it: in the environment the emulator gives its instances.
    with mock.patch.dict(os.environ, emulator.env(), clear=True):
        assert _run(_python_block("services"), {}) == ["https://api.example"]


def test_the_identity_block_runs(emulator: Emulator) -> None:
    emulator.admin.post("/_emulator/identity/reset", json={}).raise_for_status()
    try:
        with mock.patch.dict(os.environ, emulator.env(), clear=True):
            assert _run(_python_block("identity"), {}) == ["sk-123"]
    finally:
        emulator.admin.post("/_emulator/identity/reset", json={}).raise_for_status()


def test_the_code_interpreter_block_runs(emulator: Emulator) -> None:
    with mock.patch.dict(os.environ, emulator.env(), clear=True):
        assert _run(_python_block("code_interpreter"), {}) == ["42\n"]


def test_the_python_api_block_runs(emulator: Emulator) -> None:
    with mock.patch.dict(os.environ, emulator.env("testing_server"), clear=True):
        (tools,) = _run(_python_block("client"), {})
    assert "echo_size" in tools


def test_the_gateway_block_runs(emulator: Emulator) -> None:
    with mock.patch.dict(os.environ, emulator.env("testing_server"), clear=True):
        (order,) = _run(_python_block("gateway"), {})
    assert '"status": "shipped"' in order and '"id": "A-17"' in order


def _run(code: str, names: dict[str, Any]) -> list[Any]:
    printed: list[Any] = []
    namespace = {**names, "print": lambda *args: printed.append(args[0] if args else "")}
    exec(compile(code, "<docs>", "exec"), namespace)
    return printed
