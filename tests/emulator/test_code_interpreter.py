"""AgentCore Code Interpreter with the SDK's ``code_session``, as its samples use it: Python
with state kept between calls, shell commands, files; and each sandbox bound (time,
output, memory, network, its processes) tested against what breaks it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any
from unittest import mock

import botocore.exceptions
import pytest

from tests.harness import Emulator, wait_until


@pytest.fixture
def sandbox_env(emulator: Emulator) -> Iterator[Emulator]:
    with mock.patch.dict(os.environ, emulator.env(), clear=True):
        yield emulator


@pytest.fixture
def session(sandbox_env: Emulator) -> Iterator[Any]:
    from bedrock_agentcore.tools.code_interpreter_client import code_session

    with code_session("us-east-1") as client:
        yield client


def _result(answer: dict[str, Any]) -> dict[str, Any]:
    (event,) = list(answer["stream"])
    return event["result"]  # type: ignore[no-any-return]


def _run(client: Any, code: str, **extra: Any) -> dict[str, Any]:
    return _result(client.invoke("executeCode", {"code": code, "language": "python", **extra}))


def test_python_keeps_its_state_between_calls_until_cleared(session: Any) -> None:
    assert _run(session, "x = 6 * 7\nprint(x)")["structuredContent"]["stdout"] == "42\n"
    assert _run(session, "print(x + 1)")["content"][0]["text"] == "43\n"
    cleared = _run(session, "print(x)", clearContext=True)
    assert cleared["isError"] and "NameError" in cleared["structuredContent"]["stderr"]


def test_files_are_written_read_listed_and_removed_in_the_sandbox(session: Any) -> None:
    session.upload_file(path="data/sales.csv", content="region,total\neu,12\nus,30\n")
    assert session.download_file(path="data/sales.csv").startswith("region,total")
    code = "import csv\nprint(sum(int(r['total']) for r in csv.DictReader(open('data/sales.csv'))))"
    assert _run(session, code)["structuredContent"]["stdout"] == "42\n"
    listed = _result(session.invoke("listFiles", {"directoryPath": "data"}))["content"]
    assert [(f["name"], f["description"]) for f in listed] == [("sales.csv", "File")]
    command = _result(session.invoke("executeCommand", {"command": "wc -l < data/sales.csv"}))
    assert command["structuredContent"]["stdout"].strip() == "3"
    session.invoke("removeFiles", {"paths": ["data/sales.csv"]})
    assert _result(session.invoke("listFiles", {"directoryPath": "data"}))["content"] == []


def test_a_path_that_leaves_the_sandboxs_folder_is_refused(session: Any) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        session.invoke("writeFiles", {"content": [{"path": "../../escape.txt", "text": "x"}]})
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def test_a_call_past_its_time_is_stopped_and_the_next_starts_afresh(session: Any) -> None:
    _run(session, "kept = 1")
    stopped = _run(session, "while True:\n    pass")
    assert stopped["isError"] and "ran past 3 s" in stopped["content"][0]["text"]
    after = _run(session, "print('alive')\nprint('kept' in globals())")
    assert after["structuredContent"]["stdout"] == "alive\nFalse\n"


def test_output_is_cut_at_its_bound(session: Any) -> None:
    answer = _run(session, "print('x' * 100_000)")
    stdout = answer["structuredContent"]["stdout"]
    assert stdout.startswith("x" * 10_000) and len(stdout) < 10_100
    assert "[output cut: 90001 more characters]" in stdout


def test_memory_past_its_bound_fails_the_call_not_the_emulator(session: Any) -> None:
    answer = _run(session, "hog = bytearray(1024 ** 3)")  # 1 GiB, over the 512 MiB bound
    assert answer["isError"] and "MemoryError" in answer["structuredContent"]["stderr"]
    assert _run(session, "print('still here')")["structuredContent"]["stdout"] == "still here\n"


def test_the_sandbox_has_no_network(session: Any, sandbox_env: Emulator) -> None:
    port = int(sandbox_env.url.rsplit(":", 1)[1])
    code = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
        "    print('connected')\n"
        "except OSError as e:\n"
        "    print('refused', e.errno)\n"
    )
    assert _run(session, code)["structuredContent"]["stdout"].startswith("refused")


def test_stopping_a_session_ends_every_process_it_started(sandbox_env: Emulator) -> None:
    from bedrock_agentcore.tools.code_interpreter_client import code_session

    with code_session("us-east-1") as client:
        started = _result(client.invoke("executeCommand", {"command": "sleep 300 & echo $!"}))
        pid = int(started["structuredContent"]["stdout"].strip())
        assert os.path.exists(f"/proc/{pid}")
        session_id = client.session_id
    wait_until(lambda: not os.path.exists(f"/proc/{pid}"), "the sandbox's sleep to end")
    data = sandbox_env.client()
    described = data.get_code_interpreter_session(
        codeInterpreterIdentifier="aws.codeinterpreter.v1", sessionId=session_id
    )
    assert described["status"] == "TERMINATED"
    with pytest.raises(botocore.exceptions.ClientError) as ended:
        data.invoke_code_interpreter(
            codeInterpreterIdentifier="aws.codeinterpreter.v1",
            sessionId=session_id,
            name="executeCode",
            arguments={"code": "print(1)"},
        )
    assert ended.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_a_session_ends_at_its_timeout(sandbox_env: Emulator) -> None:
    data = sandbox_env.client()
    started = data.start_code_interpreter_session(
        codeInterpreterIdentifier="aws.codeinterpreter.v1",
        name=f"short-{uuid.uuid4().hex[:6]}",
        sessionTimeoutSeconds=1,
    )

    def status() -> str:
        return data.get_code_interpreter_session(  # type: ignore[no-any-return]
            codeInterpreterIdentifier="aws.codeinterpreter.v1", sessionId=started["sessionId"]
        )["status"]

    assert status() == "READY"
    wait_until(lambda: status() == "TERMINATED", "the session's timeout")


def test_what_is_not_there_is_said(sandbox_env: Emulator) -> None:
    data = sandbox_env.client()
    with pytest.raises(botocore.exceptions.ClientError) as unknown:
        data.start_code_interpreter_session(codeInterpreterIdentifier="my-interpreter-abc")
    assert unknown.value.response["Error"]["Code"] == "ResourceNotFoundException"
    started = data.start_code_interpreter_session(
        codeInterpreterIdentifier="aws.codeinterpreter.v1"
    )
    try:
        with pytest.raises(botocore.exceptions.ClientError) as tasks:
            data.invoke_code_interpreter(
                codeInterpreterIdentifier="aws.codeinterpreter.v1",
                sessionId=started["sessionId"],
                name="startCommandExecution",
                arguments={"command": "ls"},
            )
        assert tasks.value.response["Error"]["Code"] == "NotEmulatedException"
    finally:
        data.stop_code_interpreter_session(
            codeInterpreterIdentifier="aws.codeinterpreter.v1", sessionId=started["sessionId"]
        )
