"""What a starting instance listens on, read from Linux's /proc, and what is wrong with it.

The classic deploy mistakes (a server bound to 127.0.0.1, on another port than the
protocol's) look alike from outside: nothing answers. From /proc they are plain, so the
emulator can name them in seconds instead of waiting out the 60 s initialization limit.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path

_LISTEN = "0A"  # TCP state in /proc/net/tcp


@dataclass(frozen=True, order=True)
class Listener:
    """A listening TCP socket: its address and port."""

    host: str
    port: int

    @property
    def wildcard(self) -> bool:
        return self.host in ("0.0.0.0", "::")

    @property
    def loopback(self) -> bool:
        return ipaddress.ip_address(self.host).is_loopback

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _address(hex_address: str) -> str:
    packed = bytes.fromhex(hex_address)
    if len(packed) == 4:
        return socket.inet_ntop(socket.AF_INET, packed[::-1])
    # IPv6: four 32-bit words, each in the host's (little-endian) order.
    words = b"".join(packed[i : i + 4][::-1] for i in range(0, 16, 4))
    address = ipaddress.IPv6Address(words)
    return str(address.ipv4_mapped or address)


def _read_table(path: Path, inodes: set[int] | None) -> set[tuple[Listener, int]]:
    found: set[tuple[Listener, int]] = set()
    try:
        lines = path.read_text().splitlines()[1:]
    except OSError:
        return found
    for line in lines:
        fields = line.split()
        if len(fields) < 10 or fields[3] != _LISTEN:
            continue
        inode = int(fields[9])
        if inodes is not None and inode not in inodes:
            continue
        host, port = fields[1].rsplit(":", 1)
        found.add((Listener(_address(host), int(port, 16)), inode))
    return found


def in_namespace_of(pid: int, exclude: Collection[int] = ()) -> set[Listener]:
    """Every listening socket in the network namespace of process ``pid`` but ``exclude``
    (socket inodes)."""
    net = Path(f"/proc/{pid}/net")
    return {
        listener
        for table in ("tcp", "tcp6")
        for listener, inode in _read_table(net / table, None)
        if inode not in exclude
    }


def of_session(sid: int) -> set[Listener]:
    """The listening sockets held by the processes of session ``sid`` (on this machine's
    network: an instance started in a session of its own)."""
    inodes: set[int] = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
            # Fields after the command's closing parenthesis: state, ppid, pgrp, session.
            if int(stat.rsplit(")", 1)[1].split()[3]) != sid:
                continue
            for fd in os.scandir(Path(entry.path, "fd")):
                target = os.readlink(fd.path)
                if target.startswith("socket:["):
                    inodes.add(int(target[8:-1]))
        except (OSError, ValueError, IndexError):
            continue  # the process ended while read, or is not ours to read
    if not inodes:
        return set()
    return {
        listener
        for table in ("tcp", "tcp6")
        for listener, _ in _read_table(Path("/proc/net", table), inodes)
    }


def mistake(
    listeners: set[Listener], port: int, protocol: str, path: str, isolated: bool
) -> str | None:
    """What is wrong with where an instance listens, in AgentCore's words; None if nothing
    (or nothing yet: no listener at all is a slow start, not a mistake)."""
    if not listeners:
        return None
    on_port = [listener for listener in listeners if listener.port == port]
    if any(listener.wildcard or not listener.loopback for listener in on_port):
        return None
    found = ", ".join(str(listener) for listener in sorted(listeners))
    if not isolated:
        if on_port:
            return None  # loopback is where the emulator's shared network reaches it
        return (
            f"the server listens on {found}, not on the port the emulator gave it in $PORT "
            f"({port}); in the emulator's shared network each instance must listen on $PORT "
            '(network = "isolated" runs it on AgentCore\'s own port)'
        )
    if on_port:
        return (
            f"the server listens on {found}; AgentCore reaches the container on "
            f"0.0.0.0:{port} (bind to 0.0.0.0, not to loopback)"
        )
    return (
        f"the server listens on {found}; AgentCore reaches {_article(protocol)} container "
        f"on 0.0.0.0:{port} at {path}"
    )


def _article(protocol: str) -> str:
    return f"an {protocol}" if protocol[0] in "AEFHILMNORSX" else f"a {protocol}"
