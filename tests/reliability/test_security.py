"""The emulator refuses what AWS refuses; nothing secret reaches a log."""

from __future__ import annotations

import datetime
import json
import socket
import uuid
from collections.abc import Callable, Iterator
from urllib.parse import quote, urlsplit

import anyio
import httpx
import pytest
from websockets.asyncio.client import connect

from tests.harness import ROOT, Emulator, Proxy, signed_request, websocket_to

BODY = b'{"jsonrpc":"2.0","id":1,"method":"tools/list"}'


def _signed(emulator: Emulator, **signing: object) -> dict:
    path = f"/runtimes/{quote(emulator.arns['demo_server'], safe='')}/invocations?qualifier=DEFAULT"
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": "security-" + "s" * 32,
    }
    return signed_request(emulator, "POST", path, BODY, headers, **signing)


def _send(call: dict) -> httpx.Response:
    return httpx.request(**call, timeout=60)


def test_a_correctly_signed_request_passes(emulator: Emulator) -> None:
    assert _send(_signed(emulator)).status_code == 200


def _tamper_header(call: dict) -> None:
    call["headers"]["X-Amzn-Bedrock-AgentCore-Runtime-Session-Id"] = "tampered-" + "t" * 32


def _tamper_body(call: dict) -> None:
    call["content"] = BODY.replace(b"tools/list", b"tools/call")


def _tamper_path(call: dict) -> None:
    call["url"] = call["url"].replace("demo_server", "testing_server")


def _tamper_query(call: dict) -> None:
    call["url"] = call["url"].replace("qualifier=DEFAULT", "qualifier=PROD")


@pytest.mark.parametrize(
    "tamper", [_tamper_header, _tamper_body, _tamper_path, _tamper_query], ids=lambda f: f.__name__
)
def test_tampered_requests_are_refused(emulator: Emulator, tamper: Callable[[dict], None]) -> None:
    call = _signed(emulator)
    tamper(call)
    answer = _send(call)
    assert answer.status_code == 403
    assert answer.headers["x-amzn-ErrorType"] == "InvalidSignatureException"


@pytest.mark.parametrize(
    ("options", "wording"),
    [
        ({"secret": "wrong"}, "signature we calculated does not match"),
        ({"region": "eu-west-1"}, "valid region"),
        ({"service": "s3"}, "correct service"),
        ({"skew": datetime.timedelta(minutes=-6)}, "Signature expired"),
        ({"skew": datetime.timedelta(minutes=6)}, "Signature not yet current"),
    ],
    ids=["wrong-secret", "wrong-region", "wrong-service", "replayed-after-skew", "from-the-future"],
)
def test_bad_signatures_are_refused_with_aws_wording(
    emulator: Emulator, options: dict, wording: str
) -> None:
    if "skew" in options:  # the clock is read now, not when the tests were collected
        options = {"at": datetime.datetime.now(datetime.UTC) + options["skew"]}
    call = _signed(emulator, **options)
    answer = _send(call)
    assert answer.status_code == 403
    assert answer.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert wording in answer.json()["message"]


def test_unsigned_requests_are_refused(emulator: Emulator) -> None:
    call = _signed(emulator)
    del call["headers"]["Authorization"]
    answer = _send(call)
    assert (answer.status_code, answer.headers["x-amzn-ErrorType"]) == (
        403,
        "MissingAuthenticationTokenException",
    )


def test_emulator_binds_loopback_by_default(emulator: Emulator) -> None:
    assert emulator.url.startswith("http://127.0.0.1:")


def test_no_key_or_token_in_any_log_at_debug(proxy_factory, emulator: Emulator) -> None:
    role = emulator.client("sts").assume_role(
        RoleArn="arn:aws:iam::123456789012:role/canary", RoleSessionName="canary"
    )
    token = role["Credentials"]["SessionToken"]
    secret = role["Credentials"]["SecretAccessKey"]
    proxy: Proxy = proxy_factory(
        "demo_server",
        AWS_ACCESS_KEY_ID=role["Credentials"]["AccessKeyId"],
        AWS_SECRET_ACCESS_KEY=secret,
        AWS_SESSION_TOKEN=token,
        LOG_LEVEL="DEBUG",
    )
    assert "result" in proxy.request(1, "tools/list")
    proxy.close_stdin()
    for log in (proxy.stderr(), emulator.stderr()):
        assert token not in log and secret not in log
        assert "AWS4-HMAC-SHA256 Credential=" not in log


@pytest.mark.parametrize("service", ["sts", "bedrock"])
def test_the_data_plane_takes_only_its_own_service_scope(emulator: Emulator, service: str) -> None:
    answer = _send(_signed(emulator, service=service))
    assert answer.status_code == 403
    assert answer.headers["x-amzn-ErrorType"] == "InvalidSignatureException"
    assert f"Credential should be scoped to correct service: '{service}'" in answer.text


