#!/usr/bin/env python3
"""make demo: start the emulator with the demo server, smoke-test it through the proxy, stop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "AGENTCORE_"))}
    env.update({"AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull})
    emulator = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "agentcore_emulator",
            "serve",
            "--port",
            "0",
            "--log-level",
            "WARNING",
        ],
        stdout=subprocess.PIPE,
        env=env,
        cwd=ROOT,
        text=True,
    )
    try:
        assert emulator.stdout is not None
        ready = emulator.stdout.readline()
        if "ready at" not in ready:
            print("demo: the emulator did not start", file=sys.stderr)
            return 1
        url = ready.split("ready at", 1)[1].strip()
        print(f"emulator: {url}")
        exports = subprocess.run(
            [sys.executable, "-m", "agentcore_emulator", "env", "--port", url.rsplit(":", 1)[1]],
            capture_output=True,
            text=True,
            check=True,
            env=env,
            cwd=ROOT,
        ).stdout
        for line in exports.splitlines():
            if line.startswith("export "):
                key, _, value = line.removeprefix("export ").partition("=")
                env[key] = value.strip("'")
        print(f"runtime: {env['AGENTCORE_AGENT_ARN']}")
        return subprocess.run(
            [
                sys.executable,
                str(ROOT / "scripts" / "proxy_smoketest.py"),
                env["AGENTCORE_AGENT_ARN"],
            ],
            env=env,
            cwd=ROOT,
            check=False,
        ).returncode
    finally:
        emulator.terminate()
        try:
            emulator.wait(20)
        except subprocess.TimeoutExpired:
            emulator.kill()
            emulator.wait()


if __name__ == "__main__":
    raise SystemExit(main())
