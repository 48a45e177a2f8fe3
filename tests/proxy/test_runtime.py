"""The data path: when a request counts as sent, pooled connections, header checks."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import botocore.session
import pytest

from mcp_agentcore_proxy.config import ProxyConfig, RuntimeArn, SessionMode
from mcp_agentcore_proxy.data_path import AwsConnection
from mcp_agentcore_proxy.runtime import AgentCoreRuntime, InvokeHeaders, header_value
from tests.harness import INITIALIZE_PARAMS, Emulator

SESSION = "mcp-session-" + "0" * 32


def _runtime(emulator: Emulator, name: str, **config: Any) -> AgentCoreRuntime:
    env = emulator.env(name)
    cfg = ProxyConfig(
        agent_arn=RuntimeArn.parse(env["AGENTCORE_AGENT_ARN"]),
        region="us-east-1",
        session_mode=SessionMode.SESSION,
        **config,
    )

    def connect() -> AwsConnection:
        session = botocore.session.Session()
        session.set_credentials(env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"])
        client = session.create_client(
            "bedrock-agentcore", endpoint_url=emulator.url, region_name="us-east-1"
        )
        return AwsConnection(client=client, session=session)

    return AgentCoreRuntime(cfg, connect, "run aws sso login")


def _call(runtime: AgentCoreRuntime, payload: dict[str, Any], **headers: Any) -> list[Any]:
    answer = runtime.invoke(
        json.dumps(payload).encode(), InvokeHeaders(runtime_session_id=SESSION, **headers)
    )
    return [json.loads(p) for p in answer.payloads()]


def test_a_request_counts_as_sent_once_written_not_once_answered(emulator: Emulator) -> None:
    # A JSON-response server answers a tool only when it ends: 60 s here.
    runtime = _runtime(emulator, "json_server")
    init = {"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": INITIALIZE_PARAMS}
    answer = runtime.invoke(json.dumps(init).encode(), InvokeHeaders(runtime_session_id=SESSION))
    list(answer.payloads())
    session = answer.mcp_session_id
    _call(
        runtime, {"jsonrpc": "2.0", "method": "notifications/initialized"}, mcp_session_id=session
    )
    sent = threading.Event()
    held = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "tools/call",
        "params": {"name": "hold", "arguments": {"seconds": 60}},
    }
    caller = threading.Thread(
        target=lambda: runtime.invoke(
            json.dumps(held).encode(),
            InvokeHeaders(runtime_session_id=SESSION, mcp_session_id=session),
            on_sent=sent.set,
        ),
        daemon=True,
    )
    caller.start()
    assert sent.wait(20)
    assert caller.is_alive()  # sent, and still no answer
    cancel = {"jsonrpc": "2.0", "method": "notifications/cancelled", "params": {"requestId": 1}}
    _call(runtime, cancel, mcp_session_id=session)
    caller.join(20)  # the server cancels the tool and answers at last
    assert not caller.is_alive()


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class _Closes:
    """Counts how often the runtime retires its pool."""

    def __init__(self, runtime: AgentCoreRuntime) -> None:
        self.closed = 0
        path = runtime._current()[1]
        real = path.close

        def close() -> None:
            self.closed += 1
            real()

        path.close = close  # type: ignore[method-assign]


@pytest.fixture
def counted(emulator: Emulator) -> Iterator[tuple[AgentCoreRuntime, _Closes, _Clock]]:
    clock = _Clock()
    base = _runtime(emulator, "testing_server", idle_connection_timeout=4.0)
    runtime = AgentCoreRuntime(base._config, base._connect, "hint", clock=clock)
    yield runtime, _Closes(runtime), clock


def _ping(runtime: AgentCoreRuntime) -> None:
    assert _call(runtime, {"jsonrpc": "2.0", "id": 1, "method": "ping"})[0]["result"] == {}


def test_an_idle_pool_is_retired_before_a_server_can_close_it_under_us(counted) -> None:
    runtime, client, clock = counted
    _ping(runtime)
    clock.now += 1.0
    _ping(runtime)  # used a second ago: reused
    assert client.closed == 0
    clock.now += 4.0
    _ping(runtime)  # idle for the timeout: a new connection
    assert client.closed == 1


def test_the_pool_is_never_retired_under_an_answer_being_read(counted) -> None:
    runtime, client, clock = counted
    open_answer = runtime.invoke(
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode(),
        InvokeHeaders(runtime_session_id=SESSION),
    )
    clock.now += 60
    _ping(runtime)
    assert client.closed == 0
    list(open_answer.payloads())


class _CountedLock:
    """A lock that says how many threads have asked for it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._asked = threading.Condition()
        self.asks = 0

    def __enter__(self) -> None:
        with self._asked:
            self.asks += 1
            self._asked.notify_all()
        self._lock.acquire()

    def __exit__(self, *_: object) -> None:
        self._lock.release()

    def wait_for(self, asks: int) -> None:
        with self._asked:
            assert self._asked.wait_for(lambda: self.asks >= asks, timeout=30)


