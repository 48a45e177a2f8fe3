"""The process inside a Code Interpreter sandbox, in process: Python state kept between
calls, errors and exits reported and never fatal, output cut at its bound, shell commands
that leave a process behind, and answers told apart from what user code prints."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
from pathlib import Path

import pytest

from agentcore_emulator import sandbox_kernel
from agentcore_emulator.sandbox_kernel import BoundedText, _run_code, _run_command


def test_bounded_text_keeps_its_first_characters_and_counts_the_rest() -> None:
    text = BoundedText(5)
    text.write("abc")
    text.write("defgh")
    assert text.text() == "abcde\n[output cut: 3 more characters]"
    within = BoundedText(5)
    within.write("ab")
    assert within.text() == "ab"


def test_code_keeps_its_namespace_and_reports_what_went_wrong() -> None:
    namespace: dict = {"__name__": "__main__"}
    assert _run_code("x = 2\nprint(x * 21)", namespace, 100)["stdout"] == "42\n"
    assert _run_code("print(x)", namespace, 100)["stdout"] == "2\n"
    failed = _run_code("1 / 0", namespace, 10_000)
    assert failed["exitCode"] == 1 and "ZeroDivisionError" in failed["stderr"]
    assert _run_code("raise SystemExit(3)", namespace, 100)["exitCode"] == 3
    assert _run_code("raise SystemExit('bye')", namespace, 100)["exitCode"] == 1


def test_a_command_that_leaves_a_process_behind_still_answers(tmp_path: Path) -> None:
    pid_file = tmp_path / "pid"
    done = _run_command(f"echo out; echo err >&2; sleep 30 & echo $! > {pid_file}; exit 4", 100)
    os.kill(int(pid_file.read_text()), signal.SIGKILL)  # the sandbox's group would, at its end
    assert (done["stdout"], done["stderr"], done["exitCode"]) == ("out\n", "err\n", 4)
    cut = _run_command("printf 'x%.0s' $(seq 1 50)", 10)
    assert cut["stdout"] == "x" * 10 + "\n[output cut: 40 more characters]"


def test_the_kernel_answers_each_request_on_a_line_of_its_own(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    requests = [
        {"op": "code", "code": "y = 1\nprint('from code')"},
        {"op": "code", "code": "print(y)", "clear": True},
        {"op": "command", "command": "echo from shell"},
    ]
    stdin = io.StringIO("".join(json.dumps(r) + "\n" for r in requests))
    stdout = io.StringIO()
    monkeypatch.setattr(sys, "argv", ["kernel", "n0nce", "1000"])
    monkeypatch.setattr(sys, "stdin", stdin)
    monkeypatch.setattr(sys, "stdout", stdout)
    sandbox_kernel.main()
    lines = stdout.getvalue().splitlines()
    assert all(line.startswith("n0nce ") for line in lines)
    answers = [json.loads(line.split(" ", 1)[1]) for line in lines]
    assert answers[0]["stdout"] == "from code\n"
    assert answers[1]["exitCode"] == 1 and "NameError" in answers[1]["stderr"]  # cleared
    assert answers[2]["stdout"] == "from shell\n"
    assert all(answer["executionTime"] >= 0 for answer in answers)
