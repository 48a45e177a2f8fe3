"""The pytest plugin, as a user of another repository meets it: a test file of theirs,
run by pytest in a directory of its own, with nothing but the emulator installed."""

from __future__ import annotations

import pytest

CALL = """
import json

def _call(agentcore_emulator, runtime, session):
    answer = agentcore_emulator.client().invoke_agent_runtime(
        agentRuntimeArn=agentcore_emulator.arn(runtime),
        runtimeSessionId=session,
        contentType="application/json",
        accept="application/json, text/event-stream",
        payload=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    return answer["response"].read().decode()
"""


def test_a_users_test_file_calls_the_example_through_the_fixture(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        CALL
        + """
def test_tools(agentcore_emulator):
    assert '"echo"' in _call(agentcore_emulator, "example", "user-" + "u" * 40)
    assert [i["method"] for i in agentcore_emulator.invocations()] == ["tools/list"]

def test_environment_for_a_subprocess(agentcore_emulator):
    env = agentcore_emulator.environment("example")
    assert env["AWS_ENDPOINT_URL"] == agentcore_emulator.url
    assert env["AGENTCORE_AGENT_ARN"] == agentcore_emulator.arn("example")
"""
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_two_tests_see_no_trace_of_each_other(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        CALL
        + """
def test_first_leaves_a_session_a_fault_and_a_moved_clock(agentcore_emulator):
    _call(agentcore_emulator, "example", "first-" + "f" * 40)
    agentcore_emulator.faults("example", fail_next=5)
    agentcore_emulator.advance_clock(30)

def test_second_starts_clean(agentcore_emulator):
    assert agentcore_emulator.invocations() == []
    assert '"echo"' in _call(agentcore_emulator, "example", "second-" + "s" * 40)  # no fault
    sessions = agentcore_emulator._admin("GET", "sessions")["sessions"]
    assert [s["sessionId"] for s in sessions] == ["second-" + "s" * 40]
"""
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_the_config_comes_from_the_marker_or_the_ini_option(pytester: pytest.Pytester) -> None:
    runtimes = """[[runtimes]]
name = "{}"
command = ["python", "-m", "agentcore_emulator.example.echo_server"]
"""
    pytester.makefile(".toml", mine=runtimes.format("mine"), other=runtimes.format("other"))
    pytester.makeini("[pytest]\nagentcore_emulator_config = mine.toml\n")
    pytester.makepyfile(
        """
import pytest

def test_from_the_ini_option(agentcore_emulator):
    assert agentcore_emulator.runtimes == ["mine"]

@pytest.mark.agentcore_config("other.toml")
def test_from_the_marker_an_emulator_of_its_own(agentcore_emulator):
    assert agentcore_emulator.runtimes == ["other"]
"""
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


def test_a_failing_call_is_readable_in_the_report(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        CALL
        + """
def test_a_typo(agentcore_emulator):
    agentcore_emulator.arn("exampel")

def test_an_arn_it_does_not_serve(agentcore_emulator):
    agentcore_emulator.client().invoke_agent_runtime(
        agentRuntimeArn="arn:aws:bedrock-agentcore:us-east-1:123456789012:runtime/gone-AbCdEf1234",
        payload=b"{}",
    )
"""
    )
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(failed=2)
    report = result.stdout.str()
    assert "UnknownRuntime: no runtime 'exampel' in this emulator's config; it has: example" in (
        report
    )
    assert "ResourceNotFoundException" in report
    assert "this emulator serves: example=arn:aws:bedrock-agentcore" in report  # its log


def test_its_clients_reach_sts_the_control_plane_and_cloudwatch_logs(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
def test_clients(agentcore_emulator):
    assert agentcore_emulator.client("sts").get_caller_identity()["Account"] == "123456789012"
    control = agentcore_emulator.client("bedrock-agentcore-control")
    runtimes = control.list_agent_runtimes()["agentRuntimes"]
    assert [r["agentRuntimeName"] for r in runtimes] == ["example"]
    logs = agentcore_emulator.client("logs")
    logs.create_log_group(logGroupName="/my/agent")
    assert [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]] == ["/my/agent"]
"""
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
