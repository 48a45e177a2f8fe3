"""Local servers (the emulator, the HTTP front end): loopback checks and listening sockets.

Both refuse requests a web page could send them (DNS rebinding, cross-site requests): a
``Host`` that is not a loopback name, an ``Origin`` that is not a loopback page.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


def is_loopback(host: str | None) -> bool:
    """Whether a host name or address is this machine's loopback."""
    if not host:
        return False
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def host_name(host_header: str) -> str | None:
    """The name in a ``Host`` header (without its port)."""
    return urlsplit(f"//{host_header}").hostname


def is_loopback_origin(origin: str) -> bool:
    """Whether an ``Origin`` is a page served from this machine."""
    parts = urlsplit(origin)
    return parts.scheme in ("http", "https") and is_loopback(parts.hostname)


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to ``host:port`` (port 0: a free one); OSError if it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY only on sockets that say so, and
    # without it every answer waits ~40 ms for a delayed ACK (Nagle).
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def base_url(sock: socket.socket, scheme: str = "http") -> str:
    """``scheme://host:port`` of a bound socket."""
    host, port = sock.getsockname()[:2]
    return f"{scheme}://{'[' + host + ']' if ':' in host else host}:{port}"
