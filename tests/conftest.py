from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.harness import Emulator, Proxy


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    running = Emulator()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture
def proxy_factory(emulator: Emulator) -> Iterator[Callable[..., Proxy]]:
    """Start proxies against the emulator; every one is stopped after the test."""
    started: list[Proxy] = []

    def start(runtime: str = "demo_server", args: list[str] | None = None, **env: str) -> Proxy:
        proxy = Proxy({**emulator.env(runtime), **env}, args)
        started.append(proxy)
        return proxy

    yield start
    for proxy in started:
        proxy.stop()


@pytest.fixture
def proxy(proxy_factory: Callable[..., Proxy]) -> Proxy:
    return proxy_factory()


@pytest.fixture
def faults(emulator: Emulator) -> Iterator[Callable[..., None]]:
    """Inject faults into faulty_server; they are cleared after the test."""

    def inject(**settings: object) -> None:
        emulator.set_faults("faulty_server", **settings)

    yield inject
    emulator.set_faults("faulty_server")
