"""Which AWS operation a signed request is (read off botocore's service models), who in
the emulator answers it, and the answer for what nobody here emulates.

A call the emulator does not emulate gets ``NotEmulatedException`` (HTTP 501) naming the
operation or the service, in the protocol its client reads: boto3 does not retry a 501
(its retryable statuses are 500, 502, 503 and 504), so the caller learns at once, not
after three tries of an "internal error".
"""

from __future__ import annotations

import enum
import functools
import re
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import unquote

import botocore.session

from agentcore_wire.aws_errors import AwsError

NOT_EMULATED_STATUS = 501


class NotEmulatedException(AwsError):
    code = "NotEmulatedException"


class Answerer(enum.Enum):
    """Who in the emulator answers an operation."""

    EMULATOR = "the emulator"  # routes of its own (the data plane, Bedrock's models)
    MOTO = "moto"  # moto's backend, in process
    NOBODY = "not emulated"


# AgentCore's data plane operations the emulator serves on routes of its own (urls.py).
DATA_PLANE_OWN = frozenset(
    {"InvokeAgentRuntime", "StopRuntimeSession", "InvokeAgentRuntimeCommand", "GetAgentCard"}
)
# Identity's operations, both planes, answered by the token vault (identity_api.py).
IDENTITY_OPERATIONS = frozenset(
    {
        f"{verb}{noun}"
        for verb in ("Create", "Get", "Update", "Delete")
        for noun in ("WorkloadIdentity", "ApiKeyCredentialProvider", "Oauth2CredentialProvider")
    }
    | {
        "ListWorkloadIdentities",
        "ListApiKeyCredentialProviders",
        "ListOauth2CredentialProviders",
        "GetWorkloadAccessToken",
        "GetWorkloadAccessTokenForJWT",
        "GetWorkloadAccessTokenForUserId",
        "GetResourceApiKey",
        "GetResourceOauth2Token",
        "CompleteResourceTokenAuth",
    }
)
# Memory's data plane operations, answered by the memory store (memory_api.py).
MEMORY_OPERATIONS = frozenset(
    {
        "CreateEvent",
        "GetEvent",
        "DeleteEvent",
        "ListEvents",
        "ListSessions",
        "ListActors",
        "BatchCreateMemoryRecords",
        "BatchUpdateMemoryRecords",
        "BatchDeleteMemoryRecords",
        "GetMemoryRecord",
        "DeleteMemoryRecord",
        "ListMemoryRecords",
        "RetrieveMemoryRecords",
    }
)
# Code Interpreter's session and tool operations, answered by the sandboxes
# (code_interpreter_api.py).
CODE_INTERPRETER_OPERATIONS = frozenset(
    {
        "StartCodeInterpreterSession",
        "StopCodeInterpreterSession",
        "GetCodeInterpreterSession",
        "ListCodeInterpreterSessions",
        "InvokeCodeInterpreter",
    }
)
# Services moto answers whole, by their SigV4 signing name: STS (the credential chain's
# identity), CloudWatch Logs (instances' logs), and what agents commonly read.
MOTO_SERVICES = frozenset({"sts", "logs", "ssm", "secretsmanager", "s3", "dynamodb"})


@dataclass(frozen=True)
class _Route:
    method: str
    pattern: re.Pattern[str]
    name: str
    literal: int  # characters of the URI that are not placeholders: the more, the surer


class RestOperations:
    """A REST service's operations, matched by method and path as its model routes them."""

    def __init__(self, service_name: str) -> None:
        model = botocore.session.get_session().get_service_model(service_name)
        self.service_name = service_name
        self.operation_names: tuple[str, ...] = tuple(model.operation_names)
        routes = []
        for name in model.operation_names:
            http = model.operation_model(name).http
            uri = str(http["requestUri"]).split("?", 1)[0]
            routes.append(
                _Route(str(http["method"]), _uri_pattern(uri), name, len(_PLACEHOLDER.sub("", uri)))
            )
        self._routes = sorted(routes, key=lambda route: -route.literal)

    def find(self, method: str, raw_path: str) -> str | None:
        """The operation ``method raw_path`` calls, if the model has one."""
        found = self.match(method, raw_path)
        return None if found is None else found[0]

    def match(self, method: str, raw_path: str) -> tuple[str, dict[str, str]] | None:
        """The operation ``method raw_path`` calls and its path's values (decoded), as
        the model's URI names them (``memoryId``, ...)."""
        for route in self._routes:
            if route.method == method and (matched := route.pattern.fullmatch(raw_path)):
                return route.name, {k: unquote(v) for k, v in matched.groupdict().items()}
        return None


_PLACEHOLDER = re.compile(r"\{[^}]+\}")


def _uri_pattern(uri: str) -> re.Pattern[str]:
    pattern, at = "", 0
    for match in _PLACEHOLDER.finditer(uri):
        pattern += re.escape(uri[at : match.start()])
        name = match.group().strip("{}+")
        pattern += f"(?P<{name}>.+)" if match.group().endswith("+}") else f"(?P<{name}>[^/]+)"
        at = match.end()
    pattern += re.escape(uri[at:])
    # A trailing slash is optional on the wire as AWS's front door treats it.
    return re.compile(pattern.rstrip("/") + "/?")


