from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.harness import Emulator, Proxy

_RUNNING = pytest.StashKey[Emulator]()


@pytest.fixture(scope="session")
def emulator(request: pytest.FixtureRequest) -> Iterator[Emulator]:
    running = Emulator()
    request.config.stash[_RUNNING] = running
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(autouse=True, scope="module")
def _fresh_sessions(request: pytest.FixtureRequest) -> Iterator[None]:
    """Each test module leaves no runtime session behind (they count against the quota)."""
    yield
    running = request.config.stash.get(_RUNNING, None)
    if running is not None and running.process.poll() is None:
        running.admin.delete("/_emulator/sessions").raise_for_status()


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
