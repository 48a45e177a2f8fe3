"""Runs one instance's command and takes its whole process tree down with it.

    python -m agentcore_emulator.guard -- COMMAND [ARG...]

The emulator starts every instance through this guard, in a session (and so a process
group) of its own. The command runs as the guard's child in that group, with whatever
it starts in turn (a shell entrypoint's server, say). The guard ends the whole group,
TERM then KILL after a grace, when it is told to stop (TERM) or when the emulator dies,
even by SIGKILL: Linux's parent-death signal tells it at once, and elsewhere it notices
within a fraction of a second. Its exit status is the command's.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import subprocess
import sys
from types import FrameType

GRACE = 5.0  # seconds the group gets between TERM and KILL
_PR_SET_PDEATHSIG = 1
_POLL = 0.25


class _Stop(Exception):
    """The emulator asked the instance to stop, or has died."""


def _raise_stop(signum: int, frame: FrameType | None) -> None:
    raise _Stop


def _on_parent_death(signum: int) -> bool:
    """Ask Linux to send ``signum`` when the emulator exits; False where it cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        return int(ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signum)) == 0
    except (OSError, AttributeError):
        return False


def end_group(child: subprocess.Popen[bytes], grace: float = GRACE) -> int:
    """TERM every process of this group, KILL what is left after ``grace``."""
    signal.signal(signal.SIGTERM, signal.SIG_IGN)  # the guard outlives its own TERM
    with contextlib.suppress(ProcessLookupError):
        os.killpg(0, signal.SIGTERM)
    try:
        code = child.wait(grace)
    except subprocess.TimeoutExpired:
        code = -signal.SIGKILL
    # Whatever the command started may outlive it: KILL ends the guard last.
    with contextlib.suppress(ProcessLookupError):
        os.killpg(0, signal.SIGKILL)
    return code


def main(argv: list[str]) -> int:
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        print("usage: python -m agentcore_emulator.guard -- COMMAND [ARG...]", file=sys.stderr)
        return 2
    command = argv[argv.index("--") + 1 :]
    emulator = os.getppid()
    signal.signal(signal.SIGTERM, _raise_stop)
    told = _on_parent_death(signal.SIGTERM)
    try:
        child = subprocess.Popen(command)
    except OSError as exc:
        print(f"agentcore-emulator: cannot start {command[0]!r}: {exc}", file=sys.stderr)
        return 127
    except _Stop:
        return 1
    try:
        while True:
            if os.getppid() != emulator:  # it died before, or where Linux cannot tell us
                raise _Stop
            try:
                # Block while Linux will signal the emulator's death: the command's
                # own exit (a crash) is then seen at once.
                code = child.wait(None if told else _POLL)
            except subprocess.TimeoutExpired:
                continue
            # The command ended by itself: what it started goes too.
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            with contextlib.suppress(ProcessLookupError):
                os.killpg(0, signal.SIGTERM)
            return code
    except _Stop:
        return end_group(child)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
