"""The AWS services an agent reads from inside its runtime (SSM, Secrets Manager, S3,
DynamoDB: moto's, signature checked), and a clear, unretried answer for every operation
and service the emulator does not emulate. Called with boto3, as an agent calls them."""

from __future__ import annotations

import uuid
from typing import Any

import botocore.exceptions
import pytest
from botocore.config import Config

from tests.harness import Emulator

# boto3's standard retries: a retried call would show in RetryAttempts.
STANDARD_RETRIES = Config(retries={"total_max_attempts": 3, "mode": "standard"})


def _refusal(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(botocore.exceptions.ClientError) as refused:
        call(**kwargs)
    return refused.value.response  # type: ignore[no-any-return]


def test_an_agent_reads_a_parameter_and_a_secret_put_there_first(emulator: Emulator) -> None:
    name = f"/agent/{uuid.uuid4()}/api-url"
    ssm = emulator.client("ssm")
    ssm.put_parameter(Name=name, Value="https://api.example", Type="String")
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "https://api.example"
    secrets = emulator.client("secretsmanager")
    secrets.create_secret(Name=f"agent-{uuid.uuid4()}", SecretString="s3cr3t")
    listed = secrets.list_secrets()["SecretList"]
    arn = listed[-1]["ARN"]
    assert secrets.get_secret_value(SecretId=arn)["SecretString"] == "s3cr3t"
    # Missing things are AWS's own errors, not a pass.
    missing = _refusal(ssm.get_parameter, Name=f"/nothing/{uuid.uuid4()}")
    assert missing["Error"]["Code"] == "ParameterNotFound"


def test_an_agent_reads_s3_objects_and_dynamodb_items(emulator: Emulator) -> None:
    s3 = emulator.client("s3")
    bucket = f"agent-data-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="notes/today.txt", Body=b"buy milk")
    assert s3.get_object(Bucket=bucket, Key="notes/today.txt")["Body"].read() == b"buy milk"
    assert s3.head_object(Bucket=bucket, Key="notes/today.txt")["ContentLength"] == 8
    table = f"agent-state-{uuid.uuid4().hex[:12]}"
    dynamodb = emulator.client("dynamodb")
    dynamodb.create_table(
        TableName=table,
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    dynamodb.put_item(TableName=table, Item={"id": {"S": "a"}, "n": {"N": "1"}})
    item = dynamodb.get_item(TableName=table, Key={"id": {"S": "a"}})["Item"]
    assert item == {"id": {"S": "a"}, "n": {"N": "1"}}


@pytest.mark.parametrize(
    ("service", "call", "kwargs", "code"),
    [
        ("ssm", "get_parameter", {"Name": "/any"}, "InvalidSignatureException"),  # JSON 1.1
        ("s3", "list_buckets", {}, "SignatureDoesNotMatch"),  # REST-XML
        ("sns", "list_topics", {}, "SignatureDoesNotMatch"),  # query, and not emulated
    ],
)
def test_signatures_are_checked_and_refused_in_the_error_each_client_reads(
    emulator: Emulator, service: str, call: str, kwargs: dict[str, Any], code: str
) -> None:
    # Before: a JSON body boto3's SSM and S3 clients could not read, so the caller saw
    # only "403", which reads like a signing bug of their own.
    forged = emulator.client(service, aws_secret_access_key="not-the-emulators-key")
    refused = _refusal(getattr(forged, call), **kwargs)
    assert refused["Error"]["Code"] == code
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 403


@pytest.mark.parametrize(
    ("operation", "kwargs", "plane"),
    [
        ("start_browser_session", {"browserIdentifier": "aws.browser.v1"}, "data"),
        (
            "list_memory_extraction_jobs",
            {"memoryId": "m-0123456789"},
            "data",
        ),
    ],
)
def test_a_data_plane_operation_not_emulated_says_so_at_once(
    emulator: Emulator, operation: str, kwargs: dict[str, Any], plane: str
) -> None:
    client = emulator.client(config=STANDARD_RETRIES)
    refused = _refusal(getattr(client, operation), **kwargs)
    name = client.meta.method_to_api_mapping[operation]
    assert refused["Error"]["Code"] == "NotEmulatedException"
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert refused["ResponseMetadata"]["RetryAttempts"] == 0  # boto3 did not retry it
    assert (
        f"{name} (bedrock-agentcore {plane} plane) is not emulated" in refused["Error"]["Message"]
    )


def test_a_control_plane_operation_moto_lacks_says_so_and_one_it_has_works(
    emulator: Emulator,
) -> None:
    control = emulator.client("bedrock-agentcore-control", config=STANDARD_RETRIES)
    refused = _refusal(
        control.create_browser,
        name=f"b_{uuid.uuid4().hex[:8]}",
        networkConfiguration={"networkMode": "PUBLIC"},
    )
    assert refused["Error"]["Code"] == "NotEmulatedException"
    assert "CreateBrowser" in refused["Error"]["Message"]
    assert refused["ResponseMetadata"]["RetryAttempts"] == 0
    names = [r["agentRuntimeName"] for r in control.list_agent_runtimes()["agentRuntimes"]]
    assert "demo_server" in names


@pytest.mark.parametrize(
    ("service", "call", "kwargs"),
    [
        ("sns", "list_topics", {}),  # the query protocol: an XML error
        ("lambda", "list_functions", {}),  # rest-json
        ("sqs", "list_queues", {}),  # JSON 1.0
    ],
)
def test_a_service_not_emulated_is_named_in_the_error_its_client_reads(
    emulator: Emulator, service: str, call: str, kwargs: dict[str, Any]
) -> None:
    client = emulator.client(service, config=STANDARD_RETRIES)
    refused = _refusal(getattr(client, call), **kwargs)
    assert refused["Error"]["Code"] == "NotEmulatedException"
    assert f"The service '{service}' is not emulated" in refused["Error"]["Message"]
    assert refused["ResponseMetadata"]["HTTPStatusCode"] == 501
    assert refused["ResponseMetadata"]["RetryAttempts"] == 0
