"""Instances' networks in process: what /proc says listens, what is a mistake, the fallback
to the shared network, and an isolated network's two ways in and out."""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import socket
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from agentcore_emulator import listeners, netns, networks
from agentcore_emulator.config import RuntimeSpec
from agentcore_emulator.instance_http import InstanceClient
from agentcore_emulator.listeners import Listener
from agentcore_emulator.netns import NamespaceUnavailable

SPEC = RuntimeSpec("r", "arn", "r-0123456789", ("true",), cwd=Path.cwd())


isolated = pytest.mark.skipif(netns.unavailable() is not None, reason="no network namespaces")


@pytest.fixture
def bound() -> Iterator[list[socket.socket]]:
    made = []
    for family, host in (
        (socket.AF_INET, "127.0.0.1"),
        (socket.AF_INET, "0.0.0.0"),
        (socket.AF_INET6, "::"),
    ):
        sock = socket.socket(family)
        sock.bind((host, 0))
        sock.listen()
        made.append(sock)
    yield made
    for sock in made:
        sock.close()


def _listener(sock: socket.socket) -> Listener:
    host, port = sock.getsockname()[:2]
    return Listener(host, port)


def test_proc_lists_a_namespaces_listeners_and_a_sessions_own(bound: list[socket.socket]) -> None:
    mine = {_listener(sock) for sock in bound}
    assert mine <= listeners.in_namespace_of(os.getpid())
    assert mine <= listeners.of_session(os.getsid(0))
    # Excluded by inode (the emulator's relay inside a namespace is not the instance's).
    inode = os.fstat(bound[0].fileno()).st_ino
    assert _listener(bound[0]) not in listeners.in_namespace_of(os.getpid(), {inode})
    assert listeners.of_session(2**22 + 12345) == set()  # no such session


@pytest.mark.parametrize(
    ("found", "isolated_net", "problem"),
    [
        (set(), True, None),  # a slow start, not a mistake
        ({Listener("0.0.0.0", 8000)}, True, None),
        ({Listener("::", 8000)}, True, None),
        ({Listener("127.0.0.1", 8000), Listener("0.0.0.0", 8000)}, True, None),
        (
            {Listener("127.0.0.1", 8000)},
            True,
            "listens on 127.0.0.1:8000; AgentCore reaches the container on 0.0.0.0:8000",
        ),
        ({Listener("::1", 8000)}, True, "listens on [::1]:8000;"),
        (
            {Listener("0.0.0.0", 8080)},
            True,
            "AgentCore reaches an MCP container on 0.0.0.0:8000 at /mcp",
        ),
        ({Listener("0.0.0.0", 9090), Listener("0.0.0.0", 8000)}, True, None),  # a metrics port too
        ({Listener("127.0.0.1", 8000)}, False, None),  # loopback is where shared reaches it
        (
            {Listener("0.0.0.0", 8080)},
            False,
            "not on the port the emulator gave it in $PORT (8000)",
        ),
    ],
)
def test_which_listeners_are_mistakes(
    found: set[Listener], isolated_net: bool, problem: str | None
) -> None:
    said = listeners.mistake(found, 8000, "MCP", "/mcp", isolated_net)
    if problem is None:
        assert said is None
    else:
        assert said is not None and problem in said


def test_without_namespaces_instances_share_loopback_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def refuse() -> int:
        raise NamespaceUnavailable("cannot make a network namespace: [Errno 1] not permitted")

    monkeypatch.setattr(networks, "home_namespace", refuse)
    with caplog.at_level(logging.WARNING, "agentcore_emulator.networks"):
        places = networks.Networks("isolated", "http://127.0.0.1:4321")
    assert places.mode == "shared"
    assert [r.getMessage() for r in caplog.records] == [
        'network = "isolated" needs Linux network namespaces, which cannot be made here '
        "(cannot make a network namespace: [Errno 1] not permitted): instances share this "
        'machine\'s loopback and listen on $PORT instead (network = "shared" says so and '
        "silences this warning)"
    ]
    network = asyncio.run(places.place(SPEC))
    assert (network.address, network.isolated) == ("127.0.0.1", False)
    assert network.env == {"PORT": str(network.port), "HOST": "127.0.0.1"}
    assert places.instance_emulator_url("http://127.0.0.1:4321", SPEC) == "http://127.0.0.1:4321"


