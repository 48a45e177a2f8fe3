"""Drives a stdio MCP proxy process line by line, timestamping what it writes."""

from __future__ import annotations

import itertools
import json
import queue
import subprocess
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any


class StdioClient:
    """One proxy process; every stdout line is parsed and stamped on arrival.

    Until the first ``send``, calls are synchronous (``exchange``): the answer is read on
    the thread that wrote the request, as the floor reads its own, so one call after
    another measures the proxy and not a hand-off between the driver's threads (about
    0.05 ms a call on 2 cores). ``send`` starts a reader thread for calls in parallel.
    """

    def __init__(self, command: Sequence[str], env: Mapping[str, str]) -> None:
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            list(command),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=dict(env),
        )
        self._ids = itertools.count(1)
        self._waiters: dict[Any, queue.Queue[tuple[float, dict]]] = {}
        self._lock = threading.Lock()
        self.progress: queue.Queue[tuple[float, dict]] = queue.Queue()
        self._reader: threading.Thread | None = None

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            arrived = time.time()
            message = json.loads(line)
            if message.get("method") == "notifications/progress":
                self.progress.put((arrived, message))
                continue
            with self._lock:
                waiter = self._waiters.get(message.get("id"))
            if waiter is not None:
                waiter.put((arrived, message))

    def _write(self, body: dict[str, Any]) -> None:
        assert self.process.stdin is not None
        with self._lock:  # callers on several threads: one whole line at a time
            self.process.stdin.write(json.dumps(body).encode() + b"\n")
            self.process.stdin.flush()

    def exchange(self, method: str, params: dict | None = None) -> dict:
        """Send a request and read stdout on this thread until its response comes."""
        assert self._reader is None, "a reader thread owns stdout once send() was used"
        assert self.process.stdout is not None
        id_ = next(self._ids)
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
        if params is not None:
            body["params"] = params
        self._write(body)
        while line := self.process.stdout.readline():
            arrived = time.time()
            message = json.loads(line)
            if message.get("method") == "notifications/progress":
                self.progress.put((arrived, message))
            elif message.get("id") == id_:
                return message
        raise RuntimeError(f"the proxy ended before answering {method}")

    def send(self, method: str, params: dict | None = None) -> queue.Queue[tuple[float, dict]]:
        """Send a request; the returned queue receives its response."""
        if self._reader is None:
            self._reader = threading.Thread(target=self._read, daemon=True)
            self._reader.start()
        id_ = next(self._ids)
        answer: queue.Queue[tuple[float, dict]] = queue.Queue()
        with self._lock:
            self._waiters[id_] = answer
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": id_, "method": method}
        if params is not None:
            body["params"] = params
        self._write(body)
        return answer

    def request(self, method: str, params: dict | None = None, timeout: float = 120) -> dict:
        if self._reader is None:
            message = self.exchange(method, params)
        else:
            _, message = self.send(method, params).get(timeout=timeout)
        if "error" in message:
            raise RuntimeError(f"{method} failed: {message['error']}")
        return message

    def notify(self, method: str) -> None:
        self._write({"jsonrpc": "2.0", "method": method})

    def initialize(self) -> float:
        """Handshake; return seconds from process start to the initialize answer."""
        self.request(
            "initialize",
            {
                "protocolVersion": "2025-06-18",
                "capabilities": {},
                "clientInfo": {"name": "bench", "version": "1"},
            },
        )
        elapsed = time.perf_counter() - self.started
        self.notify("notifications/initialized")
        return elapsed

    def call(
        self, name: str, arguments: dict, token: object = None
    ) -> queue.Queue[tuple[float, dict]]:
        params: dict[str, Any] = {"name": name, "arguments": arguments}
        if token is not None:
            params["_meta"] = {"progressToken": token}
        return self.send("tools/call", params)

    def call_now(self, name: str, arguments: dict) -> dict:
        """A tools/call answered before this returns, read on this thread."""
        return self.exchange("tools/call", {"name": name, "arguments": arguments})

    def peak_rss_mib(self) -> float:
        """The process's peak resident memory (Linux VmHWM)."""
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
        return float("nan")

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
