"""The emulator's configuration: a TOML file of runtimes, parsed once into frozen objects."""

from __future__ import annotations

import hashlib
import re
import sys
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from agentcore_emulator import config_keys
from agentcore_emulator.headers import check_allowlist
from agentcore_emulator.model_turns import ScriptedTurn

_NAME_RE = re.compile(r"^[a-zA-Z][a-zA-Z0-9_]{0,47}$")
_ALNUM = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
PROTOCOLS = ("MCP", "HTTP", "A2A", "AGUI")
LIFECYCLE_BOUNDS = (60, 1_209_600)  # seconds: idle timeout and max lifetime, 1 min to 14 days
# Where each protocol's container serves on 0.0.0.0 (AgentCore's container contract).
DEFAULT_PATHS = {"MCP": "/mcp", "HTTP": "/invocations", "AGUI": "/invocations", "A2A": "/"}
DEFAULT_PORTS = {"MCP": 8000, "HTTP": 8080, "AGUI": 8080, "A2A": 9000}
# "isolated": each instance in a network namespace of its own, on the protocol's port;
# "shared": on this machine's loopback, on a free port named in $PORT.
NETWORKS = ("isolated", "shared")
CONTAINER_ERRORS = ("aws", "aws-424", "jsonrpc")
# With no config: a small MCP server that needs nothing beyond the emulator's own packages.
DEFAULT_CONFIG = Path(__file__).resolve().parent / "example" / "runtimes.toml"


class ConfigError(Exception):
    """The configuration file is unusable; the message says where and why."""


@dataclass(frozen=True)
class FaultSpec:
    """Faults injected into a runtime's answers, for tests."""

    throttle_per_second: float | None = None  # past this rate: 429 ThrottlingException
    latency: float = 0.0  # seconds added before each answer
    cut_after_events: int | None = None  # end the SSE stream abruptly after K events
    fail_start: bool = False  # instances never become ready (the 424 comes at once)
    fail_next: int = 0  # answer the next N calls with fail_code, before the instance sees them
    fail_code: str = "InternalServerException"

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], where: str) -> FaultSpec:
        if not isinstance(data, dict):
            raise ConfigError(f"{where} must be a table")
        _check(data, config_keys.FAULTS, where)

        value = _reader(data, config_keys.FAULTS, where)

        throttle = value("throttle_per_second")
        return cls(
            throttle_per_second=None if throttle is None else float(throttle),
            latency=float(value("latency")),
            cut_after_events=value("cut_after_events"),
            fail_start=value("fail_start"),
            fail_next=value("fail_next"),
            fail_code=value("fail_code"),
        )


def _check(data: Mapping[str, Any], keys: tuple[config_keys.Key, ...], where: str) -> None:
    try:
        config_keys.check_keys(data, keys, where)
    except config_keys.UnknownKey as exc:
        raise ConfigError(str(exc)) from None


def _reader(
    data: Mapping[str, Any], keys: tuple[config_keys.Key, ...], where: str
) -> Callable[[str], Any]:
    """``_value`` of one table: its keys read by name."""
    return lambda name: _value(data, keys, name, where)


def _value(
    data: Mapping[str, Any], keys: tuple[config_keys.Key, ...], name: str, where: str
) -> Any:
    """The value of key ``name`` (its default if absent), of the kind its table says."""
    key = next(k for k in keys if k.name == name)
    value = data.get(name, key.default)
    if value is not None and not key.kind.accepts(value):
        shown = repr(value) if not isinstance(value, str) else f'"{value}"'
        place = f"{where}.{name}" if where else name
        raise ConfigError(f"{place} = {shown[:80]}: expected {key.kind.expected}")
    return value


@dataclass(frozen=True)
class JwtAuthorizerSpec:
    """A runtime's customJWTAuthorizer: who may call it with a bearer token."""

    discovery_url: str | None = None  # None: the emulator's own identity provider
    allowed_audience: tuple[str, ...] = ()
    allowed_clients: tuple[str, ...] = ()
    allowed_scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class OAuthClient:
    """A client of the emulator's identity provider (client-credentials grant)."""

    client_id: str
    client_secret: str
    scopes: tuple[str, ...] = ()
    audience: str | None = None
    token_lifetime: float = 3600.0


MODEL_SOURCES = ("deterministic", "scripted", "openai")


@dataclass(frozen=True)
class ModelSpec:
    """Where one model id's answers come from (``model_turns``, ``openai_source``)."""

    model: str = "*"
    source: str = "deterministic"
    url: str | None = None  # openai: the server's base URL
    name: str | None = None  # openai: the model's name there
    turns: tuple[ScriptedTurn, ...] = ()


