"""The proxy's own connections: kept alive, let go when the server closed one meanwhile,
and given back only when an answer ended as it said it would."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import botocore.auth
import pytest

from mcp_agentcore_proxy.connections import EndpointConnections


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive unless told otherwise
    close_after = False

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b'{"ok": true}'
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        # The server closes the connection without saying so (a keep-alive timeout, say).
        self.close_connection = type(self).close_after

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[http.server.ThreadingHTTPServer, list[int]]]:
    connections: list[int] = []

    class Counting(_Handler):
        def setup(self) -> None:
            connections.append(1)
            super().setup()

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield httpd, connections
    httpd.shutdown()
    httpd.server_close()


def _pool(httpd: http.server.ThreadingHTTPServer) -> EndpointConnections:
    host, port = httpd.server_address[:2]
    return _connections(f"http://{host}:{port}")


def _connections(endpoint: str) -> EndpointConnections:
    return EndpointConnections(
        endpoint,
        verify=True,
        proxy_url=None,
        connect_timeout=5,
        read_timeout=5,
        keepalive=False,
        max_idle=4,
    )


def _post(pool: EndpointConnections, read_to_end: bool = True) -> bytes:
    conn = pool.acquire()
    pool.connect(conn)
    pool.send(conn, "/x", b"{}", {"Content-Type": "application/json"})
    answer = pool.answer(conn)
    if not read_to_end:
        answer.close()
        return b""
    return b"".join(answer.payloads())


def test_a_connection_is_kept_and_reused(server) -> None:
    httpd, connections = server
    pool = _pool(httpd)
    assert _post(pool) == _post(pool) == b'{"ok": true}'
    assert len(connections) == 1


def test_a_kept_connection_the_server_closed_is_let_go_and_the_request_goes_on_a_new_one(
    server,
) -> None:
    httpd, connections = server
    httpd.RequestHandlerClass.close_after = True  # type: ignore[attr-defined]
    pool = _pool(httpd)
    assert _post(pool) == b'{"ok": true}'
    # The server has closed it; the pool still holds it. Wait until the close is visible.
    conn = pool._idle[-1]
    import select

    assert select.select([conn.sock], [], [], 5)[0]
    assert _post(pool) == b'{"ok": true}'  # not "Remote end closed connection"
    assert len(connections) == 2


def test_an_answer_abandoned_midway_takes_its_connection_with_it(server) -> None:
    httpd, connections = server
    pool = _pool(httpd)
    _post(pool, read_to_end=False)
    assert pool._idle == []
    assert _post(pool) == b'{"ok": true}'
    assert len(connections) == 2


@pytest.mark.parametrize(
    ("endpoint", "host"),
    [
        (
            "https://bedrock-agentcore.us-east-1.amazonaws.com",
            "bedrock-agentcore.us-east-1.amazonaws.com",
        ),
        ("https://example.com:443", "example.com"),
        ("http://127.0.0.1:8080", "127.0.0.1:8080"),
        ("http://[::1]:8080", "[::1]:8080"),
        ("https://[fd00::1]", "[fd00::1]"),
    ],
)
def test_the_host_header_is_the_one_botocore_signs(endpoint: str, host: str) -> None:
    pool = _connections(endpoint)
    assert pool.host_header == host == botocore.auth._host_from_url(endpoint + "/x")
