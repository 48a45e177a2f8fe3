"""The floor: a minimal SigV4-signed HTTP client calling the emulator directly, no proxy."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time
import uuid
from typing import Any
from urllib.parse import quote, urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from agentcore_wire.sse import SseDecoder


class FloorClient:
    """Signs each call with botocore, reads answers as they arrive; a connection per thread."""

    def __init__(
        self, endpoint: str, arn: str, access_key: str, secret_key: str, region: str
    ) -> None:
        parts = urlsplit(endpoint)
        self._host, self._port = parts.hostname or "127.0.0.1", parts.port or 80
        self._endpoint = endpoint
        self._path = f"/runtimes/{quote(arn, safe='')}/invocations?qualifier=DEFAULT"
        self._signer = SigV4Auth(Credentials(access_key, secret_key), "bedrock-agentcore", region)
        self._session = f"bench-floor-{uuid.uuid4()}"
        self._local = threading.local()

    @classmethod
    def for_url(cls, url: str, access_key: str, secret_key: str, region: str) -> FloorClient:
        """The floor for any MCP URL (a gateway's): the same client, posting to that path."""
        parts = urlsplit(url)
        floor = cls(f"{parts.scheme}://{parts.netloc}", "unused", access_key, secret_key, region)
        floor._path = parts.path
        return floor

    def _connection(self) -> http.client.HTTPConnection:
        if not hasattr(self._local, "conn"):
            conn = http.client.HTTPConnection(self._host, self._port, timeout=300)
            conn.connect()
            # As urllib3 (and so boto3) does: without it small writes wait on delayed ACKs.
            conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._local.conn = conn
        return self._local.conn

    def post(self, body: dict[str, Any], on_event: Any = None) -> dict:
        """Send one message; call ``on_event(time, message)`` per event; return the last."""
        payload = json.dumps(body).encode()
        request = AWSRequest(
            method="POST",
            url=self._endpoint + self._path,
            data=payload,
            headers={
                "Content-Type": "application/json",
                "Accept": "application/json, text/event-stream",
                "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": self._session,
            },
        )
        self._signer.add_auth(request)
        conn = self._connection()
        conn.request("POST", self._path, body=payload, headers=dict(request.headers.items()))
        response = conn.getresponse()
        last: dict = {}
        if response.getheader("content-type", "").startswith("text/event-stream"):
            decoder = SseDecoder()
            while chunk := response.read1(65536):
                for data in decoder.feed(chunk):
                    last = json.loads(data)
                    if on_event is not None:
                        on_event(time.time(), last)
        else:
            raw = response.read()
            last = json.loads(raw) if raw else {}
        if response.status >= 400:
            raise RuntimeError(f"HTTP {response.status}: {last}")
        return last

    def call(
        self, id_: int, name: str, arguments: dict, token: object = None, on_event: Any = None
    ) -> dict:
        params: dict[str, Any] = {"name": name, "arguments": arguments}
        if token is not None:
            params["_meta"] = {"progressToken": token}
        return self.post(
            {"jsonrpc": "2.0", "id": id_, "method": "tools/call", "params": params}, on_event
        )


class ModelClient:
    """Bedrock Runtime's Converse and ConverseStream on the emulator, signed as boto3 signs
    them (service ``bedrock``) and read with ``http.client``: the model's own figure, with
    as little client as the floor has."""

    def __init__(
        self, endpoint: str, model_id: str, access_key: str, secret_key: str, region: str
    ) -> None:
        parts = urlsplit(endpoint)
        self._endpoint = endpoint
        self._base = f"/model/{quote(model_id, safe='')}"
        self._signer = SigV4Auth(Credentials(access_key, secret_key), "bedrock", region)
        self._conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
        self._conn.connect()
        self._conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def _send(self, operation: str, text: str) -> http.client.HTTPResponse:
        path = f"{self._base}/{operation}"
        payload = json.dumps({"messages": [{"role": "user", "content": [{"text": text}]}]})
        request = AWSRequest(
            method="POST",
            url=self._endpoint + path,
            data=payload.encode(),
            headers={"Content-Type": "application/json"},
        )
        self._signer.add_auth(request)
        self._conn.request("POST", path, body=payload, headers=dict(request.headers.items()))
        response = self._conn.getresponse()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {response.read()[:200]!r}")
        return response

    def converse(self, text: str) -> dict:
        return json.loads(self._send("converse", text).read())

    def first_event_delay(self, text: str) -> float:
        """Seconds from sending a ConverseStream request to its first event's bytes."""
        started = time.perf_counter()
        response = self._send("converse-stream", text)
        response.read1(65536)  # the first event-stream frame (messageStart)
        delay = time.perf_counter() - started
        response.read()  # the rest, so the connection carries the next call
        return delay

    def close(self) -> None:
        self._conn.close()
