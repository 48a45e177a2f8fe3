from __future__ import annotations

import dataclasses
import subprocess
import sys
from pathlib import Path

import pytest

from mcp_agentcore_proxy.config import ProxyConfig, RuntimeArn, SessionMode, signing_for
from mcp_agentcore_proxy.errors import ConfigurationError
from mcp_agentcore_proxy.settings import SETTINGS, parse_config
from tests.harness import isolated_aws_env

ARN = "arn:aws:bedrock-agentcore:eu-west-1:123456789012:runtime/my_server-AbCdEf1234"


def test_region_comes_from_the_arn_when_unset() -> None:
    config = parse_config([], {"AGENTCORE_AGENT_ARN": ARN})
    assert config.region == "eu-west-1"
    assert config.session_mode is SessionMode.IDENTITY
    assert config.read_timeout == 900
    assert config.max_concurrency >= 16


def test_flags_and_environment() -> None:
    env = {
        "AGENT_ARN": ARN,
        "AWS_REGION": "us-west-2",
        "RUNTIME_SESSION_MODE": "REQUEST",
        "AGENTCORE_ASSUME_ROLE_ARN": "arn:aws:iam::123456789012:role/r",
        "AGENTCORE_QUALIFIER": "prod",
    }
    config = parse_config(["--max-concurrency", "4"], env)
    assert (config.region, config.session_mode, config.qualifier) == (
        "eu-west-1",  # the ARN's: see test_a_shells_default_region_gives_way_to_the_arns
        SessionMode.REQUEST,
        "prod",
    )
    assert config.assume_role_arn == "arn:aws:iam::123456789012:role/r"
    assert config.assume_role_session_name == "mcpAgentCoreProxy"
    assert config.max_concurrency == 4


@pytest.mark.parametrize(
    "arn",
    [
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:agent/x",
        "arn:aws:bedrock-agentcore:us-east-1:1234:runtime/my_server-AbCdEf1234",
        "arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/my-server-AbCdEf1234",
        "my_server-AbCdEf1234",
    ],
)
def test_malformed_arn_is_refused_with_the_expected_format(arn: str) -> None:
    with pytest.raises(ConfigurationError, match=r"runtime/<name>-<10 characters>"):
        RuntimeArn.parse(arn)


def test_missing_arn_exits_2_with_a_message_on_stderr() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_agentcore_proxy"],
        check=False,
        capture_output=True,
        env=isolated_aws_env(),
        timeout=60,
        input=b"",
    )
    assert done.returncode == 2
    assert done.stdout == b""
    assert b"Set AGENTCORE_AGENT_ARN (or AGENT_ARN)" in done.stderr


def test_malformed_arn_exits_2() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_agentcore_proxy", "--agent-arn", "nope"],
        check=False,
        capture_output=True,
        env=isolated_aws_env(),
        timeout=60,
    )
    assert done.returncode == 2
    assert b"Invalid AgentCore runtime ARN 'nope'" in done.stderr


def test_help_documents_every_variable() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_agentcore_proxy", "--help"],
        check=False,
        capture_output=True,
        env=isolated_aws_env(),
        timeout=60,
    )
    text = b" ".join(done.stdout.split())  # argparse wraps long lines
    for setting in SETTINGS:
        assert setting.flag.encode() in text
        for name in setting.variables:
            assert name.encode() in text, name
    assert b"AWS_ENDPOINT_URL" in text


def test_every_setting_fills_a_config_field_and_the_defaults_live_there_only() -> None:
    fields = {f.name for f in dataclasses.fields(ProxyConfig)}
    assert {s.field for s in SETTINGS} == fields - {"start_notes"}  # what parsing noticed
    config = parse_config([], {"AGENTCORE_AGENT_ARN": ARN})
    assert config.read_timeout == ProxyConfig.read_timeout
    assert config.max_concurrency == ProxyConfig.max_concurrency


