"""The pytest plugin, as a user of another repository meets it: a test file of theirs,
run by pytest in a directory of its own, with nothing but the emulator installed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

import pytest

from tests.emulator.test_lifecycle import _descendants, _running
from tests.harness import wait_until

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


def test_a_later_test_sees_no_log_stream_of_an_earlier_one(pytester: pytest.Pytester) -> None:
    # Before: CloudWatch Logs kept the first test's stream through the reset.
    pytester.makepyfile(
        CALL
        + """
def _groups(agentcore_emulator):
    return agentcore_emulator.client("logs").describe_log_groups()["logGroups"]

def test_first_logs(agentcore_emulator):
    _call(agentcore_emulator, "example", "first-" + "f" * 40)
    agentcore_emulator.client("logs").create_log_group(logGroupName="/agent/own")
    assert _groups(agentcore_emulator)

def test_second_sees_none(agentcore_emulator):
    assert _groups(agentcore_emulator) == []
"""
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=2)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
def test_pytest_killed_leaves_no_emulator_guard_or_instance(
    pytester: pytest.Pytester, signum: int
) -> None:
    # Before: pytest killed (a CI timeout, a closed terminal) left all three serving.
    pids = pytester.path / "pids.json"
    pytester.makepyfile(
        CALL
        + f"""
import os, time

def test_holds_a_session(agentcore_emulator):
    _call(agentcore_emulator, "example", "held-" + "h" * 40)
    sessions = agentcore_emulator._admin("GET", "sessions")["sessions"]
    mine = [agentcore_emulator._process.process.pid, *[s["pid"] for s in sessions]]
    with open({str(pids)!r} + ".partial", "w") as out:
        json.dump(mine, out)
    os.replace({str(pids)!r} + ".partial", {str(pids)!r})
    time.sleep(120)  # ended by the signal, long before this
"""
    )
    running = pytester.popen(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        started = wait_until(lambda: pids.exists() and json.loads(pids.read_text()), "the test")
        tree = set(started)
        for pid in started:
            tree |= _descendants(pid)
        running.send_signal(signum)
        running.wait(60)
    finally:
        if running.poll() is None:
            running.kill()
            running.wait()
    wait_until(lambda: not any(_running(pid) for pid in tree), "every process to end")


def test_a_users_test_scripts_the_model_and_reads_what_was_sent(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        """
def test_scripted(agentcore_emulator):
    agentcore_emulator.script_model([{"text": "scripted answer"}])
    answer = agentcore_emulator.client("bedrock-runtime").converse(
        modelId="us.anthropic.claude-sonnet-4-20250514-v1:0",
        messages=[{"role": "user", "content": [{"text": "hello"}]}],
    )
    assert answer["output"]["message"]["content"][0]["text"] == "scripted answer"
    (call,) = agentcore_emulator.model_calls()
    assert call["operation"] == "Converse" and call["messages"][0]["text"] == "hello"

def test_next_test_gets_the_deterministic_model_again(agentcore_emulator):
    assert agentcore_emulator.model_calls() == []
    answer = agentcore_emulator.client("bedrock-runtime").converse(
        modelId="amazon.nova-lite-v1:0",
        messages=[{"role": "user", "content": [{"text": "hello"}]}],
    )
    assert "You said: hello" in answer["output"]["message"]["content"][0]["text"]

def test_a_throttled_model_is_retried_then_fails_as_aws_throttling_does(agentcore_emulator):
    import botocore.config, botocore.exceptions, pytest
    agentcore_emulator.model_error("ThrottlingException")
    retrying = botocore.config.Config(retries={"mode": "standard", "total_max_attempts": 2})
    runtime = agentcore_emulator.client("bedrock-runtime", config=retrying)
    with pytest.raises(botocore.exceptions.ClientError) as throttled:
        runtime.converse(
            modelId="amazon.nova-lite-v1:0",
            messages=[{"role": "user", "content": [{"text": "hello"}]}],
        )
    assert throttled.value.response["Error"]["Code"] == "ThrottlingException"
    assert throttled.value.response["ResponseMetadata"]["RetryAttempts"] == 1
    assert len(agentcore_emulator.model_calls()) == 2  # both tries reached the model
    agentcore_emulator.model_error(None)
    assert runtime.converse(
        modelId="amazon.nova-lite-v1:0",
        messages=[{"role": "user", "content": [{"text": "again"}]}],
    )["stopReason"] == "end_turn"
"""
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)


def test_a_users_test_reads_what_identity_gave_and_the_next_starts_clean(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(
        """
def test_api_key(agentcore_emulator):
    control = agentcore_emulator.client("bedrock-agentcore-control")
    control.create_api_key_credential_provider(name="search", apiKey="sk-1")
    workload = control.list_workload_identities()["workloadIdentities"][0]["name"]
    data = agentcore_emulator.client()
    token = data.get_workload_access_token(workloadName=workload)["workloadAccessToken"]
    key = data.get_resource_api_key(
        workloadIdentityToken=token, resourceCredentialProviderName="search"
    )["apiKey"]
    assert key == "sk-1"
    (issued,) = agentcore_emulator.identity_issued()
    assert (issued["provider"], issued["flow"], issued["user"]) == ("search", "API_KEY", None)

def test_next_test_finds_no_provider(agentcore_emulator):
    assert agentcore_emulator.identity_issued() == []
    control = agentcore_emulator.client("bedrock-agentcore-control")
    assert control.list_api_key_credential_providers()["credentialProviders"] == []

def test_the_fixtures_helpers_make_providers_and_memories(agentcore_emulator):
    agentcore_emulator.api_key_provider("search", "sk-2")
    agentcore_emulator.oauth2_provider("crm", "any-client", "any-secret")
    control = agentcore_emulator.client("bedrock-agentcore-control")
    assert control.get_oauth2_credential_provider(name="crm")["status"] == "READY"
    memory_id = agentcore_emulator.memory("notes")
    data = agentcore_emulator.client()
    data.create_event(
        memoryId=memory_id, actorId="a", sessionId="s", eventTimestamp=1_750_000_000,
        payload=[{"conversational": {"content": {"text": "hi"}, "role": "USER"}}],
    )
    events = data.list_events(memoryId=memory_id, actorId="a", sessionId="s")["events"]
    assert len(events) == 1
"""
    )
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=3)
