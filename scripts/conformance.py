#!/usr/bin/env python3
"""make conformance: the MCP conformance suite's 2026-07-28 server scenarios, run against the
revision's SDK server (fixtures/servers/modern_server.py) directly, then through the proxy's
HTTP front end and the emulator; prints both results side by side, scenario by scenario.

The suite (npm, pinned below) is installed under .tools/conformance on first use. It fails
scenarios whose tools the fixture server does not have (images, prompts...): the figure
that matters is the difference between the two columns.
"""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agentcore_emulator.networks import free_port
from agentcore_emulator.process import EmulatorProcess

ROOT = Path(__file__).resolve().parents[1]
SUITE = "@modelcontextprotocol/conformance@0.2.0-alpha.12"
PREFIX = ROOT / ".tools" / "conformance"
CLI = PREFIX / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js"
READY = re.compile(rb"serving MCP Streamable HTTP at (http://\S+)")
RESULT = re.compile(r"^[✓✗] (\S+): (\d+) passed, (\d+) failed", re.MULTILINE)


def install() -> None:
    if CLI.exists():
        return
    PREFIX.mkdir(parents=True, exist_ok=True)
    npm = shutil.which("npm") or sys.exit("conformance: npm is required")
    subprocess.run([npm, "install", "--prefix", str(PREFIX), SUITE, "glob@11"], check=True)


def run_suite(url: str) -> dict[str, tuple[int, int]]:
    with tempfile.TemporaryDirectory() as out:
        command = ["node", "--import", str(ROOT / "scripts" / "conformance" / "node20.mjs")]
        command += [str(CLI), "server", "--url", url, "--requirements", "2026-07-28", "-o", out]
        done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=PREFIX)
    return {m[1]: (int(m[2]), int(m[3])) for m in RESULT.finditer(done.stdout)}


def wait_for(port: int) -> None:
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("conformance: the server did not start")


def direct() -> dict[str, tuple[int, int]]:
    port = free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1"}
    server = ROOT / "fixtures" / "servers" / "modern_server.py"
    quiet = subprocess.DEVNULL
    with subprocess.Popen([sys.executable, str(server)], env=env, stdout=quiet, stderr=quiet) as p:
        try:
            wait_for(port)
            return run_suite(f"http://127.0.0.1:{port}/mcp")
        finally:
            p.terminate()


def through_the_front_end() -> dict[str, tuple[int, int]]:
    config = ROOT / "fixtures" / "emulator-test.toml"
    with EmulatorProcess(config, cwd=ROOT) as emulator, tempfile.TemporaryFile() as log:
        env = {**emulator.environment("modern_server"), "AGENTCORE_HTTP_PORT": "0"}
        command = [sys.executable, "-m", "mcp_agentcore_proxy", "--transport", "streamable-http"]
        with subprocess.Popen(command, env=env, stderr=log, stdin=subprocess.DEVNULL) as proxy:
            try:
                for _ in range(3000):
                    log.seek(0)
                    if found := READY.search(log.read()):
                        return run_suite(found.group(1).decode())
                    time.sleep(0.01)
                raise SystemExit("conformance: the HTTP front end did not start")
            finally:
                proxy.terminate()


def main() -> int:
    install()
    results = {"directly": direct(), "through the front end": through_the_front_end()}
    names = sorted(set().union(*results.values()))
    print("| scenario | " + " | ".join(results) + " |")
    print("|---|" + "---|" * len(results))
    for name in names:
        cells = [
            f"{r[name][0]} passed, {r[name][1]} failed" if name in r else "not run"
            for r in results.values()
        ]
        print(f"| {name} | " + " | ".join(cells) + " |")
    totals = [
        f"{sum(p for p, _ in r.values())} passed, {sum(f for _, f in r.values())} failed"
        for r in results.values()
    ]
    print("| **all checks** | " + " | ".join(totals) + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
