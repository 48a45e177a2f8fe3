#!/usr/bin/env python3
"""Benchmarks, side by side in one run: this proxy, the proxy it grew from, AWS's SigV4 proxy,
and a floor (signed HTTP, no proxy), all against the same emulator and the same MCP server.

Usage: bench/run.py [--rounds N]   (make bench). Writes bench/results.md and the table of
bench/README.md.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import datetime
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from driver import StdioClient  # noqa: E402
from floor import FloorClient, ModelClient  # noqa: E402

from agentcore_emulator.process import EmulatorProcess  # noqa: E402

VENVS = ROOT / "bench" / ".venvs"
CONFIG = ROOT / "fixtures" / "bench-emulator.toml"
OURS = "this proxy"
FLOOR = "floor (signed HTTP, no proxy)"
SEQUENTIAL_CALLS = 300  # enough for a p99 that is not just the second-worst call
# This proxy's sequential calls and the floor's alternate in blocks of this many, so both
# meet the same moment of a noisy machine: the ratio is measured, not two moments compared.
PAIRED_BLOCK = 20
# Warm starts a round, the contenders taking turns.
WARM_STARTS = 3
WARM_START = "cold start, warm instance (s)"
SLOW_CALL = 0.2
PROGRESS_STEPS = 10
THROUGHPUT_SECONDS = 3.0
CALLERS = 20  # as many clients at once as an MCP Inspector load test used
CALLS_PER_CALLER = 25
# Sequential calls, against a server answering in SSE (FastMCP's default) and in JSON.
SSE_P50 = "tools/call p50, SSE answers (ms)"
JSON_P50 = "tools/call p50, JSON answers (ms)"
# The same call behind an AgentCore Gateway of the emulator (its target: the same server).
GATEWAY_P50 = "gateway tools/call p50 (ms)"


@dataclass
class Contender:
    name: str
    package: str
    requirements: tuple[str, ...]
    version: str = ""

    def python(self) -> Path:
        return VENVS / self.name.replace(" ", "-") / "bin" / "python"


CONTENDERS = [
    # Ours from the checkout, with the wire contract it depends on (not on the index yet).
    Contender(OURS, "mcp-proxy-for-agentcore", (str(ROOT / "wire"), str(ROOT))),
    Contender("mcp-agentcore-proxy 0.1.5", "mcp-agentcore-proxy", ("mcp-agentcore-proxy==0.1.5",)),
    Contender("mcp-proxy-for-aws", "mcp-proxy-for-aws", ("mcp-proxy-for-aws==1.7.0",)),
]


def uv() -> str:
    found = shutil.which("uv") or str(ROOT / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        raise SystemExit("bench: uv not found; run `make bench` (it bootstraps uv)")
    return found


def install(contender: Contender) -> None:
    """Each contender gets a virtual environment of its own."""
    venv = contender.python().parents[1]
    if not contender.python().exists():
        subprocess.run([uv(), "venv", "-q", "-p", sys.executable, str(venv)], check=True)
    # Compiled as a user's second `uvx` run finds it (Python writes the bytecode on the
    # first): a start that compiles botocore measures the compiler, not the proxy.
    local = (
        ["--reinstall-package", contender.package, "--reinstall-package", "agentcore-wire"]
        if contender.name == OURS
        else []
    )
    subprocess.run(
        [
            uv(),
            "pip",
            "install",
            "-q",
            "--compile-bytecode",
            *local,
            "-p",
            str(contender.python()),
            *contender.requirements,
        ],
        check=True,
    )
    shown = subprocess.run(
        [uv(), "pip", "show", "-p", str(contender.python()), contender.package],
        capture_output=True,
        text=True,
        check=True,
    )
    contender.version = next(
        line.split(": ", 1)[1] for line in shown.stdout.splitlines() if line.startswith("Version: ")
    )


class Emulator(EmulatorProcess):
    """The benchmark's emulator: one MCP server for the proxies, one HTTP agent for itself,
    and (``gateway()``) an IAM gateway whose one target is the same MCP server, run as a
    plain local process."""

    def __init__(self, network: str = "isolated") -> None:
        super().__init__(CONFIG, cwd=ROOT, args=["--network", network])
        self.env = self.environment("bench_server")
        self.json_env = self.environment("bench_server_json")
        self._target: subprocess.Popen[bytes] | None = None
        self.gateway_url = ""

    def gateway(self) -> str:
        """An AWS_IAM gateway with the test server as its MCP target; its URL."""
        import boto3

        listener = socket.socket()
        listener.bind(("127.0.0.1", 0))
        listener.listen(64)
        port = listener.getsockname()[1]
        self._target = subprocess.Popen(
            [sys.executable, "servers/testing_server.py"],
            cwd=ROOT / "fixtures",
            env={**os.environ, "LISTEN_FD": str(listener.fileno()), "MCP_JSON_RESPONSE": "1"},
            pass_fds=(listener.fileno(),),
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        listener.close()
        control = boto3.client(
            "bedrock-agentcore-control",
            endpoint_url=self.url,
            region_name=self.config.region,
            aws_access_key_id=self.config.access_key,
            aws_secret_access_key=self.config.secret_key,
        )
        created = control.create_gateway(
            name="bench-gw",
            roleArn=f"arn:aws:iam::{self.config.account}:role/gateway",
            protocolType="MCP",
            authorizerType="AWS_IAM",
        )
        control.create_gateway_target(
            gatewayIdentifier=created["gatewayId"],
            name="testing",
            targetConfiguration={
                "mcp": {"mcpServer": {"endpoint": f"http://127.0.0.1:{port}/mcp"}}
            },
            credentialProviderConfigurations=[{"credentialProviderType": "GATEWAY_IAM_ROLE"}],
        )
        self.gateway_url = str(created["gatewayUrl"])
        return self.gateway_url

    def stop(self) -> None:
        if self._target is not None:
            self._target.terminate()
            self._target.wait(timeout=10)
        super().stop()

    def floor(self, runtime: str = "bench_server") -> FloorClient:
        return FloorClient(
            self.url,
            self.arns[runtime],
            self.config.access_key,
            self.config.secret_key,
            self.config.region,
        )


def command_for(
    contender: Contender, emulator: Emulator, runtime: str = "bench_server"
) -> list[str]:
    bin_dir = contender.python().parent
    if contender.name == "mcp-proxy-for-aws":
        if runtime == "gateway":
            endpoint = emulator.gateway_url
        else:
            arn = quote(emulator.arns[runtime], safe="")
            endpoint = f"{emulator.url}/runtimes/{arn}/invocations?qualifier=DEFAULT"
        return [
            str(bin_dir / "mcp-proxy-for-aws"),
            endpoint,
            "--service",
            "bedrock-agentcore",
            "--region",
            "us-east-1",
            "--log-level",
            "ERROR",
        ]
    return [str(bin_dir / "mcp-agentcore-proxy")]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def measure_proxy(
    contender: Contender, emulator: Emulator, beside: dict[str, float] | None = None
) -> dict[str, float]:
    """The contender's figures; for this proxy (``beside`` given), the floor's sequential
    figures measured beside it, in alternating blocks, go into ``beside``."""
    # Both stdio proxies read RUNTIME_SESSION_MODE: "session" gives each process a fresh
    # runtime session (a new instance), as AWS's proxy gets without a session id.
    env = {**emulator.env, "LOG_LEVEL": "ERROR", "RUNTIME_SESSION_MODE": "session"}
    client = StdioClient(command_for(contender, emulator), env)
    try:
        figures = {"cold start, new instance (s)": client.initialize()}
        floor = emulator.floor()
        latencies, floor_latencies = sequential(
            lambda: client.call_now("echo_size", {"text": "x"}),
            (lambda: floor.call(0, "echo_size", {"text": "x"})) if beside is not None else None,
        )
        figures[SSE_P50] = percentile(latencies, 50) * 1000
        figures["tools/call p99 (ms)"] = percentile(latencies, 99) * 1000
        if beside is not None:
            beside[SSE_P50] = percentile(floor_latencies, 50) * 1000
            beside["tools/call p99 (ms)"] = percentile(floor_latencies, 99) * 1000
        figures[f"{CALLERS} callers, p99 (ms)"] = callers_p99(
            lambda: client.call("echo_size", {"text": "x"}).get(timeout=120)
        )
        for n in (16, 32):
            started = time.perf_counter()
            answers = [client.call("sleep", {"seconds": SLOW_CALL}) for _ in range(n)]
            for answer in answers:
                answer.get(timeout=300)
            figures[f"{n} x 200 ms calls, wall (s)"] = time.perf_counter() - started
        client.call("stamped_progress", {"steps": PROGRESS_STEPS}, token="p").get(timeout=120)
        delays = []
        while not client.progress.empty():
            arrived, message = client.progress.get()
            delays.append(arrived - float(message["params"]["message"]))
        figures["progress delay p50 (ms)"] = (
            statistics.median(delays) * 1000 if delays else float("nan")
        )
        figures["peak RSS (MiB)"] = client.peak_rss_mib()
    finally:
        client.close()
    figures[JSON_P50] = json_p50(contender, emulator, beside)
    figures[GATEWAY_P50] = gateway_p50(contender, emulator, beside)
    return figures


def json_p50(
    contender: Contender, emulator: Emulator, beside: dict[str, float] | None = None
) -> float:
    """p50 of sequential calls to the same server answering in JSON instead of SSE."""
    env = {**emulator.json_env, "LOG_LEVEL": "ERROR", "RUNTIME_SESSION_MODE": "session"}
    client = StdioClient(command_for(contender, emulator, "bench_server_json"), env)
    try:
        client.initialize()
        floor = emulator.floor("bench_server_json")
        return paired_p50(
            lambda: client.call_now("echo_size", {"text": "x"}),
            lambda: floor.call(0, "echo_size", {"text": "x"}),
            JSON_P50,
            beside,
        )
    finally:
        client.close()


def gateway_p50(
    contender: Contender, emulator: Emulator, beside: dict[str, float] | None = None
) -> float:
    """p50 of sequential calls to the same tool behind an IAM gateway (--url); nan for a
    contender that reaches runtimes only."""
    if contender.name == "mcp-agentcore-proxy 0.1.5":
        return float("nan")
    env = {k: v for k, v in emulator.env.items() if k != "AGENTCORE_AGENT_ARN"}
    env |= {
        "LOG_LEVEL": "ERROR",
        "AGENTCORE_MCP_URL": emulator.gateway_url,
        "AGENTCORE_SIGNING_SERVICE": "bedrock-agentcore",
    }
    client = StdioClient(command_for(contender, emulator, "gateway"), env)
    try:
        client.initialize()
        config = emulator.config
        floor = FloorClient.for_url(
            emulator.gateway_url, config.access_key, config.secret_key, config.region
        )
        return paired_p50(
            lambda: client.call_now("testing___echo_size", {"text": "x"}),
            lambda: floor.call(0, "testing___echo_size", {"text": "x"}),
            GATEWAY_P50,
            beside,
        )
    finally:
        client.close()


def paired_p50(
    call: Callable[[], object],
    floor_call: Callable[[], object],
    figure: str,
    beside: dict[str, float] | None,
) -> float:
    """p50 of ``call``; with ``beside``, the floor's p50 measured alongside goes there."""
    latencies, floor_latencies = sequential(call, floor_call if beside is not None else None)
    if beside is not None:
        beside[figure] = percentile(floor_latencies, 50) * 1000
    return percentile(latencies, 50) * 1000