@pytest.mark.parametrize(
    ("variable", "value", "allowed"),
    [
        ("AGENTCORE_MAX_CONCURRENCY", "abc", "whole number"),
        ("AGENTCORE_MAX_CONCURRENCY", "0", "whole number"),
        ("AGENTCORE_READ_TIMEOUT", "15m", "number of seconds"),
        ("AGENTCORE_READ_TIMEOUT", "-1", "number of seconds"),
        ("AGENTCORE_READ_TIMEOUT", "nan", "number of seconds"),
        ("AGENTCORE_READ_TIMEOUT", "inf", "number of seconds"),
        ("AGENTCORE_SHUTDOWN_GRACE", "-0.5", "number of seconds"),
        ("AGENTCORE_KEEP_SESSIONS", "maybe", "true or false"),
        ("RUNTIME_SESSION_MODE", "sometimes", "identity, session, request"),
        ("LOG_LEVEL", "LOUD", "DEBUG"),
    ],
)
def test_a_bad_value_exits_2_naming_the_variable_and_what_is_allowed(
    variable: str, value: str, allowed: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_config([], {"AGENTCORE_AGENT_ARN": ARN, variable: value})
    assert f"{variable}={value!r}" in str(caught.value) and allowed in str(caught.value)


def test_a_bad_value_on_the_command_line_names_the_flag() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_agentcore_proxy", "--agent-arn", ARN, "--read-timeout", "x"],
        check=False,
        capture_output=True,
        env=isolated_aws_env(),
        timeout=60,
    )
    assert done.returncode == 2 and done.stdout == b""
    assert b"--read-timeout='x' is not valid" in done.stderr
    assert b"Traceback" not in done.stderr


def test_a_flag_wins_over_its_variable() -> None:
    config = parse_config(
        ["--read-timeout", "5", "--keep-sessions"],
        {"AGENTCORE_AGENT_ARN": ARN, "AGENTCORE_READ_TIMEOUT": "99"},
    )
    assert config.read_timeout == 5.0 and config.keep_sessions


def test_headers_come_from_repeated_flags_or_lines_of_the_variable() -> None:
    env = {"AGENTCORE_AGENT_ARN": ARN}
    flags = ["--header", "X-Api-Key=a=b", "--header", "X-Tenant-Id: acme:1"]
    assert parse_config(flags, env).headers == (("X-Api-Key", "a=b"), ("X-Tenant-Id", "acme:1"))
    lines = {**env, "AGENTCORE_HEADERS": "X-Api-Key=k\n\nX-Tenant-Id=t\n"}
    assert parse_config([], lines).headers == (("X-Api-Key", "k"), ("X-Tenant-Id", "t"))


@pytest.mark.parametrize(
    ("line", "complaint"),
    [
        ("Authorization=s3cret", "JWT authorizer"),
        ("X-Amz-Date=s3cret", "reserved"),
        ("X-Amzn-Trace-Id=s3cret", "reserved"),
        ("Content-Type=s3cret", "restricted"),
        ("Mcp-Session-Id=s3cret", "set by the proxy"),
        ("traceparent=s3cret", "set by the proxy"),
        ("X-Api-Key s3cret", "expected NAME=VALUE"),
        ("X-Api-Key s3cret=1", "expected NAME=VALUE"),
        ("X-Api-Key s3cret: more", "expected NAME=VALUE"),
        ("X-Api-Key/s3cret=1", "expected NAME=VALUE"),
        ("Bearer s3cret.x=1", "expected NAME=VALUE"),
        ("'X-Api-Key=s3cret'", "expected NAME=VALUE"),
        ("s3cret=", "no value"),
        ("=s3cret", "expected NAME=VALUE"),
        ("X-Api-Key=s3cret\x01", "printable ASCII"),
        ("X-Api-Key=" + "s3cret" * 700, "over 4096 bytes"),
        ("X-Api-Key=s3cret\nx-api-key=s3cret", "twice"),
        ("\n".join(f"X-H{i}=s3cret" for i in range(21)), "at most 20"),
    ],
)
def test_a_header_agentcore_would_not_forward_is_refused_without_echoing_it(
    line: str, complaint: str
) -> None:
    with pytest.raises(ConfigurationError) as caught:
        parse_config([], {"AGENTCORE_AGENT_ARN": ARN, "AGENTCORE_HEADERS": line})
    assert complaint in str(caught.value) and "AGENTCORE_HEADERS" in str(caught.value)
    assert "s3cret" not in str(caught.value)


def test_trace_context_and_user_id_come_from_the_environment() -> None:
    config = parse_config(
        [],
        {
            "AGENTCORE_AGENT_ARN": ARN,
            "TRACEPARENT": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "BAGGAGE": "tenant=acme",
            "AGENTCORE_RUNTIME_USER_ID": "alice",
        },
    )
    assert config.trace.traceparent and config.trace.baggage == "tenant=acme"
    assert config.trace.tracestate is None and config.runtime_user_id == "alice"
    with pytest.raises(ConfigurationError, match="TRACEPARENT"):
        parse_config([], {"AGENTCORE_AGENT_ARN": ARN, "TRACEPARENT": "0" * 129})


