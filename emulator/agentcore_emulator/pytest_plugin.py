"""A pytest plugin: the ``agentcore_emulator`` fixture, an emulator for your tests.

    def test_my_server(agentcore_emulator):
        answer = agentcore_emulator.client().invoke_agent_runtime(
            agentRuntimeArn=agentcore_emulator.arn("my_server"), payload=b"...")

One emulator runs per config for the whole test session (per worker under pytest-xdist),
on a free port, and is put back as started before each test: no session, fault, moved
clock or invocation of another test is seen. Its config comes from the test's marker
``@pytest.mark.agentcore_config("path/to/runtimes.toml")``, else the ini option
``agentcore_emulator_config``, else the built-in example (relative paths: from the
rootdir). A test with another config gets an emulator of its own.

Registered by the ``pytest11`` entry point: installing the emulator is enough.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from agentcore_emulator.process import EmulatorProcess

MARKER = "agentcore_config"
INI_OPTION = "agentcore_emulator_config"
_RUNNING = pytest.StashKey[dict[Path | None, EmulatorProcess]]()


class UnknownRuntime(LookupError):
    """A runtime name the emulator's config does not have; ``str()`` lists those it has."""


class AgentCoreEmulator:
    """The running emulator a test gets: where it is, and what a test does with it."""

    def __init__(self, process: EmulatorProcess) -> None:
        self._process = process
        self.url = process.url

    @property
    def runtimes(self) -> list[str]:
        return list(self._process.arns)

    def arn(self, runtime: str) -> str:
        """The ARN of a runtime of the config."""
        try:
            return self._process.arns[runtime]
        except KeyError:
            raise UnknownRuntime(
                f"no runtime {runtime!r} in this emulator's config; it has: "
                f"{', '.join(self.runtimes)}"
            ) from None

    def environment(self, runtime: str | None = None) -> dict[str, str]:
        """Variables for a subprocess (the proxy, an agent): the endpoint, keys, the ARN."""
        if runtime is not None:
            self.arn(runtime)  # an unknown name is an error that lists the known ones
        return self._process.environment(runtime)

    def client(self, service_name: str = "bedrock-agentcore", **kwargs: Any) -> Any:
        """A boto3 client already pointed at the emulator, with its keys and region."""
        import boto3

        env = self._process.environment()
        options: dict[str, Any] = {
            "endpoint_url": self.url,
            "region_name": env["AWS_REGION"],
            "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
            "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        }
        return boto3.client(service_name, **{**options, **kwargs})  # type: ignore[call-overload]

    def invocations(self) -> list[dict[str, Any]]:
        """The invocations that reached it during this test, in order of arrival."""
        return list(self._admin("GET", "invocations")["arrivals"])

    def traces(self, session_id: str) -> list[dict[str, Any]]:
        """A runtime session's spans, oldest first: the instance's own (its OpenTelemetry
        exporter, pointed at the emulator) and the emulator's for each invocation."""
        return list(self._admin("GET", f"sessions/{session_id}/traces")["spans"])

    def logs(self, session_id: str) -> list[str]:
        """A runtime session's latest log lines (all of them are in CloudWatch Logs)."""
        lines = self._admin("GET", f"sessions/{session_id}/logs")["lines"]
        return [entry["line"] for entry in lines]

    def warnings(self) -> list[str]:
        """The warnings the emulator has raised (a session kept alive by /ping, ...)."""
        return [warning["message"] for warning in self._admin("GET", "state")["warnings"]]

    def faults(self, runtime: str, **faults: Any) -> None:
        """Inject faults into a runtime (``throttle_per_second``, ``fail_next``, ...)."""
        self.arn(runtime)
        self._admin("PUT", f"runtimes/{runtime}/faults", faults)

    def script_model(self, turns: list[dict[str, Any]], model: str = "*") -> None:
        """Give a model id (``"*"``: every model) the turns it answers, in order or by their
        ``when`` (see the emulator's docs: text, tool_calls, stop_reason, error, ...)."""
        self._admin("PUT", "models/script", {"model": model, "turns": turns})

    def model_calls(self) -> list[dict[str, Any]]:
        """The model calls of this test, in order: model id, operation, messages, tools,
        answer or error."""
        return list(self._admin("GET", "models/calls")["calls"])

    def model_error(self, code: str | None) -> None:
        """Make every model call answer AWS's ``code`` (``ThrottlingException``, ...) until
        called with None; a scripted turn's ``error`` fails one call instead."""
        self._admin("PUT", "bedrock/error", {"error": code})

    def api_key_provider(self, name: str, api_key: str) -> None:
        """An Identity API-key credential provider, as ``create_api_key_credential_provider``
        makes one (gone at the next reset)."""
        control = self.client("bedrock-agentcore-control")
        control.create_api_key_credential_provider(name=name, apiKey=api_key)

    def oauth2_provider(
        self,
        name: str,
        client_id: str,
        client_secret: str,
        discovery_url: str | None = None,
    ) -> None:
        """An Identity OAuth2 credential provider at ``discovery_url`` (default: the
        emulator's own identity provider), for the client-credentials and user flows."""
        url = discovery_url or f"{self.url}/_idp/.well-known/openid-configuration"
        self.client("bedrock-agentcore-control").create_oauth2_credential_provider(
            name=name,
            credentialProviderVendor="CustomOauth2",
            oauth2ProviderConfigInput={
                "customOauth2ProviderConfig": {
                    "oauthDiscovery": {"discoveryUrl": url},
                    "clientId": client_id,
                    "clientSecret": client_secret,
                }
            },
        )

    def memory(self, name: str, strategies: list[dict[str, Any]] | None = None) -> str:
        """A Memory (``create_memory``, with ``memoryStrategies`` as boto3 takes them): its id."""
        control = self.client("bedrock-agentcore-control")
        created = control.create_memory(
            name=name, eventExpiryDuration=30, memoryStrategies=strategies or []
        )
        return str(created["memory"]["id"])

    def identity_issued(self) -> list[dict[str, Any]]:
        """What Identity's token vault gave during this test: provider, flow (``API_KEY``,
        ``M2M``), workload and user, in order (never the secret)."""
        return list(self._admin("GET", "identity/issued")["issued"])

    def advance_clock(self, seconds: float) -> int:
        """Move its clock on; sessions past their idle timeout or lifetime end. How many."""
        return int(self._admin("POST", "clock/advance", {"seconds": seconds})["ended"])

    def reset(self) -> None:
        """Back to as started; done for you before each test."""
        self._admin("POST", "reset", {})

    def _admin(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        request = urllib.request.Request(  # noqa: S310 (the emulator's own URL)
            f"{self.url}/_emulator/{path}",
            method=method,
            data=None if body is None else json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=60) as answer:  # noqa: S310 (loopback)
            return json.load(answer)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini(
        INI_OPTION,
        "the runtimes file of the agentcore_emulator fixture (default: the built-in example)",
        default="",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(path): the runtimes file of this test's agentcore_emulator"
    )
    config.stash[_RUNNING] = {}


def pytest_unconfigure(config: pytest.Config) -> None:
    for process in config.stash.get(_RUNNING, {}).values():
        process.stop()


def _config_path(request: pytest.FixtureRequest) -> Path | None:
    marker = request.node.get_closest_marker(MARKER)
    raw = marker.args[0] if marker is not None and marker.args else None
    raw = raw or request.config.getini(INI_OPTION) or None
    if raw is None:
        return None
    path = Path(raw)
    return path if path.is_absolute() else request.config.rootpath / path


@pytest.fixture
def agentcore_emulator(request: pytest.FixtureRequest) -> Iterator[AgentCoreEmulator]:
    """An AgentCore emulator on a free port, as started: shared, reset before each test."""
    running = request.config.stash[_RUNNING]
    path = _config_path(request)
    process = running.get(path)
    if process is None or process.process.poll() is not None:
        process = running[path] = EmulatorProcess(path)
        emulator = AgentCoreEmulator(process)
    else:
        emulator = AgentCoreEmulator(process)
        emulator.reset()
    yield emulator