@dataclass(frozen=True)
class CredentialProviderSpec:
    """An Identity credential provider the token vault has from the start."""

    name: str
    type: str = "api_key"
    api_key: str | None = field(default=None, repr=False)
    client_id: str | None = None
    client_secret: str | None = field(default=None, repr=False)
    discovery_url: str | None = None  # None: the emulator's own identity provider


@dataclass(frozen=True)
class RuntimeSpec:
    """One registered runtime: how to start an instance of it and how it behaves."""

    name: str
    arn: str
    runtime_id: str
    command: tuple[str, ...]
    cwd: Path
    protocol: str = "MCP"
    path: str = "/mcp"  # where the instance takes invocations (protocolConfiguration.path)
    port: int = 8000  # where it listens in its own network (protocolConfiguration.port)
    env: Mapping[str, str] = field(default_factory=dict)
    idle_timeout: float = 900.0
    max_lifetime: float = 28800.0
    start_timeout: float = 60.0
    # AgentCore's rate limit per endpoint (25 requests per second); None: no limit.
    requests_per_second: float | None = 25.0
    # How a container's error reaches the caller: AWS's 424 RuntimeClientError, or (as one
    # third party reports for MCP runtimes) HTTP 200 with a JSON-RPC error -32010. To an MCP
    # 2026-07-28 request, a server's own JSON-RPC error sent with an HTTP 4xx (its header,
    # version and method errors) reaches the caller intact, with HTTP 200, except with
    # "aws-424" (chosen: what AgentCore does with such an answer could not be confirmed).
    container_errors: str = "aws"
    # The request-header allowlist: headers the container gets besides AgentCore's own.
    request_headers: tuple[str, ...] = ()
    # Principals allowed InvokeAgentRuntimeForUser (the runtime user id header): "*" for
    # any; a role's ARN covers its assumed-role sessions.
    invoke_for_user: tuple[str, ...] = ("*",)
    # Callers present a bearer token instead of signing with SigV4.
    jwt_authorizer: JwtAuthorizerSpec | None = None
    faults: FaultSpec = field(default_factory=FaultSpec)

    def with_faults(self, faults: FaultSpec) -> RuntimeSpec:
        return replace(self, faults=faults)


@dataclass(frozen=True)
class EmulatorConfig:
    """Everything the emulator needs; built by the CLI (or a test) and passed down."""

    runtimes: tuple[RuntimeSpec, ...]
    region: str = "us-east-1"
    account: str = "123456789012"
    access_key: str = "AKIAAGENTCOREEMULATOR"
    secret_key: str = "agentcore-emulator-local-secret-key"  # noqa: S105 (a local, public test key)
    max_sessions: int = 100
    max_skew_seconds: float = 300.0
    reap_interval: float = 1.0
    # Seconds an idle client connection stays open. AWS's front ends keep them about a
    # minute (60 s is the load balancers' default; not confirmable offline); uvicorn's
    # own 5 s would make clients race the close far more often than AWS does.
    keep_alive: float = 60.0
    # Seconds a request has to finish its headers; past them the connection is closed
    # (a client that connects and stalls would otherwise hold its connection forever).
    header_timeout: float = 10.0
    # Seconds a request has, once its headers are in, to send its whole body (100 MB, the
    # payload limit, takes well under a second on loopback; chosen, not AWS's figure).
    body_timeout: float = 60.0
    # AgentCore's time limits: a synchronous answer, then a stream, in seconds.
    request_timeout: float = 900.0
    stream_timeout: float = 3600.0
    max_chunk_bytes: int = 10_000_000  # per streamed event
    # Code Interpreter's sandboxes: chosen bounds (AWS's are not published in these terms).
    sandbox_call_timeout: float = 60.0
    sandbox_memory_mb: int = 2048
    sandbox_max_output: int = 1_000_000
    # The dashboard's warnings, and the prices of its compute estimate.
    warn_kept_alive_after: float = 900.0
    warn_unpinged_after: float = 30.0
    warn_sessions_per_request: int = 5
    price_vcpu_hour: float = 0.0895
    price_gb_hour: float = 0.00945
    oauth_clients: tuple[OAuthClient, ...] = ()
    network: str = "isolated"
    models: tuple[ModelSpec, ...] = ()
    credential_providers: tuple[CredentialProviderSpec, ...] = ()
    # Lambda ARN (or name) -> "path/file.py:function", for gateways' Lambda targets.
    lambda_handlers: Mapping[str, str] = field(default_factory=dict)

    @property
    def principal(self) -> str:
        """Who the static key pair is, in AWS's words."""
        return f"arn:aws:iam::{self.account}:user/agentcore-emulator"

    def exports(self, url: str, runtime: str | None = None) -> dict[str, str]:
        """``client_environment`` for runtime ``runtime`` (default: the first).

        ConfigError if the config has no such runtime (naming those it has).
        """
        spec = self.runtimes[0]
        if runtime is not None:
            found = next((s for s in self.runtimes if s.name == runtime), None)
            if found is None:
                names = ", ".join(s.name for s in self.runtimes)
                raise ConfigError(f"no runtime {runtime!r} in the config (its runtimes: {names})")
            spec = found
        return self.client_environment(url, spec.arn)

    def client_environment(self, url: str, arn: str | None = None) -> dict[str, str]:
        """The variables that point boto3, the AWS CLI and the proxy at an emulator at ``url``."""
        exports = {
            "AWS_ENDPOINT_URL": url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,  # the name boto3 reads
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
        }
        if arn is not None:
            exports["AGENTCORE_AGENT_ARN"] = arn
            spec = next((s for s in self.runtimes if s.arn == arn), None)
            if spec is not None:
                # The proxy paces itself to the endpoint's quota: this runtime's here.
                rate = spec.requests_per_second
                exports["AGENTCORE_MAX_RATE"] = str(max(1, int(rate))) if rate else "0"
        return exports


