from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from tests.harness import ROOT, Emulator, Proxy

_RUNNING = pytest.StashKey[Emulator]()

# pytester runs a user's test file against the emulator's pytest plugin.
pytest_plugins = ["pytester"]

# Which tests run on every interpreter of the matrix, decided here and nowhere else.
# Tests in these places run in process (no emulator, no proxy process, no server): what
# can differ between Pythons is here, and they take seconds. The rest start processes;
# they run once, on the coverage run, but for the few marked `all_pythons`, which prove
# the wiring on each interpreter.
_IN_PROCESS = (
    "tests/proxy/",
    "tests/wire/",
    "server/tests/",
    "tests/test_template.py",
    "tests/emulator/test_sigv4.py",
    "tests/emulator/test_session_rules.py",
    "tests/emulator/test_instance_http.py",
    "tests/emulator/test_networks.py",
    "tests/emulator/test_bearer_check.py",
    "tests/emulator/test_instance_logs.py",
    "tests/emulator/test_relay_bounds.py",
    "tests/emulator/test_bedrock_formats.py",
    "tests/emulator/test_operations.py",
    "tests/emulator/test_sandbox_kernel.py",
    "tests/emulator/test_observer.py",
    "tests/emulator/test_activity.py",
)
_PROCESS_FIXTURES = frozenset({"emulator", "proxy_factory"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        where = item.path.relative_to(ROOT).as_posix()
        in_process = where.startswith(_IN_PROCESS) and not (
            _PROCESS_FIXTURES & set(getattr(item, "fixturenames", ()))
        )
        if not in_process:
            item.add_marker(pytest.mark.e2e)


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