def test_one_bearer_token_source_at_most() -> None:
    env = {"AGENTCORE_AGENT_ARN": ARN, "AGENTCORE_BEARER_TOKEN": "t0ken"}
    assert parse_config([], env).uses_bearer
    with pytest.raises(ConfigurationError, match="only one of") as caught:
        parse_config([], {**env, "AGENTCORE_BEARER_TOKEN_FILE": "/tmp/token"})
    assert "t0ken" not in str(caught.value)


def test_a_ca_bundle_must_be_a_file(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\n")
    env = {"AGENTCORE_AGENT_ARN": ARN}
    assert parse_config(["--ca-bundle", str(bundle)], env).ca_bundle == str(bundle)
    with pytest.raises(ConfigurationError, match="AWS_CA_BUNDLE"):
        parse_config([], {**env, "AWS_CA_BUNDLE": str(tmp_path / "missing.pem")})


def test_a_shells_default_region_gives_way_to_the_arns_with_a_note() -> None:
    config = parse_config([], {"AGENTCORE_AGENT_ARN": ARN, "AWS_REGION": "us-west-2"})
    assert config.region == "eu-west-1"
    (note,) = config.start_notes
    assert "AWS_REGION=us-west-2" in note and "eu-west-1" in note


def test_an_explicit_region_is_honoured_with_a_note() -> None:
    config = parse_config(["--region", "us-west-2"], {"AGENTCORE_AGENT_ARN": ARN})
    assert config.region == "us-west-2"
    (note,) = config.start_notes
    assert "--region us-west-2" in note and "eu-west-1" in note
    assert parse_config([], {"AGENTCORE_AGENT_ARN": ARN}).start_notes == ()


def test_an_unknown_profile_is_refused_naming_those_that_exist(tmp_path: Path) -> None:
    aws_config = tmp_path / "config"
    aws_config.write_text("[default]\nregion = us-east-1\n[profile dev]\nregion = us-east-1\n")
    env = {
        "AGENTCORE_AGENT_ARN": ARN,
        "AWS_CONFIG_FILE": str(aws_config),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
    }
    assert parse_config([], {**env, "AWS_PROFILE": "dev"}).profile == "dev"
    with pytest.raises(ConfigurationError) as caught:
        parse_config([], {**env, "AWS_PROFILE": "nope"})
    assert str(caught.value) == (
        "AWS_PROFILE='nope' is not a profile of your AWS config (profiles: default, dev)"
    )
    with pytest.raises(ConfigurationError, match="--profile='nope'"):
        parse_config(["--profile", "nope"], env)


def test_an_unknown_profile_ends_the_proxy_with_one_line_and_status_2(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_agentcore_proxy"],
        check=False,
        capture_output=True,
        env=isolated_aws_env(
            {
                "AGENTCORE_AGENT_ARN": ARN,
                "AWS_PROFILE": "nope",
                "AWS_CONFIG_FILE": str(tmp_path / "config"),
                "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials"),
            }
        ),
        stdin=subprocess.DEVNULL,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == b""
    lines = done.stderr.decode().splitlines()
    assert len(lines) == 1 and "AWS_PROFILE='nope'" in lines[0] and "Traceback" not in lines[0]


def test_an_error_quoted_inside_a_sentence_ends_it_with_one_period() -> None:
    from mcp_agentcore_proxy.config import ProxyConfig
    from mcp_agentcore_proxy.errors import CredentialsError, ProxyError
    from mcp_agentcore_proxy.identity import IdentityCheck

    class Refusing:
        config = ProxyConfig(agent_arn=RuntimeArn.parse(ARN), region="eu-west-1")

        def caller_identity(self, while_waiting: object) -> None:
            raise ProxyError("The security token included in the request is expired.")

    with pytest.raises(CredentialsError) as caught:
        IdentityCheck(Refusing())()  # type: ignore[arg-type]
    assert "is expired. Check AWS_PROFILE" in str(caught.value)
    assert ".." not in str(caught.value)


@pytest.mark.parametrize("transport", ["stdio", "streamable-http"])
def test_the_collector_runs_again_once_the_proxy_serves(transport: str) -> None:
    # Paused while the modules load: left paused, cyclic garbage would pile up for good.
    script = (
        "import gc, sys\n"
        "from mcp_agentcore_proxy import cli, front_serve, stdio_serve\n"
        "def serving(*_):\n"
        "    print(gc.isenabled(), gc.get_freeze_count() > 0)\n"
        "    return 0\n"
        "stdio_serve.run = front_serve.serve = serving\n"
        "sys.exit(cli.main(sys.argv[1:]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, "--agent-arn", ARN, "--transport", transport],
        check=False,
        capture_output=True,
        env=isolated_aws_env(),
        timeout=60,
        input=b"",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == [b"True", b"True"]


def test_one_payload_limit_agentcores_own_on_both_sides() -> None:
    import botocore.session

    from agentcore_emulator.app import build_app
    from agentcore_emulator.config import load_config
    from agentcore_wire.limits import MAX_PAYLOAD
    from mcp_agentcore_proxy import answer

    model = botocore.session.get_session().get_service_model("bedrock-agentcore")
    payload = model.operation_model("InvokeAgentRuntime").input_shape.members["payload"]
    assert MAX_PAYLOAD == payload.metadata["max"] == 100_000_000
    # Before: the front end took 104,857,600 bytes, the emulator 100,000,000.
    assert parse_config([], {"AGENTCORE_AGENT_ARN": ARN}).http_max_body == MAX_PAYLOAD
    assert answer.MAX_MESSAGE == MAX_PAYLOAD
    app = build_app(load_config(None), "http://127.0.0.1:1")
    limits = [m.kwargs["max_body_size"] for m in app.user_middleware if "max_body_size" in m.kwargs]
    assert limits == [MAX_PAYLOAD]


GATEWAY = "https://orders-gw-abcdefghij.gateway.bedrock-agentcore.eu-west-1.amazonaws.com/mcp"


@pytest.mark.parametrize(
    ("url", "signing"),
    [
        (GATEWAY, ("bedrock-agentcore", "eu-west-1")),
        (
            "https://bedrock-agentcore.us-east-1.amazonaws.com/mcp",
            ("bedrock-agentcore", "us-east-1"),
        ),
        ("https://aws-mcp.us-east-1.api.aws/mcp", ("aws-mcp", "us-east-1")),
        ("https://lambda.cn-north-1.amazonaws.com.cn/mcp", ("lambda", "cn-north-1")),
        ("http://127.0.0.1:8000/gateways/gw/mcp", (None, None)),
        ("https://mcp.example.com/mcp", (None, None)),
    ],
)
def test_the_signing_service_and_region_are_read_off_an_aws_host(url: str, signing: tuple) -> None:
    assert signing_for(url) == signing


def test_a_gateway_url_needs_nothing_more() -> None:
    config = parse_config(["--url", GATEWAY], {"AWS_REGION": "eu-west-1"})
    assert (config.mcp_url, config.signing_service, config.region) == (
        GATEWAY,
        "bedrock-agentcore",
        "eu-west-1",
    )
    assert config.agent_arn is None and not config.stop_sessions_on_exit


def test_a_shells_other_region_gives_way_to_the_urls_with_a_note() -> None:
    config = parse_config([], {"AGENTCORE_MCP_URL": GATEWAY, "AWS_REGION": "us-east-1"})
    assert config.region == "eu-west-1"
    assert "differs from the URL's region" in config.start_notes[0]


@pytest.mark.parametrize(
    ("argv", "env", "message"),
    [
        (["--url", "http://127.0.0.1:9/mcp"], {"AWS_REGION": "us-east-1"}, "--service"),
        (["--url", "http://127.0.0.1:9/mcp", "--service", "bedrock-agentcore"], {}, "--region"),
        (["--url", "http://mcp.example.com/mcp"], {}, "http:// only to a loopback address"),
        (["--url", "https://u:p@mcp.example.com/mcp"], {}, "without user:password@"),
        (["--url", "ftp://x/mcp"], {}, "an http(s) URL"),
        (["--url", GATEWAY], {"AGENTCORE_AGENT_ARN": ARN}, "not both"),
        (["--service", "lambda"], {"AGENTCORE_AGENT_ARN": ARN}, "applies to a URL"),
    ],
)
def test_a_url_that_cannot_be_called_is_refused_saying_what_to_give(
    argv: list[str], env: dict[str, str], message: str
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        parse_config(argv, env)
    assert message in str(refused.value)
    assert "u:p@" not in str(refused.value)
