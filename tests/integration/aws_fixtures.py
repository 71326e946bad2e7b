"""The `aws` fixture: moto's mock_aws in us-east-1 with dummy credentials and the state table created with
the production layout. tests/integration/conftest.py imports it."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from alertbridge.adapters.dynamo_state import create_state_table, reset_default_client

REGION = "us-east-1"
TABLE_NAME = "alertbridge-state-test"
_DUMMY_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_REGION": REGION,
    "ALERTBRIDGE_TABLE_NAME": TABLE_NAME,
}


@dataclass(frozen=True)
class AwsContext:
    region: str
    table_name: str
    dynamodb: Any  # a boto3 DynamoDB client created inside the mock


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[AwsContext]:
    for name, value in _DUMMY_ENV.items():
        monkeypatch.setenv(name, value)
    for name in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    with mock_aws():
        reset_default_client()  # a client cached outside this mock would reach past it
        client = boto3.client("dynamodb", region_name=REGION)
        create_state_table(client, TABLE_NAME)
        yield AwsContext(region=REGION, table_name=TABLE_NAME, dynamodb=client)
        reset_default_client()
