"""The emulator as a background process on a free loopback port, for scripts and tests.

with EmulatorProcess(Path("runtimes.toml")) as emulator:
    env = emulator.environment("my_server")   # AWS_ENDPOINT_URL, keys, AGENTCORE_AGENT_ARN
    subprocess.run(["mcp-agentcore-proxy"], env=env, ...)
"""

from __future__ import annotations

import json
import os
import ssl
import subprocess
import sys
import urllib.request
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import IO

READY = "agentcore-emulator ready at"


def clean_environment(base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's) without any AWS or AgentCore setting of the user's."""
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if not k.startswith(("AWS_", "AGENTCORE_"))
    }
    env.update(
        {
            "AWS_CONFIG_FILE": os.devnull,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    )
    return env


class EmulatorProcess:
    """``agentcore-emulator serve --port 0`` in a subprocess; stopped on exit or ``stop()``."""

    def __init__(
        self,
        config: Path | None = None,
        *,
        log_level: str = "WARNING",
        stderr: IO[bytes] | None = None,
        cwd: Path | None = None,
        args: Sequence[str] = (),
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        from agentcore_emulator.config import load_config

        self.config = load_config(config)
        # Its stdin is a lifeline: this process holds the other end, so however it ends
        # (SIGKILL included) the emulator sees the end of stdin and stops with its instances.
        command = [sys.executable, "-m", "agentcore_emulator", "serve", "--port", "0"]
        command += ["--stdin-lifeline"]
        command += ["--log-level", log_level]
        if config is not None:
            command += ["--config", str(config)]
        command += list(args)
        self.process = subprocess.Popen(
            command,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=stderr,
            env=clean_environment(),
            cwd=cwd,
        )
        assert self.process.stdout is not None
        line = self.process.stdout.readline().decode()
        if READY not in line:
            self.stop()
            raise RuntimeError(f"the emulator did not start (it printed {line!r})")
        self.url = line.split(READY, 1)[1].strip()
        health = f"{self.url}/_emulator/health"
        with urllib.request.urlopen(health, timeout=30, context=ssl_context) as answer:  # noqa: S310
            runtimes = json.load(answer)["runtimes"]
        self.arns: dict[str, str] = {r["name"]: r["arn"] for r in runtimes}

    def environment(self, runtime: str | None = None) -> dict[str, str]:
        """A clean environment pointing at this emulator (and at ``runtime``'s ARN)."""
        name = runtime or next(iter(self.arns), None)
        arn = self.arns[name] if name is not None else None
        return {**clean_environment(), **self.config.client_environment(self.url, arn)}

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pipe in (self.process.stdin, self.process.stdout):
            if pipe is not None:
                pipe.close()

    def __enter__(self) -> EmulatorProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()
