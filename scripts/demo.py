#!/usr/bin/env python3
"""make demo: start the emulator with the demo server, smoke-test it through the proxy, stop."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from agentcore_emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    with EmulatorProcess(ROOT / "emulator" / "demo.toml", cwd=ROOT) as emulator:
        env = emulator.environment("demo_server")
        print(f"emulator: {emulator.url}")
        print(f"runtime: {env['AGENTCORE_AGENT_ARN']}")
        smoketest = [
            sys.executable,
            str(ROOT / "scripts" / "proxy_smoketest.py"),
            env["AGENTCORE_AGENT_ARN"],
        ]
        return subprocess.run(smoketest, env=env, cwd=ROOT, check=False).returncode


if __name__ == "__main__":
    raise SystemExit(main())
