"""Session lifecycle at the model level, and the emulator's own shutdown."""

from __future__ import annotations

import os
import signal
import uuid

import anyio
import httpx
import pytest

from agentcore_emulator.config import load_config
from agentcore_emulator.sessions import SessionRegistry
from mcp_agentcore_proxy.aws_errors import ServiceQuotaExceededException
from tests.harness import TEST_CONFIG, Emulator, isolated_aws_env


def test_sessions_past_the_quota_are_refused_until_one_ends() -> None:
    spec = next(s for s in load_config(TEST_CONFIG).runtimes if s.name == "http_agent")

    async def scenario() -> None:
        async with httpx.AsyncClient() as client:
            registry = SessionRegistry(client, lambda spec, sid: isolated_aws_env(), max_sessions=1)
            try:
                first = await registry.acquire(spec, "a" * 40)
                with pytest.raises(ServiceQuotaExceededException):
                    await registry.acquire(spec, "b" * 40)
                assert await registry.acquire(spec, "a" * 40) is first  # its own session is fine
                await registry.stop(spec, "a" * 40)
                assert (await registry.acquire(spec, "b" * 40)).instance.alive
            finally:
                await registry.stop_all()

    anyio.run(scenario)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_stopping_the_emulator_stops_every_instance() -> None:
    emulator = Emulator()
    try:
        for _ in range(2):
            emulator.client().invoke_agent_runtime(
                agentRuntimeArn=emulator.arns["http_agent"],
                payload=b"{}",
                runtimeSessionId=f"shutdown-{uuid.uuid4()}",
            )
        pids = [s["pid"] for s in emulator.sessions()]
        assert len(pids) == 2 and all(_alive(pid) for pid in pids)
    finally:
        emulator.stop()
    # uvicorn shuts down gracefully, then re-raises SIGTERM so the exit status tells why.
    assert emulator.process.returncode == -signal.SIGTERM
    assert not any(_alive(pid) for pid in pids)
