"""Every failure a library caller can see is one of the documented error types (AlertBridgeError's)."""

# ruff: noqa: F811  (the `emulator` fixture is imported, then named as a test parameter)

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from botocore.stub import Stubber

import alertbridge
from alertbridge import (
    AlertBridgeError,
    ConfigError,
    EventsClient,
    InvalidInput,
    PublishFailed,
    RateLimited,
    acknowledge_alert,
    publish_alert,
    resolve_alert,
)
from alertbridge.sandbox.emulator import Fault, PagerDutyEmulator
from tests.integration.aws_fixtures import REGION, AwsContext, aws  # noqa: F401
from tests.integration.emulator_fixtures import ROUTING_KEY, emulator  # noqa: F401

ALERT = {"alarmName": "checkout-failures", "severity": "CRITICAL", "dedupId": "checkout-1"}


@pytest.fixture
def topic(aws: AwsContext) -> Iterator[str]:
    yield boto3.client("sns", region_name=REGION).create_topic(Name="alertbridge-alarms")["TopicArn"]


def test_a_missing_topic_is_a_publish_failure_naming_the_topic(topic: str) -> None:
    missing = topic.replace("alertbridge-alarms", "no-such-topic")
    for call in (lambda: publish_alert(missing, ALERT), lambda: acknowledge_alert(missing, "checkout-1"),
                 lambda: resolve_alert(missing, "checkout-1")):  # fmt: skip
        with pytest.raises(PublishFailed, match="does not exist") as failure:
            call()
        assert missing in str(failure.value) and isinstance(failure.value, AlertBridgeError)


@pytest.mark.parametrize("arn", ["not-an-arn", "arn:aws:sqs:us-east-1:123456789012:queue", ""])
def test_a_malformed_topic_arn_is_refused_before_anything_is_sent(arn: str) -> None:
    with pytest.raises(InvalidInput, match="SNS topic ARN"):
        publish_alert(arn, ALERT, sns_client=object())
    with pytest.raises(InvalidInput, match="SNS topic ARN"):
        acknowledge_alert(arn, "checkout-1", sns_client=object())


def test_kms_access_denied_names_the_permission(topic: str) -> None:
    sns = boto3.client("sns", region_name=REGION)
    with Stubber(sns) as stub:
        stub.add_client_error("publish", service_error_code="KMSAccessDenied", http_status_code=400,
                              service_message="User is not authorized to perform kms:GenerateDataKey")  # fmt: skip
        with pytest.raises(PublishFailed, match="kms:GenerateDataKey") as failure:
            publish_alert(topic, ALERT, sns_client=sns)
    assert "bridge's KMS key" in str(failure.value) and failure.value.code == "KMSAccessDenied"


@pytest.mark.parametrize("dedup_id", ["", "   ", None, 42])
def test_acknowledge_validates_its_id_as_resolve_does(topic: str, dedup_id: object) -> None:
    for call in (acknowledge_alert, resolve_alert):
        with pytest.raises(InvalidInput, match="dedup_id"):
            call(topic, dedup_id)  # type: ignore[operator]


def test_config_error_is_exported_and_documented() -> None:
    assert alertbridge.ConfigError is ConfigError and "ConfigError" in alertbridge.__all__
    assert "ConfigError" in (alertbridge.__doc__ or "") and "PublishFailed" in alertbridge.__all__
    with pytest.raises(ConfigError):
        EventsClient("short")


def test_timeout_bounds_the_whole_call_retries_included(emulator: PagerDutyEmulator) -> None:
    emulator.inject(Fault.rate_limited(retry_after=25), times=3)
    slept: list[float] = []
    pd = EventsClient(ROUTING_KEY, base_url=emulator.url, timeout=2, sleep=slept.append)
    with pd, pytest.raises(RateLimited) as failure:
        pd.trigger("x", source="s")
    assert sum(slept) <= 2 and failure.value.retry_after == 25  # not 50 s behind two Retry-After: 25


def test_a_deadline_separate_from_the_request_timeout(emulator: PagerDutyEmulator) -> None:
    emulator.inject(Fault.rate_limited(retry_after=1), times=1)
    slept: list[float] = []
    with EventsClient(ROUTING_KEY, base_url=emulator.url, timeout=5, deadline=30, sleep=slept.append) as pd:
        assert pd.trigger("x", source="s", dedup_key="k") == "k"
    assert slept == [1.0]


@pytest.mark.parametrize("key", ["", "   "])
def test_an_empty_dedup_key_is_refused_locally(emulator: PagerDutyEmulator, key: str) -> None:
    with EventsClient(ROUTING_KEY, base_url=emulator.url, timeout=1) as pd:
        for action in (pd.acknowledge, pd.resolve):
            with pytest.raises(InvalidInput, match="dedup_key"):
                action(key)
    assert emulator.requests == []
