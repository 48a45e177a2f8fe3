"""The ``agentcore-emulator`` command: a missing dependency is one clear line, never a
traceback (an install without its dependencies, or a half-upgraded environment)."""

from __future__ import annotations

import sys

INSTALL = "pip install agentcore-emulator (from a checkout: pip install ./wire ./emulator)"


def main() -> int:
    try:
        from agentcore_emulator.cli import main as run

        return run()
    except ImportError as exc:
        missing = exc.name or str(exc)
        print(
            f"agentcore-emulator: the module {missing!r} is missing; install the emulator "
            f"with its dependencies: {INSTALL}",
            file=sys.stderr,
        )
        return 2