def test_an_unsigned_payload_is_refused_so_a_body_cannot_be_swapped(emulator: Emulator) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    class UnsignedPayload(SigV4Auth):
        def payload(self, request: AWSRequest) -> str:
            return "UNSIGNED-PAYLOAD"

    url = _signed(emulator)["url"]
    request = AWSRequest(
        method="POST",
        url=url,
        data=BODY,
        headers={
            "Content-Type": "application/json",
            "X-Amz-Content-SHA256": "UNSIGNED-PAYLOAD",
            "X-Amzn-Bedrock-AgentCore-Runtime-Session-Id": "security-" + "u" * 32,
        },
    )
    UnsignedPayload(
        Credentials("AKIAAGENTCOREEMULATOR", "agentcore-emulator-local-secret-key"),
        "bedrock-agentcore",
        "us-east-1",
    ).add_auth(request)
    prepared = request.prepare()
    swapped = BODY.replace(b"tools/list", b"tools/call")
    answer = httpx.post(url, content=swapped, headers=dict(prepared.headers), timeout=60)
    assert answer.status_code == 403
    assert "x-amz-content-sha256" in answer.text


def test_an_unexpected_field_in_the_authorization_header_is_refused(emulator: Emulator) -> None:
    call = _signed(emulator)
    call["headers"]["Authorization"] += ", Junk=1"
    answer = _send(call)
    assert answer.status_code == 403
    assert answer.headers["x-amzn-ErrorType"] == "IncompleteSignatureException"


