"""Every key of the emulator's config file, with its default and meaning, written once.

The config's strict check (an unknown key is an error naming the closest known one) and
the reference in ``docs/emulator.md`` (``make docs``) are both built from these tables;
a test holds each default against the dataclass field it fills.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any


class UnknownKey(ValueError):
    """A key the config does not define; ``str()`` names its place and the closest key."""


@dataclass(frozen=True)
class Kind:
    """What a key's value must be: said to the user as ``expected``, checked by ``accepts``."""

    expected: str
    accepts: Callable[[object], bool]


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


TEXT = Kind("a string", lambda v: isinstance(v, str))
FLAG = Kind("true or false", lambda v: isinstance(v, bool))
SECONDS = Kind("a number of seconds, 0 or more", lambda v: _number(v) and v >= 0)  # type: ignore[operator]
POSITIVE_SECONDS = Kind("a number of seconds above 0", lambda v: _number(v) and v > 0)  # type: ignore[operator]
PRICE = Kind("a price in USD, 0 or more", lambda v: _number(v) and v >= 0)  # type: ignore[operator]
RATE = Kind("a number per second, 0 or more (0: no limit)", lambda v: _number(v) and v >= 0)  # type: ignore[operator]
THROTTLE = Kind(
    "a number per second, 0 or more (0: every call)",
    lambda v: _number(v) and v >= 0,  # type: ignore[operator]
)
COUNT = Kind("a whole number, 0 or more", lambda v: _whole(v) and v >= 0)  # type: ignore[operator]
POSITIVE_COUNT = Kind("a whole number, 1 or more", lambda v: _whole(v) and v >= 1)  # type: ignore[operator]
PORT = Kind("a TCP port, 1 to 65535", lambda v: _whole(v) and 1 <= v <= 65535)  # type: ignore[operator]
STRINGS = Kind(
    "a list of strings", lambda v: isinstance(v, list) and all(isinstance(i, str) for i in v)
)
TABLE = Kind("a table", lambda v: isinstance(v, dict))
TABLES = Kind(
    "a list of tables", lambda v: isinstance(v, list) and all(isinstance(i, dict) for i in v)
)
COMMAND = Kind(
    "a non-empty list of strings",
    lambda v: isinstance(v, list) and bool(v) and all(isinstance(i, str) for i in v),
)


@dataclass(frozen=True)
class Key:
    name: str
    default: object  # as the TOML would say it; None: no default (required or unset)
    help: str
    kind: Kind = TEXT


EMULATOR = (
    Key("region", "us-east-1", "the region of ARNs and of SigV4 scopes"),
    Key("account", "123456789012", "the account of ARNs (12 digits)"),
    Key("access_key", "AKIAAGENTCOREEMULATOR", "the one static key pair it accepts"),
    Key("secret_key", "agentcore-emulator-local-secret-key", "its secret"),
    Key(
        "max_sessions",
        100,
        "live runtime sessions; past it, ServiceQuotaExceededException",
        POSITIVE_COUNT,
    ),
    Key("max_skew_seconds", 300.0, "SigV4 clock skew allowed", SECONDS),
    Key(
        "reap_interval",
        1.0,
        "seconds between checks for idle or too old sessions",
        POSITIVE_SECONDS,
    ),
    Key(
        "keep_alive",
        60.0,
        "seconds an idle client connection stays open (AWS-like)",
        POSITIVE_SECONDS,
    ),
    Key(
        "header_timeout",
        10.0,
        "seconds a request has to finish its headers, else it is closed",
        POSITIVE_SECONDS,
    ),
    Key(
        "body_timeout",
        60.0,
        "seconds it then has for its whole body (chosen; not AWS's figure)",
        POSITIVE_SECONDS,
    ),
    Key(
        "requests_per_second",
        25.0,
        "AgentCore's rate per endpoint, then 429 ThrottlingException (0: none); a runtime "
        "may set its own",
        RATE,
    ),
    Key(
        "request_timeout",
        900.0,
        "AgentCore's 15 minutes for a synchronous answer, then 424",
        POSITIVE_SECONDS,
    ),
    Key(
        "stream_timeout",
        3600.0,
        "its 60 minutes for a stream, which then ends where it is",
        POSITIVE_SECONDS,
    ),
    Key(
        "network",
        "isolated",
        "isolated: each instance in a network namespace of its own, on its protocol's port "
        "(Linux, as root); shared: on loopback, on a free port in $PORT",
    ),
    Key(
        "max_chunk_bytes",
        10_000_000,
        "its 10 MB per streamed event: the stream ends before",
        POSITIVE_COUNT,
    ),
    Key(
        "sandbox_call_timeout",
        60.0,
        "Code Interpreter: seconds a call may run before its sandbox is stopped",
        POSITIVE_SECONDS,
    ),
    Key(
        "sandbox_memory_mb",
        2048,
        "Code Interpreter: a sandbox's address space, in MiB",
        POSITIVE_COUNT,
    ),
    Key(
        "sandbox_max_output",
        1_000_000,
        "Code Interpreter: characters of stdout (and of stderr) a call keeps",
        POSITIVE_COUNT,
    ),
    Key(
        "warn_kept_alive_after",
        900.0,
        "warn when a session has had no call this long but is kept alive by /ping "
        "(HealthyBusy, or a changing time_of_last_update)",
        POSITIVE_SECONDS,
    ),
    Key(
        "warn_unpinged_after",
        30.0,
        "warn when an HTTP or AG-UI instance has not answered /ping this long",
        POSITIVE_SECONDS,
    ),
    Key(
        "warn_sessions_per_request",
        5,
        "warn when this many sessions of one runtime and caller got one invocation each",
        POSITIVE_COUNT,
    ),
    Key(
        "price_vcpu_hour",
        0.0895,
        "USD per vCPU-hour, for the dashboard's estimate (AgentCore Runtime, us-east-1)",
        PRICE,
    ),
    Key(
        "price_gb_hour",
        0.00945,
        "USD per GB-hour of memory, for the dashboard's estimate (us-east-1)",
        PRICE,
    ),
)

