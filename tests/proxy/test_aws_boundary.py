"""The one boundary with botocore and urllib3: every exception of theirs the proxy can meet
has a deliberate mapping, and no other module names one."""

from __future__ import annotations

import http.client
import inspect
import re
from pathlib import Path

import botocore.exceptions
import urllib3.exceptions

from mcp_agentcore_proxy import aws_boundary
from mcp_agentcore_proxy.errors import ProxyError

SOURCE = Path(aws_boundary.__file__).parent
# Exceptions the proxy cannot meet: each with why, so a new one is a decision, not a gap.
NOT_MET: dict[type[BaseException], str] = {
    Warning: "warnings, issued with warnings.warn, never raised by a call",
    botocore.exceptions.UndefinedModelAttributeError: (
        "a malformed service model: botocore's own bug, found when the client is made, "
        "never a call's outcome"
    ),
}


def _exceptions(module: object) -> list[type[BaseException]]:
    return [
        kind
        for _, kind in inspect.getmembers(module, inspect.isclass)
        if issubclass(kind, BaseException) and kind.__module__ == module.__name__  # type: ignore[attr-defined]
    ]


def _mapped(kind: type[BaseException]) -> bool:
    return any(issubclass(kind, handled) for handled, _ in aws_boundary.MAPPED)


def test_every_botocore_and_urllib3_exception_has_a_deliberate_place() -> None:
    unmapped = [
        f"{kind.__module__}.{kind.__name__}"
        for module in (botocore.exceptions, urllib3.exceptions)
        for kind in _exceptions(module)
        if not _mapped(kind) and not any(issubclass(kind, n) for n in NOT_MET)
    ]
    assert unmapped == []


def test_each_mapping_gives_a_proxy_error_for_an_instance_of_its_kind() -> None:
    samples: list[Exception] = [
        botocore.exceptions.NoCredentialsError(),
        botocore.exceptions.SSLError(endpoint_url="https://x", error="bad cert"),
        botocore.exceptions.ProxyConnectionError(proxy_url="http://p", error="refused"),
        botocore.exceptions.ReadTimeoutError(endpoint_url="https://x"),
        botocore.exceptions.EndpointConnectionError(endpoint_url="https://x"),
        botocore.exceptions.ConnectionClosedError(endpoint_url="https://x"),
        botocore.exceptions.SSOTokenLoadError(error_msg="expired"),
        botocore.exceptions.ParamValidationError(report="runtimeSessionId too short"),
        urllib3.exceptions.ProtocolError("reset"),
        urllib3.exceptions.NewConnectionError(None, "refused"),  # type: ignore[arg-type]
    ]
    for exc in samples:
        error = aws_boundary.mapped("InvokeAgentRuntime", exc, "run aws sso login")
        assert isinstance(error, ProxyError), exc
    sso = aws_boundary.mapped("x", botocore.exceptions.SSOTokenLoadError(error_msg="e"), "HINT")
    assert "HINT" in str(sso)


def test_no_other_module_names_an_exception_of_botocore_or_urllib3() -> None:
    naming = re.compile(
        r"\b(botocore\.exceptions|urllib3\.exceptions|botocore\.parsers\.ResponseParserError)\b"
    )
    offenders = [
        path.name
        for path in SOURCE.glob("*.py")
        if path.name != "aws_boundary.py" and naming.search(path.read_text())
    ]
    assert offenders == []


def test_the_import_loop_is_gone() -> None:
    """bearer -> identity -> runtime -> bearer was a loop; runtime names bearer for types only."""
    identity = (SOURCE / "identity.py").read_text()
    assert "from mcp_agentcore_proxy.runtime" not in identity


def _instance(kind: type[BaseException]) -> BaseException:
    for args in (("x",), (b"",), ()):
        try:
            return kind(*args)
        except TypeError:
            continue
    raise AssertionError(f"cannot make a {kind.__name__}")


def test_every_http_client_exception_of_the_own_path_becomes_a_proxy_error() -> None:
    # http_framing raises http.client's exceptions for a malformed or broken answer; the
    # boundary's contexts are where they become the proxy's, whatever stage they meet.
    contexts = {
        "connect": lambda: aws_boundary.connect_errors("InvokeAgentRuntime", "http://x", False),
        "transfer": lambda: aws_boundary.transfer_errors("InvokeAgentRuntime"),
        "stream": aws_boundary.stream_errors,
    }
    kinds = _exceptions(http.client)
    assert http.client.IncompleteRead in kinds and http.client.RemoteDisconnected in kinds
    for kind in kinds:
        for stage, context in contexts.items():
            try:
                with context():
                    raise _instance(kind)
            except ProxyError:
                continue
            except BaseException as exc:
                raise AssertionError(f"{kind.__name__} at {stage}: {exc!r} escaped") from exc
            raise AssertionError(f"{kind.__name__} at {stage}: swallowed")
