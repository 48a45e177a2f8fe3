"""Session lifecycle at the model level, and the emulator's own shutdown."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
import uuid
from collections.abc import Iterator

import anyio
import pytest

from agentcore_emulator.config import load_config
from agentcore_emulator.exceptions import RetryableConflictException, ServiceQuotaExceededException
from agentcore_emulator.instance_http import InstanceClient
from agentcore_emulator.sessions import SessionRegistry
from tests.harness import TEST_CONFIG, Emulator, isolated_aws_env, wait_until


def test_sessions_past_the_quota_are_refused_until_one_ends() -> None:
    spec = next(s for s in load_config(TEST_CONFIG).runtimes if s.name == "http_agent")

    async def scenario() -> None:
        registry = SessionRegistry(lambda spec, sid: isolated_aws_env(), 1, InstanceClient())
        try:
            first = await registry.acquire(spec, "a" * 40)
            with pytest.raises(ServiceQuotaExceededException):
                await registry.acquire(spec, "b" * 40)
            assert await registry.acquire(spec, "a" * 40) is first  # its own session is fine
            await registry.stop(spec, "a" * 40)
            assert (await registry.acquire(spec, "b" * 40)).instance.alive
        finally:
            await registry.stop_all()

    anyio.run(scenario)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_stopping_the_emulator_stops_every_instance() -> None:
    emulator = Emulator()
    try:
        for _ in range(2):
            emulator.client().invoke_agent_runtime(
                agentRuntimeArn=emulator.arns["http_agent"],
                payload=b"{}",
                runtimeSessionId=f"shutdown-{uuid.uuid4()}",
            )
        pids = [s["pid"] for s in emulator.sessions()]
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
    finally:
        emulator.stop()
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells why.
    assert emulator.process.returncode == -signal.SIGTERM
    assert not any(_alive(pid) for pid in pids)


def test_ctrl_c_stops_the_emulator_quietly() -> None:
    emulator = Emulator()
    emulator.process.send_signal(signal.SIGINT)
    assert emulator.process.wait(30) == 128 + signal.SIGINT
    emulator.stop()
    assert "Traceback" not in emulator.stderr()


PROCESSES_CONFIG = TEST_CONFIG.with_name("emulator-processes.toml")


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat").read()  # noqa: SIM115
            except OSError:
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            tree.setdefault(parent, []).append(int(entry))
    return tree


def _descendants(pid: int) -> set[int]:
    tree, found, todo = _children(), set(), [pid]
    while todo:
        for child in tree.get(todo.pop(), []):
            found.add(child)
            todo.append(child)
    return found


def _running(pid: int) -> bool:
    try:
        state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]  # noqa: SIM115
    except OSError:
        return False
    return state != "Z"


def _wait_gone(pids: set[int]) -> set[int]:
    for _ in range(500):  # at most ~10 s: the group gets TERM, then KILL after 5 s
        left = {pid for pid in pids if _running(pid)}
        if not left:
            return left
        time.sleep(0.02)
    return left


@pytest.fixture(scope="module")
def processes_emulator() -> Iterator[Emulator]:
    emulator = Emulator(PROCESSES_CONFIG)
    try:
        yield emulator
    finally:
        emulator.stop()


def _start_launcher(emulator: Emulator) -> tuple[str, set[int]]:
    session = f"launcher-{uuid.uuid4()}"
    emulator.client().invoke_agent_runtime(
        agentRuntimeArn=emulator.arns["launcher"],
        payload=b'{"jsonrpc":"2.0","id":1,"method":"ping"}',
        runtimeSessionId=session,
        contentType="application/json",
        accept="application/json, text/event-stream",
    )
    pid = next(s["pid"] for s in emulator.sessions() if s["sessionId"] == session)
    tree = {pid, *_descendants(pid)}
    assert len(tree) >= 3  # the guard, the launcher, and the server it started
    return session, tree


def test_stopping_a_session_ends_every_process_its_instance_started(
    processes_emulator: Emulator,
) -> None:
    session, tree = _start_launcher(processes_emulator)
    processes_emulator.client().stop_runtime_session(
        agentRuntimeArn=processes_emulator.arns["launcher"], runtimeSessionId=session
    )
    assert _wait_gone(tree) == set()


def test_a_session_whose_guard_was_killed_is_freed_without_a_call(
    processes_emulator: Emulator,
) -> None:
    # Before: the session (its slot, namespace and relay) was held until the next call to it
    # or its idle timeout, 15 minutes; and the group its guard left behind lived on.
    session, tree = _start_launcher(processes_emulator)
    guard = next(s["pid"] for s in processes_emulator.sessions() if s["sessionId"] == session)
    os.kill(guard, signal.SIGKILL)
    wait_until(
        lambda: all(s["sessionId"] != session for s in processes_emulator.sessions()),
        "the reaper to end the session of a dead instance",
    )
    assert _wait_gone(tree) == set()


def test_instances_die_with_the_emulator_even_when_it_is_killed() -> None:
    emulator = Emulator(PROCESSES_CONFIG)
    try:
        _, tree = _start_launcher(emulator)
        emulator.process.kill()  # no shutdown code runs
        emulator.process.wait()
        assert _wait_gone(tree) == set()
    finally:
        emulator.stop()


@pytest.mark.parametrize(
    ("runtime", "cause"),
    [
        ("missing_command", "'no-such-command-anywhere' was not found"),
        ("missing_cwd", "working directory"),
        ("not_executable", "is not an executable file"),
    ],
)
def test_a_command_that_cannot_start_is_424_naming_the_cause(
    processes_emulator: Emulator, runtime: str, cause: str
) -> None:
    client = processes_emulator.client()
    with pytest.raises(client.exceptions.RuntimeClientError) as caught:
        client.invoke_agent_runtime(
            agentRuntimeArn=processes_emulator.arns[runtime],
            payload=b"{}",
            runtimeSessionId=f"broken-{uuid.uuid4()}",
        )
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 424
    assert cause in caught.value.response["Error"]["Message"]
    assert "Traceback" not in processes_emulator.stderr()


def test_a_byte_that_is_not_utf8_does_not_end_the_relayed_stream(
    processes_emulator: Emulator,
) -> None:
    answer = processes_emulator.client().invoke_agent_runtime(
        agentRuntimeArn=processes_emulator.arns["raw_sse"],
        payload=b'{"jsonrpc":"2.0","id":7,"method":"ping"}',
        runtimeSessionId=f"raw-{uuid.uuid4()}",
        contentType="application/json",
        accept="application/json, text/event-stream",
    )
    events = [
        line.removeprefix(b"data: ")
        for line in answer["response"].read().splitlines()
        if line.startswith(b"data: ")
    ]
    assert b'"data":"\xef\xbf\xbd"' in events[0]  # U+FFFD in place of the bad byte
    assert events[1] == b'{"jsonrpc": "2.0", "id": 7, "result": {}}'


def test_a_call_to_a_session_being_stopped_is_a_retryable_conflict() -> None:
    spec = next(s for s in load_config(TEST_CONFIG).runtimes if s.name == "http_agent")

    async def scenario() -> None:
        registry = SessionRegistry(lambda spec, sid: isolated_aws_env(), 2, InstanceClient())
        try:
            await registry.acquire(spec, "a" * 40)
            stopping = asyncio.ensure_future(registry.stop(spec, "a" * 40))
            await asyncio.sleep(0)  # the stop has begun: it waits for the process to end
            with pytest.raises(RetryableConflictException) as conflict:
                await registry.acquire(spec, "a" * 40)
            assert conflict.value.status == 409 and conflict.value.retryable
            assert await stopping
            assert (await registry.acquire(spec, "a" * 40)).instance.alive  # then a new one
        finally:
            await registry.stop_all()

    asyncio.run(scenario())


def test_a_call_while_an_idle_session_is_reaped_starts_a_fresh_instance() -> None:
    spec = next(s for s in load_config(TEST_CONFIG).runtimes if s.name == "http_agent")

    async def scenario() -> None:
        registry = SessionRegistry(lambda spec, sid: isolated_aws_env(), 2, InstanceClient())
        try:
            old = await registry.acquire(spec, "a" * 40)
            registry.clock.advance(spec.idle_timeout)
            reaping = asyncio.ensure_future(registry.reap())
            await asyncio.sleep(0)  # the reaper has begun stopping the idle instance
            fresh = await registry.acquire(spec, "a" * 40)  # no conflict: nobody asked to stop
            assert fresh is not old and fresh.instance.alive
            assert await reaping == 1
        finally:
            await registry.stop_all()

    asyncio.run(scenario())


def test_an_http_agent_busy_in_the_background_outlives_its_idle_timeout(
    emulator: Emulator,
) -> None:
    session = f"busy-{uuid.uuid4()}"

    def invoke(payload: dict[str, object]) -> None:
        emulator.client().invoke_agent_runtime(
            agentRuntimeArn=emulator.arns["http_agent"],
            runtimeSessionId=session,
            payload=json.dumps(payload),
        )["response"].read()

    def ping() -> object:
        return next((s["ping"] for s in emulator.sessions() if s["sessionId"] == session), "gone")

    invoke({"busy": True})  # background work begins: /ping says HealthyBusy
    wait_until(lambda: ping() == "HealthyBusy", "the emulator to poll /ping")
    idle = 900  # the fixture's idle timeout
    emulator.admin.post("/_emulator/clock/advance", json={"seconds": idle * 2})
    assert ping() == "HealthyBusy"  # still there: busy is never idle
    invoke({"busy": False})  # done: Healthy, stamped now
    wait_until(lambda: ping() == "Healthy", "the emulator to poll /ping")
    emulator.admin.post("/_emulator/clock/advance", json={"seconds": idle})
    assert ping() == "gone"


def test_an_instances_output_is_in_cloudwatch_logs_and_on_stderr_with_whose_it_is(
    emulator: Emulator,
) -> None:
    session = f"logs-{uuid.uuid4()}"
    word = f"canary-{uuid.uuid4().hex[:8]}"
    call = {"name": "say", "arguments": {"text": word}}
    emulator.client().invoke_agent_runtime(
        agentRuntimeArn=emulator.arns["testing_server"],
        runtimeSessionId=session,
        contentType="application/json",
        accept="application/json, text/event-stream",
        payload=json.dumps({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": call}),
    )["response"].read()
    runtime_id = emulator.arns["testing_server"].rsplit("/", 1)[1]
    group = f"/aws/bedrock-agentcore/runtimes/{runtime_id}-DEFAULT"
    logs = emulator.client("logs")

    def kept() -> list[str]:
        events = logs.filter_log_events(logGroupName=group, filterPattern=word)["events"]
        return sorted(e["message"] for e in events if e["logStreamName"].endswith(session))

    assert wait_until(kept, "the lines in CloudWatch Logs") == [f"err: {word}", f"out: {word}"]
    streams = logs.describe_log_streams(logGroupName=group)["logStreams"]
    (stream,) = [s["logStreamName"] for s in streams if s["logStreamName"].endswith(session)]
    assert stream.endswith(f"/[runtime-logs]{session}")
    wait_until(lambda: f"[testing_server {session[:8]}] out: {word}" in emulator.stderr(), "echo")
