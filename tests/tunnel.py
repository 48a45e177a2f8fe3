"""An HTTP CONNECT proxy on loopback, as corporate networks put between a client and AWS."""

from __future__ import annotations

import contextlib
import socket
import threading


class _LoopbackProxy:
    """A proxy on a free loopback port: each client connection served on a thread."""

    def __init__(self) -> None:
        self._server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._server.getsockname()[1]}"
        self._lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client: socket.socket) -> None:
        raise NotImplementedError

    def close(self) -> None:
        self._server.close()


class ConnectProxy(_LoopbackProxy):
    """Opens a tunnel for each CONNECT and records its target; refuses anything else."""

    def __init__(self) -> None:
        self.tunnels: list[str] = []
        self._sockets: list[socket.socket] = []
        super().__init__()

    def _serve(self, client: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = client.recv(4096)
            if not chunk:
                client.close()
                return
            head += chunk
        method, target = head.split(b" ", 2)[:2]
        if method != b"CONNECT":
            client.sendall(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n")
            client.close()
            return
        host, _, port = target.decode().rpartition(":")
        upstream = socket.create_connection((host, int(port)))
        with self._lock:
            self.tunnels.append(target.decode())
            self._sockets += [client, upstream]
        client.sendall(b"HTTP/1.1 200 Connection established\r\n\r\n")
        threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
        _pipe(client, upstream)

    def close(self) -> None:
        super().close()
        with self._lock:
            for sock in self._sockets:
                with contextlib.suppress(OSError):
                    sock.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


class ForwardProxy(_LoopbackProxy):
    """A plain HTTP proxy: takes absolute-form requests (``POST http://host:port/path``),
    one connection upstream per client connection; records each request line and the
    Proxy-Authorization it was given."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str | None]] = []
        super().__init__()

    def _serve(self, client: socket.socket) -> None:
        reader = client.makefile("rb")
        upstream: socket.socket | None = None
        with contextlib.suppress(OSError), client:
            while line := reader.readline():
                method, target, version = line.decode().split()
                rest = target.split("://", 1)[1]
                hostport, _, path = rest.partition("/")
                head = [f"{method} /{path} {version}\r\n".encode()]
                auth, length = None, 0
                while (header := reader.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode().partition(":")
                    if name.lower() == "proxy-authorization":
                        auth = value.strip()
                        continue
                    length = int(value) if name.lower() == "content-length" else length
                    head.append(header)
                with self._lock:
                    self.requests.append((f"{method} {target}", auth))
                if upstream is None:
                    host, _, port = hostport.rpartition(":")
                    upstream = socket.create_connection((host, int(port)))
                    threading.Thread(target=_pipe, args=(upstream, client), daemon=True).start()
                upstream.sendall(b"".join(head) + b"\r\n" + reader.read(length))