RUNTIME = (
    Key("name", None, "required: [a-zA-Z][a-zA-Z0-9_]{0,47}, unique"),
    Key(
        "command",
        None,
        'required: one instance, e.g. ["python", "-m", "server"] ("python": '
        "the emulator's interpreter)",
        COMMAND,
    ),
    Key("cwd", ".", "the command's folder, relative to the config file"),
    Key("protocol", "MCP", "MCP (/mcp), HTTP or AGUI (/invocations, /ping), A2A (/)"),
    Key("path", None, "where the instance takes invocations (default: the protocol's)"),
    Key("port", None, "where it listens (default: MCP 8000, HTTP and AGUI 8080, A2A 9000)", PORT),
    Key("env", None, "a table of variables for the instance", TABLE),
    Key("idle_timeout", 900.0, "seconds; 60 s to 14 days, as AgentCore bounds it", SECONDS),
    Key("max_lifetime", 28800.0, "seconds; 60 s to 14 days, at least idle_timeout", SECONDS),
    Key(
        "start_timeout", 60.0, "seconds an instance has to become ready, then 424", POSITIVE_SECONDS
    ),
    Key("requests_per_second", None, "this runtime's rate (default: the [emulator] one)", RATE),
    Key(
        "container_errors",
        "aws",
        'a container\'s HTTP error as 424 RuntimeClientError ("aws"), or HTTP 200 with '
        'JSON-RPC error -32010, id null ("jsonrpc"); with either, an MCP 2026-07-28 server\'s '
        'own JSON-RPC error sent with a 4xx reaches the caller intact (HTTP 200); "aws-424": '
        "a 424 then too",
    ),
    Key(
        "request_headers",
        [],
        "the request-header allowlist (AgentCore's rules, at most 20)",
        STRINGS,
    ),
    Key("invoke_for_user", ["*"], "principals allowed to send a runtime user id", STRINGS),
    Key("jwt_authorizer", None, "a table: bearer tokens instead of SigV4 (below)", TABLE),
    Key("faults", None, "a table of injected faults, for tests (below)", TABLE),
)

JWT_AUTHORIZER = (
    Key("discovery_url", None, "an OIDC discovery document (default: the emulator's own)"),
    Key("allowed_audience", [], "audiences accepted (any, if empty)", STRINGS),
    Key("allowed_clients", [], "client_id (or azp) values accepted (any, if empty)", STRINGS),
    Key("allowed_scopes", [], "one of them is enough (chosen: not confirmable offline)", STRINGS),
)

FAULTS = (
    Key("throttle_per_second", None, "past this rate: 429 ThrottlingException", THROTTLE),
    Key("latency", 0.0, "seconds added before each answer", SECONDS),
    Key("cut_after_events", None, "the SSE stream breaks off after K events", COUNT),
    Key("fail_start", False, "instances never become ready: 424 at once", FLAG),
    Key("fail_next", 0, "answer the next N calls with fail_code, then recover", COUNT),
    Key("fail_code", "InternalServerException", "the AWS error code of fail_next"),
)

OAUTH_CLIENT = (
    Key("client_id", None, "required"),
    Key("client_secret", None, "required"),
    Key("scopes", [], "scopes it may ask for", STRINGS),
    Key("audience", None, "the aud of its tokens"),
    Key("token_lifetime", 3600.0, "seconds its tokens live", POSITIVE_SECONDS),
)

MODELS = (
    Key("model", "*", 'the model id it answers for ("*": every model id no table names)'),
    Key(
        "source",
        "deterministic",
        "deterministic (the same conversation, the same answer), scripted (turns), or openai "
        "(a local server speaking OpenAI's chat-completions API)",
    ),
    Key("url", None, "openai: the server's base URL, e.g. http://127.0.0.1:11434/v1"),
    Key("name", None, "openai: the model's name at that server (default: the model id)"),
    Key("turns", [], "scripted: the turns, as the admin API takes them", TABLES),
)

CREDENTIAL_PROVIDER = (
    Key("name", None, "required: the provider's name, as agents ask for it"),
    Key("type", "api_key", "api_key, or oauth2 (the client-credentials and user flows)"),
    Key("api_key", None, "api_key: the key it gives"),
    Key("client_id", None, "oauth2: the client at the identity provider"),
    Key("client_secret", None, "oauth2: its secret"),
    Key("discovery_url", None, "oauth2: an OIDC discovery document (default: the emulator's own)"),
)

LAMBDA_FUNCTION = (
    Key("arn", None, "required: the function's ARN (or name), as a gateway target names it"),
    Key("handler", None, "required: file.py:function, the file relative to the config file"),
)

# The tables of the file: [emulator], [[runtimes]] (with its sub-tables), [[oauth_clients]],
# [[models]], [[credential_providers]], [[lambda_functions]].
TOP = (
    Key("emulator", None, "settings of the emulator itself", TABLE),
    Key("runtimes", None, "one [[runtimes]] table per runtime"),
    Key("oauth_clients", None, "clients of the emulator's identity provider"),
    Key("models", None, "where Bedrock model calls get their answers, per model id"),
    Key("credential_providers", None, "Identity's credential providers, there from the start"),
    Key("lambda_functions", None, "local handlers of the Lambda functions gateway targets name"),
)
SECTIONS: Mapping[str, tuple[Key, ...]] = {
    "[emulator]": EMULATOR,
    "[[runtimes]]": RUNTIME,
    "[runtimes.jwt_authorizer]": JWT_AUTHORIZER,
    "[runtimes.faults]": FAULTS,
    "[[oauth_clients]]": OAUTH_CLIENT,
    "[[models]]": MODELS,
    "[[credential_providers]]": CREDENTIAL_PROVIDER,
    "[[lambda_functions]]": LAMBDA_FUNCTION,
}


def check_keys(data: Mapping[str, Any], keys: Iterable[Key], where: str) -> None:
    """Raise UnknownKey for the first key of ``data`` that ``keys`` does not define."""
    known = [key.name for key in keys]
    for name in data:
        if name not in known:
            close = difflib.get_close_matches(name, known, n=1, cutoff=0.6)
            hint = f" (did you mean {close[0]!r}?)" if close else f" (known: {', '.join(known)})"
            place = f"{where}: " if where else ""
            raise UnknownKey(f"{place}unknown key {name!r}{hint}")


def _toml(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml(item) for item in value) + "]"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def reference() -> str:
    """The config reference, as the Markdown tables of docs/emulator.md."""
    parts: list[str] = []
    for section, keys in SECTIONS.items():
        parts.append(f"`{section}`\n\n| key | default | meaning |\n|---|---|---|")
        for key in keys:
            default = f"`{_toml(key.default)}`" if key.default is not None else ""
            parts.append(f"| `{key.name}` | {default} | {key.help} |")
        parts.append("")
    return "\n".join(parts)
