"""Faults and load through proxy and emulator: nothing lost, nothing answered or run twice."""

from __future__ import annotations

import itertools
from pathlib import Path

from tests.harness import Emulator, Proxy


def _count(proxy: Proxy, id_: object, key: str) -> dict:
    return proxy.request(id_, "tools/call", {"name": "count_call", "arguments": {"key": key}})


def test_5xx_before_any_output_is_retried_and_the_tool_runs_once(proxy_factory, faults) -> None:
    proxy: Proxy = proxy_factory("faulty_server", RUNTIME_SESSION_MODE="session", LOG_LEVEL="INFO")
    assert _count(proxy, 0, "warm")["result"]["structuredContent"]["result"] == 1
    faults(fail_next=2, fail_code="InternalServerException")
    answer = _count(proxy, 1, "once")
    assert answer["result"]["structuredContent"]["result"] == 1  # ran exactly once, after 2 retries
    faults(fail_next=3, fail_code="ServiceUnavailableException")
    failed = _count(proxy, 2, "never")
    assert failed["error"]["data"] == {
        "awsErrorCode": "ServiceUnavailableException",
        "httpStatus": 503,
        "retryable": True,
        "requestId": failed["error"]["data"]["requestId"],
    }
    faults()
    assert (
        _count(proxy, 3, "never")["result"]["structuredContent"]["result"] == 1
    )  # the failed call never ran
    proxy.close_stdin()
    assert proxy.stderr().count("retrying InvokeAgentRuntime") == 4


def test_non_retryable_errors_are_not_retried(proxy_factory, faults, emulator: Emulator) -> None:
    proxy: Proxy = proxy_factory("faulty_server", RUNTIME_SESSION_MODE="session")
    proxy.request(0, "tools/list")
    before = emulator.last_arrival()
    faults(fail_next=1, fail_code="AccessDeniedException")
    answer = proxy.request(1, "tools/list")
    assert answer["error"]["data"]["awsErrorCode"] == "AccessDeniedException"
    assert [a["method"] for a in emulator.arrivals(after=before)] == ["tools/list"]  # no retry


def test_an_instance_that_never_starts_is_one_error_per_request(proxy_factory, faults) -> None:
    faults(fail_start=True)
    proxy: Proxy = proxy_factory("faulty_server", RUNTIME_SESSION_MODE="request")
    answer = proxy.request(1, "tools/list")
    assert "Runtime initialization time exceeded" in answer["error"]["message"]
    assert answer["error"]["data"]["httpStatus"] == 424


def test_crash_mid_call_is_one_error_and_the_next_call_gets_a_new_instance(proxy_factory) -> None:
    proxy: Proxy = proxy_factory("testing_server", RUNTIME_SESSION_MODE="session")
    first = _count(proxy, 0, "crash-test")
    crashed = proxy.request(1, "tools/call", {"name": "crash", "arguments": {}})
    assert crashed["error"]["code"] in (-32002, -32004)
    # A fresh instance: its counters start again.
    assert _count(proxy, 2, "crash-test")["result"] == first["result"]


def test_two_thousand_calls_64_in_flight_none_lost_or_doubled_memory_flat(proxy_factory) -> None:
    proxy: Proxy = proxy_factory(
        "testing_server", AGENTCORE_MAX_CONCURRENCY="64", RUNTIME_SESSION_MODE="session"
    )
    proxy.request("warm", "tools/list")

    def run(ids: range) -> None:
        pending: set[int] = set()
        answered: set[int] = set()
        next_ids = iter(ids)
        for id_ in itertools.islice(next_ids, 64):
            proxy.send_call(id_, "echo_size", {"text": "x" * (id_ % 97)})
            pending.add(id_)
        while pending:
            message = proxy.read()
            id_ = message["id"]
            assert id_ in pending and id_ not in answered, message
            assert "result" in message, (message, proxy.stderr()[-2000:])
            assert message["result"]["structuredContent"]["result"] == id_ % 97
            pending.remove(id_)
            answered.add(id_)
            for new in itertools.islice(next_ids, 1):  # keep 64 in flight
                proxy.send_call(new, "echo_size", {"text": "x" * (new % 97)})
                pending.add(new)
        assert answered == set(ids)

    run(range(500))
    warmed = _rss_kib(proxy)
    run(range(500, 2000))
    grown = _rss_kib(proxy) - warmed
    # 1,500 more requests: per-request state would show as megabytes here.
    assert grown < 8 * 1024, f"proxy grew by {grown} KiB over 1,500 requests"


def _rss_kib(proxy: Proxy) -> int:
    for line in Path(f"/proc/{proxy.process.pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")
