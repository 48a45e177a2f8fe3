"""Which AgentCore operation a request is, read off botocore's models; who answers each."""

from __future__ import annotations

import pytest

from agentcore_emulator.operations import (
    DATA_PLANE_OWN,
    IDENTITY_OPERATIONS,
    AgentCoreOperations,
    Answerer,
    reference,
)


@pytest.fixture(scope="module")
def operations() -> AgentCoreOperations:
    return AgentCoreOperations()


@pytest.mark.parametrize(
    ("method", "path", "found"),
    [
        ("POST", "/runtimes/arn%3Aaws%3Ax%2Fy/invocations", ("data", "InvokeAgentRuntime")),
        ("POST", "/memories/mem-1/events", ("data", "CreateEvent")),
        ("POST", "/identities/api-key", ("data", "GetResourceApiKey")),
        ("POST", "/runtimes/", ("control", "ListAgentRuntimes")),
        ("POST", "/identities/CreateWorkloadIdentity", ("control", "CreateWorkloadIdentity")),
        ("GET", "/no/such/operation", None),
        ("DELETE", "/identities/api-key", None),  # the path is known, the method is not
    ],
)
def test_a_request_is_matched_to_its_operation(
    operations: AgentCoreOperations, method: str, path: str, found: tuple[str, str] | None
) -> None:
    assert operations.find(method, path) == found


def test_every_operation_named_here_is_one_of_the_models(
    operations: AgentCoreOperations,
) -> None:
    names = {*operations.data.operation_names, *operations.control.operation_names}
    assert names >= IDENTITY_OPERATIONS
    assert set(DATA_PLANE_OWN) <= set(operations.data.operation_names)


def test_who_answers_each_operation(operations: AgentCoreOperations) -> None:
    assert operations.answerer("data", "InvokeAgentRuntime") is Answerer.EMULATOR
    assert operations.answerer("data", "GetResourceOauth2Token") is Answerer.EMULATOR
    assert operations.answerer("control", "CreateGateway") is Answerer.MOTO
    assert operations.answerer("data", "CreateEvent") is Answerer.EMULATOR
    assert operations.answerer("data", "IngestData") is Answerer.NOBODY
    assert operations.answerer("data", "StartBrowserSession") is Answerer.NOBODY


def test_the_reference_lists_every_operation_once(operations: AgentCoreOperations) -> None:
    table = reference(operations)
    every = [*operations.data.operation_names, *operations.control.operation_names]
    listed = [
        cell.strip("` ") for row in table.splitlines()[2:] for cell in row.split("|")[4].split(",")
    ]
    assert sorted(listed) == sorted(every)
