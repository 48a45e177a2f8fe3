"""Real processes for tests: the emulator and the proxy, on loopback, cleaned up always."""

from __future__ import annotations

import datetime
import http.server
import json
import queue
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from pathlib import Path
from typing import Any
from unittest import mock

import boto3
import httpx

from agentcore_emulator.process import EmulatorProcess, clean_environment

ROOT = Path(__file__).resolve().parents[1]
# What a client sends to open an MCP session, as the tests' clients all do.
INITIALIZE_PARAMS = {
    "protocolVersion": "2025-06-18",
    "capabilities": {},
    "clientInfo": {"name": "tests", "version": "1"},
}
TEST_CONFIG = ROOT / "fixtures" / "emulator-test.toml"


WAIT = 20.0  # the most any readiness check waits; never reached when things work


def wait_until(condition: Callable[[], Any], what: str, timeout: float = WAIT) -> Any:
    """Poll ``condition`` until it is truthy (a readiness check, not a timing claim)."""
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = condition()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def isolated_aws_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The environment with no trace of the user's AWS setup."""
    return {**clean_environment(), "PYTHONUNBUFFERED": "1", **(extra or {})}


class Emulator(EmulatorProcess):
    """The test suite's emulator, with helpers for its admin endpoints and its log."""

    def __init__(
        self,
        config: Path = TEST_CONFIG,
        args: Sequence[str] = (),
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self.log = tempfile.NamedTemporaryFile(prefix="emulator-", suffix=".log", delete=False)  # noqa: SIM115
        super().__init__(
            config,
            log_level="DEBUG",
            stderr=self.log,
            cwd=ROOT,
            args=args,
            ssl_context=ssl_context,
        )
        self.admin = httpx.Client(base_url=self.url, timeout=30, verify=ssl_context or True)

    def env(self, runtime: str = "demo_server") -> dict[str, str]:
        """What ``agentcore-emulator env`` exports, for a given runtime."""
        return {**self.environment(runtime), "PYTHONUNBUFFERED": "1"}

    def gateway(
        self, authorizer: str = "AWS_IAM", targets: dict[str, dict] | None = None, **extra: Any
    ) -> dict[str, Any]:
        """A gateway made through the control plane, with ``targets`` (name: its ``mcp``
        configuration); create_gateway's answer."""
        control = self.client("bedrock-agentcore-control")
        created: dict[str, Any] = control.create_gateway(
            name=f"gw-{uuid.uuid4().hex[:8]}",
            roleArn="arn:aws:iam::123456789012:role/gateway",
            protocolType="MCP",
            authorizerType=authorizer,
            **extra,
        )
        for name, configuration in (targets or {}).items():
            self.gateway_target(created["gatewayId"], name, configuration)
        return created

    def gateway_target(
        self, gateway_id: str, name: str, configuration: dict, credentials: dict | None = None
    ) -> None:
        """A target (its ``mcp`` configuration) with one credential provider configuration
        (default: the gateway's role, with no service named)."""
        self.client("bedrock-agentcore-control").create_gateway_target(
            gatewayIdentifier=gateway_id,
            name=name,
            targetConfiguration={"mcp": configuration},
            credentialProviderConfigurations=[
                credentials or {"credentialProviderType": "GATEWAY_IAM_ROLE"}
            ],
        )

    def client(self, service: str = "bedrock-agentcore", **kwargs: Any) -> Any:
        env = self.env(next(iter(self.arns)))  # the keys are the same for every runtime
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=kwargs.pop("aws_access_key_id", env["AWS_ACCESS_KEY_ID"]),
            aws_secret_access_key=kwargs.pop("aws_secret_access_key", env["AWS_SECRET_ACCESS_KEY"]),
            **kwargs,
        )

    def set_faults(self, runtime: str, **faults: Any) -> None:
        self.admin.put(f"/_emulator/runtimes/{runtime}/faults", json=faults).raise_for_status()

    def sessions(self) -> list[dict[str, Any]]:
        return self.admin.get("/_emulator/sessions").json()["sessions"]

    def arrivals(self, after: int = 0) -> list[dict[str, Any]]:
        """The invocations that reached the emulator, in order, numbered after ``after``."""
        log = self.admin.get("/_emulator/invocations").json()["arrivals"]
        return [a for a in log if a["seq"] > after]

    def last_arrival(self) -> int:
        """The number of the latest invocation, to look only at what comes next."""
        return max((a["seq"] for a in self.arrivals()), default=0)

    def stderr(self) -> str:
        return Path(self.log.name).read_text(errors="replace")


