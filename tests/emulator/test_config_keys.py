"""The config's keys, written once: a typo is an error naming the closest key, and the
reference's defaults are the dataclasses' own."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from agentcore_emulator import config_keys
from agentcore_emulator.config import (
    ConfigError,
    CredentialProviderSpec,
    EmulatorConfig,
    FaultSpec,
    JwtAuthorizerSpec,
    OAuthClient,
    RuntimeSpec,
    parse_config,
)

MINIMAL = {"name": "svc", "command": ["python", "-m", "server"]}


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[[runtimes]]\nname = "svc"\ncommand = ["x"]\nidle_timeot = 900\n',
            "runtimes[0]: unknown key 'idle_timeot' (did you mean 'idle_timeout'?)",
        ),
        (
            '[[runtime]]\nname = "svc"\ncommand = ["x"]\n',
            "unknown key 'runtime' (did you mean 'runtimes'?)",
        ),
        (
            '[emulator]\nregoin = "eu-west-1"\n',
            "emulator: unknown key 'regoin' (did you mean 'region'?)",
        ),
        (
            '[[runtimes]]\nname = "svc"\ncommand = ["x"]\n[runtimes.faults]\nlatenyc = 1\n',
            "runtimes[0].faults: unknown key 'latenyc' (did you mean 'latency'?)",
        ),
        (
            '[[runtimes]]\nname = "svc"\ncommand = ["x"]\n[runtimes.jwt_authorizer]\n'
            'allowed_client = ["a"]\n',
            "runtimes[0].jwt_authorizer: unknown key 'allowed_client' "
            "(did you mean 'allowed_clients'?)",
        ),
        (
            '[[oauth_clients]]\nclient_id = "a"\nclient_secret = "b"\nscope = ["x"]\n',
            "oauth_clients[0]: unknown key 'scope' (did you mean 'scopes'?)",
        ),
        ("[emulator]\nzzz = 1\n", "emulator: unknown key 'zzz' (known: region, account"),
    ],
    ids=["runtime key", "[[runtime]]", "emulator key", "fault", "jwt", "oauth client", "far off"],
)
def test_an_unknown_key_is_an_error_naming_its_place_and_the_closest_key(
    toml: str, message: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config(tomllib.loads(toml), tmp_path)
    assert str(caught.value).startswith(message)


def test_the_variables_of_an_instance_are_free_form(tmp_path: Path) -> None:
    config = parse_config({"runtimes": [{**MINIMAL, "env": {"ANYTHING_GOES": "1"}}]}, tmp_path)
    assert config.runtimes[0].env == {"ANYTHING_GOES": "1"}


def _defaults(cls: Any) -> dict[str, Any]:
    return {
        f.name: f.default for f in dataclasses.fields(cls) if f.default is not dataclasses.MISSING
    }


@pytest.mark.parametrize(
    ("keys", "cls"),
    [
        (config_keys.EMULATOR, EmulatorConfig),
        (config_keys.RUNTIME, RuntimeSpec),
        (config_keys.JWT_AUTHORIZER, JwtAuthorizerSpec),
        (config_keys.FAULTS, FaultSpec),
        (config_keys.OAUTH_CLIENT, OAuthClient),
        (config_keys.CREDENTIAL_PROVIDER, CredentialProviderSpec),
    ],
    ids=lambda v: getattr(v, "__name__", "keys"),
)
def test_the_references_defaults_are_the_configs_own(keys: Any, cls: Any) -> None:
    defaults = _defaults(cls)
    for key in keys:
        if key.name not in defaults or key.default is None:
            continue
        default = defaults[key.name]
        expected = list(default) if isinstance(default, tuple) else default
        assert key.default == expected, key.name


def test_a_config_without_a_runtime_says_so(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"no runtime: add a \[\[runtimes\]\] table"):
        parse_config(tomllib.loads("[emulator]\nregion = 'us-east-1'\n"), tmp_path)


def test_env_for_a_runtime_the_config_lacks_exits_2_naming_those_it_has() -> None:
    from tests.harness import TEST_CONFIG, isolated_aws_env

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "agentcore_emulator",
            "env",
            "--config",
            str(TEST_CONFIG),
            "--runtime",
            "demo_sever",
        ],
        capture_output=True,
        text=True,
        check=False,
        env=isolated_aws_env(),
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == ""
    assert "no runtime 'demo_sever' in the config (its runtimes: demo_server," in done.stderr


# A wrong value for each kind of key: what a careless config file says.
_WRONG = {
    config_keys.TEXT: [12, True, ["x"]],
    config_keys.FLAG: ["false", "true", 0, 1],
    config_keys.SECONDS: [-1, float("inf"), float("nan"), "10", True],
    config_keys.POSITIVE_SECONDS: [0, -0.5, float("inf"), "10", False],
    config_keys.RATE: [-1, float("inf"), "25"],
    config_keys.PRICE: [-0.01, float("nan"), "0.09", True],
    config_keys.THROTTLE: [-1, float("inf"), "5"],
    config_keys.COUNT: [-1, 1.5, "3", True],
    config_keys.POSITIVE_COUNT: [0, -1, 2.5, "100", True],
    config_keys.PORT: [0, 70000, "8080", 80.0],
    config_keys.STRINGS: ["a", [1], {"a": 1}],
    config_keys.TABLE: ["a", [1], 3],
    config_keys.TABLES: ["a", [1], {"a": 1}],
    config_keys.COMMAND: ["python -m x", [], [1]],
}


def _placed(section: str, name: str, value: object) -> tuple[dict[str, Any], str]:
    """A config with ``value`` at ``name`` in ``section``, and the place its error names."""
    runtime: dict[str, Any] = dict(MINIMAL)
    data: dict[str, Any] = {"runtimes": [runtime]}
    if section == "[emulator]":
        data["emulator"] = {name: value}
        return data, f"emulator.{name}"
    if section == "[[runtimes]]":
        runtime[name] = value
        return data, f"runtimes[0].{name}"
    if section == "[runtimes.jwt_authorizer]":
        runtime["jwt_authorizer"] = {name: value}
        return data, f"runtimes[0].jwt_authorizer.{name}"
    if section == "[runtimes.faults]":
        runtime["faults"] = {name: value}
        return data, f"runtimes[0].faults.{name}"
    if section == "[[models]]":
        data["models"] = [{name: value}]
        return data, f"models[0].{name}"
    if section == "[[lambda_functions]]":
        data["lambda_functions"] = [{"arn": "a", "handler": "f.py:h", name: value}]
        return data, f"lambda_functions[0].{name}"
    if section == "[[credential_providers]]":
        data["credential_providers"] = [{"name": "p", "api_key": "k", name: value}]
        return data, f"credential_providers[0].{name}"
    client = {"client_id": "a", "client_secret": "b", name: value}
    data["oauth_clients"] = [client]
    return data, f"oauth_clients[0].{name}"


_CASES = [
    pytest.param(section, key.name, wrong, id=f"{section}.{key.name}={wrong!r}")
    for section, keys in config_keys.SECTIONS.items()
    for key in keys
    for wrong in _WRONG[key.kind]
]


@pytest.mark.parametrize(("section", "name", "wrong"), _CASES)
def test_every_key_refuses_a_wrong_value_naming_the_key_the_value_and_what_it_wants(
    section: str, name: str, wrong: object, tmp_path: Path
) -> None:
    # Before: fail_start = "false" was taken as true, -1 s and inf as numbers, "10" as 10.
    data, place = _placed(section, name, wrong)
    with pytest.raises(ConfigError) as caught:
        parse_config(data, tmp_path)
    message = str(caught.value)
    assert message.startswith(f"{place} = "), message
    assert "expected" in message and "\n" not in message


def test_a_variable_of_an_instance_is_a_string_or_a_number(tmp_path: Path) -> None:
    config = parse_config({"runtimes": [{**MINIMAL, "env": {"A": "x", "B": 2}}]}, tmp_path)
    assert config.runtimes[0].env == {"A": "x", "B": "2"}
    with pytest.raises(ConfigError, match=r"runtimes\[0\]\.env\.C = True: expected a string"):
        parse_config({"runtimes": [{**MINIMAL, "env": {"C": True}}]}, tmp_path)


def _emulator(*args: str) -> subprocess.CompletedProcess[str]:
    from tests.harness import isolated_aws_env

    return subprocess.run(
        [sys.executable, "-m", "agentcore_emulator", *args],
        capture_output=True,
        text=True,
        check=False,
        env=isolated_aws_env(),
        timeout=60,
    )


def test_a_wrong_value_in_the_file_is_exit_2_and_one_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.toml"
    config.write_text(
        '[[runtimes]]\nname = "svc"\ncommand = ["python", "-m", "x"]\n'
        '[runtimes.faults]\nfail_start = "false"\n'
    )
    done = _emulator("serve", "--port", "0", "--config", str(config))
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        'agentcore-emulator: runtimes[0].faults.fail_start = "false": expected true or false'
    ]


@pytest.mark.parametrize(
    "args",
    [
        ["serve", "--port", "0", "--print-env", "/no/such/folder/emulator.env"],
        ["serve", "--port", "70000"],
        ["serve", "--port", "0", "--tls-cert", "/no/such/cert.pem"],
        ["serve", "--port", "0", "--config", "/no/such/config.toml"],
    ],
    ids=["print-env folder", "port", "tls-cert", "config"],
)
def test_a_wrong_argument_is_exit_2_and_one_line_before_anything_is_bound(args: list[str]) -> None:
    # Before: --print-env into a missing folder was a traceback, after the port was bound.
    done = _emulator(*args)
    assert done.returncode == 2 and done.stdout == ""
    assert "Traceback" not in done.stderr
    # One line says what is wrong (argparse prints its usage above it).
    assert done.stderr.strip().splitlines()[-1].startswith("agentcore-emulator"), done.stderr
    assert args[-2] in done.stderr.strip().splitlines()[-1], done.stderr


@pytest.mark.parametrize(
    ("model", "complaint"),
    [
        ({"source": "oracle"}, "models[0].source must be one of"),
        ({"source": "openai"}, "models[0]: an openai source needs url"),
        ({"source": "scripted"}, "models[0]: a scripted source needs turns"),
        ({"source": "scripted", "turns": [{"txt": "x"}]}, "models[0].turns: a scripted turn"),
    ],
)
def test_a_models_table_that_cannot_work_is_one_line_saying_why(
    model: dict, complaint: str, tmp_path: Path
) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_config({"runtimes": [MINIMAL], "models": [model]}, tmp_path)
    assert str(caught.value).startswith(complaint)
