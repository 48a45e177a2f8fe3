"""Every error on the wire is AWS-shaped, with a request id; handlers only raise."""

from __future__ import annotations

import asyncio
from urllib.parse import quote

import httpx
from starlette.requests import Request

from agentcore_emulator.exceptions import ERROR_CLASSES
from agentcore_emulator.wire import on_unexpected
from agentcore_wire.aws_errors import MODELLED_STATUS
from tests.harness import Emulator, signed_call


def _aws_shaped(answer: httpx.Response, status: int, code: str) -> None:
    assert answer.status_code == status, answer.text
    assert answer.headers["x-amzn-ErrorType"] == code
    assert answer.headers["x-amzn-RequestId"]
    assert isinstance(answer.json()["message"], str)


def test_a_method_the_route_does_not_take_is_an_aws_error(emulator: Emulator) -> None:
    path = f"/runtimes/{quote(emulator.arns['demo_server'], safe='')}/invocations"
    answer = signed_call(emulator, "GET", path)
    _aws_shaped(answer, 405, "UnknownOperationException")
    assert answer.headers["Allow"] == "POST"
    _aws_shaped(
        httpx.request("OPTIONS", f"{emulator.url}/anything", timeout=30),
        405,
        "UnknownOperationException",
    )


def test_an_unknown_admin_path_is_an_aws_error(emulator: Emulator) -> None:
    answer = httpx.get(f"{emulator.url}/_emulator/no-such-thing", timeout=30)
    assert answer.status_code in (403, 404)  # unsigned: refused before routing, or not found
    assert answer.headers["x-amzn-RequestId"]
    assert answer.headers["content-type"].startswith("application/json")


def test_a_body_over_agentcores_limit_is_an_aws_error(emulator: Emulator) -> None:
    path = f"/runtimes/{quote(emulator.arns['demo_server'], safe='')}/invocations"
    answer = httpx.post(
        f"{emulator.url}{path}",
        content=b"x" * (100_000_000 + 1),
        headers={"Content-Type": "application/json"},
        timeout=60,
    )
    _aws_shaped(answer, 413, "ValidationException")


def test_an_unexpected_error_is_an_internal_server_exception() -> None:
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/runtimes/x/invocations",
        "headers": [],
        "state": {"request_id": "req-1"},
    }
    answer = asyncio.run(on_unexpected(Request(scope), RuntimeError("a bug")))
    assert answer.status_code == 500
    assert answer.headers["x-amzn-ErrorType"] == "InternalServerException"
    assert answer.headers["x-amzn-RequestId"] == "req-1"
    assert b"a bug" not in answer.body  # no internals on the wire


def test_every_error_botocore_models_for_these_operations_has_its_class() -> None:
    import botocore.session

    model = botocore.session.get_session().get_service_model("bedrock-agentcore")
    statuses = MODELLED_STATUS
    for operation in ("InvokeAgentRuntime", "StopRuntimeSession"):
        for shape in model.operation_model(operation).error_shapes:
            assert shape.name in ERROR_CLASSES, (operation, shape.name)
            assert ERROR_CLASSES[shape.name]("m").status == statuses[shape.name]
