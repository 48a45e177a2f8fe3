"""AgentCore's wire contract as a distribution of its own: what it holds, what it needs, and
who may import whom."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import botocore.session
import pytest

from agentcore_wire import aws_errors
from tests.harness import ROOT


def test_the_error_tables_are_botocores_service_model() -> None:
    model = botocore.session.get_session().get_service_model("bedrock-agentcore")
    statuses = {}
    for shape in model.error_shapes:
        status = shape.metadata.get("error", {}).get("httpStatusCode")
        if status is not None:
            statuses[shape.name] = int(status)
    assert statuses == aws_errors.MODELLED_STATUS
    retryable = {s.name for s in model.error_shapes if s.metadata.get("retryable")}
    assert retryable == aws_errors.MODELLED_RETRYABLE


def _imports(folder: Path) -> dict[str, set[str]]:
    """Each module file of ``folder``, with the top-level packages it imports."""
    found: dict[str, set[str]] = {}
    for path in sorted(folder.rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
        found[path.relative_to(ROOT).as_posix()] = names
    return found


# What each package may import beside the standard library and itself.
ALLOWED = {
    "wire/agentcore_wire": set(),
    "src/mcp_agentcore_proxy": {
        "agentcore_wire",
        "boto3",
        "botocore",
        "urllib3",
        "starlette",
        "uvicorn",
    },
    "emulator/agentcore_emulator": {
        "agentcore_wire",
        "boto3",
        "botocore",
        "starlette",
        "uvicorn",
        "sse_starlette",
        "httptools",
        "aiohttp",
        "yarl",
        "websockets",
        "jwt",
        "cryptography",
        "moto",
        "flask",
        "flask_cors",
        "werkzeug",
        "pytest",
        "mcp",
        "opentelemetry",
    },
}
# The modules that need an extra of their distribution: the contract's HTTP server
# (`server`), the proxy's Python API (`client`: the MCP SDK and its HTTP client).
EXTRA = {
    "wire/agentcore_wire/http_server.py": {"uvicorn"},
    "src/mcp_agentcore_proxy/client.py": {"mcp", "httpx2"},
}


@pytest.mark.parametrize("package", sorted(ALLOWED))
def test_each_package_imports_only_what_it_may(package: str) -> None:
    own = Path(package).name
    for module, names in _imports(ROOT / package).items():
        foreign = names - set(sys.stdlib_module_names) - {own, "__future__"}
        allowed = ALLOWED[package] | EXTRA.get(module, set())
        assert foreign <= allowed, (module, foreign - allowed)


def test_the_proxy_and_the_emulator_import_nothing_of_each_other() -> None:
    for module, names in _imports(ROOT / "emulator/agentcore_emulator").items():
        assert "mcp_agentcore_proxy" not in names, module
    for module, names in _imports(ROOT / "src/mcp_agentcore_proxy").items():
        assert "agentcore_emulator" not in names, module
