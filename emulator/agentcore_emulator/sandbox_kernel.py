"""The process inside a Code Interpreter sandbox: runs Python code in one namespace kept
between calls, and shell commands, in the sandbox's folder, network and limits.

Started by ``code_interpreter`` (not imported by it): one JSON request a line on stdin,
one answer a line on stdout, prefixed by the nonce it was started with, so nothing the
user's code writes to the real stdout passes for an answer. Output is cut at the bound
given (argv[2]), so a print loop cannot fill the emulator's memory.
"""

import contextlib
import io
import json
import subprocess
import sys
import tempfile
import time
import traceback
from typing import Any


class BoundedText(io.StringIO):
    """A text buffer that keeps its first ``limit`` characters and counts the rest."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.dropped = 0

    def write(self, text: str) -> int:
        room = self.limit - self.tell()
        if room > 0:
            super().write(text[:room])
        self.dropped += max(0, len(text) - max(room, 0))
        return len(text)

    def text(self) -> str:
        value = self.getvalue()
        if self.dropped:
            value += f"\n[output cut: {self.dropped} more characters]"
        return value


def _run_code(code: str, namespace: dict[str, Any], limit: int) -> dict[str, Any]:
    out, err = BoundedText(limit), BoundedText(limit)
    code_exit = 0
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            exec(compile(code, "<code>", "exec"), namespace)  # noqa: S102 (the sandbox's job)
        except SystemExit as stop:
            code_exit = stop.code if isinstance(stop.code, int) else 1
        except BaseException:
            traceback.print_exc()
            code_exit = 1
    return {"stdout": out.text(), "stderr": err.text(), "exitCode": code_exit}


def _run_command(command: str, limit: int) -> dict[str, Any]:
    # Output to files, not pipes: a command that leaves a process in the background
    # (`server &`) would hold a pipe open and the call with it; and only the bound is read.
    with tempfile.TemporaryFile() as out_file, tempfile.TemporaryFile() as err_file:
        done = subprocess.run(  # noqa: S602 (a shell command is what was asked for)
            command, shell=True, stdout=out_file, stderr=err_file, check=False
        )
        texts = []
        for kept in (out_file, err_file):
            size = kept.seek(0, 2)
            kept.seek(0)
            text = BoundedText(limit)
            text.write(kept.read(limit).decode(errors="replace"))
            text.dropped += max(0, size - limit)
            texts.append(text.text())
    return {"stdout": texts[0], "stderr": texts[1], "exitCode": done.returncode}


def main() -> None:
    nonce, limit = sys.argv[1], int(sys.argv[2])
    channel = sys.stdout
    namespace: dict[str, Any] = {"__name__": "__main__"}
    for line in sys.stdin:
        request = json.loads(line)
        started = time.perf_counter()
        if request.get("clear"):
            namespace = {"__name__": "__main__"}
        if request["op"] == "code":
            answer = _run_code(request["code"], namespace, limit)
        else:
            answer = _run_command(request["command"], limit)
        answer["executionTime"] = round(time.perf_counter() - started, 6)
        channel.write(f"{nonce} {json.dumps(answer)}\n")
        channel.flush()


if __name__ == "__main__":
    main()
