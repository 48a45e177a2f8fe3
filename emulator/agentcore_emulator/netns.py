"""Linux network namespaces: a network of its own for each instance, as AgentCore's microVMs have.

A namespace here holds only its loopback, up, with one more address on it
(``10.255.x.y/32``): the emulator reaches the instance there, so a server bound to
127.0.0.1 refuses it as AgentCore's would be refused. Nothing is routed in or out: the
emulator opens its sockets *inside* (a thread enters the namespace, makes the socket and
leaves; a socket stays in the namespace it was made in), and the instance's child process
enters it before it runs the instance's command.

Making one needs CAP_SYS_ADMIN (root); ``NamespaceUnavailable`` says why it cannot be made.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import sys
import threading

CLONE_NEWNET = 0x40000000
_SIOCGIFFLAGS = 0x8913
_SIOCSIFFLAGS = 0x8914
_SIOCSIFADDR = 0x8916
_SIOCSIFNETMASK = 0x891C
_IFF_UP = 0x1
_IFREQ_FLAGS = "16sH14x"


class NamespaceUnavailable(Exception):
    """No network namespace can be made here; the message says why."""


def _libc_call(name: str, *args: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if getattr(libc, name)(*args) != 0:
        errno = ctypes.get_errno()
        raise OSError(errno, f"{name}: {os.strerror(errno)}")


def unshare_network() -> None:
    """Move the calling thread (or a child before exec) into a new network namespace, with
    only its loopback, down: no network at all."""
    if hasattr(os, "unshare"):  # Python 3.12+
        os.unshare(CLONE_NEWNET)
    else:
        _libc_call("unshare", CLONE_NEWNET)


def setns(fd: int) -> None:
    """Move the calling thread (or a child before exec) into the network namespace ``fd``."""
    if hasattr(os, "setns"):  # Python 3.12+
        os.setns(fd, CLONE_NEWNET)
    else:
        _libc_call("setns", fd, CLONE_NEWNET)


def _ifreq_address(name: str, address: str) -> bytes:
    sockaddr = struct.pack("HH4s8x", socket.AF_INET, 0, socket.inet_aton(address))
    return struct.pack("16s", name.encode()) + sockaddr


def _configure_loopback(address: str) -> None:
    """Bring up ``lo`` in the calling thread's namespace, with ``address``/32 beside 127.0.0.1."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        request = struct.pack(_IFREQ_FLAGS, b"lo", 0)
        flags = struct.unpack(_IFREQ_FLAGS, fcntl.ioctl(sock, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(sock, _SIOCSIFFLAGS, struct.pack(_IFREQ_FLAGS, b"lo", flags | _IFF_UP))
        fcntl.ioctl(sock, _SIOCSIFADDR, _ifreq_address("lo:1", address))
        fcntl.ioctl(sock, _SIOCSIFNETMASK, _ifreq_address("lo:1", "255.255.255.255"))


class NetworkNamespace:
    """One namespace, held open by a file descriptor until ``close``."""

    def __init__(self, fd: int, home: int, address: str) -> None:
        self.fd = fd
        self._home = home  # the namespace sockets are made from, returned to after each
        self.address = address

    @classmethod
    def create(cls, home: int, address: str) -> NetworkNamespace:
        """A new namespace whose loopback also answers at ``address``.

        Made in a thread of its own that ends afterwards, so no thread of the emulator
        is ever left inside it, whatever fails.
        """
        made: list[int] = []
        failure: list[BaseException] = []

        def make() -> None:
            try:
                unshare_network()
                fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
                made.append(fd)
                _configure_loopback(address)
            except BaseException as exc:  # reported to the caller below
                failure.append(exc)

        thread = threading.Thread(target=make, name="netns-create", daemon=True)
        thread.start()
        thread.join()
        if failure:
            for fd in made:
                os.close(fd)
            raise NamespaceUnavailable(f"cannot make a network namespace: {failure[0]}")
        return cls(made[0], home, address)

    def socket(
        self,
        family: int = socket.AF_INET,
        kind: int = socket.SOCK_STREAM,
        proto: int = socket.IPPROTO_TCP,
    ) -> socket.socket:
        """A socket inside this namespace (the calling thread enters and leaves it)."""
        setns(self.fd)
        try:
            return socket.socket(family, kind, proto)
        finally:
            try:
                setns(self._home)
            except OSError:  # pragma: no cover - entering the host's own namespace cannot fail
                # The thread would go on inside the instance's network: nothing it did
                # after could be trusted.
                os.abort()

    def enter(self) -> None:
        """For a child process between fork and exec: run inside this namespace."""
        setns(self.fd)

    def close(self) -> None:
        """Let the namespace go (it ends once no process or socket is left in it)."""
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def home_namespace() -> int:
    """A descriptor of the calling thread's network namespace; NamespaceUnavailable if none
    can be made here (not Linux, or no CAP_SYS_ADMIN)."""
    if not sys.platform.startswith("linux"):
        raise NamespaceUnavailable(f"network namespaces are Linux's ({sys.platform} has none)")
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        probe = NetworkNamespace.create(home, "10.255.255.254")
    except NamespaceUnavailable:
        os.close(home)
        raise
    probe.close()
    return home


def unavailable() -> str | None:
    """Why no network namespace can be made here; None if one can."""
    try:
        os.close(home_namespace())
    except (NamespaceUnavailable, OSError) as exc:
        return str(exc)
    return None
