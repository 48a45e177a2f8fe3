"""A session's own rules, and the registry's decisions, in process: its calls, its last
use, its Mcp-Session-Id; which session a call goes to, a dead instance, a container's
failure."""

from __future__ import annotations

import asyncio
from typing import Any, cast

import pytest

from agentcore_emulator.config import RuntimeSpec, load_config
from agentcore_emulator.exceptions import RuntimeClientError
from agentcore_emulator.sessions import (
    InstanceExited,
    RuntimeSession,
    SessionRegistry,
    container_error,
)
from tests.harness import TEST_CONFIG

SPEC = next(s for s in load_config(TEST_CONFIG).runtimes if s.name == "demo_server")


def _session() -> RuntimeSession:
    instance = cast(Any, object())  # the rules never touch the instance
    return RuntimeSession(SPEC, "s" * 40, instance, created_at=0.0, last_used=0.0)


def test_a_session_in_a_call_never_idles_out_and_idles_from_its_last_call() -> None:
    session = _session()
    session.call_started()
    assert session.expired(now=SPEC.idle_timeout * 2) is None
    session.call_ended(now=100.0)
    assert session.expired(now=100.0 + SPEC.idle_timeout - 1) is None
    assert session.expired(now=100.0 + SPEC.idle_timeout) == "idle timeout"


def test_a_stateless_server_gets_one_minted_id_kept_for_the_session() -> None:
    session = _session()
    assert session.mcp_session_for_instance(None) is None
    minted = session.mcp_session_for_caller(caller=None, server=None)
    assert minted
    assert session.mcp_session_for_instance(None) == minted
    assert session.mcp_session_for_caller(caller="other", server=None) == minted
    assert not session.stateful


def test_a_stateless_server_keeps_the_callers_first_id() -> None:
    session = _session()
    assert session.mcp_session_for_caller(caller="mine", server=None) == "mine"
    assert session.mcp_session_for_instance(None) == "mine"


def test_a_stateful_servers_ids_rule_and_the_caller_speaks_for_itself() -> None:
    session = _session()
    assert session.mcp_session_for_caller(caller=None, server="srv-1") == "srv-1"
    assert session.stateful
    assert session.mcp_session_for_instance("srv-1") == "srv-1"
    assert session.mcp_session_for_instance(None) is None  # no id: the server decides
    assert session.mcp_session_for_caller(caller="srv-1", server=None) == "srv-1"


# -- the registry's decisions, with instances that are plain objects ---------------------

RUNTIMES = {s.name: s for s in load_config(TEST_CONFIG).runtimes}


class FakeInstance:
    """An instance that lives until the test says it died."""

    def __init__(self, number: int) -> None:
        self.number = number
        self.alive = True
        self.answer: object = None  # what its /ping says

    async def ping(self) -> object:
        return self.answer

    async def exited(self, within: float) -> bool:
        return not self.alive

    async def stop(self) -> None:
        self.alive = False


class Registry(SessionRegistry):
    """The real registry, starting fake instances instead of processes."""

    def __init__(self) -> None:
        super().__init__(lambda spec, session: {}, max_sessions=10, client=cast(Any, None))
        self.instances: list[FakeInstance] = []

    async def _start(self, spec: RuntimeSpec, session_id: str) -> RuntimeSession:
        instance = FakeInstance(len(self.instances))
        self.instances.append(instance)
        now = self.clock()
        session = RuntimeSession(spec, session_id, cast(Any, instance), now, now)
        self._sessions[(spec.name, session_id)] = session
        return session


def test_a_call_goes_to_the_session_it_names_else_the_one_of_its_mcp_session() -> None:
    async def scenario() -> None:
        registry = Registry()
        owner = await registry.acquire(SPEC, "named-" + "s" * 40)
        owner.mcp_session_for_caller(caller=None, server="mcp-1")
        assert registry.session_id_for_call(SPEC, "other-" + "s" * 40, "mcp-1").startswith("other")
        assert registry.session_id_for_call(SPEC, None, "mcp-1") == owner.session_id
        fresh = registry.session_id_for_call(SPEC, None, "unknown")
        assert fresh != owner.session_id and registry.session_id_for_call(SPEC, None, None)
        other_runtime = RUNTIMES["testing_server"]
        assert registry.session_id_for_call(other_runtime, None, "mcp-1") != owner.session_id

    asyncio.run(scenario())


def test_an_instance_found_dead_is_replaced_once_and_a_second_is_the_containers_424() -> None:
    async def scenario() -> None:
        registry = Registry()
        tried: list[int] = []

        async def dies_first(session: RuntimeSession) -> str:
            instance = cast(FakeInstance, session.instance)
            tried.append(instance.number)
            if instance.number == 0:
                instance.alive = False
                raise InstanceExited(session.session_id)
            return "answered"

        assert await registry.call(SPEC, "s" * 40, dies_first) == "answered"
        assert tried == [0, 1]  # the call went to the replacement

        async def always_dies(session: RuntimeSession) -> str:
            cast(FakeInstance, session.instance).alive = False
            raise InstanceExited(session.session_id)

        with pytest.raises(RuntimeClientError, match=r"Received error \(502\) from runtime"):
            await registry.call(SPEC, "t" * 40, always_dies)
        assert len(registry.instances) == 4  # 2 for the first call, 2 for the second

    asyncio.run(scenario())