def _sign_with_date_header(emulator: Emulator, signed: bool) -> dict:
    """Signed as a client that sends the HTTP Date header and no X-Amz-Date would."""
    import email.utils
    import hashlib
    import hmac

    now = datetime.datetime.now(datetime.UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    call = _signed(emulator)
    host = httpx.URL(call["url"]).netloc.decode()
    raw_path, query = call["url"].split(host, 1)[1].split("?", 1)
    headers = {
        "content-type": "application/json",
        "date": email.utils.format_datetime(now, usegmt=True),
        "host": host,
        "x-amzn-bedrock-agentcore-runtime-session-id": "security-" + "d" * 32,
    }
    names = sorted(headers) if signed else sorted(set(headers) - {"date"})
    canonical = "\n".join(
        [
            "POST",
            quote(raw_path, safe="/~"),  # SigV4 encodes the (already encoded) path again
            query,
            "".join(f"{n}:{headers[n]}\n" for n in names),
            ";".join(names),
            hashlib.sha256(BODY).hexdigest(),
        ]
    )
    scope = f"{day}/us-east-1/bedrock-agentcore/aws4_request"
    to_sign = "\n".join(
        ["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    key = b"AWS4agentcore-emulator-local-secret-key"
    for part in (day, "us-east-1", "bedrock-agentcore", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    signature = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential=AKIAAGENTCOREEMULATOR/{scope}, "
        f"SignedHeaders={';'.join(names)}, Signature={signature}"
    )
    headers["accept"] = "application/json, text/event-stream"
    return {"method": "POST", "url": call["url"], "content": BODY, "headers": headers}


def test_the_http_date_header_may_stand_in_for_x_amz_date_when_signed(emulator: Emulator) -> None:
    assert _send(_sign_with_date_header(emulator, signed=True)).status_code == 200
    refused = _send(_sign_with_date_header(emulator, signed=False))
    assert refused.status_code == 403 and "'Date' must be a 'SignedHeader'" in refused.text


@pytest.mark.parametrize(
    ("credentials", "code"),
    [
        ({"aws_secret_access_key": "wrong"}, "SignatureDoesNotMatch"),
        ({"aws_access_key_id": "AKIAUNKNOWNUNKNOWN00"}, "InvalidClientTokenId"),
    ],
)
def test_sts_refusals_come_as_sts_errors_that_boto3_parses(
    emulator: Emulator, credentials: dict, code: str
) -> None:
    import botocore.exceptions

    sts = emulator.client("sts", **credentials)
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        sts.get_caller_identity()
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403


def test_an_expired_sts_token_is_an_sts_error(emulator: Emulator) -> None:
    import botocore.exceptions

    issued = emulator.client("sts").assume_role(
        RoleArn="arn:aws:iam::123456789012:role/short-lived", RoleSessionName="expiring"
    )["Credentials"]
    emulator.admin.post("/_emulator/credentials/expire", json={}).raise_for_status()
    sts = emulator.client(
        "sts",
        aws_access_key_id=issued["AccessKeyId"],
        aws_secret_access_key=issued["SecretAccessKey"],
        aws_session_token=issued["SessionToken"],
    )
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        sts.get_caller_identity()
    assert caught.value.response["Error"]["Code"] == "ExpiredToken"


@pytest.fixture(scope="module")
def impatient_emulator(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Emulator]:
    config = tmp_path_factory.mktemp("impatient") / "emulator.toml"
    agent = ROOT / "fixtures" / "servers" / "http_agent.py"
    config.write_text(
        "[emulator]\nheader_timeout = 0.5\nbody_timeout = 0.5\nrequests_per_second = 0\n"
        f'[[runtimes]]\nname = "http_agent"\nprotocol = "HTTP"\n'
        f'command = ["python", "{agent}"]\n'
    )
    emulator = Emulator(config)
    yield emulator
    emulator.stop()


def _connect(emulator: Emulator) -> socket.socket:
    parts = urlsplit(emulator.url)
    # The bound only keeps a failing test from hanging: the emulator closes far sooner.
    return socket.create_connection((parts.hostname, parts.port), timeout=30)


def _closed_by_peer(sock: socket.socket) -> bool:
    try:
        return sock.recv(65536) == b""
    except ConnectionResetError:
        return True


@pytest.mark.parametrize(
    "opening",
    [b"", b"POST /runtimes/x/invocations HTTP/1.1\r\n", b"GET /_emulator/health HTTP/1.1\r\nHo"],
    ids=["nothing", "request line only", "half a header"],
)
def test_a_connection_that_never_finishes_its_headers_is_closed(
    impatient_emulator: Emulator, opening: bytes
) -> None:
    with _connect(impatient_emulator) as stalled:
        stalled.sendall(opening)
        # Meanwhile the emulator serves others.
        assert impatient_emulator.admin.get("/_emulator/health").status_code == 200
        assert _closed_by_peer(stalled)


def test_a_kept_alive_connection_stalling_on_its_next_request_is_closed(
    impatient_emulator: Emulator,
) -> None:
    host = urlsplit(impatient_emulator.url).netloc
    with _connect(impatient_emulator) as sock:
        sock.sendall(f"GET /_emulator/health HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        answer = b""
        while b"\r\n\r\n" not in answer:
            answer += sock.recv(65536)
        assert answer.startswith(b"HTTP/1.1 200")
        sock.sendall(b"GET /_emulator/health HTTP/1.1\r\n")  # and never the rest
        while not _closed_by_peer(sock):  # the rest of the first answer's body, then the close
            pass


def test_a_websocket_outlives_the_header_deadline(impatient_emulator: Emulator) -> None:
    async def talk() -> None:
        url, headers = websocket_to(impatient_emulator, "http_agent", f"ws-{uuid.uuid4()}")
        async with connect(url, additional_headers=headers) as stream:
            await stream.send("first")
            assert await stream.recv() == "echo: first"
            # A connection opened after the WebSocket, closed at its header deadline: the
            # WebSocket's own deadline, had it one, has passed too.
            with _connect(impatient_emulator) as stalled:
                stalled.sendall(b"GET /_emulator/health HTTP/1.1\r\n")
                assert await anyio.to_thread.run_sync(_closed_by_peer, stalled)
            await stream.send("after")
            assert await stream.recv() == "echo: after"

    anyio.run(talk)


def test_a_request_that_never_finishes_its_body_is_closed(impatient_emulator: Emulator) -> None:
    host = urlsplit(impatient_emulator.url).netloc
    with _connect(impatient_emulator) as stalled:
        stalled.sendall(
            f"POST /runtimes/x/invocations HTTP/1.1\r\nHost: {host}\r\n"
            'Content-Length: 1000\r\n\r\n{"half":'.encode()
        )
        assert impatient_emulator.admin.get("/_emulator/health").status_code == 200
        assert _closed_by_peer(stalled)


def _answer(sock: socket.socket, request: bytes) -> bytes:
    """Send ``request``; read one whole answer (headers, then its Content-Length of body)."""
    sock.sendall(request)
    answer = b""
    while b"\r\n\r\n" not in answer:
        answer += sock.recv(65536)
    head, _, body = answer.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":")[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length:")
    )
    while len(body) < length:
        body += sock.recv(65536)
    return head


def test_a_body_sent_in_time_leaves_its_connection_open(impatient_emulator: Emulator) -> None:
    host = urlsplit(impatient_emulator.url).netloc
    body = b'{"seconds": 0}'
    head = (
        f"POST /_emulator/clock/advance HTTP/1.1\r\nHost: {host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    with _connect(impatient_emulator) as kept:
        kept.sendall(head)
        assert _answer(kept, body).startswith(b"HTTP/1.1 200")
        # A connection whose body stalls after the first one's: closed at its deadline,
        # which the first one's would have passed too.
        with _connect(impatient_emulator) as stalled:
            stalled.sendall(head + b"{")
            assert _closed_by_peer(stalled)
        assert _answer(kept, head + body).startswith(b"HTTP/1.1 200")


def test_a_proxy_password_reaches_neither_the_client_nor_the_log(emulator: Emulator) -> None:
    env = {**emulator.env(), "LOG_LEVEL": "DEBUG", "NO_PROXY": "", "no_proxy": ""}
    env["HTTP_PROXY"] = env["HTTPS_PROXY"] = "https://proxyuser:hunter2pw@127.0.0.1:9"
    proxy = Proxy(env, ["--session-mode", "session"])
    try:
        answer = proxy.request(1, "tools/list")
        assert "is not an http:// proxy" in answer["error"]["message"]
        assert "127.0.0.1:9" in answer["error"]["message"]  # where it points stays readable
    finally:
        proxy.stop()
    for text in (json.dumps(answer), proxy.stderr()):
        assert "hunter2pw" not in text and "proxyuser" not in text