def test_asking_for_the_shared_network_warns_nothing(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        assert networks.Networks("shared", "http://127.0.0.1:4321").mode == "shared"
    assert caplog.records == []


async def _emulator_side(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """The emulator, as far as a relay test needs it: it answers what it heard."""
    writer.write(b"emulator heard " + await reader.readexactly(5))
    await writer.drain()
    writer.close()


async def _said_inside(maker: Callable[[], socket.socket], port: int) -> bytes:
    """From inside a namespace, "hello" to loopback's ``port``: what came back."""
    inside = maker()
    inside.setblocking(False)
    loop = asyncio.get_running_loop()
    try:
        await loop.sock_connect(inside, ("127.0.0.1", port))
        await loop.sock_sendall(inside, b"hello")
        heard = b""
        while chunk := await loop.sock_recv(inside, 100):
            heard += chunk
        return heard
    finally:
        inside.close()


@isolated
def test_an_isolated_network_is_reached_off_loopback_and_reaches_the_emulator() -> None:
    async def scenario() -> None:
        emulator = await asyncio.start_server(_emulator_side, "127.0.0.1", 0)
        port = emulator.sockets[0].getsockname()[1]
        places = networks.Networks("isolated", f"http://127.0.0.1:{port}")
        one, two = await places.place(SPEC), await places.place(SPEC)
        servers: list[socket.socket] = []
        try:
            assert one.isolated and one.address != two.address and one.port == two.port == 8000
            assert one.env == {"PORT": "8000"}
            assert (
                places.instance_emulator_url(f"http://127.0.0.1:{port}", SPEC)
                == f"http://127.0.0.1:{port}"
            )
            maker = places.socket_for(one.address)
            assert maker is not None and places.socket_for("127.0.0.1") is None
            # Two servers in the instance's network, on one port each: loopback-bound refused.
            for host, port_ in (("127.0.0.1", 8000), ("0.0.0.0", 8001)):
                server = maker()
                servers.append(server)
                server.bind((host, port_))
                server.listen()
            client = InstanceClient(sockets=places.socket_for)
            with pytest.raises(ConnectionRefusedError):
                await client.connected_socket((one.address, 8000))
            (await client.connected_socket((one.address, 8001))).close()
            # The same port in the other network is free: nothing listens there.
            with pytest.raises(ConnectionRefusedError):
                await client.connected_socket((two.address, 8001))
            # From inside, the emulator's own address reaches the emulator (the relay).
            assert await _said_inside(maker, port) == b"emulator heard hello"
        finally:
            for server in servers:
                server.close()
            await one.close()
            await two.close()
            places.close()
            emulator.close()
        assert places.socket_for(one.address) is None and one.namespace is not None
        assert one.namespace.fd == -1

    asyncio.run(scenario())


@isolated
def test_fifty_networks_made_and_closed_leave_no_descriptor_behind() -> None:
    async def scenario() -> None:
        emulator = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
        port = emulator.sockets[0].getsockname()[1]
        places = networks.Networks("isolated", f"http://127.0.0.1:{port}")
        gc.collect()  # what earlier tests left to the collector is closed now, not mid-count
        before = len(os.listdir("/proc/self/fd"))
        for _ in range(50):
            network = await places.place(SPEC)
            await network.close()
        after = len(os.listdir("/proc/self/fd"))
        assert after == before, (before, after)
        assert places._live == {}
        places.close()
        emulator.close()

    asyncio.run(scenario())


@isolated
def test_the_relay_to_the_emulator_never_takes_the_port_an_instance_listens_on() -> None:
    # Before: with the emulator on 8080 (`serve --port 8080`), the relay took 127.0.0.1:8080
    # in every namespace, and each HTTP agent died with "Address already in use".
    async def scenario() -> None:
        emulator = await asyncio.start_server(_emulator_side, "127.0.0.1", 0)
        port = emulator.sockets[0].getsockname()[1]
        # The emulator's port is the one the instance listens on.
        places = networks.Networks("isolated", f"http://127.0.0.1:{port}")
        spec = replace(SPEC, protocol="HTTP", port=port)
        network = await places.place(spec)
        maker = places.socket_for(network.address)
        assert maker is not None
        server = maker()
        try:
            server.bind(("0.0.0.0", spec.port))  # where AgentCore's contract says it listens
            server.listen()
            inside = places.instance_emulator_url(f"http://127.0.0.1:{port}", spec)
            relay = int(inside.rsplit(":", 1)[1])
            assert relay not in {spec.port, 8000, 8080, 9000}
            assert await _said_inside(maker, relay) == b"emulator heard hello"
        finally:
            server.close()
            await network.close()
            places.close()
            emulator.close()

    asyncio.run(scenario())


@isolated
@pytest.mark.parametrize("runtime_port", [8000, 8080, 9000, 8765])
def test_an_emulator_on_a_contract_port_relays_from_another(runtime_port: int) -> None:
    for emulator_port in (8000, 8080, 9000, 8765):
        places = networks.Networks("isolated", f"http://127.0.0.1:{emulator_port}")
        relay = places.relay_port(replace(SPEC, port=runtime_port))
        assert relay not in {runtime_port, 8000, 8080, 9000}
        places.close()
