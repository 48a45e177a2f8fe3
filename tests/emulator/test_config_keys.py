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
