"""A session's own rules, in process: its calls, its last use, its Mcp-Session-Id."""

from __future__ import annotations

from typing import Any, cast

from agentcore_emulator.config import load_config
from agentcore_emulator.sessions import RuntimeSession
from tests.harness import TEST_CONFIG

SPEC = next(s for s in load_config(TEST_CONFIG).runtimes if s.name == "demo_server")


def _session() -> RuntimeSession:
    instance = cast(Any, object())  # the rules never touch the instance
    return RuntimeSession(SPEC, "s" * 40, instance, created_at=0.0, last_used=0.0)


def test_a_session_in_a_call_never_idles_out_and_idles_from_its_last_call() -> None:
    session = _session()
    session.call_started()
    assert session.expired(now=SPEC.idle_timeout * 2) is None
    session.call_ended(now=100.0)
    assert session.expired(now=100.0 + SPEC.idle_timeout - 1) is None
    assert session.expired(now=100.0 + SPEC.idle_timeout) == "idle timeout"


def test_a_stateless_server_gets_one_minted_id_kept_for_the_session() -> None:
    session = _session()
    assert session.mcp_session_for_instance(None) is None
    minted = session.mcp_session_for_caller(caller=None, server=None)
    assert minted
    assert session.mcp_session_for_instance(None) == minted
    assert session.mcp_session_for_caller(caller="other", server=None) == minted
    assert not session.stateful


def test_a_stateless_server_keeps_the_callers_first_id() -> None:
    session = _session()
    assert session.mcp_session_for_caller(caller="mine", server=None) == "mine"
    assert session.mcp_session_for_instance(None) == "mine"


def test_a_stateful_servers_ids_rule_and_the_caller_speaks_for_itself() -> None:
    session = _session()
    assert session.mcp_session_for_caller(caller=None, server="srv-1") == "srv-1"
    assert session.stateful
    assert session.mcp_session_for_instance("srv-1") == "srv-1"
    assert session.mcp_session_for_instance(None) is None  # no id: the server decides
    assert session.mcp_session_for_caller(caller="srv-1", server=None) == "srv-1"