class Proxy:
    """A running ``mcp-agentcore-proxy`` process, driven line by line."""

    def __init__(self, env: dict[str, str], args: list[str] | None = None) -> None:
        self.stderr_file = tempfile.NamedTemporaryFile(prefix="proxy-", suffix=".log", delete=False)  # noqa: SIM115
        self.process = subprocess.Popen(
            [sys.executable, "-m", "mcp_agentcore_proxy", *(args or [])],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self.stderr_file,
            env=env,
        )
        self.lines: queue.Queue[bytes | None] = queue.Queue()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.put(line)
        self.lines.put(None)

    def send_call(self, id_: Any, name: str, arguments: dict[str, Any], token: Any = None) -> None:
        """Send a tools/call without waiting for its answer."""
        params: dict[str, Any] = {"name": name, "arguments": arguments}
        if token is not None:
            params["_meta"] = {"progressToken": token}
        self.send({"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": params})

    def send(self, message: dict[str, Any] | bytes) -> None:
        data = message if isinstance(message, bytes) else json.dumps(message).encode()
        assert self.process.stdin is not None
        self.process.stdin.write(data + b"\n")
        self.process.stdin.flush()

    def read(self, timeout: float = 60) -> dict[str, Any]:
        """The next line of stdout, which must be one JSON-RPC message."""
        line = self.lines.get(timeout=timeout)
        if line is None:
            raise EOFError(f"proxy stdout closed\n{self.stderr()}")
        assert line.endswith(b"\n"), line
        message = json.loads(line)
        assert isinstance(message, dict) and message.get("jsonrpc") == "2.0", line
        return message

    def read_until(
        self, predicate: Any, timeout: float = 60
    ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """Read until a message matches; return it and the messages before it."""
        before = []
        while True:
            message = self.read(timeout)
            if predicate(message):
                return message, before
            before.append(message)

    def request(
        self, id_: Any, method: str, params: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
        if params is not None:
            body["params"] = params
        self.send(body)
        return self.read_until(lambda m: m.get("id") == id_ and "method" not in m)[0]

    def initialize(self) -> dict[str, Any]:
        result = self.request(0, "initialize", INITIALIZE_PARAMS)
        self.send({"jsonrpc": "2.0", "method": "notifications/initialized"})
        return result

    def close_stdin(self) -> int:
        assert self.process.stdin is not None
        self.process.stdin.close()
        return self.process.wait(60)

    def rest(self) -> list[bytes]:
        """Every line written after stdout closed."""
        lines = []
        while (line := self.lines.get(timeout=60)) is not None:
            lines.append(line)
        return lines

    def stderr(self) -> str:
        return Path(self.stderr_file.name).read_text(errors="replace")

    def stop(self) -> None:
        if self.process.poll() is None:
            try:
                if self.process.stdin:
                    self.process.stdin.close()
                self.process.wait(30)
            except (subprocess.TimeoutExpired, BrokenPipeError):
                self.process.kill()
                self.process.wait()


def signed_request(
    emulator: Emulator,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    service: str = "bedrock-agentcore",
    region: str = "us-east-1",
    secret: str = "agentcore-emulator-local-secret-key",
    at: datetime.datetime | None = None,
) -> dict[str, Any]:
    """A SigV4-signed request, ready for ``httpx.request(**it)`` (or for tampering first).

    ``at`` signs as a client whose clock reads that time would.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=emulator.url + path, data=body, headers=headers or {})
    signer = SigV4Auth(Credentials("AKIAAGENTCOREEMULATOR", secret), service, region)
    clock = (
        nullcontext()
        if at is None
        else mock.patch("botocore.auth.get_current_datetime", lambda **_: at.replace(tzinfo=None))
    )
    with clock:
        signer.add_auth(request)
    prepared = request.prepare()
    return {
        "method": method,
        "url": prepared.url,
        "content": body,
        "headers": dict(prepared.headers),
    }


def signed_call(
    emulator: Emulator,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    **signing: Any,
) -> httpx.Response:
    """A raw SigV4-signed HTTP call, as an MCP client that signs for itself would send."""
    return httpx.request(
        **signed_request(emulator, method, path, body, headers, **signing), timeout=60
    )


WS_SESSION_HEADER = "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"


def websocket_to(emulator: Emulator, runtime: str, session: str) -> tuple[str, dict[str, str]]:
    """The URL and SigV4-signed headers of a WebSocket to ``runtime``'s ``session``."""
    from urllib.parse import quote

    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{emulator.url}/runtimes/{quote(emulator.arns[runtime], safe='')}/ws"
    request = AWSRequest(method="GET", url=url, headers={WS_SESSION_HEADER: session})
    env = emulator.env(runtime)
    credentials = Credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
    SigV4Auth(credentials, "bedrock-agentcore", "us-east-1").add_auth(request)
    return url.replace("http", "ws", 1), dict(request.headers.items())


class JsonHandler(http.server.BaseHTTPRequestHandler):
    """A stand-in for someone else's HTTP service: answers JSON, logs nothing."""

    def json_answer(self, body: dict[str, Any], status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass
