"""Where an instance listens, and how the emulator and the instance reach each other.

``isolated`` (the default): each instance in a network namespace of its own (``netns``),
listening where AgentCore's container contract says (MCP on 0.0.0.0:8000, HTTP and AG-UI
on 8080, A2A on 9000, or the runtime's ``port``), so code written for AgentCore runs
unchanged and many sessions of one runtime use the same port side by side. Inside, the
emulator's own address (``AWS_ENDPOINT_URL``...) is served by a relay to the emulator.

``shared``: today's loopback, each instance on a free port it is told in ``$PORT``; the
fallback where no namespace can be made (not Linux, not root), with one warning.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import logging
import os
import socket
from collections.abc import Callable
from urllib.parse import urlsplit, urlunsplit

from agentcore_emulator.config import RuntimeSpec
from agentcore_emulator.netns import NamespaceUnavailable, NetworkNamespace, home_namespace

logger = logging.getLogger(__name__)

# Instances' addresses, one per live namespace, on that namespace's loopback.
_ADDRESSES = ipaddress.ip_network("10.255.0.0/16")
_RELAY_CHUNK = 65536
# Ports an instance may listen on by AgentCore's container contract (MCP, HTTP and AG-UI,
# A2A): the relay to the emulator never takes one of them inside a namespace.
_CONTRACT_PORTS = frozenset({8000, 8080, 9000})
_RELAY_PORTS = (8765, 18765, 28765)  # where the relay goes when the emulator's port is taken


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class InstanceNetwork:
    """One instance's place: the address and port the emulator reaches it at, what its
    process is told, and (isolated) the namespace it runs in."""

    def __init__(
        self,
        address: str,
        port: int,
        env: dict[str, str],
        namespace: NetworkNamespace | None = None,
        on_close: Callable[[InstanceNetwork], None] | None = None,
    ) -> None:
        self.address = address
        self.port = port
        self.env = env
        self.namespace = namespace
        # Sockets of the emulator's own inside the namespace (its relay's): not the instance's.
        self.own_sockets: set[int] = set()
        self._relay: asyncio.Server | None = None
        self._piping: set[asyncio.Task[None]] = set()
        self._on_close = on_close

    @property
    def isolated(self) -> bool:
        return self.namespace is not None

    @property
    def url(self) -> str:
        return f"http://{self.address}:{self.port}"

    def enter(self) -> None:
        """For the instance's process (and a command's) before exec: into its network."""
        if self.namespace is not None:
            self.namespace.enter()

    async def relay_to(self, listen: tuple[str, int], target: tuple[str, int]) -> None:
        """Inside the namespace, serve ``listen`` by passing each connection to ``target``
        (the emulator) byte for byte: the instance reaches the emulator at the URL it is given."""
        assert self.namespace is not None
        family = socket.AF_INET6 if ":" in listen[0] else socket.AF_INET
        sock = self.namespace.socket(family)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(listen)
            sock.listen(128)
            sock.setblocking(False)
        except OSError:
            sock.close()
            raise
        self.own_sockets.add(os.fstat(sock.fileno()).st_ino)

        async def accepted(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            task = asyncio.current_task()
            assert task is not None
            self._piping.add(task)
            try:
                try:
                    up_reader, up_writer = await asyncio.open_connection(*target)
                except OSError:
                    return
                await asyncio.gather(_pipe(reader, up_writer), _pipe(up_reader, writer))
            finally:
                writer.close()
                self._piping.discard(task)

        self._relay = await asyncio.start_server(accepted, sock=sock, limit=_RELAY_CHUNK)

    async def close(self) -> None:
        """The instance has ended: its network goes (at once: nothing waits on the instance)."""
        if self._on_close is not None:
            self._on_close(self)
            self._on_close = None
        if self._relay is not None:
            self._relay.close()
            for task in list(self._piping):
                task.cancel()
            await asyncio.gather(*self._piping, return_exceptions=True)
            self._relay = None
        if self.namespace is not None:
            self.namespace.close()


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy until end of stream, then pass the end on (a half-close, as TCP allows)."""
    try:
        while data := await reader.read(_RELAY_CHUNK):
            writer.write(data)
            await writer.drain()  # bounded: a side that reads nothing stops the copy
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()


class Networks:
    """Places each instance (isolated or shared, see the module); owned by the emulator."""

    def __init__(self, mode: str, emulator_url: str) -> None:
        self.requested = mode
        self._home: int | None = None
        self.fallback_reason: str | None = None
        if mode == "isolated":
            try:
                self._home = home_namespace()
            except (NamespaceUnavailable, OSError) as exc:
                self.fallback_reason = str(exc)
                logger.warning(
                    'network = "isolated" needs Linux network namespaces, which cannot be '
                    "made here (%s): instances share this machine's loopback and listen on "
                    '$PORT instead (network = "shared" says so and silences this warning)',
                    exc,
                )
        self._emulator = urlsplit(emulator_url)
        self._live: dict[str, InstanceNetwork] = {}
        self._next_address = 2

    @property
    def mode(self) -> str:
        """The mode in force: ``isolated`` only if namespaces can be made here."""
        return "isolated" if self._home is not None else "shared"

    def instance_emulator_url(self, url: str, spec: RuntimeSpec) -> str:
        """``url`` (of the emulator) as an isolated instance of ``spec`` reaches it: on its
        own loopback, where the relay listens (unchanged in shared mode)."""
        parts = urlsplit(url)
        if self._home is None or parts.port is None:
            return url
        host = "[::1]" if ":" in (parts.hostname or "") else "127.0.0.1"
        if parts.hostname == "localhost":
            host = "localhost"
        return urlunsplit(parts._replace(netloc=f"{host}:{self.relay_port(spec)}"))

    def relay_port(self, spec: RuntimeSpec) -> int:
        """Where the relay to the emulator listens inside an instance's namespace: the
        emulator's own port, unless the instance may want it (its runtime's port, or one of
        the contract's: an emulator on 8080 would take an HTTP agent's port)."""
        taken = _CONTRACT_PORTS | {spec.port}
        port = self._emulator.port or 80
        if port not in taken:
            return port
        return next(p for p in _RELAY_PORTS if p not in taken)

    async def place(self, spec: RuntimeSpec) -> InstanceNetwork:
        """A network for a new instance of ``spec``."""
        if self._home is None:
            port = free_port()
            # Code that reads them binds where the emulator reaches it; code that binds
            # 0.0.0.0 is reached too.
            return InstanceNetwork("127.0.0.1", port, {"PORT": str(port), "HOST": "127.0.0.1"})
        address = self._free_address()
        namespace = NetworkNamespace.create(self._home, address)
        # AgentCore gives no HOST; PORT is set (to the contract's port) for code that reads it.
        network = InstanceNetwork(
            address, spec.port, {"PORT": str(spec.port)}, namespace, self._forget
        )
        self._live[address] = network
        try:
            await network.relay_to(*self._relay_ends(spec))
        except BaseException:
            await network.close()
            raise
        return network

    def _relay_ends(self, spec: RuntimeSpec) -> tuple[tuple[str, int], tuple[str, int]]:
        host, port = self._emulator.hostname or "127.0.0.1", self._emulator.port or 80
        listen = "::1" if ":" in host else "127.0.0.1"
        return (listen, self.relay_port(spec)), (host, port)

    def _forget(self, network: InstanceNetwork) -> None:
        if self._live.get(network.address) is network:
            del self._live[network.address]

    def socket_for(self, host: str) -> Callable[[], socket.socket] | None:
        """How to make a socket that reaches ``host`` (an instance's network), or None if
        an ordinary socket does."""
        network = self._live.get(host)
        if network is None or network.namespace is None:
            return None
        return network.namespace.socket

    def _free_address(self) -> str:
        size = _ADDRESSES.num_addresses - 3  # .0.0, .0.1 and the broadcast address kept out
        for _ in range(size):
            candidate = str(_ADDRESSES[self._next_address])
            self._next_address = 2 + (self._next_address - 1) % size
            if candidate not in self._live:
                return candidate
        raise NamespaceUnavailable("every instance address is in use")

    def close(self) -> None:
        if self._home is not None:
            with contextlib.suppress(OSError):
                os.close(self._home)
            self._home = None