def runtime_id_for(name: str) -> str:
    """The stable id of a runtime: its name and 10 characters derived from it."""
    number = int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big")
    suffix = ""
    for _ in range(10):
        number, digit = divmod(number, len(_ALNUM))
        suffix += _ALNUM[digit]
    return f"{name}-{suffix}"


def runtime_arn(region: str, account: str, runtime_id: str) -> str:
    return f"arn:aws:bedrock-agentcore:{region}:{account}:runtime/{runtime_id}"


def _command(raw: object, where: str) -> tuple[str, ...]:
    if raw is None:
        raise ConfigError(f"{where}.command is required: {config_keys.COMMAND.expected}")
    assert isinstance(raw, list)
    # "python" means the emulator's own interpreter, so instances see the same packages.
    head = sys.executable if raw[0] in ("python", "python3") else raw[0]
    return (head, *raw[1:])


def _strings(
    data: Mapping[str, Any], keys: tuple[config_keys.Key, ...], name: str, where: str
) -> tuple[str, ...]:
    return tuple(_value(data, keys, name, where) or ())


def _jwt_authorizer(raw: object, where: str) -> JwtAuthorizerSpec | None:
    if raw is None:
        return None
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    keys = config_keys.JWT_AUTHORIZER
    _check(raw, keys, where)
    url = _value(raw, keys, "discovery_url", where)
    if url is not None and not url.startswith(("http://", "https://")):
        raise ConfigError(f"{where}.discovery_url must be an http(s) URL")
    return JwtAuthorizerSpec(
        discovery_url=url,
        allowed_audience=_strings(raw, keys, "allowed_audience", where),
        allowed_clients=_strings(raw, keys, "allowed_clients", where),
        allowed_scopes=_strings(raw, keys, "allowed_scopes", where),
    )


def _oauth_client(raw: object, index: int) -> OAuthClient:
    where = f"oauth_clients[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table")
    keys = config_keys.OAUTH_CLIENT
    _check(raw, keys, where)
    client_id, secret = (
        _value(raw, keys, "client_id", where),
        _value(raw, keys, "client_secret", where),
    )
    if not (client_id and secret):
        raise ConfigError(f"{where}: client_id and client_secret are required")
    return OAuthClient(
        client_id=client_id,
        client_secret=secret,
        scopes=_strings(raw, keys, "scopes", where),
        audience=_value(raw, keys, "audience", where),
        token_lifetime=float(_value(raw, keys, "token_lifetime", where)),
    )


def _array_item(
    raw: object, table: str, index: int, keys: tuple[config_keys.Key, ...]
) -> tuple[str, Callable[[str], Any]]:
    """One table of an array of tables (``[[table]]``), checked: where it is, its reader."""
    where = f"{table}[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a table ([[{table}]])")
    _check(raw, keys, where)
    return where, _reader(raw, keys, where)


def _model(raw: object, index: int) -> ModelSpec:
    where, value = _array_item(raw, "models", index, config_keys.MODELS)

    source = value("source")
    if source not in MODEL_SOURCES:
        raise ConfigError(f"{where}.source must be one of {MODEL_SOURCES} (got {source!r})")
    url = value("url")
    if source == "openai" and not (url and url.startswith(("http://", "https://"))):
        raise ConfigError(f"{where}: an openai source needs url, an http(s) URL")
    try:
        turns = tuple(ScriptedTurn.from_mapping(turn) for turn in value("turns"))
    except ValueError as exc:
        raise ConfigError(f"{where}.turns: {exc}") from None
    if source == "scripted" and not turns:
        raise ConfigError(f"{where}: a scripted source needs turns")
    return ModelSpec(value("model"), source, url, value("name"), turns)


def _lambda_function(raw: object, index: int, base: Path) -> tuple[str, str]:
    where, value = _array_item(raw, "lambda_functions", index, config_keys.LAMBDA_FUNCTION)
    arn, handler = value("arn"), value("handler")
    if not arn or not handler or ":" not in handler:
        raise ConfigError(f"{where}: arn and handler (file.py:function) are required")
    path, _, function = handler.rpartition(":")
    return arn, f"{(base / path).resolve()}:{function}"


def _credential_provider(raw: object, index: int) -> CredentialProviderSpec:
    where, value = _array_item(raw, "credential_providers", index, config_keys.CREDENTIAL_PROVIDER)
    kind = value("type")
    if not value("name"):
        raise ConfigError(f"{where}: name is required")
    if kind == "api_key" and not value("api_key"):
        raise ConfigError(f"{where}: an api_key provider needs api_key")
    if kind == "oauth2" and not (value("client_id") and value("client_secret")):
        raise ConfigError(f"{where}: an oauth2 provider needs client_id and client_secret")
    if kind not in ("api_key", "oauth2"):
        raise ConfigError(f"{where}.type must be api_key or oauth2 (got {kind!r})")
    return CredentialProviderSpec(
        value("name"),
        kind,
        value("api_key"),
        value("client_id"),
        value("client_secret"),
        value("discovery_url"),
    )


def _runtime(
    data: Mapping[str, Any],
    index: int,
    base: Path,
    region: str,
    account: str,
    default_rate: float = 25.0,
) -> RuntimeSpec:
    where = f"runtimes[{index}]"
    if not isinstance(data, dict):
        raise ConfigError(f"{where} must be a table ([[runtimes]])")
    keys = config_keys.RUNTIME
    _check(data, keys, where)

    value = _reader(data, keys, where)

    name = value("name")
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise ConfigError(f"{where}: name must match [a-zA-Z][a-zA-Z0-9_]{{0,47}} (got {name!r})")
    protocol = value("protocol").upper()
    if protocol not in PROTOCOLS:
        raise ConfigError(f"{where}: protocol must be one of {PROTOCOLS} (got {protocol!r})")
    path = value("path") or DEFAULT_PATHS[protocol]
    if not path.startswith("/"):
        raise ConfigError(f"{where}: path must start with '/' (got {path!r})")
    port = value("port") or DEFAULT_PORTS[protocol]
    idle = float(value("idle_timeout"))
    lifetime = float(value("max_lifetime"))
    for key, seconds in (("idle_timeout", idle), ("max_lifetime", lifetime)):
        if not LIFECYCLE_BOUNDS[0] <= seconds <= LIFECYCLE_BOUNDS[1]:
            raise ConfigError(
                f"{where}: {key} must be between {LIFECYCLE_BOUNDS[0]} and "
                f"{LIFECYCLE_BOUNDS[1]} seconds (AgentCore's bounds)"
            )
    if lifetime < idle:
        raise ConfigError(f"{where}: max_lifetime must be at least idle_timeout")
    rate = value("requests_per_second")
    rate = default_rate if rate is None else float(rate)
    container_errors = value("container_errors")
    if container_errors not in CONTAINER_ERRORS:
        raise ConfigError(f"{where}: container_errors must be one of {CONTAINER_ERRORS}")
    env = value("env") or {}
    for variable, setting in env.items():
        if not isinstance(setting, str | int | float) or isinstance(setting, bool):
            raise ConfigError(
                f"{where}.env.{variable} = {setting!r}: expected a string (or a number)"
            )
    jwt = _jwt_authorizer(value("jwt_authorizer"), f"{where}.jwt_authorizer")
    try:
        allowlist = _strings(data, keys, "request_headers", where)
        request_headers = check_allowlist(allowlist, jwt_authorizer=jwt is not None)
    except ValueError as exc:
        raise ConfigError(f"{where}.request_headers: {exc}") from None
    runtime_id = runtime_id_for(name)
    return RuntimeSpec(
        name=name,
        arn=runtime_arn(region, account, runtime_id),
        runtime_id=runtime_id,
        command=_command(value("command"), where),
        cwd=(base / value("cwd")).resolve(),
        protocol=protocol,
        path=path,
        port=port,
        env={str(k): str(v) for k, v in env.items()},
        idle_timeout=idle,
        max_lifetime=lifetime,
        start_timeout=float(value("start_timeout")),
        container_errors=container_errors,
        requests_per_second=rate or None,
        request_headers=request_headers,
        invoke_for_user=_strings(data, keys, "invoke_for_user", where),
        jwt_authorizer=jwt,
        faults=FaultSpec.from_mapping(value("faults") or {}, f"{where}.faults"),
    )