def test_a_containers_failure_is_a_424_or_in_band_as_the_runtime_is_set() -> None:
    failure = RuntimeClientError.from_container(404)
    assert container_error(SPEC, failure) is None  # AgentCore's 424, raised as it is
    in_band = container_error(RUNTIMES["stateful_jsonrpc_errors"], failure)
    assert in_band == {
        "jsonrpc": "2.0",
        "id": None,
        "error": {"code": -32010, "message": failure.message},
    }


# -- /ping, as AgentCore reads it (HTTP and AG-UI runtimes) ------------------------------

HTTP_SPEC = RUNTIMES["http_agent"]
WALL = 1_800_000_000.0  # the epoch time the test's session clock reads 0 at


def _http_session() -> RuntimeSession:
    return RuntimeSession(HTTP_SPEC, "h" * 40, cast(Any, object()), created_at=0.0, last_used=0.0)


def test_a_busy_instance_never_idles_out_and_idles_from_its_last_status_change() -> None:
    session = _http_session()
    idle = HTTP_SPEC.idle_timeout
    # Background work began at 100 s: HealthyBusy, stamped then.
    session.observe_ping(
        {"status": "HealthyBusy", "time_of_last_update": WALL + 100}, 150, WALL + 150
    )
    assert session.expired(now=idle * 3) is None  # busy: never idle
    # Done at 2000 s: Healthy, stamped then; the session idles from there, not from 0.
    session.observe_ping(
        {"status": "Healthy", "time_of_last_update": WALL + 2000}, 2001, WALL + 2001
    )
    assert session.expired(now=2000 + idle - 1) is None
    assert session.expired(now=2000 + idle) == "idle timeout"


def test_a_healthy_instance_with_an_old_stamp_idles_from_its_last_call() -> None:
    session = _http_session()
    session.call_started()
    session.call_ended(now=500.0)
    session.observe_ping({"status": "Healthy", "time_of_last_update": WALL + 1}, 600, WALL + 600)
    assert session.expired(now=500 + HTTP_SPEC.idle_timeout) == "idle timeout"


def test_a_ping_without_a_stamp_counts_from_when_its_status_changed() -> None:
    session = _http_session()
    session.observe_ping({"status": "HealthyBusy"}, 10, WALL + 10)
    session.observe_ping({"status": "Healthy"}, 700, WALL + 700)
    session.observe_ping({"status": "Healthy"}, 800, WALL + 800)  # no change: not restamped
    assert session.expired(now=700 + HTTP_SPEC.idle_timeout) == "idle timeout"
    session.observe_ping({"status": "Broken"}, 900, WALL + 900)  # not a status: ignored
    assert session.ping_status == "Healthy"


def test_the_registry_polls_http_instances_only_and_the_reaper_spares_the_busy() -> None:
    async def scenario() -> None:
        registry = Registry()
        http = await registry.acquire(HTTP_SPEC, "h" * 40)
        mcp = await registry.acquire(SPEC, "m" * 40)
        cast(FakeInstance, http.instance).answer = {"status": "HealthyBusy"}
        await registry.ping()
        assert http.ping_status == "HealthyBusy" and mcp.ping_status is None
        registry.clock.advance(HTTP_SPEC.idle_timeout * 2)
        assert await registry.reap() == 1  # the MCP session idled out; the busy one stays
        assert [s.session_id for s in registry] == ["h" * 40]

    asyncio.run(scenario())


def test_a_session_whose_instance_exited_is_ended_by_the_next_reap() -> None:
    async def scenario() -> None:
        registry = Registry()
        dead = await registry.acquire(SPEC, "d" * 40)
        await registry.acquire(SPEC, "l" * 40)
        cast(FakeInstance, dead.instance).alive = False  # its process exited, nobody called
        # Before: held (its slot under max_sessions, its network) until a call or idle.
        assert await registry.reap() == 1
        assert [s.session_id for s in registry] == ["l" * 40]

    asyncio.run(scenario())


def test_a_busy_session_whose_ping_stops_answering_idles_out() -> None:
    async def scenario() -> None:
        registry = Registry()
        http = await registry.acquire(HTTP_SPEC, "h" * 40)
        instance = cast(FakeInstance, http.instance)
        instance.answer = {"status": "HealthyBusy"}
        await registry.ping()
        assert http.ping_status == "HealthyBusy"
        instance.answer = None  # /ping hangs past its probe timeout, or fails
        await registry.ping()
        # Before: counted HealthyBusy for ever from its last answer, never idle.
        assert http.ping_status is None
        registry.clock.advance(HTTP_SPEC.idle_timeout)
        assert await registry.reap() == 1

    asyncio.run(scenario())
