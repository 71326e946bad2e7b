"""Issue 7: application code raises and clears alerts through the bridge with the public API."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import boto3
import pytest

from alertbridge import AlertMessage, InvalidInput, acknowledge_alert, publish_alert, resolve_alert, wiring
from alertbridge.adapters.dynamo_state import DynamoStateStore
from alertbridge.models.config import BridgeConfig
from alertbridge.sandbox.bridge import LocalBridge
from alertbridge.sandbox.emulator import PagerDutyEmulator
from tests.integration.aws_fixtures import AwsContext

PUBLIC_NAMES = [
    "AlertMessage",
    "publish_alert",
    "resolve_alert",
    "acknowledge_alert",
    "EventsClient",
    "PagerDutyError",
    "RateLimited",
    "RequestTimeout",
    "ConnectionFailed",
    "Rejected",
    "ServerError",
]


@pytest.fixture
def bridge(
    aws: AwsContext, emulator: PagerDutyEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[LocalBridge]:
    local = LocalBridge.create(BridgeConfig(), emulator.url, name="library")
    for name, value in local.environment().items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    wiring.reset()
    yield local
    wiring.reset()


def deliver(bridge: LocalBridge) -> None:
    bridge.stages().drain(max_batches=10)


def test_publish_then_resolve_by_the_same_dedup_id_opens_then_closes_the_incident(
    bridge: LocalBridge, emulator: PagerDutyEmulator
) -> None:
    alert = AlertMessage.model_validate(
        {
            "severity": "HIGH",
            "alarmName": "checkout-failure-rate",
            "metricName": "FailedOrders",
            "threshold": 5,
            "currentValue": 17,
            "environment": "production",
            "description": "Orders are failing",
            "recommendations": ["Check the payment provider status page"],
            "links": [{"href": "https://grafana.example.com/d/checkout", "text": "Checkout dashboard"}],
            "dedupId": "checkout-failure-rate",
        }
    )
    assert publish_alert(bridge.topic_arn, alert)
    deliver(bridge)
    opened = emulator.open_alert("checkout-failure-rate")
    assert opened is not None and opened.severity == "error"  # HIGH on the high/medium/low scale
    trigger = emulator.requests[0].body
    assert (
        trigger["payload"]["custom_details"]["recommendations"][0] == "Check the payment provider status page"
    )
    assert {"href": "https://grafana.example.com/d/checkout", "text": "Checkout dashboard"} in trigger[
        "links"
    ]

    assert resolve_alert(bridge.topic_arn, "checkout-failure-rate")
    deliver(bridge)
    assert emulator.open_alert("checkout-failure-rate") is None
    assert [r.outcome for r in emulator.requests if r.path.startswith("/v2/")][-1] == "resolved"


def test_an_app_acknowledges_then_resolves_its_alert_by_the_same_dedup_id(
    bridge: LocalBridge, emulator: PagerDutyEmulator
) -> None:
    publish_alert(
        bridge.topic_arn, {"alarmName": "nightly-export", "severity": "WARNING", "dedupId": "export-42"}
    )
    deliver(bridge)
    assert acknowledge_alert(bridge.topic_arn, "export-42")
    deliver(bridge)
    opened = emulator.open_alert("export-42")
    assert opened is not None and opened.status == "acknowledged"
    sent = [r for r in emulator.requests if r.path.startswith("/v2/")]
    assert [r.event_action for r in sent] == ["trigger", "acknowledge"]
    assert sent[1].routing_key == sent[0].routing_key  # the key that opened it
    item = DynamoStateStore(bridge.table_name).get("export-42")
    assert item is not None and (item.alarm_name, item.summary) == (
        "nightly-export",
        "[WARNING] nightly-export",
    )
    resolve_alert(bridge.topic_arn, "export-42")
    deliver(bridge)
    assert emulator.open_alert("export-42") is None


def test_a_severity_the_bridge_would_not_understand_is_refused_before_publishing(bridge: LocalBridge) -> None:
    with pytest.raises(InvalidInput, match=r"unknown severity 'CRTICAL'.*CRITICAL"):
        publish_alert(bridge.topic_arn, {"alarmName": "typo", "severity": "CRTICAL"})
    with pytest.raises(InvalidInput, match="dedup_id"):
        acknowledge_alert(bridge.topic_arn, " ")
    attributes = boto3.client("sqs", region_name="us-east-1").get_queue_attributes(
        QueueUrl=bridge.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_a_plain_dict_is_validated_before_anything_is_published(bridge: LocalBridge) -> None:
    with pytest.raises(InvalidInput, match="alarmName"):
        publish_alert(bridge.topic_arn, {"severity": "CRITICAL"})
    attributes = boto3.client("sqs", region_name="us-east-1").get_queue_attributes(
        QueueUrl=bridge.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    assert attributes["Attributes"]["ApproximateNumberOfMessages"] == "0"


def test_resolve_needs_a_dedup_id(bridge: LocalBridge) -> None:
    with pytest.raises(InvalidInput, match="dedup_id"):
        resolve_alert(bridge.topic_arn, "  ")


def test_importing_the_package_root_is_cheap_and_exposes_the_public_names() -> None:
    code = (
        "import sys, json, alertbridge; "
        "heavy = sorted(m for m in sys.modules if m.split('.')[0] in {'boto3','botocore','httpx','moto','aws_cdk'}); "
        f"names = {PUBLIC_NAMES!r}; "
        "missing = [n for n in names if not hasattr(alertbridge, n)]; "
        "print(json.dumps({'heavy_before': heavy, 'missing': missing}))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    report = json.loads(result.stdout)
    assert report == {"heavy_before": [], "missing": []}