def _moto_methods(module: str) -> frozenset[str]:
    """The operations a moto response class answers (its methods, in snake case)."""
    import importlib

    responses = importlib.import_module(f"moto.{module}.responses")
    names: set[str] = set()
    for value in vars(responses).values():
        if isinstance(value, type) and value.__module__ == responses.__name__:
            names.update(name for name in vars(value) if not name.startswith("_"))
    return frozenset(names)


class AgentCoreOperations:
    """AgentCore's two planes (both signed ``bedrock-agentcore``): each operation, and who
    answers it here. Read off the models at the first call that needs them (about a
    second's work, kept out of the emulator's start), in a worker thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._loaded: tuple[RestOperations, RestOperations, frozenset[str]] | None = None

    def _models(self) -> tuple[RestOperations, RestOperations, frozenset[str]]:
        with self._lock:
            if self._loaded is None:
                self._loaded = (
                    RestOperations("bedrock-agentcore-control"),
                    RestOperations("bedrock-agentcore"),
                    _moto_methods("bedrockagentcorecontrol"),
                )
            return self._loaded

    @property
    def control(self) -> RestOperations:
        return self._models()[0]

    @property
    def data(self) -> RestOperations:
        return self._models()[1]

    def answerer(self, plane: str, name: str) -> Answerer:
        if name in IDENTITY_OPERATIONS or (
            plane == "data" and name in MEMORY_OPERATIONS | CODE_INTERPRETER_OPERATIONS
        ):
            return Answerer.EMULATOR
        if plane == "data":
            return Answerer.EMULATOR if name in DATA_PLANE_OWN else Answerer.NOBODY
        if botocore.xform_name(name) in self._models()[2]:
            return Answerer.MOTO
        return Answerer.NOBODY

    def find(self, method: str, raw_path: str) -> tuple[str, str] | None:
        """The plane ("control" or "data") and operation a request calls."""
        found = self.match(method, raw_path)
        return None if found is None else found[:2]

    def match(self, method: str, raw_path: str) -> tuple[str, str, dict[str, str]] | None:
        """The plane, the operation and its path's values."""
        # The control plane first: where both models route one path, moto answers.
        for plane, operations in (("control", self.control), ("data", self.data)):
            matched = operations.match(method, raw_path)
            if matched is not None:
                return plane, *matched
        return None

    def table(self) -> Iterable[tuple[str, str, Answerer]]:
        """Every operation of both planes: (plane, name, who answers it)."""
        for plane, operations in (("data", self.data), ("control", self.control)):
            for name in sorted(operations.operation_names):
                yield plane, name, self.answerer(plane, name)


def not_emulated_operation(service: str, name: str) -> NotEmulatedException:
    """A call to one operation nobody here emulates."""
    return NotEmulatedException(
        f"{name} ({service}) is not emulated by agentcore-emulator; it answers no call to it "
        f"rather than a false one. The operations it serves are listed in docs/emulator.md.",
        status=NOT_EMULATED_STATUS,
    )


def not_emulated_service(service: str) -> NotEmulatedException:
    """A call to a whole service nobody here emulates."""
    served = ", ".join(sorted({*MOTO_SERVICES, "bedrock", "bedrock-agentcore"}))
    return NotEmulatedException(
        f"The service {service!r} is not emulated by agentcore-emulator (it serves {served})",
        status=NOT_EMULATED_STATUS,
    )


@functools.cache
def protocol_of(signing_name: str) -> str | None:
    """The protocol of the service signed as ``signing_name`` where botocore names a
    service so (most do); None when it does not."""
    session = botocore.session.get_session()
    loader = session.get_component("data_loader")
    if signing_name not in loader.list_available_services("service-2"):
        return None
    return str(session.get_service_model(signing_name).metadata.get("protocol"))


# How each answerer answers, for the reference table.
_HOW = {
    Answerer.EMULATOR: "the emulator itself: AgentCore's contract, checked as AWS checks it",
    Answerer.MOTO: "moto's backend, in process: state kept, AWS's shapes, moto's checks",
    Answerer.NOBODY: "`NotEmulatedException` (HTTP 501, not retried by boto3), naming it",
}


def reference(operations: AgentCoreOperations | None = None) -> str:
    """The docs' table of AgentCore's operations: who answers each, and how."""
    operations = operations or AgentCoreOperations()
    groups: dict[tuple[str, Answerer], list[str]] = {}
    for plane, name, answerer in operations.table():
        groups.setdefault((plane, answerer), []).append(name)
    rows = ["| plane | answered by | how | operations |", "|---|---|---|---|"]
    order = list(Answerer)
    for (plane, answerer), names in sorted(
        groups.items(), key=lambda item: (item[0][0] != "data", order.index(item[0][1]))
    ):
        listed = ", ".join(f"`{name}`" for name in names)
        rows.append(f"| {plane} | {answerer.value} | {_HOW[answerer]} | {listed} |")
    return "\n".join(rows) + "\n"
