"""InvokeAgentRuntimeCommand, called with boto3 and read from its event stream as boto3 does."""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import quote

import botocore.exceptions
import pytest

from agentcore_emulator.runtime_commands import CommandRequest, run_command
from tests.harness import Emulator, signed_call


def _run(emulator: Emulator, command: str, session: str | None = None, **body: Any) -> Any:
    return emulator.client().invoke_agent_runtime_command(
        agentRuntimeArn=emulator.arns["http_agent"],
        runtimeSessionId=session or f"command-{uuid.uuid4()}",
        body={"command": command, **body},
    )


def _events(answer: Any) -> tuple[str, str, dict[str, Any], list[str]]:
    stdout, stderr, kinds, stop = "", "", [], {}
    for event in answer["stream"]:
        chunk = event["chunk"]
        ((kind, fields),) = chunk.items()
        kinds.append(kind)
        stdout += fields.get("stdout", "")
        stderr += fields.get("stderr", "")
        if kind == "contentStop":
            stop = fields
    return stdout, stderr, stop, kinds


def test_a_command_streams_its_output_and_exit_code(emulator: Emulator) -> None:
    answer = _run(emulator, "echo out; echo err >&2; printf 'caf\\303\\251'; exit 3")
    assert answer["contentType"] == "application/vnd.amazon.eventstream"
    stdout, stderr, stop, kinds = _events(answer)
    assert kinds[0] == "contentStart" and kinds[-1] == "contentStop"
    assert stdout == "out\ncafé" and stderr == "err\n"
    assert stop == {"exitCode": 3, "status": "COMPLETED"}


def test_a_command_runs_in_the_sessions_environment(emulator: Emulator) -> None:
    session = f"command-{uuid.uuid4()}"
    stdout, _, stop, _ = _events(
        _run(emulator, 'echo "$AGENTCORE_RUNTIME_ARN $PORT"; pwd', session)
    )
    arn, port, cwd = stdout.split()
    assert arn == emulator.arns["http_agent"] and stop["exitCode"] == 0
    instance = next(s for s in emulator.sessions() if s["sessionId"] == session)
    assert int(port) == instance["port"]  # the session's own instance: it may call its server
    assert cwd.endswith("fixtures")


def test_a_command_past_its_timeout_is_timed_out_and_ended(emulator: Emulator) -> None:
    stdout, _, stop, _ = _events(_run(emulator, "echo started; sleep 60", timeout=1))
    assert stdout == "started\n"
    assert stop == {"exitCode": -1, "status": "TIMED_OUT"}


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b'{"command": ""}', "command"),
        (b'{"timeout": 5}', "command"),
        (b'{"command": "true", "timeout": 3601}', "timeout"),
        (b'{"command": "true", "timeout": "5"}', "timeout"),
    ],
)
def test_bad_bodies_are_validation_errors(emulator: Emulator, body: bytes, field: str) -> None:
    # Signed by hand: boto3 itself refuses some of these before sending.
    arn = quote(emulator.arns["http_agent"], safe="")
    answer = signed_call(emulator, "POST", f"/runtimes/{arn}/commands", body)
    assert answer.status_code == 400
    assert answer.headers["x-amzn-ErrorType"] == "ValidationException"
    assert field in answer.json()["message"]


def test_boto3_reports_a_refused_command_as_its_error(emulator: Emulator) -> None:
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        _run(emulator, "true", timeout=0)
    assert refused.value.response["Error"]["Code"] == "ValidationException"


def _blocked_writing(pid: int) -> bool:
    """Whether ``pid`` sleeps in a write to a full pipe (Linux names the kernel function)."""
    try:
        return Path(f"/proc/{pid}/wchan").read_text().endswith(("pipe_write", "pipe_wait_writable"))
    except FileNotFoundError:
        return False


@pytest.mark.skipif(not Path("/proc/self/wchan").exists(), reason="needs Linux's /proc")
def test_a_command_whose_caller_reads_nothing_waits_on_its_own_output(tmp_path: Path) -> None:
    progress = tmp_path / "progress"
    # 400 MB if nothing held it back; the count of 64 KiB chunks written so far in a file.
    writer = (
        "import os, sys\n"
        f"open({str(progress)!r}, 'w').write(str(os.getpid()))\n"
        "for n in range(6400):\n"
        "    sys.stdout.buffer.write(b'x' * 65536); sys.stdout.flush()\n"
        f"    open({str(progress)!r} + '.n', 'w').write(str(n + 1))\n"
    )
    script = tmp_path / "flood.py"
    script.write_text(writer)
    request = CommandRequest(f"{sys.executable} {script}", timeout=600)

    async def caller_reads_nothing() -> int:
        events = run_command(request, dict(os.environ), tmp_path)
        try:
            await anext(events)  # contentStart, then nothing more is read
            while not (progress.exists() and progress.read_text()):
                await asyncio.sleep(0.01)
            pid = int(progress.read_text())
            # Held back for good, not in passing: blocked with the same count, while the
            # loop that would drain its pipe runs on (20 turns of 10 ms).
            seen, steady = "", 0
            while steady < 20:
                await asyncio.sleep(0.01)
                done = Path(f"{progress}.n").read_text() == "6400"
                if done:  # nothing held it back
                    return 6400
                count = Path(f"{progress}.n").read_text() if _blocked_writing(pid) else ""
                steady = steady + 1 if count and count == seen else 0
                seen = count
            return int(seen)
        finally:
            await events.aclose()

    written = asyncio.run(caller_reads_nothing())
    # The queue (16 chunks), the pipe's buffer and the reader's chunk in hand: ~1.1 MiB.
    assert written * 65536 < 4 * 1024 * 1024
