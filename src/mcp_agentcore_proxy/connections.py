"""Kept-alive HTTP(S) connections to the AgentCore endpoint: connected by the standard
library's ``http.client`` (TCP, a proxy's tunnel, TLS), then spoken on by ``upstream_framing``:
a request's head and a small body leave in one write, and nothing is parsed twice
(measured on the data plane: 0.25 ms less a call than urllib3's pool, and 0.12 ms less
of the proxy's CPU a call than ``http.client``'s own request and answer handling).

Each connection serves one request at a time; a free one waits in a LIFO list (the most
recently used is the least likely to have been closed by the server), bounded. TLS
verifies against the CA bundle in force; an HTTPS endpoint behind an HTTP proxy is
reached through a CONNECT tunnel, a plain one through the proxy as absolute URLs.
"""

from __future__ import annotations

import base64
import http.client
import select
import socket
import ssl
import threading
from collections.abc import Mapping
from urllib.parse import unquote, urlsplit

from mcp_agentcore_proxy.answer import RuntimeAnswer
from mcp_agentcore_proxy.upstream_framing import request_head

_Connection = http.client.HTTPConnection


class EndpointConnections:
    """Connections to one endpoint URL, made as its scheme, CA bundle and proxy say."""

    def __init__(
        self,
        endpoint_url: str,
        *,
        verify: bool | str,
        proxy_url: str | None,
        connect_timeout: float,
        read_timeout: float,
        keepalive: bool,
        max_idle: int,
    ) -> None:
        parts = urlsplit(endpoint_url)
        self._https = parts.scheme == "https"
        self.host = parts.hostname or "localhost"
        self.port = parts.port or (443 if self._https else 80)
        self.base_path = parts.path.rstrip("/")
        # The Host header (botocore signs the same): the port only when not the scheme's own.
        host = f"[{self.host}]" if ":" in self.host else self.host  # IPv6 in brackets
        default_port = 443 if self._https else 80
        self.host_header = host if self.port == default_port else f"{host}:{self.port}"
        self.proxied = proxy_url is not None
        self._proxy = urlsplit(proxy_url) if proxy_url else None
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._keepalive = keepalive
        self._max_idle = max_idle
        self._context: ssl.SSLContext | None = None
        if self._https:
            self._context = ssl.create_default_context(
                cafile=verify if isinstance(verify, str) else None
            )
            if verify is False:
                self._context.check_hostname = False
                self._context.verify_mode = ssl.CERT_NONE
        self._idle: list[_Connection] = []
        self._lock = threading.Lock()

    @property
    def proxy_headers(self) -> dict[str, str]:
        """Headers each request carries for a plain HTTP proxy (a tunnel has them once)."""
        if self._proxy is None or self._https:
            return {}
        return _proxy_auth(self._proxy.username, self._proxy.password)

    def target(self, path_and_query: str) -> str:
        """The request target: the path, or the whole URL for a plain HTTP proxy."""
        path = self.base_path + path_and_query
        if self._proxy is not None and not self._https:
            return f"http://{self.host}:{self.port}{path}"
        return path

    def acquire(self) -> _Connection:
        """A free connection (connected already or not yet: see ``connect``); a kept one the
        server has closed meanwhile is let go first, as urllib3 does, so a request is never
        lost on it (and never taken for one the runtime may have run)."""
        while True:
            with self._lock:
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                return self._new()
            if conn.sock is not None and not _dropped(conn.sock):
                return conn
            conn.close()

    def _new(self) -> _Connection:
        proxy = self._proxy
        host, port = self.host, self.port
        if proxy is not None:
            host, port = proxy.hostname or "localhost", proxy.port or 80
        if not self._https:
            return http.client.HTTPConnection(host, port, timeout=self._connect_timeout)
        conn = http.client.HTTPSConnection(
            host, port, timeout=self._connect_timeout, context=self._context
        )
        if proxy is not None:
            auth = _proxy_auth(proxy.username, proxy.password)
            conn.set_tunnel(self.host, self.port, headers=auth)
        return conn

    def connect(self, conn: _Connection) -> None:
        """Connect a new connection within the connect timeout (a kept one is connected)."""
        if conn.sock is not None:
            return
        conn.connect()  # TCP, the proxy's tunnel, then TLS
        sock: socket.socket = conn.sock  # type: ignore[assignment]  # set by connect()
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self._keepalive:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
        sock.settimeout(self._read_timeout)  # from here on, each read waits this long

    def send(self, conn: _Connection, target: str, body: bytes, headers: Mapping[str, str]) -> None:
        """Write a POST on a connected connection (returns once it is all written)."""
        if not any(name.lower() == "host" for name in headers):
            headers = {"Host": self.host_header, **headers}
        # Head and body in one write: one segment for a small request, no delayed ACK.
        conn.sock.sendall(request_head(target, headers, len(body)) + body)

    def answer(self, conn: _Connection) -> RuntimeAnswer:
        """The answer to the request just sent, once its head is in; its connection comes
        back to the pool when the answer is done with, or is let go."""

        def release(reusable: bool) -> None:
            if reusable:
                self.release(conn)
            else:
                self.discard(conn)

        return RuntimeAnswer(conn.sock, release)

    def release(self, conn: _Connection) -> None:
        with self._lock:
            if len(self._idle) < self._max_idle:
                self._idle.append(conn)
                return
        conn.close()

    def discard(self, conn: _Connection) -> None:
        conn.close()

    def close(self) -> None:
        """Close the free connections; one in use closes when its answer is done with."""
        with self._lock:
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()


def _dropped(sock: socket.socket) -> bool:
    """Whether an idle connection has something to read: the server's close (or bytes
    nobody asked for), so it cannot carry the next request."""
    try:
        if hasattr(select, "poll"):  # no FD_SETSIZE limit
            poller = select.poll()
            poller.register(sock, select.POLLIN)
            return bool(poller.poll(0))
        ready, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(ready)


def _proxy_auth(user: str | None, password: str | None) -> dict[str, str]:
    if not user:
        return {}
    token = base64.b64encode(f"{unquote(user)}:{unquote(password or '')}".encode()).decode()
    return {"Proxy-Authorization": f"Basic {token}"}