def test_calls_arriving_while_the_path_opens_wait_for_that_one_lookup(
    emulator: Emulator,
) -> None:
    # Opening is tens of ms of CPU (models, endpoint rules): twenty first calls at once
    # must not each spend it again.
    base = _runtime(emulator, "testing_server")
    release = threading.Event()
    lookups: list[AwsConnection] = []

    def connect() -> AwsConnection:
        release.wait(timeout=30)
        lookups.append(base._connect())
        return lookups[-1]

    runtime = AgentCoreRuntime(base._config, connect, "hint")
    opening = _CountedLock()
    runtime._opening = opening  # type: ignore[assignment]
    answered: list[object] = []

    def ping() -> None:
        _ping(runtime)
        answered.append(True)

    callers = [threading.Thread(target=ping) for _ in range(20)]
    for caller in callers:
        caller.start()
    opening.wait_for(20)  # every caller is at the door while the first one opens
    release.set()
    for caller in callers:
        caller.join(timeout=30)
    assert len(answered) == 20
    assert len(lookups) == 1


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("tools/call", True),
        ("get_weather", True),
        ("a" * 1024, True),
        ("a" * 1025, False),
        ("a" * 100_000, False),
        ("bad\x00name", False),
        ("line\r\nInjected: yes", False),
        ("naïve", False),
        (" padded ", False),
        ("", False),
        (None, False),
    ],
)
def test_derived_headers_travel_only_when_valid(value: str | None, ok: bool) -> None:
    assert (header_value(value, 1024) is not None) is ok


def test_an_invalid_name_is_omitted_and_the_request_still_goes(emulator: Emulator) -> None:
    runtime = _runtime(emulator, "testing_server")
    call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": "x" * 100_000}}
    reply = _call(runtime, call, mcp_method="tools/call\x00" * 9000, mcp_name="x" * 100_000)[0]
    assert reply["id"] == 1  # the server's own answer (an unknown tool), not a 431


def test_in_identity_mode_the_data_path_opens_while_sts_answers(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mcp_agentcore_proxy.forwarding import Forwarding
    from mcp_agentcore_proxy.identity import AwsSessionFactory

    env = emulator.env("testing_server")
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    opens: list[str] = []  # the thread of each opening of the data path
    opened = threading.Event()
    real_agentcore = AwsSessionFactory.agentcore

    def agentcore(self: AwsSessionFactory) -> AwsConnection:
        opens.append(threading.current_thread().name)
        connection = real_agentcore(self)
        opened.set()
        return connection

    monkeypatch.setattr(AwsSessionFactory, "agentcore", agentcore)
    cfg = ProxyConfig(
        agent_arn=RuntimeArn.parse(env["AGENTCORE_AGENT_ARN"]),
        region="us-east-1",
        session_mode=SessionMode.IDENTITY,
    )
    forwarding = Forwarding(cfg)  # starts the identity lookup, as the proxy does
    session_id = forwarding.session_ids.current()  # waits for STS's answer
    assert opened.wait(30)
    assert opens == ["data-path"]  # started by the lookup, beside it
    answer = forwarding.runtime.invoke(
        json.dumps({"jsonrpc": "2.0", "id": 1, "method": "ping"}).encode(),
        InvokeHeaders(runtime_session_id=session_id),
    )
    assert [json.loads(p)["result"] for p in answer.payloads()] == [{}]
    assert opens == ["data-path"]  # the first call used the path opened beside STS


def test_a_path_that_cannot_open_ahead_is_the_first_calls_error_to_report(
    emulator: Emulator,
) -> None:
    from mcp_agentcore_proxy.errors import CredentialsError

    base = _runtime(emulator, "testing_server")
    lookups: list[int] = []

    def connect() -> AwsConnection:
        lookups.append(1)
        if len(lookups) <= 2:  # until `aws sso login`, say
            raise CredentialsError("No AWS credentials found")
        return base._connect()

    runtime = AgentCoreRuntime(base._config, connect, "hint")
    runtime.prepare()  # nobody waits on it: the failure is not raised here
    with pytest.raises(CredentialsError):
        _ping(runtime)  # met again, and reported to the call that needs the path
    _ping(runtime)  # the lookup after that succeeds
    assert len(lookups) == 3
