"""Corporate networks: the emulator over TLS with a CA made here, behind a CONNECT proxy."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import trustme

from tests.harness import INITIALIZE_PARAMS, Emulator, Proxy
from tests.tunnel import ConnectProxy, ForwardProxy


@pytest.fixture(scope="module")
def company_ca(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Emulator]]:
    """A CA of 'the company', and the emulator serving HTTPS with a certificate it issued."""
    folder = tmp_path_factory.mktemp("tls")
    ca = trustme.CA()
    ca_file, chain, key = folder / "ca.pem", folder / "chain.pem", folder / "key.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    issued = ca.issue_cert("127.0.0.1", "localhost")
    issued.private_key_pem.write_to_path(str(key))
    for blob in issued.cert_chain_pems:
        blob.write_to_path(str(chain), append=True)
    context = ssl.create_default_context(cafile=str(ca_file))
    emulator = Emulator(args=["--tls-cert", str(chain), "--tls-key", str(key)], ssl_context=context)
    yield ca_file, emulator
    emulator.stop()


@pytest.fixture
def tunnel() -> Iterator[ConnectProxy]:
    proxy = ConnectProxy()
    yield proxy
    proxy.close()


def _env(emulator: Emulator, **extra: str) -> dict[str, str]:
    return {**emulator.env("testing_server"), **extra}


def test_through_a_connect_proxy_to_tls_with_the_companys_ca(
    company_ca: tuple[Path, Emulator], tunnel: ConnectProxy
) -> None:
    ca_file, emulator = company_ca
    assert emulator.url.startswith("https://")
    # identity mode: STS is called too, through the same proxy and CA.
    proxy = Proxy(_env(emulator, AWS_CA_BUNDLE=str(ca_file), HTTPS_PROXY=tunnel.url))
    try:
        proxy.initialize()
        answer = proxy.request(1, "tools/call", {"name": "echo_size", "arguments": {"text": "x"}})
        assert answer["result"]["structuredContent"]["result"] == 1
    finally:
        proxy.stop()
    assert tunnel.tunnels and set(tunnel.tunnels) == {urlsplit(emulator.url).netloc}


def test_no_proxy_goes_direct(company_ca: tuple[Path, Emulator], tunnel: ConnectProxy) -> None:
    ca_file, emulator = company_ca
    env = _env(
        emulator,
        AWS_CA_BUNDLE=str(ca_file),
        HTTPS_PROXY=tunnel.url,
        NO_PROXY="127.0.0.1",
        RUNTIME_SESSION_MODE="session",
    )
    proxy = Proxy(env)
    try:
        assert "result" in proxy.initialize()
    finally:
        proxy.stop()
    assert tunnel.tunnels == []


def test_the_wrong_ca_is_a_clear_error_naming_aws_ca_bundle(
    company_ca: tuple[Path, Emulator],
) -> None:
    _, emulator = company_ca
    proxy = Proxy(_env(emulator, RUNTIME_SESSION_MODE="session", AGENTCORE_MAX_ATTEMPTS="3"))
    try:
        error = proxy.request(0, "initialize", INITIALIZE_PARAMS)["error"]
        assert error["code"] == -32003
        assert "certificate verification failed" in error["message"]
        assert "AWS_CA_BUNDLE" in error["message"]
        assert "error" in proxy.request(1, "ping")  # and it keeps serving
    finally:
        proxy.stop()
    assert proxy.process.returncode == 0


def test_a_plain_endpoint_through_a_plain_http_proxy_with_its_credentials(
    emulator: Emulator,
) -> None:
    """HTTP_PROXY for an http:// endpoint: requests in absolute form, with the proxy's
    credentials (from the URL) on each, never signed."""
    forward = ForwardProxy()
    host = forward.url.removeprefix("http://")
    try:
        env = _env(
            emulator, HTTP_PROXY=f"http://user:p%40ss@{host}", RUNTIME_SESSION_MODE="session"
        )
        env.pop("NO_PROXY", None)
        env.pop("no_proxy", None)
        proxy = Proxy(env)
        try:
            assert "result" in proxy.request(1, "tools/list")
            assert "result" in proxy.request(2, "tools/list")
        finally:
            proxy.stop()
    finally:
        forward.close()
    invokes = [r for r in forward.requests if "/invocations" in r[0]]
    assert len(invokes) >= 2
    assert all(line.startswith(f"POST {emulator.url}/runtimes/") for line, _ in invokes)
    assert {auth for _, auth in invokes} == {"Basic dXNlcjpwQHNz"}  # user:p@ss