def sequential(
    call: Callable[[], object], floor_call: Callable[[], object] | None = None
) -> tuple[list[float], list[float]]:
    """Latencies of SEQUENTIAL_CALLS calls one after another; with ``floor_call``, as many
    of the floor's, the two alternating in blocks (which goes first alternates too)."""
    latencies: list[float] = []
    floor_latencies: list[float] = []
    sides: list[tuple[Callable[[], object], list[float]]] = [(call, latencies)]
    if floor_call is not None:
        floor_call()  # its runtime session's instance started, not timed
        sides.append((floor_call, floor_latencies))
    for block in range(SEQUENTIAL_CALLS // PAIRED_BLOCK):
        for timed, into in sides if block % 2 == 0 else sides[::-1]:
            for _ in range(PAIRED_BLOCK):
                started = time.perf_counter()
                timed()
                into.append(time.perf_counter() - started)
    return latencies, floor_latencies


def warm_start(contender: Contender, emulator: Emulator) -> float:
    """Seconds from starting the proxy to its ``initialize`` answer, the instance warm.

    Identity mode (this proxy's default): a restarted proxy reaches the instance its
    previous run started, so this is the proxy's own start (an earlier run warmed it).
    """
    env = {**emulator.env, "LOG_LEVEL": "ERROR", "RUNTIME_SESSION_MODE": "identity"}
    client = StdioClient(command_for(contender, emulator), env)
    try:
        return client.initialize()
    finally:
        client.close()


def warm_starts(contenders: list[Contender], emulator: Emulator) -> dict[str, float]:
    """Each contender's median warm start, the contenders taking turns WARM_STARTS times:
    their starts meet the same moments of the machine, as the floor meets this proxy's calls."""
    starts: dict[str, list[float]] = {c.name: [] for c in contenders}
    for _ in range(WARM_STARTS):
        for contender in contenders:
            with contextlib.suppress(Exception):
                starts[contender.name].append(warm_start(contender, emulator))
    return {name: statistics.median(values) for name, values in starts.items() if values}


def callers_p99(call: Callable[[], object]) -> float:
    """p99 latency of CALLERS clients each calling in a loop at once."""
    latencies: list[float] = []
    lock = threading.Lock()

    def caller() -> None:
        for _ in range(CALLS_PER_CALLER):
            started = time.perf_counter()
            call()
            with lock:
                latencies.append(time.perf_counter() - started)

    with concurrent.futures.ThreadPoolExecutor(CALLERS) as pool:
        for done in [pool.submit(caller) for _ in range(CALLERS)]:
            done.result()
    return percentile(latencies, 99) * 1000


def measure_floor(emulator: Emulator) -> dict[str, float]:
    """The floor's figures under load; its sequential ones are measured beside this proxy."""
    floor = emulator.floor()
    floor.call(0, "echo_size", {"text": "x"})  # its instance started, not timed
    figures: dict[str, float] = {}
    figures[f"{CALLERS} callers, p99 (ms)"] = callers_p99(
        lambda: floor.call(0, "echo_size", {"text": "x"})
    )
    for n in (16, 32):
        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(n) as pool:
            list(pool.map(lambda i: floor.call(i, "sleep", {"seconds": SLOW_CALL}), range(n)))
        figures[f"{n} x 200 ms calls, wall (s)"] = time.perf_counter() - started
    delays: list[float] = []

    def on_event(arrived: float, message: dict) -> None:
        if message.get("method") == "notifications/progress":
            delays.append(arrived - float(message["params"]["message"]))

    floor.call(0, "stamped_progress", {"steps": PROGRESS_STEPS}, token="p", on_event=on_event)
    figures["progress delay p50 (ms)"] = statistics.median(delays) * 1000
    return figures


def emulator_throughput(emulator: Emulator, clients: int) -> float:
    """Signed invocations per second the emulator serves (SigV4 checked, relayed to an agent)."""
    floor = emulator.floor("bench_http")
    floor.post({"warm": True})
    stop = time.perf_counter() + THROUGHPUT_SECONDS
    counts = [0] * clients

    def worker(index: int) -> None:
        while time.perf_counter() < stop:
            floor.post({"n": counts[index]})
            counts[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / THROUGHPUT_SECONDS


MODEL_CALLS = "Converse, 1 client (calls/s)"
FIRST_EVENT = "ConverseStream, first event p50 (ms)"
FIRST_EVENT_CALLS = 200


def model_figures(emulator: Emulator) -> dict[str, float]:
    """The emulator's deterministic model: Converse calls per second with one client, and
    the delay from a ConverseStream request to its first event."""
    config = emulator.config
    client = ModelClient(
        emulator.url,
        "us.anthropic.claude-sonnet-4-20250514-v1:0",
        config.access_key,
        config.secret_key,
        config.region,
    )
    try:
        client.converse("warm")
        calls = 0
        stop = time.perf_counter() + THROUGHPUT_SECONDS
        while time.perf_counter() < stop:
            client.converse(f"call {calls}")
            calls += 1
        delays = [client.first_event_delay(f"stream {i}") for i in range(FIRST_EVENT_CALLS)]
    finally:
        client.close()
    return {MODEL_CALLS: calls / THROUGHPUT_SECONDS, FIRST_EVENT: percentile(delays, 50) * 1000}


FIGURES = [
    SSE_P50,
    JSON_P50,
    GATEWAY_P50,
    "tools/call p99 (ms)",
    f"{CALLERS} callers, p99 (ms)",
    "16 x 200 ms calls, wall (s)",
    "32 x 200 ms calls, wall (s)",
    "progress delay p50 (ms)",
    "cold start, new instance (s)",
    WARM_START,
    "peak RSS (MiB)",
]


def cell(values: list[float], ours: list[float] | None) -> str:
    if not values or any(v != v for v in values):
        return "n/a"
    median = statistics.median(values)
    text = f"{median:.3g} ({min(values):.3g}-{max(values):.3g})"
    if ours:
        text += f" x{median / statistics.median(ours):.2f}"
    return text


def run(rounds: int) -> str:
    for contender in CONTENDERS:
        install(contender)
    emulator = Emulator()
    emulator.gateway()
    # The emulator's own figure in both networks, side by side: instances in namespaces of
    # their own (the default) and on shared loopback (the fallback, and the earlier design).
    shared = Emulator("shared")
    results: dict[str, dict[str, list[float]]] = {c.name: {} for c in CONTENDERS}
    results[FLOOR] = {}
    throughput: dict[tuple[int, str], list[float]] = {
        (clients, network): [] for clients in (1, 16) for network in ("isolated", "shared")
    }
    models: dict[str, list[float]] = {MODEL_CALLS: [], FIRST_EVENT: []}
    errors: dict[str, str] = {}
    try:
        # Unrecorded: every contender's runtime session gets its instance started first.
        for contender in CONTENDERS:
            with contextlib.suppress(Exception):
                measure_proxy(contender, emulator)
            with contextlib.suppress(Exception):
                warm_start(contender, emulator)
        for round_ in range(1, rounds + 1):
            print(f"round {round_}/{rounds}", file=sys.stderr)
            # Each round starts with another contender: whatever the round before left
            # running (the emulator's throughput test, an instance stopping) falls on each
            # in turn, not always on the first.
            turn = (round_ - 1) % len(CONTENDERS)
            for contender in CONTENDERS[turn:] + CONTENDERS[:turn]:
                beside: dict[str, float] | None = {} if contender.name == OURS else None
                try:
                    figures = measure_proxy(contender, emulator, beside)
                except Exception as exc:  # a contender that cannot do it is reported, not fatal
                    errors[contender.name] = f"{type(exc).__name__}: {exc}"[:200]
                    continue
                for key, value in figures.items():
                    results[contender.name].setdefault(key, []).append(value)
                for key, value in (beside or {}).items():
                    results[FLOOR].setdefault(key, []).append(value)
            for name, value in warm_starts(CONTENDERS[turn:] + CONTENDERS[:turn], emulator).items():
                results[name].setdefault(WARM_START, []).append(value)
            for key, value in measure_floor(emulator).items():
                results[FLOOR].setdefault(key, []).append(value)
            for (clients, network), values in throughput.items():
                serving = emulator if network == "isolated" else shared
                values.append(emulator_throughput(serving, clients))
            for key, value in model_figures(emulator).items():
                models[key].append(value)
    finally:
        emulator.stop()
        shared.stop()
    return report(results, throughput, models, errors, rounds)


def report(
    results: dict[str, dict[str, list[float]]],
    throughput: dict[tuple[int, str], list[float]],
    models: dict[str, list[float]],
    errors: dict[str, str],
    rounds: int,
) -> str:
    names = [c.name for c in CONTENDERS] + [FLOOR]
    header = "| figure | " + " | ".join(names) + " |"
    lines = [
        f"Measured {datetime.date.today()} on {platform.machine()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}; versions: "
        + ", ".join(f"{c.package} {c.version}" for c in CONTENDERS)
        + ".",
        f"Each cell: median (min-max) over {rounds} rounds, then the ratio to this proxy "
        "(lower is better).",
        "",
        header,
        "|" + "---|" * (len(names) + 1),
    ]
    for figure in FIGURES:
        ours = results[OURS].get(figure)
        row = [
            cell(results[name].get(figure, []), ours if name != OURS else None) for name in names
        ]
        lines.append(f"| {figure} | " + " | ".join(row) + " |")
    lines += ["", *targets(results)]
    lines += [
        "",
        "| emulator alone (SigV4 checked, relayed to an HTTP agent) | invocations/s |",
        "|---|---|",
    ]
    for (clients, network), values in throughput.items():
        who = f"{clients} concurrent client{'s' if clients > 1 else ''}, {network} network"
        lines.append(f"| {who} | {cell(values, None)} |")
    lines += [
        "",
        "| emulator's Bedrock models (deterministic, SigV4 checked) | figure |",
        "|---|---|",
        *(f"| {figure} | {cell(values, None)} |" for figure, values in models.items()),
        "",
        *model_targets(models),
    ]
    for name, error in errors.items():
        lines.append(f"\n{name} failed: `{error}`")
    return "\n".join(lines) + "\n"


# The project's performance targets: (figure, whom this proxy is measured against, at most).
TARGETS = [
    (SSE_P50, FLOOR, 1.2),
    (JSON_P50, FLOOR, 1.2),
    (WARM_START, "mcp-agentcore-proxy 0.1.5", 0.8),
]


# The emulator's model targets: (figure, at least, at most).
MODEL_TARGETS = [(MODEL_CALLS, 500.0, None), (FIRST_EVENT, None, 5.0)]


def model_targets(models: dict[str, list[float]]) -> list[str]:
    lines = []
    for figure, least, most in MODEL_TARGETS:
        if not models.get(figure):
            lines.append(f"- {figure}: not measured.")
            continue
        median = statistics.median(models[figure])
        met = (least is None or median >= least) and (most is None or median <= most)
        bound = f"at least {least:g}" if least is not None else f"at most {most:g}"
        verdict = "met" if met else "NOT met"
        lines.append(f"- {figure}: {median:.3g} (target: {bound}), {verdict}.")
    return lines


def targets(results: dict[str, dict[str, list[float]]]) -> list[str]:
    """A line per target: this proxy's median over the other's, and whether it is met."""
    lines = []
    for figure, other, limit in TARGETS:
        ours, theirs = results[OURS].get(figure), results[other].get(figure)
        if not ours or not theirs:
            lines.append(f"- {figure}: not measured (target: at most {limit}x {other}).")
            continue
        if len(ours) == len(theirs):
            # Every target's two figures are measured beside each other in each round (the
            # floor's calls between this proxy's, warm starts in turns): each round's ratio.
            ratio = statistics.median(o / t for o, t in zip(ours, theirs, strict=True))
        else:
            ratio = statistics.median(ours) / statistics.median(theirs)
        verdict = "met" if ratio <= limit else "NOT met"
        lines.append(
            f"- {figure}: this proxy at {ratio:.2f}x {other} (target: at most {limit}x), {verdict}."
        )
    return lines


def update_readme(table: str) -> None:
    readme = ROOT / "bench" / "README.md"
    text = readme.read_text()
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    if start in text and end in text:
        before, _, rest = text.partition(start)
        _, _, after = rest.partition(end)
        readme.write_text(f"{before}{start}\n{table}{end}{after}")


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    table = run(parser.parse_args().rounds)
    (ROOT / "bench" / "results.md").write_text("# Benchmark results\n\n" + table)
    update_readme(table)
    print(table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