def parse_config(data: Mapping[str, Any], base: Path) -> EmulatorConfig:
    """Build the configuration from parsed TOML; relative paths are taken from ``base``."""
    _check(data, config_keys.TOP, "")
    settings = data.get("emulator", {})
    if not isinstance(settings, dict):
        raise ConfigError("emulator must be a table ([emulator])")
    keys = config_keys.EMULATOR
    _check(settings, keys, "emulator")

    value = _reader(settings, keys, "emulator")

    for name in (
        "runtimes",
        "oauth_clients",
        "models",
        "credential_providers",
        "lambda_functions",
    ):
        if not isinstance(data.get(name, []), list):
            raise ConfigError(f"{name} must be an array of tables ([[{name}]])")
    region = value("region")
    account = value("account")
    if not re.fullmatch(r"[0-9]{12}", account):
        raise ConfigError("emulator.account must be 12 digits")
    network = value("network")
    if network not in NETWORKS:
        raise ConfigError(f"emulator.network must be one of {NETWORKS} (got {network!r})")
    default_rate = float(value("requests_per_second"))
    runtimes = tuple(
        _runtime(item, i, base, region, account, default_rate)
        for i, item in enumerate(data.get("runtimes", []))
    )
    oauth_clients = tuple(
        _oauth_client(item, i) for i, item in enumerate(data.get("oauth_clients", []))
    )
    names = [r.name for r in runtimes]
    if not runtimes:
        raise ConfigError(
            "no runtime: add a [[runtimes]] table with a name and a command "
            "(docs/emulator.md has every key)"
        )
    if len(set(names)) != len(names):
        raise ConfigError("runtime names must be unique")
    return EmulatorConfig(
        runtimes=runtimes,
        region=region,
        account=account,
        access_key=value("access_key"),
        secret_key=value("secret_key"),
        max_sessions=value("max_sessions"),
        max_skew_seconds=float(value("max_skew_seconds")),
        reap_interval=float(value("reap_interval")),
        keep_alive=float(value("keep_alive")),
        header_timeout=float(value("header_timeout")),
        body_timeout=float(value("body_timeout")),
        request_timeout=float(value("request_timeout")),
        stream_timeout=float(value("stream_timeout")),
        max_chunk_bytes=value("max_chunk_bytes"),
        sandbox_call_timeout=float(value("sandbox_call_timeout")),
        sandbox_memory_mb=value("sandbox_memory_mb"),
        sandbox_max_output=value("sandbox_max_output"),
        warn_kept_alive_after=float(value("warn_kept_alive_after")),
        warn_unpinged_after=float(value("warn_unpinged_after")),
        warn_sessions_per_request=value("warn_sessions_per_request"),
        price_vcpu_hour=float(value("price_vcpu_hour")),
        price_gb_hour=float(value("price_gb_hour")),
        oauth_clients=oauth_clients,
        network=network,
        models=tuple(_model(item, i) for i, item in enumerate(data.get("models", []))),
        credential_providers=tuple(
            _credential_provider(item, i)
            for i, item in enumerate(data.get("credential_providers", []))
        ),
        lambda_handlers=dict(
            _lambda_function(item, i, base)
            for i, item in enumerate(data.get("lambda_functions", []))
        ),
    )


def load_config(path: Path | None) -> EmulatorConfig:
    """Read a TOML config file; without one, the built-in example's (an MCP echo server)."""
    path = path or DEFAULT_CONFIG
    try:
        data = tomllib.loads(path.read_text())
    except FileNotFoundError as exc:
        raise ConfigError(
            f"config file {path} not found (without --config the emulator serves its "
            f"built-in example)"
        ) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    return parse_config(data, path.parent)
